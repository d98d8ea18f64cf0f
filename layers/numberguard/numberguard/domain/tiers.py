"""Messaging-limit tiers, the two policies' ladders and every spelling Meta uses for a limit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Policy(StrEnum):
    PER_NUMBER = "per-number"
    PORTFOLIO = "portfolio"


def parse_policy(raw: str) -> Policy:
    try:
        return Policy(str(raw).strip().lower())
    except ValueError:
        raise ValueError(f"unknown limit policy {raw!r}: use 'per-number' or 'portfolio'") from None


TIER_LIMITS: dict[str, int | None] = {
    "TIER_50": 50,
    "TIER_250": 250,
    "TIER_1K": 1_000,
    "TIER_2K": 2_000,
    "TIER_10K": 10_000,
    "TIER_100K": 100_000,
    "TIER_UNLIMITED": None,
}

LADDERS: dict[Policy, tuple[str, ...]] = {
    Policy.PER_NUMBER: ("TIER_250", "TIER_1K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED"),
    Policy.PORTFOLIO: ("TIER_250", "TIER_2K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED"),
}

# Tiers that exist in one ladder only, mapped onto the other ladder's rung at the same level.
_EQUIVALENT = {
    Policy.PER_NUMBER: {"TIER_2K": "TIER_1K", "TIER_50": "TIER_250"},
    Policy.PORTFOLIO: {"TIER_1K": "TIER_2K", "TIER_50": "TIER_250"},
}


@dataclass(frozen=True)
class MessagingLimit:
    """A limit on unique recipients per moving 24 h; `limit` None means unlimited."""

    tier: str
    limit: int | None

    @property
    def unlimited(self) -> bool:
        return self.limit is None


class LimitSpellingError(ValueError):
    pass


_TIER_NAME = re.compile(r"^TIER_([0-9]+)(K?)$")
# Meta's limits top out at 100K (then unlimited); anything past a billion is not a limit and would
# not fit the store's numbers. Spellings are short: a long one is refused before it is parsed.
MAX_LIMIT_COUNT = 1_000_000_000
MAX_SPELLING = 32


def _tier_for_count(count: int) -> str:
    for tier, limit in TIER_LIMITS.items():
        if limit == count:
            return tier
    return f"TIER_{count}"


def parse_limit(raw: object) -> MessagingLimit | None:
    """Every limit spelling Meta uses → MessagingLimit; TIER_NOT_SET (or null) → None.

    Accepts tier names (`TIER_1K`, `tier_250`, `TIER_UNLIMITED`), integers and integer strings
    (`2000`, `"1000"`; -1 = unlimited, as `max_daily_conversation_per_phone` uses).
    """
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise LimitSpellingError(f"not a messaging limit: {raw!r}")
    if isinstance(raw, int):
        return _from_count(raw)
    if isinstance(raw, float) and raw.is_integer():
        return _from_count(int(raw))
    if not isinstance(raw, str):
        raise LimitSpellingError(f"not a messaging limit: {raw!r}")
    if len(raw) > MAX_SPELLING:
        raise LimitSpellingError(f"not a messaging limit: {len(raw):,} characters (a limit is at most {MAX_SPELLING})")
    text = raw.strip().upper()
    if text in ("TIER_NOT_SET", "NOT_SET", ""):
        return None
    if text in ("TIER_UNLIMITED", "UNLIMITED"):
        return MessagingLimit("TIER_UNLIMITED", None)
    if re.fullmatch(r"-?[0-9]+", text):
        return _from_count(int(text))
    match = _TIER_NAME.match(text)
    if match:
        count = int(match.group(1)) * (1000 if match.group(2) else 1)
        if not 0 < count <= MAX_LIMIT_COUNT:
            raise LimitSpellingError(f"not a messaging limit: {raw!r}")
        return MessagingLimit(text, count)
    raise LimitSpellingError(
        f"not a messaging limit: {raw!r} (expected TIER_250, TIER_1K, TIER_2K, TIER_10K, "
        "TIER_100K, TIER_UNLIMITED or a whole number)"
    )


def _from_count(count: int) -> MessagingLimit | None:
    if count == -1:
        return MessagingLimit("TIER_UNLIMITED", None)
    if not 0 < count <= MAX_LIMIT_COUNT:
        raise LimitSpellingError(f"not a messaging limit: {str(count)[:20]} (must be positive, or -1 for unlimited; "
                                 f"at most {MAX_LIMIT_COUNT:,})")
    return MessagingLimit(_tier_for_count(count), count)


def limit_of_tier(tier: str) -> MessagingLimit:
    parsed = parse_limit(tier)
    if parsed is None:
        raise LimitSpellingError(f"tier {tier!r} sets no limit")
    return parsed


def _rung(policy: Policy, tier: str) -> int | None:
    ladder = LADDERS[policy]
    tier = _EQUIVALENT[policy].get(tier, tier)
    return ladder.index(tier) if tier in ladder else None


def tier_below(policy: Policy, tier: str) -> str:
    """One tier down on the policy's ladder; a limit at or under the bottom rung stays where it is."""
    current = limit_of_tier(tier).limit
    rung = _rung(policy, tier)
    if rung is None:
        # A custom limit: drop to the highest rung strictly below it.
        lower = [t for t in LADDERS[policy] if current and (limit := TIER_LIMITS[t]) is not None and limit < current]
        below = lower[-1] if lower else LADDERS[policy][0]
    else:
        below = LADDERS[policy][max(rung - 1, 0)]
    # A legacy limit under the bottom rung (TIER_50) maps onto it: a downgrade must never raise it.
    floor = TIER_LIMITS[below]
    if current is not None and floor is not None and floor > current:
        return tier
    return below


def tier_above(policy: Policy, tier: str) -> str | None:
    """One tier up, or None at the top (unlimited)."""
    rung = _rung(policy, tier)
    if rung is None:
        current = limit_of_tier(tier).limit
        higher = [t for t in LADDERS[policy] if (limit := TIER_LIMITS[t]) is None or (current and limit > current)]
        return higher[0] if higher else None
    ladder = LADDERS[policy]
    return ladder[rung + 1] if rung + 1 < len(ladder) else None
