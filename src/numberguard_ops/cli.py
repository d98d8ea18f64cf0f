"""The `numberguard` command: local mode, the number registry and the limit check from a shell.

    numberguard local   [--lambda-port 3001] [--dynamodb-port 8000] [--data-dir .local]
    numberguard numbers import --waba-id ID            (Meta's Graph API: registers the WABA's numbers)
    numberguard numbers add --phone-number-id ID --waba-id ID --display-phone-number +1... --tier TIER_1K
    numberguard numbers list | show PHONE_NUMBER_ID
    numberguard check --phone-number-id ID --recipient 16505551234 [--message template|session] [--dry-run]
    numberguard usage PHONE_NUMBER_ID | history PHONE_NUMBER_ID
    numberguard report --html FILE
    numberguard send-webhook FILE [--url http://127.0.0.1:3000/webhook] [--app-secret SECRET]
    numberguard simulate SCENARIO
    numberguard meta show | quality ID RED | health --waba ID BLOCKED ... | token refuse   (local Meta double)

`numbers`, `usage`, `history` and `report` talk to DynamoDB Local (default http://127.0.0.1:8000)
or, with `--aws`, to the deployed tables; `check` invokes LimitCheckFunction through the Lambda API: local mode's
(default http://127.0.0.1:3001) or, with `--aws` / `--function-name`, the deployed function.
Bad input or an unreachable service gives one line on stderr and a non-zero exit, never a trace
(set NUMBERGUARD_DEBUG=1 to see the trace of an unexpected error).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from numberguard_ops import local, meta_cli

LOCAL_DYNAMODB = f"http://{local.HOST}:{local.DEFAULT_DYNAMODB_PORT}"
LOCAL_LAMBDA = f"http://{local.HOST}:{local.DEFAULT_LAMBDA_PORT}"
LOCAL_WEBHOOK = f"http://{local.HOST}:{local.DEFAULT_API_PORT}/webhook"
FUNCTION = "LimitCheckFunction"

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DENIED = 3  # `check`: the answer was not "allowed" (denied or invalid request)

QUALITIES = ("GREEN", "YELLOW", "RED", "UNKNOWN", "HIGH", "MEDIUM", "LOW")
STATUSES = ("CONNECTED", "PENDING", "OFFLINE")


class CliError(Exception):
    """One line for the user; main() prints it on stderr and exits non-zero."""

    def __init__(self, message: str, code: int = EXIT_ERROR):
        super().__init__(message)
        self.code = code


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (the usage is one `--help` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ---- argument types -------------------------------------------------------------------------------


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is between 1 and 65535, got {port}")
    return port


def _parameter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"not NAME=VALUE: {text!r}")
    return name.strip(), value


def _rate(text: str) -> float:
    try:
        return local.parse_rate(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {text!r}")
    return text.rstrip("/")


def _upper_choice(choices: Sequence[str]):
    def parse(text: str) -> str:
        value = text.strip().upper()
        if value not in choices:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(choices)}")
        return value

    return parse


# ---- the parser ------------------------------------------------------------------------------------


def build_parser() -> Parser:
    parser = Parser(
        prog="numberguard",
        description="Guard WhatsApp Business sends: local mode, the number registry and the limit check.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True

    run = commands.add_parser(
        "local", help="run local mode: the template's functions, tables, topics and API on this machine (make run)",
        description="Start DynamoDB Local and moto's server with the resources of template.yaml, and serve the "
                    "template's functions: the Lambda invoke API, the API of their Api events, their schedules, and "
                    "a mailbox for notifications. Ctrl-C stops everything.")
    run.add_argument("--api-port", type=_port, default=local.DEFAULT_API_PORT,
                     help=f"port of the API (the functions' Api events, e.g. /webhook) on {local.HOST} "
                          "(default %(default)s)")
    run.add_argument("--lambda-port", type=_port, default=local.DEFAULT_LAMBDA_PORT,
                     help=f"port of the Lambda invoke API on {local.HOST} (default %(default)s)")
    run.add_argument("--dynamodb-port", type=_port, default=local.DEFAULT_DYNAMODB_PORT,
                     help="port of DynamoDB Local (default %(default)s)")
    run.add_argument("--moto-port", type=_port, default=local.DEFAULT_MOTO_PORT,
                     help="port of moto's server: SNS, S3, SSM, SQS (default %(default)s)")
    run.add_argument("--data-dir", type=Path, default=None,
                     help="folder for DynamoDB Local's data and the mailbox (default .local/ in the project folder)")
    run.add_argument("--app-secret", default=local.embedded_aws.DEFAULT_APP_SECRET,
                     help="the Meta app secret webhooks are signed with (default %(default)s)")
    run.add_argument("--verify-token", default=local.embedded_aws.DEFAULT_VERIFY_TOKEN,
                     help="the webhook verify token (default %(default)s)")
    run.add_argument("--log-level", type=_upper_choice(("DEBUG", "INFO", "WARNING", "ERROR")), default="WARNING",
                     help="the functions' log level (the template's LogLevel; default %(default)s, INFO logs "
                          "every invocation)")
    run.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE", type=_parameter,
                     help="a template parameter's value instead of its default, as sam's --parameter-overrides "
                          "(repeat it), e.g. EumSocialTopicArn=arn:aws:sns:us-east-1:123456789012:eum-social")
    run.add_argument("--template", type=Path, default=None, metavar="FILE",
                     help="serve another SAM template (default template.yaml of the project)")
    run.add_argument("--schedule-rate", type=_rate, default=None, metavar="RATE",
                     help="run scheduled functions at this rate instead of the template's: rate(1 minute), 30s, 5m")
    run.add_argument("--meta-port", type=_port, default=local.DEFAULT_META_PORT,
                     help=f"port of the Meta Graph API double on {local.HOST} (default %(default)s; local mode's "
                          "MetaGraphUrl unless --parameter MetaGraphUrl=... names another server)")
    run.set_defaults(handler=cmd_local)

    output = Parser(add_help=False)
    output.add_argument("--json", action="store_true", help="print JSON instead of text")

    aws = Parser(add_help=False)
    aws.add_argument("--aws", action="store_true",
                     help="use the deployed stack on AWS (credentials and region as for the AWS CLI)")
    aws.add_argument("--region", help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's)")
    aws.add_argument("--profile", help="AWS CLI profile to use (default: AWS_PROFILE or the default chain)")

    store = Parser(add_help=False, parents=[aws, output])
    store.add_argument("--dynamodb-endpoint", type=_url, default=None,
                       help=f"DynamoDB Local's URL (default {LOCAL_DYNAMODB}); ignored with --aws")
    store.add_argument("--numbers-table", help="with --aws: the NumbersTable's name (default: NUMBERS_TABLE)")
    store.add_argument("--limits-table", help="with --aws: the LimitsTable's name (default: LIMITS_TABLE)")
    store.add_argument("--history-table", help="with --aws: the HistoryTable's name (default: HISTORY_TABLE)")
    store.add_argument("--policy", choices=("per-number", "portfolio"),
                       help="with --aws: the stack's LimitPolicy (default: LIMIT_POLICY, else per-number)")

    meta_cli.add_meta(commands, _port)

    numbers = commands.add_parser("numbers", help="register and describe phone numbers",
                                  description="Register and describe the phone numbers numberguard guards.")
    numbers_commands = numbers.add_subparsers(dest="numbers_command", metavar="ACTION", parser_class=Parser)
    numbers_commands.required = True

    add = numbers_commands.add_parser("add", parents=[store], help="register a phone number and its tier",
                                      description="Register a phone number with its current messaging limit tier.")
    add.add_argument("--phone-number-id", required=True, help="Meta's phone number id (digits)")
    add.add_argument("--waba-id", required=True, help="the WhatsApp Business Account id (digits)")
    add.add_argument("--display-phone-number", required=True, help="the number as people dial it, e.g. +15550783881")
    add.add_argument("--tier", required=True,
                     help="current messaging limit: TIER_250, TIER_1K, TIER_2K, TIER_10K, TIER_100K, TIER_UNLIMITED")
    add.add_argument("--portfolio-id", help="business portfolio id (required by the portfolio policy)")
    add.add_argument("--status", type=_upper_choice(STATUSES), default="CONNECTED",
                     help="connection status: CONNECTED (default), PENDING or OFFLINE")
    add.add_argument("--quality", type=_upper_choice(QUALITIES), default="UNKNOWN",
                     help="quality rating: GREEN, YELLOW, RED or UNKNOWN (default, until Meta reports it)")
    add.set_defaults(handler=cmd_numbers_add)

    listing = numbers_commands.add_parser("list", parents=[store], help="list the registered numbers")
    listing.set_defaults(handler=cmd_numbers_list)

    meta_cli.add_import(numbers_commands, aws, output)

    show = numbers_commands.add_parser("show", parents=[store], help="show one number")
    show.add_argument("phone_number_id", help="Meta's phone number id")
    show.set_defaults(handler=cmd_numbers_show)

    check = commands.add_parser(
        "check", parents=[aws, output], help="ask LimitCheckFunction whether a send may go out",
        description="Invoke LimitCheckFunction as a sender does. Exit code: 0 allowed, 3 denied or invalid "
                    "request, 1 when the function could not be asked.",
    )
    check.add_argument("--phone-number-id", help="the sending number's Meta id")
    check.add_argument("--recipient", action="append", metavar="WA_ID",
                       help="recipient phone number, digits with country code; repeat it for a batch")
    check.add_argument("--message", choices=("template", "session"), default="template",
                       help="template (default; may start a conversation) or session (needs an open window)")
    check.add_argument("--reference", help="your id for this send (lets a failed send release its slot)")
    check.add_argument("--dry-run", action="store_true", help="answer without counting the recipient")
    check.add_argument("--payload", metavar="FILE",
                       help="send this JSON file as the payload instead ('-' reads standard input)")
    check.add_argument("--endpoint", type=_url, default=None,
                       help=f"Lambda API of local mode (default {LOCAL_LAMBDA})")
    check.add_argument("--function-name",
                       help=f"function to invoke; on AWS the deployed name (stack output LimitCheckFunctionName, "
                            f"or LIMIT_CHECK_FUNCTION); giving it without --endpoint means AWS (default {FUNCTION})")
    check.set_defaults(handler=cmd_check)

    usage = commands.add_parser("usage", parents=[store], help="used / limit of a number, when slots free, 24 h",
                                description="How much of its moving 24-hour limit a number has used, when the next "
                                            "slot frees, and its recipients hour by hour.")
    usage.add_argument("phone_number_id", help="Meta's phone number id")
    usage.set_defaults(handler=cmd_usage)

    history = commands.add_parser("history", parents=[store], help="a number's changes of status, quality, limit",
                                  description="Every recorded change of a number (newest first): status, quality, "
                                              "tier, limit, warnings. The same entries were published to SNS.")
    history.add_argument("phone_number_id", help="Meta's phone number id")
    history.add_argument("--limit", type=_positive, default=50, help="how many entries (default %(default)s)")
    history.set_defaults(handler=cmd_history)

    report = commands.add_parser("report", parents=[store], help="one HTML page about every number",
                                 description="Write one self-contained HTML page (inline SVG and CSS, nothing "
                                             "fetched) with every number's status, quality, tier, usage gauge, "
                                             "24 h usage chart and status timeline.")
    report.add_argument("--html", required=True, metavar="FILE", type=Path, help="the page to write")
    report.set_defaults(handler=cmd_report)

    send = commands.add_parser(
        "send-webhook", help="sign a webhook body as Meta does and POST it to the API",
        description="POST a webhook body (a file from events/webhooks/, or '-' for standard input) to /webhook, "
                    "signed with X-Hub-Signature-256 as Meta signs it. Exit code 0 on a 2xx answer, 1 otherwise.")
    send.add_argument("file", help="the body to send, byte for byte ('-' reads standard input)")
    send.add_argument("--url", type=_url, default=LOCAL_WEBHOOK,
                      help="the webhook URL (default %(default)s: local mode's API)")
    send.add_argument("--app-secret", default=None,
                      help="the Meta app secret to sign with (default: NUMBERGUARD_APP_SECRET, else local mode's "
                           f"{local.embedded_aws.DEFAULT_APP_SECRET})")
    send.add_argument("--now", action="store_true",
                      help="set the body's event times (entry time, message and status timestamps) to now first, "
                           "so a sample reads as news (the body is signed after)")
    send.add_argument("--unsigned", action="store_true", help="send no signature (the API must answer 401)")
    send.set_defaults(handler=cmd_send_webhook)

    sim = commands.add_parser(
        "simulate", help="run a scenario through the real use cases on a fake clock",
        description="Run the intake, the limit check and the evaluator of the layer on a fake clock over a scenario "
                    "file (quality changes, sends per hour, webhooks) in this process, on moto: no server needed. "
                    "Prints the timeline: statuses, limits, denials, notifications. Exit code 1 when the "
                    "scenario's expectations do not hold.")
    sim.add_argument("scenario", type=Path, help="a scenario file, e.g. events/scenarios/flagged-downgrades.json")
    sim.add_argument("--json", action="store_true", help="print the timeline as JSON")
    sim.add_argument("--html", metavar="FILE", type=Path,
                     help="also write the report page (as `report --html`) as of the scenario's end")
    sim.set_defaults(handler=cmd_simulate)
    return parser


# ---- AWS sessions and the errors of talking to services ---------------------------------------------


def _aws_session(args: argparse.Namespace):
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        # AWS CLI v2 order: --region, AWS_REGION, AWS_DEFAULT_REGION, the profile's region.
        region = args.region or os.environ.get("AWS_REGION") or None
        session = boto3.Session(profile_name=args.profile, region_name=region)
    except ProfileNotFound as err:
        raise CliError(f"--profile: {err}") from None
    if not session.region_name:
        raise CliError("no AWS region: pass --region or set AWS_REGION (the same rules as the AWS CLI)")
    return session


def _causes(err: BaseException):
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = getattr(err, "cause", None) or err.__cause__ or err.__context__


def explain(err: BaseException, where: str, local_hint: str | None) -> str:
    """One line for an error met while talking to DynamoDB or Lambda."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ReadTimeoutError,
    )

    for cause in _causes(err):
        if isinstance(cause, EndpointConnectionError | ConnectionError):
            if local_hint:
                return f"{where} is not running: {local_hint}"
            return f"could not reach {where}: {cause}"
        if isinstance(cause, ReadTimeoutError):
            return f"{where} did not answer in time"
        if isinstance(cause, NoCredentialsError):
            return ("no AWS credentials found: configure them as for the AWS CLI "
                    "(aws configure, AWS_PROFILE or --profile)")
        if isinstance(cause, NoRegionError):
            return "no AWS region: pass --region or set AWS_REGION (the same rules as the AWS CLI)"
        if isinstance(cause, ClientError):
            error = cause.response.get("Error", {})
            code, message = error.get("Code", "Error"), error.get("Message", str(cause))
            if code == "ResourceNotFoundException" and local_hint:
                return (f"{where} has no numberguard tables ({message}): start local mode against it once "
                        "(make run) to create them")
            return f"{where}: {code}: {message}"
    return f"{where}: {type(err).__name__}: {err}"


