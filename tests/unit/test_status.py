"""Given a number's facets, when the status shown to people is derived, then the precedence
BANNED > PENDING > OFFLINE > RESTRICTED > FLAGGED > CONNECTED holds, under both limit policies."""

from __future__ import annotations

import itertools

import pytest
from numberguard.domain.number import NumberState, scope_key
from numberguard.domain.status import (
    Connection,
    DisplayStatus,
    Quality,
    display_status,
    parse_connection,
    parse_quality,
    quality_recovered,
)
from numberguard.domain.tiers import Policy

PNID, WABA, DISPLAY, PORTFOLIO = "106540352242922", "102290129340398", "15550783881", "506914307656634"
NOW = 1_800_000_000
HOUR = 3600

# The oracle: the first status, in order of precedence, whose condition holds.
PRECEDENCE = [
    (DisplayStatus.BANNED, lambda banned, connection, restricted, flagged: banned),
    (DisplayStatus.PENDING, lambda banned, connection, restricted, flagged: connection is Connection.PENDING),
    (DisplayStatus.OFFLINE, lambda banned, connection, restricted, flagged: connection is Connection.OFFLINE),
    (DisplayStatus.RESTRICTED, lambda banned, connection, restricted, flagged: restricted),
    (DisplayStatus.FLAGGED, lambda banned, connection, restricted, flagged: flagged),
    (DisplayStatus.CONNECTED, lambda banned, connection, restricted, flagged: True),
]
ALL_FACETS = list(itertools.product([False, True], list(Connection), [False, True], [False, True]))


def expected_status(banned, connection, restricted, flagged) -> DisplayStatus:
    return next(status for status, holds in PRECEDENCE if holds(banned, connection, restricted, flagged))


@pytest.mark.parametrize(("banned", "connection", "restricted", "flagged"), ALL_FACETS)
def test_display_status_follows_the_precedence_for_every_combination_of_facets(banned, connection, restricted, flagged):
    # Given any combination of facets / When the displayed status is derived
    shown = display_status(banned=banned, connection=connection, restricted=restricted, flagged=flagged)
    # Then it is the highest-precedence status whose facet is set
    assert shown is expected_status(banned, connection, restricted, flagged)


@pytest.mark.parametrize(
    ("facets", "shown"),
    [
        ({"banned": True, "connection": Connection.PENDING, "restricted": True, "flagged": True}, "BANNED"),
        ({"banned": False, "connection": Connection.PENDING, "restricted": True, "flagged": True}, "PENDING"),
        ({"banned": False, "connection": Connection.OFFLINE, "restricted": True, "flagged": True}, "OFFLINE"),
        ({"banned": False, "connection": Connection.CONNECTED, "restricted": True, "flagged": True}, "RESTRICTED"),
        ({"banned": False, "connection": Connection.CONNECTED, "restricted": False, "flagged": True}, "FLAGGED"),
        ({"banned": False, "connection": Connection.CONNECTED, "restricted": False, "flagged": False}, "CONNECTED"),
    ],
)
def test_each_status_beats_every_status_below_it(facets, shown):
    # Given a facet set together with every lower facet / Then the higher one is shown
    assert display_status(**facets).value == shown


def number(policy: Policy, **facets) -> NumberState:
    return NumberState(
        phone_number_id=PNID,
        waba_id=WABA,
        display_phone_number=DISPLAY,
        scope=scope_key(policy, PNID, PORTFOLIO),
        portfolio_id=PORTFOLIO,
        **facets,
    )


POLICIES = [Policy.PER_NUMBER, Policy.PORTFOLIO]
BIZ = "RESTRICTED_BIZ_INITIATED_MESSAGING"
REPLIES = "RESTRICTED_CUSTOMER_INITIATED_MESSAGING"


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize(
    ("facets", "limit_reached", "shown"),
    [
        ({}, False, "CONNECTED"),
        ({}, True, "RESTRICTED"),
        ({"flagged_at": NOW - HOUR}, False, "FLAGGED"),
        ({"flagged_at": NOW - HOUR}, True, "RESTRICTED"),
        ({"restrictions": {BIZ: NOW + HOUR}}, False, "RESTRICTED"),
        ({"restrictions": {BIZ: NOW + HOUR}, "flagged_at": NOW - HOUR}, False, "RESTRICTED"),
        # An expired WABA restriction no longer restricts (expiry is exclusive: at the instant it ends, it is over).
        ({"restrictions": {BIZ: NOW}}, False, "CONNECTED"),
        ({"restrictions": {BIZ: NOW - 1}, "flagged_at": NOW - HOUR}, False, "FLAGGED"),
        # A restriction on replies only does not make the number Restricted (that status is about business-initiated).
        ({"restrictions": {REPLIES: NOW + HOUR}}, False, "CONNECTED"),
        ({"restrictions": {"SOME_FUTURE_RESTRICTION": NOW + HOUR}}, False, "CONNECTED"),
        ({"connection": Connection.OFFLINE, "flagged_at": NOW - HOUR}, True, "OFFLINE"),
        ({"connection": Connection.OFFLINE, "restrictions": {BIZ: NOW + HOUR}}, False, "OFFLINE"),
        ({"connection": Connection.PENDING}, True, "PENDING"),
        ({"connection": Connection.PENDING, "restrictions": {BIZ: NOW + HOUR}}, False, "PENDING"),
        ({"banned": True, "connection": Connection.PENDING}, True, "BANNED"),
        ({"banned": True, "connection": Connection.OFFLINE, "flagged_at": NOW}, False, "BANNED"),
        ({"banned": True, "restrictions": {BIZ: NOW + HOUR}}, False, "BANNED"),
    ],
)
def test_number_state_status_under_both_policies(policy, facets, limit_reached, shown):
    # Given a number under either policy (its counter scope differs) with these facets
    state = number(policy, **facets)
    # When its status is derived at NOW
    status = state.status(limit_reached=limit_reached, now=NOW)
    # Then the policy does not change the precedence
    assert status.value == shown


