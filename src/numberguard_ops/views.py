"""What an operator looks at: a number's state, its usage of the moving 24 hours, its history.

Read once from the store (the layer's stores, the same reads the functions make) into plain
dicts, so the text commands and the HTML report show the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from numberguard.domain.window import DAY_SECONDS, Window

HOURS = 24


@dataclass
class NumberView:
    phone_number_id: str
    display_phone_number: str
    waba_id: str
    scope: str
    status: str
    connection: str
    banned: bool
    quality: str
    flagged_at: int | None
    tier: str | None
    limit: int | None  # None: unlimited (or no counter)
    used: int
    hourly: list[int]  # recipients counted per hour of the last 24 h, oldest first (by their latest send)
    next_free_at: int | None  # when the next slot frees (None: a slot is free now, or unlimited)
    history: list[dict] = field(default_factory=list)  # newest first
    now: int = 0
    registered_at: int | None = None
    hold_until: int | None = None  # Meta's 131048: business-initiated sends held until then (None: not held)
    block_code: int | None = None  # Meta's 131042 / 368 / 131031: the WABA blocked until Meta lifts it
    block_since: int | None = None
    cooldowns_24h: int = 0  # people Meta refused a marketing message with 131049 in the last 24 h

    @property
    def percent(self) -> int | None:
        if self.limit is None or self.limit <= 0:
            return None
        return min(100, 100 * self.used // self.limit)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"percent": self.percent}


def hourly_counts(window: Window, buckets: dict[int, int], now: int) -> list[int]:
    """Live recipients per hour of the last 24 h, by the bucket of their latest counted send."""
    counts = [0] * HOURS
    start = now - DAY_SECONDS
    for bucket, count in window.live(buckets, now).items():
        at = bucket * window.bucket_seconds
        index = min(HOURS - 1, max(0, (at - start) // 3600))
        counts[index] += count
    return counts


def hour_spans(now: int) -> list[tuple[int, int]]:
    """The 24 rows of `hourly`, oldest first, as (start, end): the first starts 24 h ago, the last ends now."""
    start = now - DAY_SECONDS
    return [(start + i * 3600, start + (i + 1) * 3600) for i in range(HOURS)]


def span_label(start: int, end: int) -> str:
    """`20:35-21:35` (UTC): a row of the histogram is an hour that ends, not one that starts."""
    return f"{datetime.fromtimestamp(start, UTC):%H:%M}-{datetime.fromtimestamp(end, UTC):%H:%M}"


def number_view(parts, phone_number_id: str, now: int, history_limit: int = 200) -> NumberView | None:
    """What the operator sees of one number; `parts` is wiring.build's (its stores and settings)."""
    stores, settings = parts.stores, parts.settings
    number = stores.numbers.get(phone_number_id)
    if number is None or not number.display_phone_number:  # only numbers carry a display number
        return None
    counter = stores.scopes.get(number.scope)
    window = settings.window
    if counter:
        usage, tier = counter.usage, counter.tier
        used = window.used(usage.buckets, now)
        limit = usage.limit
        hourly = hourly_counts(window, dict(usage.buckets), now)
        next_free = None
        if limit is not None and used >= limit:
            next_free = window.slots_free_at(usage.buckets, limit, 1, now)
    else:
        tier, used, limit, hourly, next_free = None, 0, None, [0] * HOURS, None
    # The status the limit check shows: BANNED > BLOCKED > PENDING > OFFLINE > RESTRICTED > FLAGGED > CONNECTED.
    status = number.status(limit_reached=limit is not None and used >= limit, now=now).value
    return NumberView(
        phone_number_id=number.phone_number_id, display_phone_number=number.display_phone_number,
        waba_id=number.waba_id, scope=number.scope, status=status, connection=number.connection.value,
        banned=number.banned, quality=number.quality.value, flagged_at=number.flagged_at, tier=tier, limit=limit,
        used=used, hourly=hourly, next_free_at=next_free,
        history=stores.history.history(phone_number_id, limit=history_limit), now=now,
        registered_at=number.registered_at, hold_until=number.held_until(now),
        block_code=number.meta_block.code if number.meta_block else None,
        block_since=number.meta_block.at if number.meta_block else None,
        cooldowns_24h=parts.refusals.cooled_since(phone_number_id, now - DAY_SECONDS),
    )


