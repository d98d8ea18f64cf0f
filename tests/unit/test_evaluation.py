"""Given the evaluator's pure rules (time passed in), when they decide, then they follow Meta's rules:
the 7-day Flagged outcome, Meta's word first, warnings once per level per 24 h, upgrade criteria."""

from __future__ import annotations

import pytest
from numberguard.domain.evaluation import (
    FLAG_OUTCOME_AFTER,
    flag_outcome,
    upgrade_eligibility,
    usage_band,
    usage_notices,
)
from numberguard.domain.facetlog import entry_key
from numberguard.domain.status import Connection, Quality
from numberguard.domain.tiers import Policy

T0 = 1_800_000_000
DAY = 86_400


@pytest.mark.parametrize(("quality", "tier", "after"), [
    (Quality.GREEN, "TIER_10K", "TIER_10K"),
    (Quality.YELLOW, "TIER_10K", "TIER_10K"),
    (Quality.RED, "TIER_10K", "TIER_1K"),
    (Quality.UNKNOWN, "TIER_100K", "TIER_10K"),
    (Quality.RED, "TIER_UNLIMITED", "TIER_100K"),
    (Quality.RED, "TIER_250", "TIER_250"),  # the bottom rung stays
])
def test_day_7_keeps_the_tier_for_medium_or_high_and_lowers_it_one_step_otherwise(quality, tier, after):
    assert flag_outcome(Policy.PER_NUMBER, T0, quality, tier, T0 + FLAG_OUTCOME_AFTER - 1) is None
    outcome = flag_outcome(Policy.PER_NUMBER, T0, quality, tier, T0 + FLAG_OUTCOME_AFTER + 300)
    assert (outcome.at, outcome.tier_before, outcome.tier_after) == (T0 + FLAG_OUTCOME_AFTER, tier, after)
    assert outcome.downgraded == (after != tier)


def test_the_portfolio_policy_never_decides_a_flag_outcome():
    assert flag_outcome(Policy.PORTFOLIO, T0, Quality.RED, "TIER_10K", T0 + 30 * DAY) is None


def test_a_limit_meta_reports_meanwhile_settles_the_flag_with_nothing_applied():
    outcome = flag_outcome(Policy.PER_NUMBER, T0, Quality.RED, "TIER_10K", T0 + 2 * DAY, (T0 + DAY, "TIER_1K"))
    assert (outcome.at, outcome.tier_after, outcome.settled_by_meta, outcome.downgraded) == (
        T0 + DAY, "TIER_1K", True, False)


@pytest.mark.parametrize(("used", "band"), [(0, "below"), (79, "below"), (80, "80"), (94, "80"), (95, "95"),
                                            (99, "95"), (100, "full"), (130, "full")])
def test_usage_bands(used, band):
    assert usage_band(used, 100) == band


def log(*steps: tuple[int, str]) -> dict[str, str]:
    return {entry_key(T0 + at, f"usage-{i}"): band for i, (at, band) in enumerate(steps)}


def kinds(notices) -> list[tuple]:
    return [(n.kind, n.level, n.at - T0) for n in notices]


def test_warnings_come_once_per_level_per_24_hours_however_usage_flaps():
    entries = log((0, "80"), (3600, "95"), (7200, "80"), (10_800, "95"), (4 * 3600, "below"), (5 * 3600, "80"),
                  (DAY + 3600, "below"), (DAY + 7200, "80"))
    assert kinds(usage_notices(entries, None, T0)) == [
        ("WARNING", 80, 0), ("WARNING", 95, 3600), ("WARNING", 80, DAY + 7200)]


def test_restricted_and_released_follow_the_full_band_and_a_jump_to_full_still_warns():
    entries = log((0, "full"), (DAY, "95"), (DAY + 60, "full"), (2 * DAY, "below"))
    assert kinds(usage_notices(entries, None, T0)) == [
        ("WARNING", 80, 0), ("WARNING", 95, 0), ("RESTRICTED", None, 0), ("RELEASED", None, DAY),
        ("RESTRICTED", None, DAY + 60), ("RELEASED", None, 2 * DAY)]


def test_only_what_follows_the_announced_entry_and_the_horizon_is_returned():
    entries = log((0, "80"), (3600, "95"), (7200, "full"))
    announced = sorted(entries)[0]
    assert kinds(usage_notices(entries, announced, T0)) == [("WARNING", 95, 3600), ("RESTRICTED", None, 7200)]
    assert kinds(usage_notices(entries, None, T0 + 7200)) == [("RESTRICTED", None, 7200)]


def test_upgrade_needs_connected_medium_or_high_not_flagged_and_half_the_limit_in_7_days():
    def check(**kw):
        args = dict(policy=Policy.PER_NUMBER, tier="TIER_1K", connection=Connection.CONNECTED, banned=False,
                    flagged=False, qualities=[Quality.GREEN], half_reached_at=T0, now=T0 + DAY)
        args.update(kw)
        return upgrade_eligibility(**args)

    assert check().eligible and check().next_tier == "TIER_10K"
    assert not check(flagged=True).eligible  # no upgrade while flagged
    assert not check(qualities=[Quality.RED]).eligible
    assert not check(connection=Connection.OFFLINE).eligible
    assert not check(half_reached_at=T0 - 8 * DAY).eligible
    assert not check(tier="TIER_UNLIMITED").eligible
    assert check(policy=Policy.PORTFOLIO, tier="TIER_2K", qualities=[Quality.GREEN, Quality.YELLOW]).eligible


def test_under_the_portfolio_policy_a_template_rated_low_stops_the_upgrade():
    def check(policy: Policy, templates: list[Quality]):
        return upgrade_eligibility(policy, "TIER_2K" if policy is Policy.PORTFOLIO else "TIER_1K",
                                   Connection.CONNECTED, False, False, [Quality.GREEN], T0, T0 + DAY, templates)

    assert check(Policy.PORTFOLIO, [Quality.GREEN, Quality.YELLOW, Quality.UNKNOWN]).eligible
    refused = check(Policy.PORTFOLIO, [Quality.GREEN, Quality.RED])
    assert not refused.eligible and refused.reasons == ("a template of the portfolio has quality Low (RED)",)
    assert check(Policy.PER_NUMBER, [Quality.RED]).eligible  # per-number: the seeds' rules, numbers only
