"""Given a number, its scope's counter and what is known of one recipient, when the check classifies a
send (before any write), then every decision code of the contract comes out for exactly its case."""

from __future__ import annotations

import pytest
from numberguard.domain.check import (
    Classification,
    Decision,
    MessageKind,
    RecipientView,
    Step,
    classify,
    iso,
)
from numberguard.domain.number import NumberState, scope_key
from numberguard.domain.status import Connection
from numberguard.domain.tiers import Policy
from numberguard.domain.window import ScopeUsage, Window, fit, plan_reserve

PNID, WABA, DISPLAY, PORTFOLIO = "106540352242922", "102290129340398", "15550783881", "506914307656634"
W = 600
WINDOW = Window(W)
NOW = 1_800_000_000 + 250  # inside bucket B
B = NOW // W
HOUR, DAY = 3600, 86400
BIZ = "RESTRICTED_BIZ_INITIATED_MESSAGING"
REPLIES = "RESTRICTED_CUSTOMER_INITIATED_MESSAGING"
TEMPLATE, SESSION = MessageKind.TEMPLATE, MessageKind.SESSION

ROOM = ScopeUsage(limit=10, used=3, buckets={B - 5: 3})
FULL = ScopeUsage(limit=10, used=10, buckets={B - 5: 4, B - 1: 6})
UNLIMITED = ScopeUsage(limit=None, used=0, buckets={})

NEW = RecipientView()
IN_WINDOW = RecipientView(service_window_until=NOW + HOUR)
COUNTED_NOW = RecipientView(counted_bucket=B, counted_until=WINDOW.frees_at(B), slot_reference="ref-1")
COUNTED_EARLIER = RecipientView(counted_bucket=B - 5, counted_until=WINDOW.frees_at(B - 5))
COUNT_ENDED = RecipientView(counted_bucket=B - 150, counted_until=WINDOW.frees_at(B - 150))
assert WINDOW.frees_at(B - 150) <= NOW < WINDOW.frees_at(B - 144)


@pytest.fixture(params=[Policy.PER_NUMBER, Policy.PORTFOLIO])
def policy(request):
    return request.param


def number(policy: Policy = Policy.PER_NUMBER, **facets) -> NumberState:
    return NumberState(PNID, WABA, DISPLAY, scope_key(policy, PNID, PORTFOLIO), PORTFOLIO, **facets)


def decide(state, usage=ROOM, recipient=NEW, message=TEMPLATE, now=NOW) -> Classification:
    return classify(state, usage, recipient, message, WINDOW, now)


# ---- allowed ----------------------------------------------------------------------------------------


def test_a_new_recipient_needs_a_slot(policy):
    # Given a connected number with room / When a template goes to a recipient never counted
    found = decide(number(policy))
    # Then the check must reserve a slot before answering ALLOWED_NEW_RECIPIENT
    assert found == Classification(Step.RESERVE, Decision.ALLOWED_NEW_RECIPIENT)


def test_a_recipient_whose_count_ended_is_new_again(policy):
    assert decide(number(policy), recipient=COUNT_ENDED) == Classification(Step.RESERVE, Decision.ALLOWED_NEW_RECIPIENT)
    # counted_until is exclusive: at that very instant the recipient no longer counts
    ends = RecipientView(counted_bucket=B - 145, counted_until=NOW)
    assert decide(number(policy), recipient=ends).step is Step.RESERVE
    # a released slot (bucket forgotten) is not counted even if a stale counted_until remains
    released = RecipientView(counted_bucket=None, counted_until=NOW + HOUR)
    assert decide(number(policy), recipient=released).step is Step.RESERVE


def test_a_repeat_in_the_current_bucket_is_answered_without_a_write(policy):
    # Given R counted in this bucket by a send whose slot nobody can release any more (no reference)
    settled = RecipientView(counted_bucket=B, counted_until=WINDOW.frees_at(B))
    found = decide(number(policy), recipient=settled)
    assert found == Classification(Step.ANSWER, Decision.ALLOWED_ALREADY_COUNTED)
    # or by this very send (a retry under the same reference)
    again = classify(number(policy), ROOM, COUNTED_NOW, TEMPLATE, WINDOW, NOW, reference="ref-1")
    assert again == Classification(Step.ANSWER, Decision.ALLOWED_ALREADY_COUNTED)