# ---- numbers ---------------------------------------------------------------------------------------


def open_store(args: argparse.Namespace, history: bool = False) -> tuple[Any, str, str | None]:
    """Settings for the registry, the models bound to them; returns (settings, where, local hint)."""
    from numberguard.config import ConfigError, Settings
    from numberguard.store import models

    from numberguard_ops.template import function_environment

    if args.aws:
        if args.dynamodb_endpoint:
            raise CliError("--dynamodb-endpoint and --aws exclude each other")
        session = _aws_session(args)
        if args.profile:
            os.environ["AWS_PROFILE"] = args.profile
        env = dict(os.environ)
        env.pop("DYNAMODB_ENDPOINT", None)
        env["AWS_REGION"] = session.region_name
        tables = [("numbers_table", "NUMBERS_TABLE", "NumbersTableName"),
                  ("limits_table", "LIMITS_TABLE", "LimitsTableName")]
        if history:
            tables.append(("history_table", "HISTORY_TABLE", "HistoryTableName"))
        for flag, var, output in tables:
            if getattr(args, flag, None):
                env[var] = getattr(args, flag)
            elif not env.get(var):
                raise CliError(f"--aws needs the deployed table names: set {var} (stack output {output}) "
                               f"or pass --{flag.replace('_', '-')}")
        if args.policy:
            env["LIMIT_POLICY"] = args.policy
        where, hint = f"DynamoDB in {session.region_name}", None
    else:
        for flag in ("numbers_table", "limits_table", "history_table", "policy"):
            if getattr(args, flag, None):
                raise CliError(f"--{flag.replace('_', '-')} goes with --aws; local mode uses template.yaml's names")
        endpoint = args.dynamodb_endpoint or LOCAL_DYNAMODB
        # The same environment as local mode's functions: template names and defaults, local credentials.
        env = function_environment(FUNCTION)
        env.update(local.local_aws_environment(endpoint))
        for key in local.UNSET_LOCALLY:
            os.environ.pop(key, None)
        os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
                                               "AWS_DEFAULT_REGION")})
        where = f"DynamoDB Local at {endpoint}"
        hint = "start local mode with `make run` (or `numberguard local`), or point --dynamodb-endpoint at it"
    try:
        settings = Settings.from_env(env)
    except ConfigError as err:
        raise CliError(str(err)) from None
    models.bind(settings)
    return settings, where, hint


