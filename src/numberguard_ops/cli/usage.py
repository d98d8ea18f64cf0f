"""`numberguard usage | history | report`: what the tables say about a number, or about every number."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from numberguard_ops.cli.common import (
    EXIT_OK,
    CliError,
    Commands,
    Parents,
    open_store,
    positive,
    print_json,
    store_call,
    writable,
    write,
)

if TYPE_CHECKING:
    from numberguard_ops.views import NumberView


def add_parsers(commands: Commands, parents: Parents) -> None:
    usage = commands.add_parser("usage", parents=[parents.store],
                                help="used / limit of a number, when slots free, 24 h",
                                description="How much of its moving 24-hour limit a number has used, when the next "
                                            "slot frees, and its recipients hour by hour.")
    usage.add_argument("phone_number_id", help="Meta's phone number id")
    usage.set_defaults(handler=cmd_usage)

    history = commands.add_parser("history", parents=[parents.store],
                                  help="a number's changes of status, quality, limit",
                                  description="Every recorded change of a number (newest first): status, quality, "
                                              "tier, limit, warnings. The same entries were published to SNS.")
    history.add_argument("phone_number_id", help="Meta's phone number id")
    history.add_argument("--limit", type=positive, default=50, help="how many entries (default %(default)s)")
    history.set_defaults(handler=cmd_history)

    report = commands.add_parser("report", parents=[parents.store], help="one HTML page about every number",
                                 description="Write one self-contained HTML page (inline SVG and CSS, nothing "
                                             "fetched) with every number's status, quality, tier, usage gauge, "
                                             "24 h usage chart and status timeline.")
    report.add_argument("--html", required=True, metavar="FILE", type=Path, help="the page to write")
    report.set_defaults(handler=cmd_report)


def _view(args: argparse.Namespace) -> NumberView:
    from numberguard.wiring import build

    from numberguard_ops.views import number_view

    settings, where, hint = open_store(args, history=True)
    view = store_call(where, hint, number_view, build(settings), args.phone_number_id,
                      int(time.time()), getattr(args, "limit", 200))
    if view is None:
        raise CliError(f"phone_number_id {args.phone_number_id} is not registered in {where} "
                       "(numberguard numbers list shows the registered numbers)")
    return view


def cmd_usage(args: argparse.Namespace) -> int:
    from numberguard_ops.views import usage_lines

    view = _view(args)
    if args.json:
        print_json({k: v for k, v in view.as_dict().items() if k != "history"})
    else:
        print("\n".join(usage_lines(view)))
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    from numberguard_ops.views import history_lines

    view = _view(args)
    if args.json:
        print_json(view.history)
    else:
        print("\n".join(history_lines(view)))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from numberguard.wiring import build

    from numberguard_ops import report
    from numberguard_ops.views import all_number_ids, number_view

    target: Path = args.html
    writable(target)
    settings, where, hint = open_store(args, history=True)
    now = int(time.time())
    parts = build(settings)

    def collect() -> list[NumberView]:
        views = [number_view(parts, pnid, now) for pnid in all_number_ids(parts)]
        return [v for v in views if v is not None]

    views = store_call(where, hint, collect)
    page = report.render(views, now, where)
    write(target, page)
    if args.json:
        print_json({"file": str(target), "numbers": len(views)})
    else:
        print(f"Wrote {target} ({len(views)} number{'s' if len(views) != 1 else ''}, {len(page):,} bytes, "
              "self-contained: open it in a browser)")
    return EXIT_OK