@pytest.mark.parametrize("reference", [None, "ref-2"])
def test_a_repeat_in_the_current_bucket_takes_the_slot_reference_away(policy, reference):
    # Given R counted in this bucket by send ref-1, which the sender may still release
    # When another send (without a reference, or with its own) repeats R
    found = classify(number(policy), ROOM, COUNTED_NOW, TEMPLATE, WINDOW, NOW, reference=reference)
    # Then the check keeps R counted by taking ref-1's claim away before it answers
    assert found == Classification(Step.KEEP, Decision.ALLOWED_ALREADY_COUNTED)


def test_a_repeat_counted_in_an_older_bucket_moves_to_the_current_one(policy):
    # Meta counts a repeated recipient until 24 h after the later send: its bucket must move forward
    found = decide(number(policy), recipient=COUNTED_EARLIER)
    assert found == Classification(Step.MOVE, Decision.ALLOWED_ALREADY_COUNTED)


def test_a_repeat_is_allowed_even_when_the_limit_is_reached(policy):
    # Repeats take no new slot
    assert decide(number(policy), FULL, COUNTED_EARLIER).decision is Decision.ALLOWED_ALREADY_COUNTED
    assert decide(number(policy), FULL, COUNTED_NOW).decision is Decision.ALLOWED_ALREADY_COUNTED


def test_an_unlimited_scope_allows_without_counting(policy):
    assert decide(number(policy), UNLIMITED) == Classification(Step.ANSWER, Decision.ALLOWED_UNLIMITED)
    assert decide(number(policy), UNLIMITED, COUNTED_EARLIER).decision is Decision.ALLOWED_UNLIMITED


@pytest.mark.parametrize("message", [TEMPLATE, SESSION])
def test_a_reply_inside_the_service_window_is_allowed_and_not_counted(policy, message):
    found = decide(number(policy), recipient=IN_WINDOW, message=message)
    assert found == Classification(Step.ANSWER, Decision.ALLOWED_SERVICE_WINDOW)


@pytest.mark.parametrize("message", [TEMPLATE, SESSION])
def test_a_reply_inside_the_window_is_allowed_even_when_the_limit_is_reached(policy, message):
    # Given a Restricted number (limit reached) / Then replies to user-initiated chats still go
    assert decide(number(policy), FULL, IN_WINDOW, message).decision is Decision.ALLOWED_SERVICE_WINDOW


@pytest.mark.parametrize("message", [TEMPLATE, SESSION])
def test_a_reply_inside_the_window_is_allowed_while_business_initiated_messaging_is_restricted(policy, message):
    state = number(policy, restrictions={BIZ: NOW + DAY})
    assert decide(state, ROOM, IN_WINDOW, message).decision is Decision.ALLOWED_SERVICE_WINDOW


# ---- denied -----------------------------------------------------------------------------------------


def test_a_full_scope_denies_a_new_recipient_via_plan_reserve_and_fit(policy):
    # Given a full scope / When a new recipient is classified
    found = decide(number(policy), FULL)
    assert found.step is Step.RESERVE
    # Then no reservation fits: the check answers DENIED_LIMIT_REACHED, retrying when the oldest bucket frees
    assert plan_reserve(WINDOW, FULL, 1, NOW) is None
    assert fit(WINDOW, FULL, 1, NOW) == 0
    assert WINDOW.slots_free_at(FULL.buckets, FULL.limit, 1, NOW) == WINDOW.frees_at(B - 5)
    assert Decision.DENIED_LIMIT_REACHED.allowed is False


def test_a_session_message_outside_a_service_window_is_denied(policy):
    assert decide(number(policy), message=SESSION) == Classification(Step.ANSWER, Decision.DENIED_WINDOW_CLOSED)
    # even to a recipient already counted: a free-form message needs an open window
    assert decide(number(policy), recipient=COUNTED_NOW, message=SESSION).decision is Decision.DENIED_WINDOW_CLOSED
    # the window's end is exclusive
    closing = RecipientView(service_window_until=NOW)
    assert decide(number(policy), recipient=closing, message=SESSION).decision is Decision.DENIED_WINDOW_CLOSED


@pytest.mark.parametrize("recipient", [NEW, COUNTED_NOW, IN_WINDOW])
@pytest.mark.parametrize("usage", [ROOM, UNLIMITED])
def test_a_banned_number_sends_nothing(policy, recipient, usage):
    state = number(policy, banned=True, connection=Connection.PENDING, restrictions={BIZ: NOW + DAY})
    assert decide(state, usage, recipient) == Classification(Step.ANSWER, Decision.DENIED_BANNED)


@pytest.mark.parametrize("recipient", [NEW, COUNTED_NOW, IN_WINDOW])
def test_a_pending_number_sends_nothing(policy, recipient):
    state = number(policy, connection=Connection.PENDING, restrictions={BIZ: NOW + DAY})
    assert decide(state, UNLIMITED, recipient) == Classification(Step.ANSWER, Decision.DENIED_PENDING)