def _store_call(where: str, hint: str | None, call, *call_args):
    from numberguard.usecases.numbers import RegistrationError

    try:
        return call(*call_args)
    except RegistrationError as err:
        raise CliError(str(err)) from None
    except Exception as err:
        if _is_service_error(err):
            raise CliError(explain(err, where, hint)) from None
        raise


def _is_service_error(err: BaseException) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError
    from pynamodb.exceptions import PynamoDBException

    return isinstance(err, PynamoDBException | BotoCoreError | ClientError | ConnectionError)


def _display(digits: str | None) -> str:
    return f"+{digits}" if digits and not digits.startswith("+") else (digits or "-")


def _limit_text(number: dict) -> str:
    if number.get("tier") is None:
        return "no limit counter"
    if number.get("limit") is None:
        return f"{number['tier']} (unlimited)"
    return f"{number['tier']} ({number['limit']:,} unique recipients per moving 24 h)"


def _limit_cell(number: dict) -> str:
    if number.get("limit") is not None:
        return f"{number['limit']:,}"
    return "unlimited" if number.get("tier") else "-"


def _number_lines(number: dict) -> list[str]:
    flagged = number.get("flagged_at")
    flagged_text = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(flagged)) if flagged else "no"
    return [
        f"{number['phone_number_id']}  {_display(number['display_phone_number'])}",
        f"  WABA          {number['waba_id']}",
        f"  portfolio     {number.get('portfolio_id') or '-'}",
        f"  connection    {number['connection']}",
        f"  banned        {'yes' if number.get('banned') else 'no'}",
        f"  quality       {number['quality']}",
        f"  flagged       {flagged_text}",
        f"  limit         {_limit_text(number)}",
        f"  counted in    {number['scope']}",
    ]


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=False))


