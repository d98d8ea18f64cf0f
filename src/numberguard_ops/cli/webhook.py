"""`numberguard send-webhook`: sign a webhook body as Meta does and POST it to the API."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from numberguard.webhooks import sign

from numberguard_ops import local
from numberguard_ops.cli.common import EXIT_ERROR, EXIT_OK, LOCAL_WEBHOOK, CliError, Commands, Parents, url


def add_parsers(commands: Commands, parents: Parents) -> None:
    send = commands.add_parser(
        "send-webhook", help="sign a webhook body as Meta does and POST it to the API",
        description="POST a webhook body (a file from events/webhooks/, or '-' for standard input) to /webhook, "
                    "signed with X-Hub-Signature-256 as Meta signs it. Exit code 0 on a 2xx answer, 1 otherwise.")
    send.add_argument("file", help="the body to send, byte for byte ('-' reads standard input)")
    send.add_argument("--url", type=url, default=LOCAL_WEBHOOK,
                      help="the webhook URL (default %(default)s: local mode's API)")
    send.add_argument("--app-secret", default=None,
                      help="the Meta app secret to sign with (default: NUMBERGUARD_APP_SECRET, else local mode's "
                           f"{local.embedded_aws.DEFAULT_APP_SECRET})")
    send.add_argument("--now", action="store_true",
                      help="set the body's event times (entry time, message and status timestamps) to now first, "
                           "so a sample reads as news (the body is signed after)")
    send.add_argument("--unsigned", action="store_true", help="send no signature (the API must answer 401)")
    send.set_defaults(handler=cmd_send_webhook)


def _times_now(body: bytes, name: str, now: int) -> bytes:
    """Meta's envelope with its event times moved to `now` (entry.time, messages[] and statuses[] timestamps)."""
    try:
        envelope = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CliError(f"--now: {name} is not JSON ({err})") from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("entry"), list):
        raise CliError(f"--now: {name} is not Meta's webhook envelope (no entry list)")
    for entry in envelope["entry"]:
        if not isinstance(entry, dict):
            continue
        if "time" in entry:
            entry["time"] = now
        for change in entry.get("changes") or []:
            value = change.get("value") if isinstance(change, dict) else None
            _timestamps_now(value or {}, now)
    return json.dumps(envelope).encode()


def _timestamps_now(value: dict[str, Any], now: int) -> None:
    for kind in ("messages", "statuses"):
        for item in value.get(kind) or []:
            if isinstance(item, dict) and "timestamp" in item:
                item["timestamp"] = str(now)


def _read_body(args: argparse.Namespace) -> bytes:
    try:
        body = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as err:
        raise CliError(f"cannot read {args.file}: {err.strerror or err}") from None
    if not body.strip():
        raise CliError(f"{args.file} is empty: a webhook body is Meta's JSON envelope")
    if args.now:
        body = _times_now(body, args.file, int(time.time()))
    return body


def cmd_send_webhook(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    body = _read_body(args)
    secret = args.app_secret or os.environ.get("NUMBERGUARD_APP_SECRET") or local.embedded_aws.DEFAULT_APP_SECRET
    headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
    if not args.unsigned:
        headers["X-Hub-Signature-256"] = sign(body, secret)
    request = urllib.request.Request(args.url, data=body, headers=headers, method="POST")  # noqa: S310 - http(s) only
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, answer = err.code, err.read()
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        if args.url == LOCAL_WEBHOOK or "127.0.0.1" in args.url or "localhost" in args.url:
            raise CliError(f"{args.url} is not answering ({reason}): start local mode with `make run` "
                           "(or `numberguard local`), or point --url at it") from None
        raise CliError(f"could not reach {args.url}: {reason}") from None
    text = answer.decode("utf-8", errors="replace").strip()
    print(f"{status} {text}")
    return EXIT_OK if 200 <= status < 300 else EXIT_ERROR
