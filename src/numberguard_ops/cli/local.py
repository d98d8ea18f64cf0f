"""`numberguard local` (what `make run` runs): the template's functions, tables, topics and API on this machine."""

from __future__ import annotations

import argparse
from pathlib import Path

from numberguard_ops import local
from numberguard_ops.cli.common import EXIT_USAGE, CliError, Commands, Parents, port, upper_choice

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


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


def add_parsers(commands: Commands, parents: Parents) -> None:
    run = commands.add_parser(
        "local", help="run local mode: the template's functions, tables, topics and API on this machine (make run)",
        description="Start DynamoDB Local and moto's server with the resources of template.yaml, and serve the "
                    "template's functions: the Lambda invoke API, the API of their Api events, their schedules, and "
                    "a mailbox for notifications. Ctrl-C stops everything.")
    run.add_argument("--api-port", type=port, default=local.DEFAULT_API_PORT,
                     help=f"port of the API (the functions' Api events, e.g. /webhook) on {local.HOST} "
                          "(default %(default)s)")
    run.add_argument("--lambda-port", type=port, default=local.DEFAULT_LAMBDA_PORT,
                     help=f"port of the Lambda invoke API on {local.HOST} (default %(default)s)")
    run.add_argument("--dynamodb-port", type=port, default=local.DEFAULT_DYNAMODB_PORT,
                     help="port of DynamoDB Local (default %(default)s)")
    run.add_argument("--moto-port", type=port, default=local.DEFAULT_MOTO_PORT,
                     help="port of moto's server: SNS, S3, SSM, SQS (default %(default)s)")
    run.add_argument("--data-dir", type=Path, default=None,
                     help="folder for DynamoDB Local's data and the mailbox (default .local/ in the project folder)")
    run.add_argument("--app-secret", default=local.embedded_aws.DEFAULT_APP_SECRET,
                     help="the Meta app secret webhooks are signed with (default %(default)s)")
    run.add_argument("--verify-token", default=local.embedded_aws.DEFAULT_VERIFY_TOKEN,
                     help="the webhook verify token (default %(default)s)")
    run.add_argument("--log-level", type=upper_choice(LOG_LEVELS), default="WARNING",
                     help="the functions' log level (the template's LogLevel; default %(default)s, INFO logs "
                          "every invocation)")
    run.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE", type=_parameter,
                     help="a template parameter's value instead of its default, as sam's --parameter-overrides "
                          "(repeat it), e.g. EumSocialTopicArn=arn:aws:sns:us-east-1:123456789012:eum-social")
    run.add_argument("--template", type=Path, default=None, metavar="FILE",
                     help="serve another SAM template (default template.yaml of the project)")
    run.add_argument("--schedule-rate", type=_rate, default=None, metavar="RATE",
                     help="run scheduled functions at this rate instead of the template's: rate(1 minute), 30s, 5m")
    run.add_argument("--meta-port", type=port, default=local.DEFAULT_META_PORT,
                     help=f"port of the Meta Graph API double on {local.HOST} (default %(default)s; local mode's "
                          "MetaGraphUrl unless --parameter MetaGraphUrl=... names another server)")
    run.set_defaults(handler=cmd_local)


def _parameters(pairs: list[tuple[str, str]]) -> dict[str, str]:
    from numberguard_ops import template

    known = template.load().get("Parameters", {})
    for name, _ in pairs:
        if name not in known:
            raise CliError(f"--parameter {name}: template.yaml has no such parameter "
                           f"(it has {', '.join(sorted(known))})", EXIT_USAGE)
    return dict(pairs)


def _check_options(args: argparse.Namespace) -> None:
    ports = {"--api-port": args.api_port, "--lambda-port": args.lambda_port, "--dynamodb-port": args.dynamodb_port,
             "--moto-port": args.moto_port, "--meta-port": args.meta_port}
    seen: dict[int, str] = {}
    for flag, number in ports.items():
        if number in seen:
            raise CliError(f"{seen[number]} and {flag} must differ (both {number})", EXIT_USAGE)
        seen[number] = flag
    for flag, value in (("--app-secret", args.app_secret), ("--verify-token", args.verify_token)):
        if not value.strip():
            raise CliError(f"{flag} must not be empty", EXIT_USAGE)


def _select_template(path: Path | None) -> None:
    if path is None:
        return
    from numberguard_ops import template

    template.select(path)
    try:
        template.load()
    except template.TemplateError as err:
        template.select(None)
        raise CliError(f"--template: {err}") from None


def cmd_local(args: argparse.Namespace) -> int:
    data_dir = (args.data_dir.expanduser().resolve() if args.data_dir else local.DEFAULT_DATA_DIR)
    _check_options(args)
    _select_template(args.template)
    options = local.LocalOptions(lambda_port=args.lambda_port, dynamodb_port=args.dynamodb_port, data_dir=data_dir,
                                 api_port=args.api_port, moto_port=args.moto_port, app_secret=args.app_secret,
                                 verify_token=args.verify_token, schedule_rate=args.schedule_rate,
                                 log_level=args.log_level, parameters=_parameters(args.parameter),
                                 meta_port=args.meta_port)
    return local.run(options)
