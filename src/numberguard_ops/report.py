"""`numberguard report --html FILE`: one self-contained page about every number.

Inline CSS and SVG only (no script, font, image or stylesheet from anywhere), so the file can be
mailed, archived or opened offline. Per number: status, quality, tier, a usage gauge, the 24 h
usage chart and the status timeline of the last days, with the latest history entries and the
templates of its WABA.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from html import escape

from numberguard.domain.window import DAY_SECONDS

from numberguard_ops.views import HOURS, NumberView, hour_spans, iso, refusal_words, span_label, status_spans

TIMELINE_DAYS = 14
STATUS_COLOURS = {
    "CONNECTED": "#2e7d32", "FLAGGED": "#f9a825", "RESTRICTED": "#ef6c00", "OFFLINE": "#757575",
    "PENDING": "#5c6bc0", "BANNED": "#c62828", "BLOCKED": "#8e24aa",
}
QUALITY_COLOURS = {"GREEN": "#2e7d32", "YELLOW": "#f9a825", "RED": "#c62828", "UNKNOWN": "#757575"}
QUALITY_WORDS = {"GREEN": "High", "YELLOW": "Medium", "RED": "Low", "UNKNOWN": "Unknown"}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:24px;color:#1f2933;
background:#f5f7fa}
h1{font-size:22px;margin:0 0 4px}
.sub{color:#52606d;margin:0 0 20px;font-size:13px}
table.summary{border-collapse:collapse;background:#fff;margin-bottom:24px;font-size:14px}
table.summary th,table.summary td{padding:6px 12px;border-bottom:1px solid #e4e7eb;text-align:left}
table.summary th{background:#e4e7eb;font-weight:600}
.card{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:16px 20px;margin-bottom:20px}
.card h2{font-size:18px;margin:0 0 2px}
.ids{color:#52606d;font-size:12px;margin-bottom:12px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-size:12px;font-weight:600;
margin-right:6px}
.grid{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
.panel h3{font-size:13px;color:#52606d;margin:0 0 6px;font-weight:600;text-transform:uppercase;letter-spacing:.04em}
.history{font-size:12px;border-collapse:collapse;margin-top:12px;width:100%}
.history td{padding:3px 8px;border-top:1px solid #e4e7eb}
.legend span{display:inline-block;margin-right:10px;font-size:11px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
.empty{color:#9aa5b1;font-size:13px}
"""


def _badge(text: str, colour: str, title: str = "") -> str:
    return f'<span class="badge" style="background:{colour}" title="{escape(title)}">{escape(text)}</span>'


def _display(view: NumberView) -> str:
    d = view.display_phone_number
    return d if d.startswith("+") else f"+{d}"


def gauge_svg(view: NumberView) -> str:
    """A half-circle gauge of used / limit."""
    w, h, r, cx, cy = 180, 110, 70, 90, 90
    if view.limit is None:
        label, sub, fraction, colour = "unlimited", f"{view.used:,} used", 0.0, "#2e7d32"
    else:
        fraction = 0.0 if view.limit <= 0 else min(1.0, view.used / view.limit)
        label = f"{view.percent}%"
        sub = f"{view.used:,} / {view.limit:,}"
        colour = "#c62828" if fraction >= 1 else "#ef6c00" if fraction >= 0.95 else "#f9a825" if fraction >= 0.8 \
            else "#2e7d32"
    end_angle = math.pi * (1 - fraction)
    x, y = cx + r * math.cos(end_angle), cy - r * math.sin(end_angle)
    arc = ""
    if fraction > 0:
        arc = (f'<path d="M {cx - r} {cy} A {r} {r} 0 0 1 {x:.1f} {y:.1f}" fill="none" stroke="{colour}" '
               f'stroke-width="16" stroke-linecap="butt"/>')
    return (
        f'<svg class="gauge" role="img" aria-label="usage {escape(label)} ({escape(sub)})" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">'
        f'<path d="M {cx - r} {cy} A {r} {r} 0 0 1 {cx + r} {cy}" fill="none" stroke="#e4e7eb" stroke-width="16"/>'
        f'{arc}<text x="{cx}" y="{cy - 14}" text-anchor="middle" font-size="22" font-weight="700" '
        f'fill="#1f2933">{escape(label)}</text>'
        f'<text x="{cx}" y="{cy + 12}" text-anchor="middle" font-size="12" fill="#52606d">{escape(sub)}</text></svg>'
    )


