"""A facet's recent events in event-time order, and the transitions they make.

Meta delivers webhooks in no order and retries for days. Each facet (a number's quality, a scope's
limit, a WABA's ban) keeps its recent events keyed by event time; the facet's value is the latest
event's, and the transitions are those of the whole sequence in time order. A late event that falls
between two known ones therefore still yields its transition (announced late, once), and the
facet's value never goes back to an older event's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

MAX_ENTRIES = 64  # per facet; older entries are dropped (Meta's retries stop after 7 days)


def entry_key(at: int, dedup_key: str) -> str:
    """Sortable by event time; ties broken by the event's dedup key (stable across deliveries)."""
    return f"{at:011d}#{dedup_key[:16]}"


def entry_time(key: str) -> int:
    return int(key.split("#", 1)[0])


@dataclass(frozen=True)
class Transition:
    key: str  # the entry that made it
    at: int
    before: str | None
    after: str


def transitions(entries: Mapping[str, str], initial: str | None) -> list[Transition]:
    """Every change of value along the entries in time order, starting from `initial`."""
    out, current = [], initial
    for key in sorted(entries):
        value = entries[key]
        if value != current:
            out.append(Transition(key, entry_time(key), current, value))
        current = value
    return out


def latest(entries: Mapping[str, str], initial: str | None) -> tuple[str | None, int | None]:
    if not entries:
        return initial, None
    key = max(entries)
    return entries[key], entry_time(key)


def run_start(entries: Mapping[str, str], value: str) -> int | None:
    """When the latest unbroken run of `value` began (e.g. flagged_at: the first Low of the current run)."""
    start = None
    for key in sorted(entries, reverse=True):
        if entries[key] != value:
            break
        start = entry_time(key)
    return start


def insert(entries: Mapping[str, str], key: str, value: str) -> tuple[dict[str, str], bool]:
    """Add an entry (bounded); returns the new entries and whether anything changed.

    An entry older than everything kept once the log is full is refused (it could only rewrite a
    past nobody reads any more).
    """
    if entries.get(key) == value:
        return dict(entries), False
    merged = dict(entries)
    merged[key] = value
    if len(merged) > MAX_ENTRIES:
        for old in sorted(merged)[: len(merged) - MAX_ENTRIES]:
            del merged[old]
    return merged, key in merged


def value_at(entries: Mapping[str, str], initial: str | None, at: int) -> str | None:
    """The facet's value as of `at` (events after it do not count)."""
    value = initial
    for key in sorted(entries):
        if entry_time(key) > at:
            break
        value = entries[key]
    return value


def touched(moves: list[Transition], entries: Mapping[str, str], keys: set[str]) -> list[Transition]:
    """The transitions that entries `keys` may have made or changed: their own, and the one right after each.

    Every other transition had the same predecessor before these entries came, so it was announced
    when it was made. A retried delivery touches its keys again, so a change that a crash left
    unannounced is announced on Meta's retry.
    """
    order = sorted(entries)
    near = set(keys)
    for i, key in enumerate(order[:-1]):
        if key in keys:
            near.add(order[i + 1])
    return [t for t in moves if t.key in near]


def restriction_kinds(value: str | None) -> str | None:
    """A restrictions facet's value (JSON of kind → expiry) as the kinds people read: "a, b", "none"."""
    if value is None:
        return None
    kinds = sorted(json.loads(value))
    return ", ".join(kinds) if kinds else "none"
