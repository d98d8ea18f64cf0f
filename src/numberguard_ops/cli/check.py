"""`numberguard check`: ask LimitCheckFunction whether a send may go out, as a sender does."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from numberguard.domain.check import MessageKind

from numberguard_ops import local
from numberguard_ops.cli.common import (
    EXIT_DENIED,
    EXIT_OK,
    EXIT_USAGE,
    FUNCTION,
    LOCAL_LAMBDA,
    CliError,
    Commands,
    Parents,
    aws_session,
    explain,
    print_json,
    url,
)


def add_parsers(commands: Commands, parents: Parents) -> None:
    check = commands.add_parser(
        "check", parents=[parents.aws, parents.output], help="ask LimitCheckFunction whether a send may go out",
        description="Invoke LimitCheckFunction as a sender does. Exit code: 0 allowed, 3 denied or invalid "
                    "request, 1 when the function could not be asked.",
    )
    check.add_argument("--phone-number-id", help="the sending number's Meta id")
    check.add_argument("--recipient", action="append", metavar="ID",
                       help="the person: a phone number (digits with country code), a BSUID (US.1349...) or a "
                            "parent BSUID (US.ENT.1181...), exactly as Meta gave it; repeat it for a batch")
    check.add_argument("--message", choices=[kind.value for kind in MessageKind], default=MessageKind.TEMPLATE.value,
                       help="template (default; may start a conversation) or session (needs an open window)")
    check.add_argument("--reference", help="your id for this send (lets a failed send release its slot)")
    check.add_argument("--dry-run", action="store_true", help="answer without counting the recipient")
    check.add_argument("--payload", metavar="FILE",
                       help="send this JSON file as the payload instead ('-' reads standard input)")
    check.add_argument("--endpoint", type=url, default=None,
                       help=f"Lambda API of local mode (default {LOCAL_LAMBDA})")
    check.add_argument("--function-name",
                       help=f"function to invoke; on AWS the deployed name (stack output LimitCheckFunctionName, "
                            f"or LIMIT_CHECK_FUNCTION); giving it without --endpoint means AWS (default {FUNCTION})")
    check.set_defaults(handler=cmd_check)


def _payload_file(args: argparse.Namespace) -> Any:
    for flag in ("phone_number_id", "recipient", "reference"):
        if getattr(args, flag):
            raise CliError(f"--payload FILE and --{flag.replace('_', '-')} exclude each other")
    try:
        text = sys.stdin.read() if args.payload == "-" else Path(args.payload).read_text(encoding="utf-8")
    except OSError as err:
        raise CliError(f"--payload: cannot read {args.payload}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise CliError(f"--payload: {args.payload} is not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise CliError(f"--payload: {args.payload} is not JSON ({err.msg} at line {err.lineno})") from None


def _payload(args: argparse.Namespace) -> Any:
    if args.payload:
        return _payload_file(args)
    if not args.phone_number_id:
        raise CliError("--phone-number-id is required (or --payload FILE)", EXIT_USAGE)
    if not args.recipient:
        raise CliError("--recipient is required (or --payload FILE)", EXIT_USAGE)
    payload: dict[str, Any] = {"phone_number_id": args.phone_number_id, "message": args.message}
    if len(args.recipient) == 1:
        payload["recipient"] = args.recipient[0]
    else:
        payload["recipients"] = args.recipient
    if args.reference:
        payload["reference"] = args.reference
    if args.dry_run:
        payload["dry_run"] = True
    return payload


def _lambda_client(args: argparse.Namespace) -> tuple[Any, str, str, str | None]:
    """(client, function name, where, local hint) following --endpoint / --aws / --function-name."""
    from botocore.config import Config

    remote = args.aws or (args.function_name is not None and args.endpoint is None)
    if remote:
        if args.endpoint:
            raise CliError("--endpoint and --aws exclude each other")
        name = args.function_name or os.environ.get("LIMIT_CHECK_FUNCTION")
        if not name:
            raise CliError("--aws needs the deployed function: pass --function-name (stack output "
                           "LimitCheckFunctionName) or set LIMIT_CHECK_FUNCTION")
        session = aws_session(args)
        config = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 3})
        return session.client("lambda", config=config), name, f"Lambda in {session.region_name}", None
    if args.region or args.profile:
        raise CliError("--region and --profile go with --aws; local mode needs no AWS account")
    import boto3

    endpoint = args.endpoint or LOCAL_LAMBDA
    config = Config(connect_timeout=2, read_timeout=65, retries={"total_max_attempts": 1})
    client = boto3.client("lambda", endpoint_url=endpoint, region_name=local.REGION, config=config,
                          **local.LOCAL_CREDENTIALS)
    hint = "start local mode with `make run` (or `numberguard local`), or point --endpoint at it"
    return client, args.function_name or FUNCTION, f"local mode's Lambda API at {endpoint}", hint


def invoke(client: Any, function_name: str, payload: Any, where: str, hint: str | None) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = client.invoke(FunctionName=function_name, Payload=json.dumps(payload).encode())
        body = response["Payload"].read()
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise CliError(f"{where} has no function {function_name!r}") from None
        raise CliError(explain(err, where, hint)) from None
    except BotoCoreError as err:
        raise CliError(explain(err, where, hint)) from None
    try:
        answer = json.loads(body)
    except json.JSONDecodeError:
        raise CliError(f"{function_name} answered something that is not JSON: {body[:200]!r}") from None
    if response.get("FunctionError"):
        if isinstance(answer, dict):
            raise CliError(f"{function_name} failed ({response['FunctionError']}): "
                           f"{answer.get('errorType')}: {answer.get('errorMessage')}")
        raise CliError(f"{function_name} failed ({response['FunctionError']})")
    return answer


def _usage_text(answer: dict[str, Any]) -> str:
    if answer.get("limit") is None and answer.get("tier"):
        return f"{answer['tier']}, unlimited"
    if answer.get("used") is None:
        return ""
    return f"{answer.get('tier')}: {answer['used']:,} of {answer['limit']:,} used, {answer['remaining']:,} remaining"


def answer_lines(answer: dict[str, Any]) -> list[str]:
    verdict = "allowed" if answer.get("allowed") else "not allowed"
    head = f"{answer.get('decision')}: {verdict}"
    facts = [part for part in (
        _usage_text(answer),
        f"status {answer['status']}" if answer.get("status") else "",
        f"quality {answer['quality']}" if answer.get("quality") else "",
        f"retry after {answer['retry_after_seconds']} s" if answer.get("retry_after_seconds") is not None else "",
    ) if part]
    lines = [head + (f" ({'; '.join(facts)})" if facts else "")]
    if answer.get("error"):
        lines.append(f"  {answer['error']}")
    for result in answer.get("results") or []:
        lines.append(f"  {result.get('recipient')}: {result.get('decision')}")
    return lines


def cmd_check(args: argparse.Namespace) -> int:
    payload = _payload(args)
    client, name, where, hint = _lambda_client(args)
    answer = invoke(client, name, payload, where, hint)
    if args.json:
        print_json(answer)
    elif isinstance(answer, dict):
        print("\n".join(answer_lines(answer)))
    else:
        print(json.dumps(answer))
    return EXIT_OK if isinstance(answer, dict) and answer.get("allowed") else EXIT_DENIED