def usage_chart_svg(view: NumberView) -> str:
    """24 bars: recipients counted per hour of the last 24 h (by their latest counted send)."""
    w, h, left, bottom, top = 400, 140, 36, 22, 10
    plot_w, plot_h = w - left - 8, h - bottom - top
    peak = max(view.hourly) if view.hourly else 0
    scale = peak or 1
    bar_w = plot_w / HOURS
    parts = [f'<svg class="usage" role="img" aria-label="24 hour usage, peak {peak} per hour" width="{w}" '
             f'height="{h}" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{w - 8}" y2="{top + plot_h}" stroke="#9aa5b1"/>',
             f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" font-size="10" fill="#52606d">{peak:,}</text>',
             f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" font-size="10" fill="#52606d">0</text>']
    # Each bar is the hour that ends where the next begins; the last one ends now (not at a full hour).
    for i, ((start, end), count) in enumerate(zip(hour_spans(view.now), view.hourly, strict=True)):
        bh = plot_h * count / scale
        x = left + i * bar_w + 1
        parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - bh:.1f}" width="{bar_w - 2:.1f}" height="{bh:.1f}" '
                     f'fill="#3e7bfa"><title>{span_label(start, end)} UTC: {count:,} recipients</title></rect>')
        if i % 6 == 0:
            tick = datetime.fromtimestamp(start, UTC).strftime("%H:%M")
            parts.append(f'<text x="{x:.1f}" y="{h - 6}" font-size="10" fill="#52606d">{tick}</text>')
    parts.append(f'<text x="{w - 8}" y="{h - 6}" text-anchor="end" font-size="10" fill="#52606d">now</text>')
    parts.append("</svg>")
    return "".join(parts)


