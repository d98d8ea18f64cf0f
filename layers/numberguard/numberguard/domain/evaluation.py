"""The evaluator's rules: the 7-day Flagged outcome, usage levels, Restricted, upgrade eligibility."""

from __future__ import annotations

from dataclasses import dataclass

from numberguard.domain.status import Connection, Quality, quality_recovered
from numberguard.domain.tiers import Policy, tier_above, tier_below
from numberguard.domain.window import DAY_SECONDS

FLAG_OUTCOME_AFTER = 7 * DAY_SECONDS
UPGRADE_LOOKBACK = 7 * DAY_SECONDS
WARNING_LEVELS = (80, 95)  # percent of the limit
HALF = 50


@dataclass(frozen=True)
class FlagOutcome:
    at: int  # flagged_at + 7 days: the instant the outcome takes effect
    recovered: bool
    tier_before: str
    tier_after: str

    @property
    def downgraded(self) -> bool:
        return self.tier_after != self.tier_before


def flag_outcome(
    policy: Policy, flagged_at: int, quality_at_deadline: Quality, tier: str, now: int
) -> FlagOutcome | None:
    """Per-number policy: at flagged_at + 7 days, Medium/High keeps the tier, otherwise one tier down.

    None before the deadline, and always under the portfolio policy (quality never lowers its limit).
    """
    if policy is Policy.PORTFOLIO:
        return None
    due = flagged_at + FLAG_OUTCOME_AFTER
    if now < due:
        return None
    recovered = quality_recovered(quality_at_deadline)
    return FlagOutcome(due, recovered, tier, tier if recovered else tier_below(policy, tier))


def usage_percent(used: int, limit: int) -> int:
    return 100 if limit <= 0 else (100 * used) // limit


def warning_levels_reached(used: int, limit: int) -> list[int]:
    percent = usage_percent(used, limit)
    return [level for level in WARNING_LEVELS if percent >= level]


@dataclass(frozen=True)
class UpgradeCheck:
    eligible: bool
    next_tier: str | None
    reasons: tuple[str, ...]  # why not, when not eligible


def upgrade_eligibility(
    policy: Policy,
    tier: str,
    connection: Connection,
    banned: bool,
    flagged: bool,
    qualities: list[Quality],
    half_reached_at: int | None,
    now: int,
) -> UpgradeCheck:
    """Meta's criteria: Connected, quality Medium or High (every number of a portfolio), not Flagged,
    and at least half the current limit in unique recipients within the last 7 days."""
    next_tier = tier_above(policy, tier)
    reasons = []
    if next_tier is None:
        reasons.append("already unlimited")
    if banned or connection is not Connection.CONNECTED:
        reasons.append("not connected")
    if flagged:
        reasons.append("flagged: no upgrade while flagged")
    if not qualities or not all(q in (Quality.GREEN, Quality.YELLOW) for q in qualities):
        reasons.append("quality is not Medium or High")
    if half_reached_at is None or now - half_reached_at > UPGRADE_LOOKBACK:
        reasons.append("has not reached half its limit in the last 7 days")
    return UpgradeCheck(not reasons, next_tier, tuple(reasons))
