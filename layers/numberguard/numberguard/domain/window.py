"""The moving 24-hour window, counted in buckets of W minutes.

A recipient is counted from its latest counted send until 24 h later (Meta's rule). The counter
keeps, per bucket of W minutes, how many recipients had their latest counted send in it, and frees
a whole bucket once its *end* is 24 h old. So a slot frees at most W minutes after Meta would free
it: we may deny a little early, never admit too much.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DAY_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class Window:
    bucket_seconds: int = 600

    def __post_init__(self) -> None:
        if self.bucket_seconds <= 0 or DAY_SECONDS % self.bucket_seconds:
            raise ValueError(f"bucket width must divide a day evenly, got {self.bucket_seconds} s")

    def bucket_of(self, at: int) -> int:
        return at // self.bucket_seconds

    def frees_at(self, bucket: int) -> int:
        """When the recipients counted in `bucket` stop counting."""
        return (bucket + 1) * self.bucket_seconds + DAY_SECONDS

    def counted_until(self, at: int) -> int:
        return self.frees_at(self.bucket_of(at))

    def expired(self, buckets: Mapping[int, int], now: int) -> dict[int, int]:
        """Buckets whose recipients no longer count at `now`."""
        return {b: c for b, c in buckets.items() if self.frees_at(b) <= now}

    def live(self, buckets: Mapping[int, int], now: int) -> dict[int, int]:
        return {b: c for b, c in buckets.items() if self.frees_at(b) > now}

    def used(self, buckets: Mapping[int, int], now: int) -> int:
        return sum(self.live(buckets, now).values())

    def slots_free_at(self, buckets: Mapping[int, int], limit: int, needed: int, now: int) -> int | None:
        """Earliest time at which `needed` slots are free under `limit` (None: never, needed > limit)."""
        if needed > limit:
            return None
        live = sorted(self.live(buckets, now).items())
        free = limit - sum(c for _, c in live)
        if free >= needed:
            return now
        for bucket, count in live:
            free += count
            if free >= needed:
                return self.frees_at(bucket)
        return None  # the buckets do not add up to the limit: nothing will free


@dataclass(frozen=True)
class ScopeUsage:
    """One counter item as read: the limit of the scope and its buckets."""

    limit: int | None
    used: int
    buckets: Mapping[int, int]

    @property
    def unlimited(self) -> bool:
        return self.limit is None


@dataclass(frozen=True)
class ReservePlan:
    """A conditional reservation of `slots` slots in bucket `bucket`, folding `expired` buckets.

    The store applies it as one update, guarded by: limit unchanged, the stored `used` at most
    `max_used`, and each expired bucket still holding the count read (someone else may fold it).
    """

    bucket: int
    slots: int
    expired: Mapping[int, int]
    limit: int
    max_used: int
    # At least half the limit used after this reservation: the scope enters the evaluator's index.
    attention: bool = False


def plan_reserve(window: Window, usage: ScopeUsage, slots: int, now: int) -> ReservePlan | None:
    """Plan to reserve `slots` now, or None when they do not fit."""
    if usage.limit is None:
        raise ValueError("an unlimited scope reserves nothing")
    expired = window.expired(usage.buckets, now)
    expired_total = sum(expired.values())
    # After folding, used' = used - expired_total; room if used' + slots <= limit.
    max_used = usage.limit - slots + expired_total
    if usage.used > max_used:
        return None
    used_after = usage.used - expired_total + slots
    return ReservePlan(
        window.bucket_of(now), slots, expired, usage.limit, max_used, needs_attention(used_after, usage.limit)
    )


def needs_attention(used: int, limit: int | None) -> bool:
    """A scope enters the evaluator's index once its usage reaches half its limit."""
    return limit is not None and limit > 0 and 2 * used >= limit


def fit(window: Window, usage: ScopeUsage, wanted: int, now: int) -> int:
    """How many of `wanted` new recipients fit now."""
    if usage.limit is None:
        return wanted
    live_used = usage.used - sum(window.expired(usage.buckets, now).values())
    return max(0, min(wanted, usage.limit - live_used))