@pytest.mark.parametrize("recipient", [NEW, COUNTED_NOW, IN_WINDOW])
def test_an_offline_number_sends_nothing(policy, recipient):
    state = number(policy, connection=Connection.OFFLINE, flagged_at=NOW - HOUR)
    assert decide(state, UNLIMITED, recipient) == Classification(Step.ANSWER, Decision.DENIED_OFFLINE)


def test_a_flagged_number_still_sends_within_its_limit(policy):
    assert decide(number(policy, flagged_at=NOW - HOUR)).decision is Decision.ALLOWED_NEW_RECIPIENT


@pytest.mark.parametrize("recipient", [NEW, COUNTED_NOW, COUNTED_EARLIER])
@pytest.mark.parametrize("usage", [ROOM, FULL, UNLIMITED])
def test_business_initiated_restriction_denies_templates_outside_a_window_until_it_expires(policy, recipient, usage):
    # Given a WABA restriction on business-initiated messaging, expiring in 2 h (and an older one)
    state = number(policy, restrictions={BIZ: NOW + 2 * HOUR})
    # When a template goes outside a service window / Then denied, retrying at the expiry
    found = decide(state, usage, recipient)
    assert found == Classification(Step.ANSWER, Decision.DENIED_ACCOUNT_RESTRICTED, NOW + 2 * HOUR)
    # When the expiry passes / Then the send is decided on the limit as usual
    later = decide(state, usage, recipient, now=NOW + 2 * HOUR)
    assert later.decision is not Decision.DENIED_ACCOUNT_RESTRICTED


def test_an_expired_restriction_no_longer_denies(policy):
    state = number(policy, restrictions={BIZ: NOW - 1})
    assert decide(state) == Classification(Step.RESERVE, Decision.ALLOWED_NEW_RECIPIENT)
    state = number(policy, restrictions={BIZ: NOW})
    assert decide(state).decision is Decision.ALLOWED_NEW_RECIPIENT


def test_a_restriction_on_replies_denies_inside_the_window_but_not_templates_outside(policy):
    state = number(policy, restrictions={REPLIES: NOW + HOUR})
    assert decide(state, recipient=IN_WINDOW) == Classification(
        Step.ANSWER, Decision.DENIED_ACCOUNT_RESTRICTED, NOW + HOUR
    )
    assert decide(state).decision is Decision.ALLOWED_NEW_RECIPIENT
    # When the reply restriction expires while the window is still open / Then the reply goes
    short = number(policy, restrictions={REPLIES: NOW + 60})
    assert decide(short, recipient=IN_WINDOW, now=NOW + 60).decision is Decision.ALLOWED_SERVICE_WINDOW


def test_the_retry_time_of_a_restriction_is_its_latest_expiry(policy):
    state = number(policy, restrictions={BIZ: NOW + HOUR, REPLIES: NOW + 5 * HOUR, "OTHER": NOW + 9 * HOUR})
    assert decide(state).retry_at == NOW + HOUR
    both = number(policy, restrictions={BIZ: NOW + HOUR, REPLIES: NOW + 5 * HOUR})
    assert decide(both, recipient=IN_WINDOW).retry_at == NOW + 5 * HOUR


def test_an_unknown_restriction_type_does_not_deny(policy):
    assert decide(number(policy, restrictions={"RESTRICTED_SOMETHING_NEW": NOW + DAY})).step is Step.RESERVE


# ---- decisions ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("decision", list(Decision))
def test_allowed_is_true_exactly_for_allowed_decisions_and_released(decision):
    assert decision.allowed is (decision.value.startswith("ALLOWED_") or decision is Decision.RELEASED)


def test_the_contract_lists_every_decision_code():
    contract = {
        "ALLOWED_SERVICE_WINDOW", "ALLOWED_ALREADY_COUNTED", "ALLOWED_NEW_RECIPIENT", "ALLOWED_UNLIMITED",
        "DENIED_LIMIT_REACHED", "DENIED_WINDOW_CLOSED", "DENIED_BANNED", "DENIED_PENDING", "DENIED_OFFLINE",
        "DENIED_ACCOUNT_RESTRICTED", "DENIED_UNKNOWN_NUMBER", "INVALID_REQUEST",
    }
    assert contract <= {d.value for d in Decision}


def test_evaluated_at_is_iso_8601_utc_to_the_second():
    assert iso(1_800_000_000) == "2027-01-15T08:00:00Z"
    assert iso(0) == "1970-01-01T00:00:00Z"
