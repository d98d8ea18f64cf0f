"""Given every spelling Meta uses for a messaging limit, when it is parsed, then it maps to one tier and
limit (or to "not set"), bad spellings fail with a message that quotes them; and each policy's ladder
moves one rung up or down."""

from __future__ import annotations

import pytest
from numberguard.domain.tiers import (
    LADDERS,
    TIER_LIMITS,
    LimitSpellingError,
    MessagingLimit,
    Policy,
    limit_of_tier,
    parse_limit,
    parse_policy,
    tier_above,
    tier_below,
)


@pytest.mark.parametrize(
    ("raw", "tier", "limit"),
    [
        ("TIER_50", "TIER_50", 50),
        ("TIER_250", "TIER_250", 250),
        ("TIER_1K", "TIER_1K", 1_000),
        ("TIER_2K", "TIER_2K", 2_000),
        ("TIER_10K", "TIER_10K", 10_000),
        ("TIER_100K", "TIER_100K", 100_000),
        ("TIER_UNLIMITED", "TIER_UNLIMITED", None),
        ("UNLIMITED", "TIER_UNLIMITED", None),
        ("tier_1k", "TIER_1K", 1_000),
        ("  TIER_2K\n", "TIER_2K", 2_000),
        ("Tier_Unlimited", "TIER_UNLIMITED", None),
        # Integers (max_daily_conversation_per_phone / _per_business), as numbers or strings; -1 = unlimited.
        (50, "TIER_50", 50),
        (250, "TIER_250", 250),
        (1000, "TIER_1K", 1_000),
        (2000, "TIER_2K", 2_000),
        (10_000, "TIER_10K", 10_000),
        (100_000, "TIER_100K", 100_000),
        (-1, "TIER_UNLIMITED", None),
        ("-1", "TIER_UNLIMITED", None),
        ("1000", "TIER_1K", 1_000),
        (" 2000 ", "TIER_2K", 2_000),
        (1000.0, "TIER_1K", 1_000),
        # A limit that is no tier of either ladder keeps its own name.
        (1234, "TIER_1234", 1_234),
        ("25", "TIER_25", 25),
        ("TIER_5K", "TIER_5K", 5_000),
    ],
)
def test_every_limit_spelling_parses_to_its_tier_and_limit(raw, tier, limit):
    # Given a spelling / When parsed / Then the tier name and the unique-recipient limit
    parsed = parse_limit(raw)
    assert parsed == MessagingLimit(tier, limit)
    assert parsed.unlimited is (limit is None)


@pytest.mark.parametrize("raw", [None, "TIER_NOT_SET", "tier_not_set", "NOT_SET", "", "   "])
def test_not_set_spellings_mean_no_limit_reported(raw):
    assert parse_limit(raw) is None


@pytest.mark.parametrize(
    "raw",
    [True, False, 0, -2, "0", "-5", "TIER_0", "TIER_0K", "TIER_ABC", "TIER_1M", "TIER_-5", "1.5", 1.5,
     float("nan"), float("inf"), "ten thousand", [], {}, ["TIER_1K"], b"TIER_1K"],
)
def test_bad_spellings_raise_a_limit_spelling_error_that_quotes_the_value(raw):
    # Given a value that is no messaging limit / When parsed / Then a ValueError subclass says which value
    with pytest.raises(LimitSpellingError) as caught:
        parse_limit(raw)
    message = str(caught.value)
    assert message.startswith("not a messaging limit:")
    assert repr(raw) in message or str(raw) in message
    assert isinstance(caught.value, ValueError)


def test_an_unknown_tier_name_lists_the_spellings_that_are_accepted():
    with pytest.raises(LimitSpellingError, match=r"'TIER_HUGE'.*expected TIER_250, TIER_1K, TIER_2K"):
        parse_limit("TIER_HUGE")


def test_a_non_positive_count_says_what_is_allowed():
    with pytest.raises(LimitSpellingError, match=r"must be positive, or -1 for unlimited"):
        parse_limit(-7)


@pytest.mark.parametrize("raw", [10**40, "9" * 5_000, "TIER_" + "9" * 20 + "K", 10**9 + 1])
def test_a_limit_no_store_could_hold_is_refused_in_words(raw):
    with pytest.raises(LimitSpellingError, match="not a messaging limit"):
        parse_limit(raw)


def test_limit_of_tier_refuses_a_tier_that_sets_no_limit():
    assert limit_of_tier("TIER_10K") == MessagingLimit("TIER_10K", 10_000)
    with pytest.raises(LimitSpellingError, match="sets no limit"):
        limit_of_tier("TIER_NOT_SET")