def cmd_numbers_add(args: argparse.Namespace) -> int:
    from numberguard.usecases.numbers import NumberRegistration, register

    settings, where, hint = open_store(args)
    registration = NumberRegistration(
        phone_number_id=args.phone_number_id,
        waba_id=args.waba_id,
        display_phone_number=args.display_phone_number,
        tier=args.tier,
        portfolio_id=args.portfolio_id,
        connection=args.status,
        quality=args.quality,
    )
    number = _store_call(where, hint, register, registration, settings, int(time.time()))
    if args.json:
        _print_json(number)
        return EXIT_OK
    print(f"Registered {number['phone_number_id']} ({_display(number['display_phone_number'])}) in {where}: "
          f"{number['connection']}, quality {number['quality']}, {_limit_text(number)}, counted in {number['scope']}"
          + (" (the portfolio's existing limit was kept)" if number.get("limit_was_shared") else "") + ".")
    return EXIT_OK


def cmd_numbers_list(args: argparse.Namespace) -> int:
    from numberguard.usecases.numbers import list_all

    _, where, hint = open_store(args)
    numbers = _store_call(where, hint, list_all)
    if args.json:
        _print_json(numbers)
        return EXIT_OK
    if not numbers:
        print(f"No numbers registered in {where}. Add one with: numberguard numbers add --phone-number-id ID "
              "--waba-id ID --display-phone-number +1... --tier TIER_1K")
        return EXIT_OK
    rows = [("PHONE NUMBER ID", "DISPLAY", "WABA", "CONNECTION", "QUALITY", "TIER", "LIMIT", "SCOPE")]
    for n in numbers:
        status = "BANNED" if n.get("banned") else n["connection"]
        limit = _limit_cell(n)
        rows.append((n["phone_number_id"], _display(n["display_phone_number"]), n["waba_id"], status,
                     n["quality"], n.get("tier") or "-", limit, n["scope"]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def cmd_numbers_show(args: argparse.Namespace) -> int:
    from numberguard.usecases.numbers import show

    _, where, hint = open_store(args)
    number = _store_call(where, hint, show, args.phone_number_id)
    if number is None:
        raise CliError(f"phone_number_id {args.phone_number_id} is not registered in {where} "
                       "(numberguard numbers list shows the registered numbers)")
    if args.json:
        _print_json(number)
    else:
        print("\n".join(_number_lines(number)))
    return EXIT_OK


# ---- check -----------------------------------------------------------------------------------------


def _payload(args: argparse.Namespace) -> dict | Any:
    if args.payload:
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
        session = _aws_session(args)
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


def invoke(client, function_name: str, payload: Any, where: str, hint: str | None) -> dict:
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


def _usage_text(answer: dict) -> str:
    if answer.get("limit") is None and answer.get("tier"):
        return f"{answer['tier']}, unlimited"
    if answer.get("used") is None:
        return ""
    return f"{answer.get('tier')}: {answer['used']:,} of {answer['limit']:,} used, {answer['remaining']:,} remaining"


def answer_lines(answer: dict) -> list[str]:
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
        _print_json(answer)
    elif isinstance(answer, dict):
        print("\n".join(answer_lines(answer)))
    else:
        print(json.dumps(answer))
    return EXIT_OK if isinstance(answer, dict) and answer.get("allowed") else EXIT_DENIED


# ---- usage, history, report -------------------------------------------------------------------------


def _view(args: argparse.Namespace):
    from numberguard.wiring import state_store

    from numberguard_ops.views import number_view

    settings, where, hint = open_store(args, history=True)
    view = _store_call(where, hint, number_view, state_store(settings), settings, args.phone_number_id,
                       int(time.time()), getattr(args, "limit", 200))
    if view is None:
        raise CliError(f"phone_number_id {args.phone_number_id} is not registered in {where} "
                       "(numberguard numbers list shows the registered numbers)")
    return view


def cmd_usage(args: argparse.Namespace) -> int:
    from numberguard_ops.views import usage_lines

    view = _view(args)
    if args.json:
        _print_json({k: v for k, v in view.as_dict().items() if k != "history"})
    else:
        print("\n".join(usage_lines(view)))
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    from numberguard_ops.views import history_lines

    view = _view(args)
    if args.json:
        _print_json(view.history)
    else:
        print("\n".join(history_lines(view)))
    return EXIT_OK


def _writable(target: Path) -> None:
    if target.is_dir():
        raise CliError(f"--html {target}: is a folder; give a file name such as report.html")
    if not target.parent.exists():
        raise CliError(f"--html {target}: the folder {target.parent} does not exist")


def _write(target: Path, page: str) -> None:
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as err:
        raise CliError(f"--html {target}: cannot write it ({err.strerror or err})") from None


def cmd_report(args: argparse.Namespace) -> int:
    from numberguard.wiring import state_store

    from numberguard_ops import report
    from numberguard_ops.views import all_number_ids, number_view

    target: Path = args.html
    _writable(target)
    settings, where, hint = open_store(args, history=True)
    now = int(time.time())
    store = state_store(settings)

    def collect():
        views = [number_view(store, settings, pnid, now) for pnid in all_number_ids(store)]
        return [v for v in views if v is not None]

    views = _store_call(where, hint, collect)
    page = report.render(views, now, where)
    _write(target, page)
    if args.json:
        _print_json({"file": str(target), "numbers": len(views)})
    else:
        print(f"Wrote {target} ({len(views)} number{'s' if len(views) != 1 else ''}, {len(page):,} bytes, "
              "self-contained: open it in a browser)")
    return EXIT_OK


# ---- send-webhook ------------------------------------------------------------------------------------


def signature(body: bytes, secret: str) -> str:
    """X-Hub-Signature-256 as Meta sends it: HMAC-SHA256 of the raw body with the app secret."""
    import hashlib
    import hmac

    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


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
            for kind in ("messages", "statuses"):
                for item in (value or {}).get(kind) or []:
                    if isinstance(item, dict) and "timestamp" in item:
                        item["timestamp"] = str(now)
    return json.dumps(envelope).encode()


def cmd_send_webhook(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    try:
        body = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as err:
        raise CliError(f"cannot read {args.file}: {err.strerror or err}") from None
    if not body.strip():
        raise CliError(f"{args.file} is empty: a webhook body is Meta's JSON envelope")
    if args.now:
        body = _times_now(body, args.file, int(time.time()))
    secret = args.app_secret or os.environ.get("NUMBERGUARD_APP_SECRET") or local.embedded_aws.DEFAULT_APP_SECRET
    headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
    if not args.unsigned:
        headers["X-Hub-Signature-256"] = signature(body, secret)
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


# ---- simulate ------------------------------------------------------------------------------------------


def cmd_simulate(args: argparse.Namespace) -> int:
    from numberguard_ops.simulate import ScenarioError, simulate, timeline_lines

    if args.html is not None:
        _writable(args.html)
    try:
        result = simulate(args.scenario)
    except ScenarioError as err:
        raise CliError(f"scenario {args.scenario}: {err}") from None
    if args.html is not None:
        _write(args.html, result.html or "")
    if args.json:
        _print_json(result.as_dict())
    else:
        print("\n".join(timeline_lines(result)))
    return EXIT_ERROR if result.failures else EXIT_OK


# ---- local -----------------------------------------------------------------------------------------


def _parameters(pairs: list[tuple[str, str]]) -> dict[str, str]:
    from numberguard_ops import template

    known = template.load().get("Parameters", {})
    for name, _ in pairs:
        if name not in known:
            raise CliError(f"--parameter {name}: template.yaml has no such parameter "
                           f"(it has {', '.join(sorted(known))})", EXIT_USAGE)
    return dict(pairs)


def cmd_local(args: argparse.Namespace) -> int:
    data_dir = (args.data_dir.expanduser().resolve() if args.data_dir else local.DEFAULT_DATA_DIR)
    ports = {"--api-port": args.api_port, "--lambda-port": args.lambda_port, "--dynamodb-port": args.dynamodb_port,
             "--moto-port": args.moto_port, "--meta-port": args.meta_port}
    seen: dict[int, str] = {}
    for flag, port in ports.items():
        if port in seen:
            raise CliError(f"{seen[port]} and {flag} must differ (both {port})", EXIT_USAGE)
        seen[port] = flag
    for flag, value in (("--app-secret", args.app_secret), ("--verify-token", args.verify_token)):
        if not value.strip():
            raise CliError(f"{flag} must not be empty", EXIT_USAGE)
    if args.template is not None:
        from numberguard_ops import template

        template.select(args.template)
        try:
            template.load()
        except template.TemplateError as err:
            template.select(None)
            raise CliError(f"--template: {err}") from None
    options = local.LocalOptions(lambda_port=args.lambda_port, dynamodb_port=args.dynamodb_port, data_dir=data_dir,
                                 api_port=args.api_port, moto_port=args.moto_port, app_secret=args.app_secret,
                                 verify_token=args.verify_token, schedule_rate=args.schedule_rate,
                                 log_level=args.log_level, parameters=_parameters(args.parameter),
                                 meta_port=args.meta_port)
    return local.run(options)


# ---- entry point -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except CliError as err:
        print(f"numberguard: {err}", file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as err:
        if os.environ.get("NUMBERGUARD_DEBUG"):
            raise
        print(f"numberguard: unexpected error: {type(err).__name__}: {err} (NUMBERGUARD_DEBUG=1 shows the trace)",
              file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
