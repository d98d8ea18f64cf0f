"""`numberguard templates list | show`: the WABAs' message templates and what a check naming one gets."""

from __future__ import annotations

import argparse
import time
from typing import Any

from numberguard_ops.cli.common import EXIT_OK, CliError, Commands, Parents, Parser, open_store, print_json, store_call


def add_parsers(commands: Commands, parents: Parents) -> None:
    group = commands.add_parser("templates", help="the WABAs' message templates and what a check naming one gets",
                                description="Meta's message templates of the registered numbers' WABAs: status "
                                            "(paused until when, disabled, not approved), quality, category.")
    actions = group.add_subparsers(dest="templates_command", metavar="ACTION", parser_class=Parser)
    actions.required = True
    listing = actions.add_parser("list", parents=[parents.store], help="list the templates numberguard knows")
    listing.add_argument("--waba-id", help="one WABA's templates (default: every registered number's WABA)")
    listing.set_defaults(handler=cmd_list)
    show = actions.add_parser("show", parents=[parents.store], help="one template: its state and history")
    show.add_argument("name", help="the template's name")
    show.add_argument("--language", default="en_US", help="its language (en_US = en-US; default %(default)s)")
    show.add_argument("--waba-id", help="its WABA (needed when several WABAs have a template of that name)")
    show.set_defaults(handler=cmd_show)


def _rows(args: argparse.Namespace, now: int) -> tuple[list[dict], Any, str, str | None]:
    from numberguard.wiring import build

    from numberguard_ops.template_views import collect, wabas_of

    settings, where, hint = open_store(args, history=True)
    parts = build(settings)
    wabas = [args.waba_id] if args.waba_id else wabas_of(store_call(where, hint, parts.numbers.list_all))
    return store_call(where, hint, collect, parts, wabas, now), parts, where, hint


def cmd_list(args: argparse.Namespace) -> int:
    from numberguard_ops.template_views import list_lines

    rows, _, where, _ = _rows(args, int(time.time()))
    if args.json:
        print_json(rows)
    elif not rows:
        print(f"No templates known in {where}: numberguard learns them from Meta's template webhooks "
              "(subscribe message_template_status_update and message_template_quality_update).")
    else:
        print("\n".join(list_lines(rows)))
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from numberguard.domain.templates import language_key

    from numberguard_ops.template_views import history_of, show_lines

    rows, parts, where, hint = _rows(args, int(time.time()))
    found = [r for r in rows if r["name"] == args.name and language_key(r["language"]) == language_key(args.language)]
    if not found:
        raise CliError(f"no template {args.name!r} ({args.language}) known in {where} "
                       "(numberguard templates list shows the known ones)")
    if len(found) > 1:
        raise CliError(f"{len(found)} WABAs have {args.name!r} ({args.language}): pass --waba-id "
                       f"({', '.join(r['waba_id'] for r in found)})")
    row = found[0]
    history = store_call(where, hint, history_of, parts, row["waba_id"], row["name"], row["language"])
    if args.json:
        print_json(row | {"history": history})
    else:
        print("\n".join(show_lines(row, history)))
    return EXIT_OK