def all_number_ids(parts) -> list[str]:
    return parts.registry.number_ids()


def iso(at: int | None) -> str:
    return "-" if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: int) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def usage_lines(view: NumberView) -> list[str]:
    who = f"+{view.display_phone_number}" if not view.display_phone_number.startswith("+") else \
        view.display_phone_number
    lines = [f"{view.phone_number_id}  {who}  {view.status}, quality {view.quality}, {view.tier or 'no tier'}"]
    if view.limit is None:
        lines.append(f"  used          {view.used:,} unique recipients in the moving 24 h (unlimited)")
    else:
        lines.append(f"  used          {view.used:,} / {view.limit:,} unique recipients in the moving 24 h "
                     f"({view.percent}%), {max(0, view.limit - view.used):,} free")
    if view.next_free_at is not None:
        wait = duration(view.next_free_at - view.now)
        lines.append(f"  slots free    the next at {iso(view.next_free_at)} (in {wait})")
    elif view.limit is not None:
        lines.append("  slots free    now")
    lines += refusal_lines(view)
    lines.append("  last 24 h     recipients by the hour of their latest counted send (UTC, oldest first; "
                 "the last row ends now)")
    peak = max(view.hourly) or 1
    for (start, end), count in zip(hour_spans(view.now), view.hourly, strict=True):
        bar = "#" * (0 if count == 0 else max(1, round(30 * count / peak)))
        lines.append(f"  {span_label(start, end)}  {bar:<30} {count:,}")
    return lines


def refusal_lines(view: NumberView) -> list[str]:
    """What Meta's refusals left on the number (nothing when none did)."""
    lines = []
    if view.hold_until is not None:
        lines.append(f"  on hold       until {iso(view.hold_until)} (in {duration(view.hold_until - view.now)}): "
                     "Meta's 131048; business-initiated sends DENIED_SPAM_RATE_LIMITED, replies in a window go")
    if view.block_code is not None:
        lines.append(f"  blocked       by Meta's {view.block_code} since {iso(view.block_since)}: every send "
                     "DENIED_BLOCKED_BY_META until Meta's word lifts it")
    if view.cooldowns_24h:
        lines.append(f"  cooldowns     {view.cooldowns_24h:,} people refused a marketing message (131049) in the last "
                     "24 h: marketing to them DENIED_RECIPIENT_COOLDOWN")
    return lines


def refusal_words(view: NumberView) -> list[str]:
    """The same, short (the report's card and summary)."""
    words = []
    if view.hold_until is not None:
        words.append(f"on hold until {iso(view.hold_until)} (131048)")
    if view.block_code is not None:
        words.append(f"blocked by Meta's {view.block_code} since {iso(view.block_since)}")
    if view.cooldowns_24h:
        words.append(f"{view.cooldowns_24h:,} in marketing cooldown (131049, last 24 h)")
    return words


def history_lines(view: NumberView) -> list[str]:
    if not view.history:
        return [f"{view.phone_number_id}: no history yet (changes of status, quality, tier and limit appear here)"]
    lines = []
    for entry in view.history:
        doc = entry.get("document") or {}
        moved = f"{doc.get('from') or '-'} → {doc.get('to') or '-'}"
        lines.append(f"{iso(entry.get('at'))}  {entry.get('type'):<18} {moved:<40} {doc.get('reason') or ''}".rstrip())
    return lines


def status_spans(view: NumberView, since: int) -> list[tuple[int, int, str]]:
    """(from, to, status) over [since, now], from the STATUS_CHANGED history (oldest first)."""
    changes = sorted((e for e in view.history if e.get("type") == "STATUS_CHANGED"), key=lambda e: e.get("at") or 0)
    spans: list[tuple[int, int, str]] = []
    current = None
    cursor = max(since, view.registered_at or since)  # nothing to show before the number was registered
    for entry in changes:
        doc = entry.get("document") or {}
        at = int(entry.get("at") or 0)
        if current is None:
            current = doc.get("from") or "CONNECTED"
        if at > cursor:
            spans.append((cursor, min(at, view.now), current))
            cursor = min(at, view.now)
        current = doc.get("to") or current
    spans.append((cursor, view.now, view.status))  # up to now: what the number shows today
    return [s for s in spans if s[1] > s[0]]