@pytest.mark.parametrize(
    ("raw", "policy"),
    [("per-number", Policy.PER_NUMBER), (" PER-NUMBER ", Policy.PER_NUMBER), ("portfolio", Policy.PORTFOLIO)],
)
def test_policy_spellings(raw, policy):
    assert parse_policy(raw) is policy


@pytest.mark.parametrize("raw", ["per_number", "business", ""])
def test_an_unknown_policy_names_both_choices(raw):
    with pytest.raises(ValueError, match=r"use 'per-number' or 'portfolio'"):
        parse_policy(raw)


def test_the_two_ladders():
    # Per-number (the seeds' rules) and portfolio (Meta since 2025-10-07: TIER_2K replaces TIER_1K)
    assert LADDERS[Policy.PER_NUMBER] == ("TIER_250", "TIER_1K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED")
    assert LADDERS[Policy.PORTFOLIO] == ("TIER_250", "TIER_2K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED")
    for ladder in LADDERS.values():
        limits = [TIER_LIMITS[t] for t in ladder]
        assert limits[-1] is None and limits[:-1] == sorted(limits[:-1])


@pytest.mark.parametrize(
    ("policy", "tier", "below", "above"),
    [
        (Policy.PER_NUMBER, "TIER_250", "TIER_250", "TIER_1K"),
        (Policy.PER_NUMBER, "TIER_1K", "TIER_250", "TIER_10K"),
        (Policy.PER_NUMBER, "TIER_10K", "TIER_1K", "TIER_100K"),
        (Policy.PER_NUMBER, "TIER_100K", "TIER_10K", "TIER_UNLIMITED"),
        (Policy.PER_NUMBER, "TIER_UNLIMITED", "TIER_100K", None),
        (Policy.PORTFOLIO, "TIER_250", "TIER_250", "TIER_2K"),
        (Policy.PORTFOLIO, "TIER_2K", "TIER_250", "TIER_10K"),
        (Policy.PORTFOLIO, "TIER_10K", "TIER_2K", "TIER_100K"),
        (Policy.PORTFOLIO, "TIER_100K", "TIER_10K", "TIER_UNLIMITED"),
        (Policy.PORTFOLIO, "TIER_UNLIMITED", "TIER_100K", None),
        # The other ladder's tier sits on the same rung (1K ≡ 2K).
        (Policy.PER_NUMBER, "TIER_2K", "TIER_250", "TIER_10K"),
        (Policy.PORTFOLIO, "TIER_1K", "TIER_250", "TIER_10K"),
        # A custom limit drops to the highest rung below it and rises to the lowest rung above it.
        (Policy.PER_NUMBER, "TIER_5000", "TIER_1K", "TIER_10K"),
        (Policy.PORTFOLIO, "TIER_5000", "TIER_2K", "TIER_10K"),
        (Policy.PORTFOLIO, "TIER_1500", "TIER_250", "TIER_2K"),
        (Policy.PER_NUMBER, "TIER_500000", "TIER_100K", "TIER_UNLIMITED"),
    ],
)
def test_one_rung_down_and_up_on_each_policys_ladder(policy, tier, below, above):
    # Given a tier / When moved one rung / Then the neighbour on that policy's ladder (bottom stays, top has none)
    assert tier_below(policy, tier) == below
    assert tier_above(policy, tier) == above


def _limit(tier: str) -> float:
    limit = limit_of_tier(tier).limit
    return float("inf") if limit is None else limit


TIERS = [*TIER_LIMITS, "TIER_1500", "TIER_5000", "TIER_500000"]


@pytest.mark.parametrize("policy", list(Policy))
@pytest.mark.parametrize("tier", [t for t in TIERS if t not in ("TIER_50",)])
def test_a_downgrade_never_raises_and_an_upgrade_always_raises_the_limit(policy, tier):
    below, above = tier_below(policy, tier), tier_above(policy, tier)
    assert _limit(below) <= _limit(tier)
    assert above is None or _limit(above) > _limit(tier)
    assert above is not None or limit_of_tier(tier).unlimited


@pytest.mark.parametrize("policy", list(Policy))
@pytest.mark.parametrize("tier", ["TIER_50", "TIER_100"])
def test_a_downgrade_below_the_bottom_rung_keeps_the_limit(policy, tier):
    # Given a (legacy) limit under the bottom rung / When lowered one tier / Then it must not go up
    assert _limit(tier_below(policy, tier)) <= _limit(tier)


@pytest.mark.parametrize("policy", list(Policy))
def test_an_upgrade_from_the_legacy_tier_50_raises_the_limit(policy):
    assert _limit(tier_above(policy, "TIER_50")) > 50
