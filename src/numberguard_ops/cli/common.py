"""What every command group shares: the one-line error, the parser class, argument types, the parent
parsers (--json, --aws, the store options) and the way a service error becomes one line."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias, TypeVar
from urllib.parse import urlsplit

from numberguard_ops import local

if TYPE_CHECKING:
    import boto3
    from numberguard.config import Settings

LOCAL_DYNAMODB = f"http://{local.HOST}:{local.DEFAULT_DYNAMODB_PORT}"
LOCAL_LAMBDA = f"http://{local.HOST}:{local.DEFAULT_LAMBDA_PORT}"
LOCAL_WEBHOOK = f"http://{local.HOST}:{local.DEFAULT_API_PORT}/webhook"
FUNCTION = "LimitCheckFunction"

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DENIED = 3  # `check`: the answer was not "allowed" (denied or invalid request)

T = TypeVar("T")
Handler = Callable[[argparse.Namespace], int]


class CliError(Exception):
    """One line for the user; main() prints it on stderr and exits non-zero."""

    def __init__(self, message: str, code: int = EXIT_ERROR):
        super().__init__(message)
        self.code = code


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (the usage is one `--help` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# The object `add_subparsers` returns: each command group adds its parsers to it.
Commands: TypeAlias = "argparse._SubParsersAction[Parser]"


# ---- argument types -------------------------------------------------------------------------------


def port(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"a port is between 1 and 65535, got {number}")
    return number


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {text!r}")
    return text.rstrip("/")


def upper_choice(choices: Sequence[str]) -> Callable[[str], str]:
    """A case-insensitive choice (the value comes back upper case)."""

    def parse(text: str) -> str:
        value = text.strip().upper()
        if value not in choices:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(choices)}")
        return value

    return parse


def spelled(choices: Sequence[str]) -> str:
    """`A, B or C` for help texts."""
    return ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else "".join(choices)


# ---- parent parsers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parents:
    """Options several commands share, declared once."""

    output: Parser  # --json
    aws: Parser  # --aws, --region, --profile
    store: Parser  # aws + output + where the tables are


def parents() -> Parents:
    from numberguard.domain.tiers import Policy

    output = Parser(add_help=False)
    output.add_argument("--json", action="store_true", help="print JSON instead of text")

    aws = Parser(add_help=False)
    aws.add_argument("--aws", action="store_true",
                     help="use the deployed stack on AWS (credentials and region as for the AWS CLI)")
    aws.add_argument("--region", help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's)")
    aws.add_argument("--profile", help="AWS CLI profile to use (default: AWS_PROFILE or the default chain)")

    store = Parser(add_help=False, parents=[aws, output])
    store.add_argument("--dynamodb-endpoint", type=url, default=None,
                       help=f"DynamoDB Local's URL (default {LOCAL_DYNAMODB}); ignored with --aws")
    store.add_argument("--numbers-table", help="with --aws: the NumbersTable's name (default: NUMBERS_TABLE)")
    store.add_argument("--limits-table", help="with --aws: the LimitsTable's name (default: LIMITS_TABLE)")
    store.add_argument("--history-table", help="with --aws: the HistoryTable's name (default: HISTORY_TABLE)")
    store.add_argument("--policy", choices=[p.value for p in Policy],
                       help="with --aws: the stack's LimitPolicy (default: LIMIT_POLICY, else per-number)")
    return Parents(output=output, aws=aws, store=store)


# ---- output -----------------------------------------------------------------------------------------


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=False))


def writable(target: Path) -> None:
    if target.is_dir():
        raise CliError(f"--html {target}: is a folder; give a file name such as report.html")
    if not target.parent.exists():
        raise CliError(f"--html {target}: the folder {target.parent} does not exist")


def write(target: Path, page: str) -> None:
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as err:
        raise CliError(f"--html {target}: cannot write it ({err.strerror or err})") from None


# ---- AWS sessions and the errors of talking to services ---------------------------------------------


def aws_session(args: argparse.Namespace) -> boto3.Session:
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


def _causes(err: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
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


# ---- the tables: where they are and calling them -----------------------------------------------------


def _aws_environment(args: argparse.Namespace, history: bool) -> tuple[dict[str, str], str]:
    if args.dynamodb_endpoint:
        raise CliError("--dynamodb-endpoint and --aws exclude each other")
    session = aws_session(args)
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
    return env, f"DynamoDB in {session.region_name}"


def _local_environment(args: argparse.Namespace) -> tuple[dict[str, str], str]:
    from numberguard_ops.template import function_environment

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
    return env, f"DynamoDB Local at {endpoint}"


LOCAL_STORE_HINT = "start local mode with `make run` (or `numberguard local`), or point --dynamodb-endpoint at it"


def open_store(args: argparse.Namespace, history: bool = False) -> tuple[Settings, str, str | None]:
    """Settings of the tables the arguments name; returns (settings, where, local hint)."""
    from numberguard.config import ConfigError, Settings

    if args.aws:
        env, where = _aws_environment(args, history)
        hint = None
    else:
        env, where = _local_environment(args)
        hint = LOCAL_STORE_HINT
    try:
        settings = Settings.from_env(env)
    except ConfigError as err:
        raise CliError(str(err)) from None
    return settings, where, hint


def store_call(where: str, hint: str | None, call: Callable[..., T], *call_args: Any) -> T:
    """`call(*call_args)` with a registration error or a service error turned into one line."""
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
