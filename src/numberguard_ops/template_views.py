"""`numberguard templates list | show`: the WABAs' message templates as the check sees them.

For each template: Meta's status (a timed pause shown with its end, and as over once it is), the pause
count, quality, category, and what a check naming it is answered now; `show` adds its history.
Reads the same items the check and the intake use (store/templates.py), locally or with --aws.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from numberguard.domain.templates import Block, TemplateRef, TemplateState

if TYPE_CHECKING:
    from numberguard.wiring import Parts

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


def collect(parts: Parts, wabas: list[str], now: int) -> list[dict]:
    """Every template of these WABAs (wiring's parts: local, --aws or a simulation)."""
    store = parts.stores.templates
    return [template_dict(t, now) for waba in wabas for t in store.of_waba(waba)]


def history_of(parts: Parts, waba: str, name: str, language: str) -> list[dict]:
    stores = parts.stores
    return stores.history.history(stores.templates.subject(waba, TemplateRef(name, language)))


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
