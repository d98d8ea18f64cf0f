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

One module per command group, each declaring its own sub-parser in `add_parsers(commands, parents)`;
a new group is a new module added to GROUPS. What groups share (errors, argument types, the --json /
--aws / store options, opening the tables) is in `common`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from numberguard_ops.cli import check, local, meta, numbers, simulate, usage, webhook
from numberguard_ops.cli.common import EXIT_ERROR, EXIT_OK, CliError, Parser, parents

# In the order `numberguard --help` lists them.
GROUPS = (local, numbers, check, usage, webhook, simulate, meta)


def build_parser() -> Parser:
    parser = Parser(
        prog="numberguard",
        description="Guard WhatsApp Business sends: local mode, the number registry and the limit check.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    shared = parents()
    for group in GROUPS:
        group.add_parsers(commands, shared)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
        return code
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


__all__ = ["build_parser", "main"]
