"""The evaluator's rules: the 7-day Flagged outcome, usage levels, Restricted, upgrade eligibility."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from numberguard.domain.facetlog import transitions
from numberguard.domain.status import Connection, Quality, quality_recovered
from numberguard.domain.tiers import Policy, tier_above, tier_below
from numberguard.domain.window import DAY_SECONDS

FLAG_OUTCOME_AFTER = 7 * DAY_SECONDS
UPGRADE_LOOKBACK = 7 * DAY_SECONDS
WARNING_LEVELS = (80, 95)  # percent of the limit
WARNING_REPEAT_AFTER = DAY_SECONDS  # one warning per level per moving 24 h, however usage flaps
HALF = 50
BANDS = ("below", "80", "95", "full")  # the usage log's values, lowest first


@dataclass(frozen=True)
class FlagOutcome:
    at: int  # the instant the outcome takes effect: flagged_at + 7 days, or Meta's report
    recovered: bool
    tier_before: str
    tier_after: str
    settled_by_meta: bool = False  # Meta reported a new limit meanwhile: its word stands, nothing to apply

    @property
    def downgraded(self) -> bool:
        return self.tier_after != self.tier_before and not self.settled_by_meta


def flag_outcome(
    policy: Policy,
    flagged_at: int,
    quality_at_deadline: Quality,
    tier: str,
    now: int,
    reported: tuple[int, str] | None = None,
) -> FlagOutcome | None:
    """Per-number policy: at flagged_at + 7 days, Medium/High keeps the tier, otherwise one tier down.

    `reported` is Meta's first report of a changed limit after flagged_at (time, tier): it settles the
    flag at once and the evaluator applies nothing. None before the deadline, and always under the
    portfolio policy (quality never lowers its limit).
    """
    if policy is Policy.PORTFOLIO:
        return None
    due = flagged_at + FLAG_OUTCOME_AFTER
    if reported is not None and reported[0] <= now:
        return FlagOutcome(reported[0], False, tier, reported[1], settled_by_meta=True)
    if now < due:
        return None
    recovered = quality_recovered(quality_at_deadline)
    return FlagOutcome(due, recovered, tier, tier if recovered else tier_below(policy, tier))


def usage_band(used: int, limit: int) -> str:
    if used >= limit:
        return "full"
    percent = usage_percent(used, limit)
    return "95" if percent >= 95 else "80" if percent >= 80 else "below"


@dataclass(frozen=True)
class UsageNotice:
    key: str  # the usage-log entry that made it (stable: the notice's identity)
    at: int
    kind: str  # WARNING, RESTRICTED, RELEASED
    level: int | None = None  # 80 or 95 for a WARNING


def usage_notices(entries: Mapping[str, str], after_key: str | None, since: int) -> list[UsageNotice]:
    """What a scope's usage log asks to announce: a warning when usage first crosses 80 % or 95 % (at
    most once per level per 24 h, also when usage jumps straight to full), Restricted when the limit
    is reached, Connected when slots free.

    Only transitions after `after_key` (the last entry already announced) and not older than `since`
    are returned; the 24-hour rule is computed over the whole log, so every run decides the same.
    """
    notices: list[UsageNotice] = []
    last_warned: dict[int, int] = {}
    for t in transitions(entries, "below"):
        before, after = BANDS.index(t.before or "below"), BANDS.index(t.after)
        fresh = (after_key is None or t.key > after_key) and t.at >= since
        for level, band in zip(WARNING_LEVELS, (1, 2), strict=True):
            if before < band <= after:
                if level in last_warned and t.at - last_warned[level] < WARNING_REPEAT_AFTER:
                    continue
                last_warned[level] = t.at
                if fresh:  # also when usage jumps straight to full: a subscriber may filter on warnings only
                    notices.append(UsageNotice(t.key, t.at, "WARNING", level))
        if fresh and (after == 3) != (before == 3):
            notices.append(UsageNotice(t.key, t.at, "RESTRICTED" if after == 3 else "RELEASED"))
    return notices


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
    template_qualities: Sequence[Quality] = (),
) -> UpgradeCheck:
    """Meta's criteria: Connected, quality Medium or High (every number of a portfolio), not Flagged,
    and at least half the current limit in unique recipients within the last 7 days. Under the
    portfolio policy Meta asks for high quality "across all of your business phone numbers and
    templates": `template_qualities` are the portfolio's templates', and one rated Low stops it."""
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
    if policy is Policy.PORTFOLIO and Quality.RED in template_qualities:
        reasons.append("a template of the portfolio has quality Low (RED)")
    if half_reached_at is None or now - half_reached_at > UPGRADE_LOOKBACK:
        reasons.append("has not reached half its limit in the last 7 days")
    return UpgradeCheck(not reasons, next_tier, tuple(reasons))
