"""Given buckets of W minutes on the moving 24 h window, when slots are counted, planned, fitted and
freed, then a recipient counts until the end of its bucket + 24 h (never less than Meta's 24 h, at most
W more) and no plan ever takes more than the limit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numberguard.domain.window import (
    DAY_SECONDS,
    ScopeUsage,
    Window,
    fit,
    needs_attention,
    plan_reserve,
)

W = 600
WINDOW = Window(W)
T0 = 1_800_000_000  # a bucket boundary: T0 % 600 == 0
B0 = T0 // W


def usage(limit, buckets):
    return ScopeUsage(limit=limit, used=sum(buckets.values()), buckets=dict(buckets))


# ---- buckets --------------------------------------------------------------------------------------


def test_bucket_of_cuts_time_into_w_second_buckets():
    assert WINDOW.bucket_of(T0) == B0
    assert WINDOW.bucket_of(T0 + W - 1) == B0
    assert WINDOW.bucket_of(T0 + W) == B0 + 1
    assert WINDOW.bucket_of(T0 - 1) == B0 - 1
    assert Window(60).bucket_of(T0 + 59) == T0 // 60


def test_a_bucket_frees_24_hours_after_its_end():
    # Given sends anywhere in bucket B0 / Then they stop counting when B0's end is 24 h old
    assert WINDOW.frees_at(B0) == T0 + W + DAY_SECONDS
    for offset in (0, 1, 299, W - 1):
        sent = T0 + offset
        until = WINDOW.counted_until(sent)
        assert until == T0 + W + DAY_SECONDS
        # never before Meta frees it (24 h after the send), at most W later
        assert sent + DAY_SECONDS < until <= sent + DAY_SECONDS + W


@pytest.mark.parametrize("seconds", [0, -600, 7, 3601, 86401])
def test_a_bucket_width_that_does_not_divide_a_day_is_refused(seconds):
    with pytest.raises(ValueError, match=rf"bucket width must divide a day evenly, got {seconds} s"):
        Window(seconds)


@pytest.mark.parametrize("seconds", [60, 300, 600, 900, 3600, 86400])
def test_widths_that_divide_a_day_are_accepted(seconds):
    assert Window(seconds).bucket_seconds == seconds


def test_expired_live_and_used_split_at_the_exact_instant_a_bucket_frees():
    # Given counts in three buckets
    buckets = {B0: 3, B0 + 1: 2, B0 + 5: 4}
    freed = WINDOW.frees_at(B0)
    # When just before B0 frees / Then everything is live
    assert WINDOW.expired(buckets, freed - 1) == {}
    assert WINDOW.used(buckets, freed - 1) == 9
    # When B0 frees (the instant itself) / Then B0 is expired and no longer used
    assert WINDOW.expired(buckets, freed) == {B0: 3}
    assert WINDOW.live(buckets, freed) == {B0 + 1: 2, B0 + 5: 4}
    assert WINDOW.used(buckets, freed) == 6
    # When all have freed / Then nothing is used
    assert WINDOW.used(buckets, WINDOW.frees_at(B0 + 5)) == 0
    assert WINDOW.used({}, T0) == 0


# ---- when slots free ------------------------------------------------------------------------------


def test_slots_free_now_when_there_is_room():
    assert WINDOW.slots_free_at({B0: 3}, limit=5, needed=2, now=T0) == T0


def test_a_full_scope_frees_its_next_slot_when_its_oldest_bucket_frees():
    # Given a full scope / When one slot is needed / Then the oldest bucket's end + 24 h
    buckets = {B0 + 3: 2, B0: 1, B0 + 1: 2}
    now = T0 + 4 * W
    assert WINDOW.slots_free_at(buckets, limit=5, needed=1, now=now) == WINDOW.frees_at(B0)
    # When more slots are needed than the oldest bucket holds / Then the later bucket's time
    assert WINDOW.slots_free_at(buckets, limit=5, needed=2, now=now) == WINDOW.frees_at(B0 + 1)
    assert WINDOW.slots_free_at(buckets, limit=5, needed=5, now=now) == WINDOW.frees_at(B0 + 3)


def test_slots_free_at_ignores_buckets_that_already_freed_and_empty_buckets():
    # Given an expired bucket still stored (not folded yet) and an emptied bucket (its recipient moved on)
    buckets = {B0: 4, B0 + 10: 0, B0 + 20: 1}
    now = WINDOW.frees_at(B0) + 1
    # Then the expired bucket gives room now; with a limit of 1 the next slot waits for bucket B0+20
    assert WINDOW.slots_free_at(buckets, limit=2, needed=1, now=now) == now
    assert WINDOW.slots_free_at(buckets, limit=1, needed=1, now=now) == WINDOW.frees_at(B0 + 20)


def test_needing_more_than_the_limit_never_frees():
    assert WINDOW.slots_free_at({}, limit=5, needed=6, now=T0) is None


# ---- planning a reservation -----------------------------------------------------------------------


def test_plan_reserve_with_room_takes_slots_in_the_current_bucket():
    # Given 3 of 10 used / When 2 slots are planned in the middle of a bucket
    plan = plan_reserve(WINDOW, usage(10, {B0: 3}), 2, T0 + 2 * W + 17)
    # Then the plan targets the current bucket and guards the stored count against a concurrent change
    assert plan is not None
    assert (plan.bucket, plan.slots, dict(plan.expired), plan.limit) == (B0 + 2, 2, {}, 10)
    assert plan.max_used == 8  # the update succeeds only while used <= limit - slots
    assert plan.attention is True  # 5 of 10 after the reservation: half the limit


def test_plan_reserve_refuses_when_the_slots_do_not_fit():
    # Given a full scope / Then no plan (the check answers DENIED_LIMIT_REACHED)
    assert plan_reserve(WINDOW, usage(5, {B0: 5}), 1, T0 + W) is None
    # Given 4 of 5 / Then one fits and two do not
    assert plan_reserve(WINDOW, usage(5, {B0: 4}), 1, T0 + W) is not None
    assert plan_reserve(WINDOW, usage(5, {B0: 4}), 2, T0 + W) is None


def test_plan_reserve_folds_expired_buckets_into_the_same_update():
    # Given a full scope whose oldest bucket has just freed
    buckets = {B0: 3, B0 + 6: 2}
    now = WINDOW.frees_at(B0)
    # When one slot is planned
    plan = plan_reserve(WINDOW, usage(5, buckets), 1, now)
    # Then it folds the expired bucket away (guarded by its count) and counts on the room it frees
    assert plan is not None
    assert dict(plan.expired) == {B0: 3}
    assert plan.max_used == 5 - 1 + 3
    assert plan.bucket == WINDOW.bucket_of(now)
    # And one second earlier the bucket has not freed: nothing fits
    assert plan_reserve(WINDOW, usage(5, buckets), 1, now - 1) is None


def test_plan_reserve_on_an_unlimited_scope_is_a_programming_error():
    with pytest.raises(ValueError, match="unlimited"):
        plan_reserve(WINDOW, ScopeUsage(limit=None, used=0, buckets={}), 1, T0)


@pytest.mark.parametrize(
    ("used_after", "limit", "attention"),
    [(0, 10, False), (4, 10, False), (5, 10, True), (10, 10, True), (1, 1, True), (0, 1, False),
     (3, None, False), (0, 0, False)],
)
def test_a_scope_needs_attention_from_half_its_limit(used_after, limit, attention):
    assert needs_attention(used_after, limit) is attention


# ---- fitting a batch ------------------------------------------------------------------------------


def test_fit_gives_as_many_as_the_room_allows():
    assert fit(WINDOW, usage(10, {B0: 7}), 2, T0) == 2
    assert fit(WINDOW, usage(10, {B0: 7}), 5, T0) == 3
    assert fit(WINDOW, usage(10, {B0: 10}), 5, T0) == 0
    assert fit(WINDOW, ScopeUsage(limit=None, used=0, buckets={}), 1000, T0) == 1000


def test_fit_counts_expired_buckets_as_room():
    buckets = {B0: 6, B0 + 1: 4}
    assert fit(WINDOW, usage(10, buckets), 8, WINDOW.frees_at(B0) - 1) == 0
    assert fit(WINDOW, usage(10, buckets), 8, WINDOW.frees_at(B0)) == 6


def test_fit_never_goes_negative_when_more_is_used_than_the_limit():
    # Given a limit lowered below the usage (a downgrade) / Then nothing fits, not a negative count
    assert fit(WINDOW, usage(3, {B0: 5}), 2, T0) == 0
    assert plan_reserve(WINDOW, usage(3, {B0: 5}), 1, T0) is None


# ---- properties -----------------------------------------------------------------------------------

bucket_maps = st.dictionaries(st.integers(min_value=B0 - 200, max_value=B0 + 150), st.integers(0, 6), max_size=12)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    buckets=bucket_maps,
    limit=st.integers(1, 40),
    slots=st.integers(1, 10),
    offset=st.integers(0, 2 * DAY_SECONDS),
)
def test_plan_reserve_and_fit_agree_and_never_exceed_the_limit(buckets, limit, slots, offset):
    # Given any counter state read at any instant
    now = T0 + offset
    state = usage(limit, buckets)
    plan = plan_reserve(WINDOW, state, slots, now)
    # Then a plan exists exactly when the slots fit
    assert (plan is not None) == (fit(WINDOW, state, slots, now) == slots)
    if plan is not None:
        # And applying it (fold the expired buckets, add the slots) leaves at most `limit` live recipients
        after = {b: c for b, c in buckets.items() if b not in plan.expired}
        after[plan.bucket] = after.get(plan.bucket, 0) + plan.slots
        assert WINDOW.used(after, now) <= limit
        assert state.used <= plan.max_used
        assert set(plan.expired) == set(WINDOW.expired(buckets, now))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(buckets=bucket_maps, needed=st.integers(1, 8), offset=st.integers(0, 2 * DAY_SECONDS), spare=st.integers(0, 5))
def test_slots_free_at_is_the_earliest_instant_with_room(buckets, needed, offset, spare):
    # Given a counter and a limit at least its live usage (what the check guarantees)
    now = T0 + offset
    limit = max(WINDOW.used(buckets, now), needed) + spare
    at = WINDOW.slots_free_at(buckets, limit, needed, now)
    # Then the slots are free at that instant and not one second earlier
    assert at is not None and at >= now
    assert limit - WINDOW.used(buckets, at) >= needed
    if at > now:
        assert limit - WINDOW.used(buckets, at - 1) < needed
