"""The pair rate's pure rules: Meta's 131056 backoff and the PairRateGuard token bucket."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from numberguard.domain.pairrate import (
    CAPACITY,
    INTERVAL,
    MAX_EXPONENT,
    MAX_STRIKES,
    QUIET_SECONDS,
    PairState,
    after_strike,
    backoff,
    kept_strikes,
    pair_denial,
    plan_take,
    tokens,
)

NOW = 1_789_567_516


def take_all(tat: int | None, now: int, wanted: int) -> tuple[int, int | None]:
    """Take `wanted` tokens one by one at `now`, as the store would: (admitted, tat after)."""
    admitted = 0
    for _ in range(wanted):
        plan = plan_take(tat, now)
        if plan.denied_until is not None:
            break
        tat = plan.new_tat if plan.fresh else (tat or 0) + INTERVAL
        admitted += 1
    return admitted, tat


def test_a_full_bucket_admits_45_at_one_instant_then_names_the_next_token():
    admitted, tat = take_all(None, NOW, 200)
    assert admitted == CAPACITY
    plan = plan_take(tat, NOW)
    assert plan.denied_until == NOW + INTERVAL
    assert tokens(tat, NOW) == 0


def test_one_token_comes_back_per_6_seconds():
    _, tat = take_all(None, NOW, CAPACITY)
    for step in range(1, 5):
        assert tokens(tat, NOW + step * INTERVAL - 1) == step - 1
        assert tokens(tat, NOW + step * INTERVAL) == step
    assert take_all(tat, NOW + 3 * INTERVAL, 10)[0] == 3
    assert tokens(tat, NOW + CAPACITY * INTERVAL) == CAPACITY  # refilled in 270 s
    assert tokens(tat, NOW + 10 * CAPACITY * INTERVAL) == CAPACITY  # never more than the capacity


def test_one_message_per_6_seconds_goes_on_for_ever():
    tat = None
    for i in range(500):
        admitted, tat = take_all(tat, NOW + i * INTERVAL, 1)
        assert admitted == 1


def test_the_first_refusal_backs_off_1_second_and_each_repeat_4_times_longer():
    strikes: dict[str, int] = {}
    at = NOW
    for x in range(MAX_EXPONENT + 3):
        strikes[f"wamid.{x}"] = at
        found = backoff(strikes)
        assert found is not None
        assert found.exponent == min(x, MAX_EXPONENT)
        assert found.until == at + 4 ** found.exponent
        at = found.until + 1  # the sender retried just after the backoff ended, and Meta refused again


def test_the_exponent_resets_after_a_quiet_period():
    first = backoff({"a": NOW, "b": NOW + 2})
    assert first is not None and first.exponent == 1
    later = backoff({"a": NOW, "b": NOW + 2, "c": first.until + QUIET_SECONDS})
    assert later is not None and later.exponent == 0 and later.until == first.until + QUIET_SECONDS + 1
    close = backoff({"a": NOW, "b": NOW + 2, "c": first.until + QUIET_SECONDS - 1})
    assert close is not None and close.exponent == 2


def test_a_duplicate_refusal_changes_nothing():
    state = after_strike(PairState(), "wamid.1", NOW)
    assert state is not None
    assert after_strike(state, "wamid.1", NOW) is None


def test_a_refusal_empties_the_bucket_at_its_time():
    state = after_strike(PairState(), "wamid.1", NOW)
    assert state is not None
    assert tokens(state.tat, NOW) == 0
    assert tokens(state.tat, NOW + INTERVAL) == 1
    assert pair_denial(state, NOW, guard=True) == NOW + INTERVAL
    assert pair_denial(state, NOW, guard=False) == NOW + 1  # Meta's backoff only: 4^0 s


def test_without_the_guard_only_metas_backoff_denies():
    _, tat = take_all(None, NOW, CAPACITY)
    empty = PairState(tat=tat)
    assert pair_denial(empty, NOW, guard=False) is None
    assert pair_denial(empty, NOW, guard=True) == NOW + INTERVAL
    assert pair_denial(PairState(), NOW, guard=True) is None


strike_sets = st.dictionaries(st.text("abcdef", min_size=1, max_size=3), st.integers(NOW, NOW + 7200), max_size=12)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(strike_sets, st.randoms(use_true_random=False))
def test_any_delivery_order_with_duplicates_ends_in_the_same_state(strikes, rng: random.Random):
    deliveries = list(strikes.items()) * 2
    rng.shuffle(deliveries)
    state = PairState()
    for wamid, at in deliveries:
        state = after_strike(state, wamid, at) or state
    assert state.strikes == kept_strikes(strikes)
    assert backoff(state.strikes) == backoff(kept_strikes(strikes))
    in_order = PairState()
    for wamid, at in sorted(strikes.items(), key=lambda item: item[1]):
        in_order = after_strike(in_order, wamid, at) or in_order
    assert (state.strikes, state.tat) == (in_order.strikes, in_order.tat)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(strike_sets)
def test_kept_refusals_are_bounded_and_give_the_backoff_of_them_all_at_the_cap(strikes):
    kept = kept_strikes(strikes)
    assert len(kept) <= MAX_STRIKES
    full, pruned = backoff(strikes), backoff(kept)
    assert (full is None) == (pruned is None)
    if full is not None and pruned is not None:
        assert pruned.until == full.until or full.exponent == MAX_EXPONENT or pruned.exponent == MAX_EXPONENT