def timeline_svg(view: NumberView, days: int = TIMELINE_DAYS) -> str:
    """The displayed status over the last days, one coloured span per status."""
    w, h, left = 560, 46, 4
    since = view.now - days * DAY_SECONDS
    span_w = w - 2 * left
    parts = [f'<svg class="timeline" role="img" aria-label="status over the last {days} days" width="{w}" '
             f'height="{h}" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">']
    for start, end, status in status_spans(view, since):
        x = left + span_w * (start - since) / (view.now - since)
        width = max(1.0, span_w * (end - start) / (view.now - since))
        colour = STATUS_COLOURS.get(status, "#9aa5b1")
        parts.append(f'<rect x="{x:.1f}" y="4" width="{width:.1f}" height="20" fill="{colour}">'
                     f'<title>{escape(status)} from {iso(start)} to {iso(end)}</title></rect>')
    for d in range(0, days + 1, max(1, days // 7)):
        x = left + span_w * d / days
        label = datetime.fromtimestamp(since + d * DAY_SECONDS, UTC).strftime("%b %d")
        parts.append(f'<line x1="{x:.1f}" y1="24" x2="{x:.1f}" y2="28" stroke="#9aa5b1"/>'
                     f'<text x="{min(x, w - 40):.1f}" y="40" font-size="10" fill="#52606d">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _history_rows(view: NumberView, count: int = 6) -> str:
    if not view.history:
        return '<p class="empty">No changes recorded yet.</p>'
    rows = []
    for entry in view.history[:count]:
        doc = entry.get("document") or {}
        rows.append(f"<tr><td>{escape(iso(entry.get('at')))}</td><td>{escape(str(entry.get('type')))}</td>"
                    f"<td>{escape(str(doc.get('from') or '-'))} → {escape(str(doc.get('to') or '-'))}</td>"
                    f"<td>{escape(str(doc.get('reason') or ''))}</td></tr>")
    return f'<table class="history">{"".join(rows)}</table>'


def _legend() -> str:
    return '<div class="legend">' + "".join(
        f'<span><i style="background:{c}"></i>{s}</span>' for s, c in STATUS_COLOURS.items()) + "</div>"


TEMPLATE_COLOURS = {"APPROVED": "#2e7d32", "PAUSED": "#ef6c00", "DISABLED": "#c62828", "FLAGGED": "#f9a825"}


def _templates_rows(templates: list[dict]) -> str:
    """The number's WABA's templates: status (a pause with its end), quality, what a check naming one gets."""
    if not templates:
        return ""
    rows = []
    for t in templates:
        status = t["status"]
        if status == "PAUSED":
            status += " (pacing)" if t["pacing"] else f" until {t['paused_until']}"
        colour = TEMPLATE_COLOURS.get(t["status"], "#757575")
        rows.append(f"<tr><td>{escape(t['name'])}</td><td>{escape(t['language'])}</td>"
                    f"<td>{_badge(status, colour, 'Meta: ' + t['meta_status'])}</td>"
                    f"<td>{escape(QUALITY_WORDS.get(t['quality'], t['quality']))}</td>"
                    f"<td>{escape(t['category'] or '-')}</td><td>{escape(str(t['pause_count']))}</td>"
                    f"<td>{escape(t['check'])}</td></tr>")
    return ('<div class="panel templates"><h3>Templates of the WABA</h3><table class="history">'
            "<tr><td>template</td><td>language</td><td>status</td><td>quality</td><td>category</td><td>pauses</td>"
            f"<td>a check naming it</td></tr>{''.join(rows)}</table></div>")


def card(view: NumberView, templates: list[dict] | None = None) -> str:
    limit = "unlimited" if view.limit is None else f"{view.limit:,} / 24 h"
    free = f" · next slot frees {iso(view.next_free_at)}" if view.next_free_at else ""
    return (
        f'<section class="card" id="n{escape(view.phone_number_id)}" data-status="{escape(view.status)}">'
        f"<h2>{escape(_display(view))} "
        f"{_badge(view.status, STATUS_COLOURS.get(view.status, '#9aa5b1'), 'displayed status')}"
        f"{_badge('quality ' + QUALITY_WORDS.get(view.quality, view.quality), QUALITY_COLOURS.get(view.quality, '#757575'), view.quality)}"  # noqa: E501
        f"{_badge(view.tier or 'no tier', '#3e4c59', limit)}</h2>"
        f'<div class="ids">phone_number_id {escape(view.phone_number_id)} · WABA {escape(view.waba_id)} · '
        f"counted in {escape(view.scope)} · limit {escape(limit)}{escape(free)}</div>"
        f"{_refusals(view)}"
        f'<div class="grid"><div class="panel"><h3>Usage (moving 24 h)</h3>{gauge_svg(view)}</div>'
        f'<div class="panel"><h3>Last 24 hours</h3>{usage_chart_svg(view)}</div></div>'
        f'<div class="panel"><h3>Status, last {TIMELINE_DAYS} days</h3>{timeline_svg(view)}{_legend()}</div>'
        f"{_history_rows(view)}{_templates_rows(templates or [])}</section>"
    )


def _refusals(view: NumberView) -> str:
    """What Meta's refusals left (a hold, a block, marketing cooldowns): nothing when none did."""
    words = refusal_words(view)
    return f'<div class="refusals">Meta refused sends: {escape(" · ".join(words))}</div>' if words else ""


def render(views: list[NumberView], now: int, source: str, templates: list[dict] | None = None) -> str:
    """`templates`: template_views.template_dict of the numbers' WABAs, shown in each number's card."""
    by_waba: dict[str, list[dict]] = {}
    for t in templates or []:
        by_waba.setdefault(t["waba_id"], []).append(t)
    rows = "".join(
        f"<tr><td><a href=\"#n{escape(v.phone_number_id)}\">{escape(_display(v))}</a></td>"
        f"<td>{escape(v.phone_number_id)}</td><td>{escape(v.status)}</td><td>{escape(v.quality)}</td>"
        f"<td>{escape(v.tier or '-')}</td>"
        f"<td>{'unlimited' if v.limit is None else f'{v.used:,} / {v.limit:,}'}</td></tr>"
        for v in views
    )
    body = (
        f'<table class="summary"><tr><th>Number</th><th>phone_number_id</th><th>Status</th><th>Quality</th>'
        f"<th>Tier</th><th>Used / limit</th></tr>{rows}</table>"
        + "".join(card(v, by_waba.get(v.waba_id)) for v in views)
        if views else '<p class="empty">No numbers registered.</p>'
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>numberguard report</title><style>{CSS}</style></head><body>"
        f"<h1>numberguard: {len(views)} number{'s' if len(views) != 1 else ''}</h1>"
        f'<p class="sub">As of {escape(iso(now))} · {escape(source)}</p>{body}</body></html>\n'
    )
