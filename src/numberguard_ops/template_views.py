"""`numberguard templates list | show`: the WABAs' message templates as the check sees them.

For each template: Meta's status (a timed pause shown with its end, and as over once it is), the pause
count, quality, category, and what a check naming it is answered now; `show` adds its history.
Reads the same items the check and the intake use (store/templates.py), locally or with --aws.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from numberguard.domain.templates import Block, TemplateRef, TemplateState

DENIALS = {Block.PAUSED: "DENIED_TEMPLATE_PAUSED", Block.DISABLED: "DENIED_TEMPLATE_DISABLED",
           Block.NOT_APPROVED: "DENIED_TEMPLATE_NOT_APPROVED"}


def _iso(epoch: int | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def template_dict(template: TemplateState, now: int) -> dict:
    """One template as people and tools read it (the JSON of `templates list --json`)."""
    block, retry_at = template.block(now)
    status = template.status
    return {
        "waba_id": template.waba_id,
        "name": template.name,
        "language": template.language,
        "template_id": template.template_id,
        "status": status.at_time(now).value,
        "meta_status": status.status.value,  # as Meta last said it (a timed pause may have ended since)
        "paused_until": _iso(status.paused_until),
        "pacing": status.pacing,
        "pause_count": status.pause_count,
        "in_appeal": status.in_appeal,
        "reason": status.reason,
        "status_at": _iso(status.at),
        "quality": template.quality.value,
        "category": template.category.value if template.category else None,
        "check": DENIALS[block] if block else "ALLOWED",
        "retry_after_seconds": None if retry_at is None else max(retry_at - now, 0),
        "warnings": template.warnings(now),
    }


def wabas_of(numbers: Iterable[dict]) -> list[str]:
    return sorted({n["waba_id"] for n in numbers if n.get("waba_id")})


def collect(settings: Any, wabas: list[str], now: int) -> list[dict]:
    from numberguard.store.client import dynamodb_client
    from numberguard.store.templates import TemplateStore

    store = TemplateStore(dynamodb_client(settings), settings.numbers_table)
    return [template_dict(t, now) for waba in wabas for t in store.of_waba(waba)]


def history_of(settings: Any, waba: str, name: str, language: str) -> list[dict]:
    from numberguard.store.templates import subject
    from numberguard.wiring import state_store

    return state_store(settings).history(subject(waba, TemplateRef(name, language)))


def _status_text(row: dict) -> str:
    if row["status"] == "PAUSED":
        return "PAUSED (pacing)" if row["pacing"] else f"PAUSED until {row['paused_until']}"
    return row["status"]


def list_lines(rows: list[dict]) -> list[str]:
    table = [("WABA", "TEMPLATE", "LANGUAGE", "STATUS", "PAUSES", "QUALITY", "CATEGORY", "A CHECK NAMING IT")]
    for r in rows:
        table.append((r["waba_id"], r["name"], r["language"], _status_text(r), str(r["pause_count"]), r["quality"],
                      r["category"] or "-", r["check"]))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in table]


def show_lines(row: dict, history: list[dict]) -> list[str]:
    retry = f" (retry in {row['retry_after_seconds']} s)" if row["retry_after_seconds"] is not None else ""
    lines = [
        f"{row['name']} ({row['language']})  WABA {row['waba_id']}  template id {row['template_id'] or '-'}",
        f"  status        {_status_text(row)}" + (" (in appeal)" if row["in_appeal"] else ""),
        f"  Meta said     {row['meta_status']} at {row['status_at'] or '-'}" + (
            f": {row['reason']}" if row["reason"] else ""),
        f"  pauses        {row['pause_count']} (a first pause lasts 3 h, a second 6 h, a third disables it)",
        f"  quality       {row['quality']}",
        f"  category      {row['category'] or '-'}",
        f"  a check       {row['check']}{retry}",
    ]
    lines += [f"  warning       {w}" for w in row["warnings"]]
    lines.append("  history" if history else "  history       none recorded")
    for entry in history:
        doc = entry.get("document") or {}
        lines.append(f"    {_iso(entry.get('at'))}  {doc.get('from') or '-'} → {doc.get('to') or '-'}  "
                     f"({doc.get('reason')}){'' if entry.get('published') else '  [history only]'}")
    return lines


# ---- the command group ------------------------------------------------------------------------------


def add_parser(commands: Any, store: argparse.ArgumentParser, parser_class: type) -> None:
    group = commands.add_parser("templates", help="the WABAs' message templates and what a check naming one gets",
                                description="Meta's message templates of the registered numbers' WABAs: status "
                                            "(paused until when, disabled, not approved), quality, category.")
    actions = group.add_subparsers(dest="templates_command", metavar="ACTION", parser_class=parser_class)
    actions.required = True
    listing = actions.add_parser("list", parents=[store], help="list the templates numberguard knows")
    listing.add_argument("--waba-id", help="one WABA's templates (default: every registered number's WABA)")
    listing.set_defaults(handler=cmd_templates_list)
    show = actions.add_parser("show", parents=[store], help="one template: its state and history")
    show.add_argument("name", help="the template's name")
    show.add_argument("--language", default="en_US", help="its language (en_US = en-US; default %(default)s)")
    show.add_argument("--waba-id", help="its WABA (needed when several WABAs have a template of that name)")
    show.set_defaults(handler=cmd_templates_show)


def _rows(args: argparse.Namespace, now: int) -> tuple[list[dict], Any, str, str | None]:
    from numberguard.usecases.numbers import list_all

    from numberguard_ops.cli import _store_call, open_store

    settings, where, hint = open_store(args, history=True)
    wabas = [args.waba_id] if args.waba_id else wabas_of(_store_call(where, hint, list_all))
    return _store_call(where, hint, collect, settings, wabas, now), settings, where, hint


def cmd_templates_list(args: argparse.Namespace) -> int:
    import time

    from numberguard_ops.cli import EXIT_OK, _print_json

    rows, _, where, _ = _rows(args, int(time.time()))
    if args.json:
        _print_json(rows)
    elif not rows:
        print(f"No templates known in {where}: numberguard learns them from Meta's template webhooks "
              "(subscribe message_template_status_update and message_template_quality_update).")
    else:
        print("\n".join(list_lines(rows)))
    return EXIT_OK


def cmd_templates_show(args: argparse.Namespace) -> int:
    import time

    from numberguard.domain.templates import language_key

    from numberguard_ops.cli import EXIT_OK, CliError, _print_json, _store_call

    rows, settings, where, hint = _rows(args, int(time.time()))
    found = [r for r in rows if r["name"] == args.name and language_key(r["language"]) == language_key(args.language)]
    if not found:
        raise CliError(f"no template {args.name!r} ({args.language}) known in {where} "
                       "(numberguard templates list shows the known ones)")
    if len(found) > 1:
        raise CliError(f"{len(found)} WABAs have {args.name!r} ({args.language}): pass --waba-id "
                       f"({', '.join(r['waba_id'] for r in found)})")
    row = found[0]
    history = _store_call(where, hint, history_of, settings, row["waba_id"], row["name"], row["language"])
    if args.json:
        _print_json(row | {"history": history})
    else:
        print("\n".join(show_lines(row, history)))
    return EXIT_OK