def test_scope_key_differs_between_the_policies():
    # Given the same number / Then per-number counts it alone, portfolio counts it with its portfolio
    assert scope_key(Policy.PER_NUMBER, PNID, PORTFOLIO) == f"number#{PNID}"
    assert scope_key(Policy.PER_NUMBER, PNID, None) == f"number#{PNID}"
    assert scope_key(Policy.PORTFOLIO, PNID, PORTFOLIO) == f"portfolio#{PORTFOLIO}"
    assert scope_key(Policy.PORTFOLIO, "106540352242923", PORTFOLIO) == scope_key(Policy.PORTFOLIO, PNID, PORTFOLIO)


@pytest.mark.parametrize("portfolio_id", [None, ""])
def test_portfolio_policy_needs_a_portfolio_id(portfolio_id):
    with pytest.raises(ValueError, match=rf"{PNID} has no portfolio id"):
        scope_key(Policy.PORTFOLIO, PNID, portfolio_id)


def test_restricted_until_is_the_latest_active_expiry_of_the_given_kinds():
    # Given two business-initiated restrictions (one expired) and a reply restriction
    state = number(Policy.PER_NUMBER, restrictions={BIZ: NOW + 2 * HOUR, "OTHER": NOW + 9 * HOUR, REPLIES: NOW + HOUR})
    # Then each kind's expiry is reported on its own; expired or absent kinds give None
    assert state.restricted_until(frozenset({BIZ}), NOW) == NOW + 2 * HOUR
    assert state.restricted_until(frozenset({REPLIES}), NOW) == NOW + HOUR
    assert state.restricted_until(frozenset({BIZ, REPLIES}), NOW) == NOW + 2 * HOUR
    assert state.restricted_until(frozenset({BIZ}), NOW + 2 * HOUR) is None
    assert number(Policy.PER_NUMBER).restricted_until(frozenset({BIZ}), NOW) is None


@pytest.mark.parametrize(
    ("raw", "connection"),
    [
        ("CONNECTED", Connection.CONNECTED),
        ("connected", Connection.CONNECTED),
        (" Connected ", Connection.CONNECTED),
        ("PENDING", Connection.PENDING),
        ("UNVERIFIED", Connection.PENDING),
        ("NOT_VERIFIED", Connection.PENDING),
        ("OFFLINE", Connection.OFFLINE),
        ("DISCONNECTED", Connection.OFFLINE),
        ("MIGRATED", Connection.OFFLINE),
        ("DELETED", Connection.OFFLINE),
        ("RATE_LIMITED", Connection.CONNECTED),
        ("FLAGGED", Connection.CONNECTED),
        ("RESTRICTED", Connection.CONNECTED),
        # An open set: anything unknown must never let a send through.
        ("SOMETHING_NEW", Connection.OFFLINE),
        ("", Connection.OFFLINE),
    ],
)
def test_outside_status_strings_map_to_a_connection_and_unknown_ones_block(raw, connection):
    assert parse_connection(raw) is connection


@pytest.mark.parametrize(
    ("raw", "quality", "recovered"),
    [
        ("GREEN", Quality.GREEN, True),
        ("High", Quality.GREEN, True),
        ("yellow", Quality.YELLOW, True),
        ("MEDIUM", Quality.YELLOW, True),
        ("RED", Quality.RED, False),
        ("low", Quality.RED, False),
        ("UNKNOWN", Quality.UNKNOWN, False),
        ("NA", Quality.UNKNOWN, False),
        ("purple", Quality.UNKNOWN, False),
    ],
)
def test_quality_spellings_and_what_counts_as_recovered(raw, quality, recovered):
    assert parse_quality(raw) is quality
    assert quality_recovered(parse_quality(raw)) is recovered


@pytest.mark.parametrize(("facets", "shown"), [
    ({"banned": True}, "BANNED"),
    ({"connection": Connection.PENDING}, "BLOCKED"),
    ({"connection": Connection.OFFLINE, "restricted": True, "flagged": True}, "BLOCKED"),
    ({}, "BLOCKED"),
])
def test_blocked_by_meta_is_shown_below_banned_and_above_everything_else(facets, shown):
    # Given Meta's health status BLOCKED (DESIGN §2: BANNED > BLOCKED > PENDING > OFFLINE > ...)
    args = {"banned": False, "connection": Connection.CONNECTED, "restricted": False, "flagged": False,
            **facets, "blocked": True}
    assert display_status(**args).value == shown
