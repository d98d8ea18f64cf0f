"""`numberguard numbers import` (the Meta sync on demand) and `numberguard meta ...` (the local Meta double).

    numberguard numbers import --waba-id ID [--aws --function-name NAME] [--endpoint URL]
    numberguard meta show
    numberguard meta quality PHONE_NUMBER_ID RED
    numberguard meta status PHONE_NUMBER_ID OFFLINE
    numberguard meta health (--number ID | --waba ID | --business ID) BLOCKED [--error-code 141006 ...]
    numberguard meta limit BUSINESS_ID TIER_2K
    numberguard meta template WABA_ID NAME LANGUAGE PAUSED      (APPROVED un-pauses it) [--quality RED]
    numberguard meta token refuse|accept
    numberguard meta throttle 80008|off [--usage 95]
    numberguard meta paging 2
    numberguard meta seed --wabas 10 --numbers 100 --templates 10
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from numberguard_ops import local, meta_double
from numberguard_ops.cli.check import _lambda_client, invoke
from numberguard_ops.cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, CliError, Commands, Parents, print_json

FUNCTION = "MetaSyncFunction"
LOCAL_META = f"http://{local.HOST}:{local.DEFAULT_META_PORT}"


def add_parsers(commands: Commands, parents: Parents) -> None:
    add_meta(commands)


def add_import(numbers_commands: Any, parents: Parents) -> None:
    """`numbers import` (declared by the numbers group, run here)."""
    parser = numbers_commands.add_parser(
        "import", parents=[parents.aws, parents.output],
        help="register a WABA's numbers as Meta's Graph API describes them",
        description="Invoke MetaSyncFunction for one WABA: it reads the WABA's numbers from Meta's Graph API "
                    "(local mode: its Meta double), registers the ones numberguard does not know with Meta's limit, "
                    "and applies every difference. Prints what it registered and changed.")
    parser.add_argument("--waba-id", required=True, help="the WhatsApp Business Account id (digits)")
    parser.add_argument("--endpoint", default=None, help=f"the Lambda API (default local mode's, {local.HOST}:"
                                                         f"{local.DEFAULT_LAMBDA_PORT})")
    parser.add_argument("--function-name", default=None,
                        help="with --aws: the deployed MetaSyncFunction (stack output MetaSyncFunctionName; "
                             "default: META_SYNC_FUNCTION)")
    parser.set_defaults(handler=cmd_numbers_import)


def cmd_numbers_import(args: argparse.Namespace) -> int:
    if not args.waba_id.isdigit():
        raise CliError(f"--waba-id must be the WhatsApp Business Account's numeric id, got {args.waba_id!r}",
                       EXIT_USAGE)
    if args.aws and not (args.function_name or os.environ.get("META_SYNC_FUNCTION")):
        raise CliError("--aws needs the deployed function: pass --function-name (stack output "
                       "MetaSyncFunctionName) or set META_SYNC_FUNCTION", EXIT_USAGE)
    if args.aws:
        args.function_name = args.function_name or os.environ.get("META_SYNC_FUNCTION")
    client, name, where, hint = _lambda_client(args)
    if not args.aws:
        name = args.function_name or FUNCTION  # _lambda_client names the check's function by default
    answer = invoke(client, name, {"waba_id": args.waba_id}, where, hint)
    if args.json:
        print_json(answer)
    else:
        print("\n".join(import_lines(args.waba_id, answer)))
    if not isinstance(answer, dict) or answer.get("error") or answer.get("access"):
        return EXIT_ERROR
    return EXIT_ERROR if args.waba_id in (answer.get("failed") or {}) else EXIT_OK


def import_lines(waba_id: str, answer: Any) -> list[str]:
    if not isinstance(answer, dict):
        return [json.dumps(answer)]
    if answer.get("error"):
        return [f"not imported: {answer['error']}"]
    lines = []
    registered = answer.get("registered") or []
    lines.append(f"WABA {waba_id}: {len(registered)} number(s) registered"
                 + (f": {', '.join(registered)}" if registered else ""))
    for change in answer.get("changes") or []:
        lines.append(f"  {local.change_words(change)}")
    if not answer.get("changes"):
        lines.append("  no change to what numberguard knew")
    for what, why in (answer.get("failed") or {}).items():
        lines.append(f"  {what}: {why}")
    if answer.get("throttled"):
        lines.append("  Meta's budget ran low: the rest is read on the next scheduled run")
    if answer.get("access"):
        lines.append(f"  access: {answer['access']} (check the MetaAccessTokenParameter token)")
    return lines


# ---- the local Meta double ----------------------------------------------------------------------------


def add_meta(commands: Commands) -> None:
    meta = commands.add_parser("meta", help="change the state of local mode's Meta Graph API double",
                               description="local mode serves a double of Meta's Graph API (--meta-port, default "
                                           f"{local.DEFAULT_META_PORT}); these commands change what it answers.")
    meta.add_argument("--meta-url", default=LOCAL_META, help="the double's URL (default %(default)s)")
    actions = meta.add_subparsers(dest="meta_command", metavar="ACTION")
    actions.required = True
    actions.add_parser("show", help="print the double's state").set_defaults(handler=cmd_meta, what="show")
    quality = actions.add_parser("quality", help="set a number's quality rating")
    quality.add_argument("phone_number_id")
    quality.add_argument("value", type=str.upper, choices=("GREEN", "YELLOW", "RED", "UNKNOWN"))
    quality.set_defaults(handler=cmd_meta, what="quality")
    status = actions.add_parser("status", help="set a number's status (CONNECTED, PENDING, DISCONNECTED, ...)")
    status.add_argument("phone_number_id")
    status.add_argument("value", type=str.upper)
    status.set_defaults(handler=cmd_meta, what="status")
    health = actions.add_parser("health", help="set the health status of a number, a WABA or a business")
    target = health.add_mutually_exclusive_group(required=True)
    target.add_argument("--number", help="a phone number id")
    target.add_argument("--waba", help="a WABA id")
    target.add_argument("--business", help="a business portfolio id")
    health.add_argument("value", type=str.upper, choices=("AVAILABLE", "LIMITED", "BLOCKED"))
    health.add_argument("--error-code", type=int, default=None, help="BLOCKED: Meta's code, e.g. 141006")
    health.add_argument("--description", default=None, help="BLOCKED: Meta's error_description")
    health.add_argument("--solution", default=None, help="BLOCKED: Meta's possible_solution")
    health.add_argument("--info", action="append", default=[], help="LIMITED: Meta's additional_info (repeat)")
    health.set_defaults(handler=cmd_meta, what="health")
    limit = actions.add_parser("limit", help="set a business portfolio's messaging limit")
    limit.add_argument("business_id")
    limit.add_argument("tier", type=str.upper)
    limit.set_defaults(handler=cmd_meta, what="limit")
    _add_more(actions)


def _add_more(actions: Any) -> None:
    template = actions.add_parser("template", help="set a template's status (PAUSED pauses it, APPROVED un-pauses "
                                                   "it) or its quality",
                                  description="Change a template as Meta's template list shows it; the next Meta "
                                              "sync run applies it (a check naming a PAUSED template is denied).")
    template.add_argument("waba_id")
    template.add_argument("name")
    template.add_argument("language")
    template.add_argument("status", type=str.upper, nargs="?", default=None, choices=meta_double.TEMPLATE_STATUSES)
    template.add_argument("--quality", type=str.upper, default=None, choices=meta_double.TEMPLATE_QUALITIES)
    template.set_defaults(handler=cmd_meta, what="template")
    token = actions.add_parser("token", help="refuse the access token (Graph code 190) or accept it again")
    token.add_argument("value", choices=("refuse", "accept"))
    token.set_defaults(handler=cmd_meta, what="token")
    throttle = actions.add_parser("throttle", help="answer a throttling code (4, 17, 613, 80007, 80008) or stop")
    throttle.add_argument("value", help="a code, or off")
    throttle.add_argument("--usage", type=int, default=None, help="X-Business-Use-Case-Usage percentage to report")
    throttle.set_defaults(handler=cmd_meta, what="throttle")
    paging = actions.add_parser("paging", help="answer at most this many entries a page (Meta pages long lists)")
    paging.add_argument("max", type=int)
    paging.set_defaults(handler=cmd_meta, what="paging")
    seed = actions.add_parser("seed", help="add WABAs of generated numbers (or --reference: the sample WABA)")
    seed.add_argument("--wabas", type=int, default=1)
    seed.add_argument("--numbers", type=int, default=10)
    seed.add_argument("--templates", type=int, default=0, help="approved templates per WABA")
    seed.add_argument("--limit", default="TIER_1K")
    seed.add_argument("--replace", action="store_true", help="drop the double's WABAs first")
    seed.add_argument("--reference", action="store_true", help="back to the sample WABA only")
    seed.set_defaults(handler=cmd_meta, what="seed")


def _control(args: argparse.Namespace) -> tuple[str, dict | None]:
    what = args.what
    if what == "show":
        return "state", None
    if what in ("quality", "status"):
        return "number", {"id": args.phone_number_id, what: args.value}
    if what == "health":
        body: dict[str, Any] = {"health": args.value, "error_code": args.error_code,
                                "error_description": args.description, "possible_solution": args.solution,
                                "additional_info": args.info}
        kind, ident = next((k, v) for k, v in (("number", args.number), ("waba", args.waba),
                                               ("business", args.business)) if v)
        return kind, {"id": ident, **body}
    if what == "limit":
        return "business", {"id": args.business_id, "limit": args.tier}
    if what == "template":
        if args.status is None and args.quality is None:
            raise CliError("meta template: give a status (e.g. PAUSED, APPROVED) or --quality", EXIT_USAGE)
        return "template", {"waba_id": args.waba_id, "name": args.name, "language": args.language,
                            "status": args.status, "quality": args.quality}
    if what == "paging":
        return "paging", {"max": args.max}
    if what == "token":
        return "token", {"refused": args.value == "refuse"}
    if what == "throttle":
        code = None if args.value.lower() == "off" else int(args.value) if args.value.isdigit() else -1
        return "throttle", {"code": code, "usage": args.usage}
    return "seed", {"wabas": args.wabas, "numbers": args.numbers, "limit": args.limit, "replace": args.replace,
                    "reference": args.reference, "templates": args.templates}


def cmd_meta(args: argparse.Namespace) -> int:
    what, body = _control(args)
    try:
        answer = meta_double.control(args.meta_url, what, body)
    except meta_double.DoubleError as err:
        raise CliError(str(err)) from None
    print(json.dumps(answer, indent=2))
    return EXIT_OK
