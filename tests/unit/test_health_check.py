"""Meta's health status in the check: BLOCKED denies at precedence row 3 with Meta's code and words in
`error`; LIMITED allows, with Meta's advice in `warnings`; AVAILABLE says nothing."""

from __future__ import annotations

from numberguard.domain.health import CanSend, Health, HealthEntity, HealthError
from numberguard.domain.status import Connection
from numberguard.domain.tiers import Policy

from tests.unit.test_limit_checker import BLOCKED_WABA, World

LIMITED = Health(CanSend.LIMITED, (HealthEntity("PHONE_NUMBER", "106540352242922", CanSend.LIMITED, (),
                                                ("Your display name has not been approved yet.",)),))


def test_blocked_denies_every_send_naming_metas_code_and_takes_no_slot():
    world = World(Policy.PER_NUMBER, health=BLOCKED_WABA)
    world.open_window()  # even a reply inside a service window: Meta says the number cannot send
    for message in ("template", "session"):
        answer = world.ask(message=message)
        assert answer["decision"] == "DENIED_BLOCKED_BY_META" and not answer["allowed"]
        assert "141006" in answer["error"] and "WABA" in answer["error"] and "payment method" in answer["error"]
    assert world.store.counters[world.number.scope].used == 0


def test_banned_pending_and_offline_come_before_blocked():
    for facets, decision in (({"banned": True}, "DENIED_BANNED"), ({"connection": Connection.PENDING},
                                                                   "DENIED_PENDING"),
                             ({"connection": Connection.OFFLINE}, "DENIED_OFFLINE")):
        assert World(Policy.PER_NUMBER, health=BLOCKED_WABA, **facets).ask()["decision"] == decision


def test_limited_allows_with_metas_advice_as_warnings():
    world = World(Policy.PER_NUMBER, health=LIMITED)
    answer = world.ask()
    assert answer["decision"] == "ALLOWED_NEW_RECIPIENT" and answer["allowed"]
    assert answer["warnings"] == ["PHONE_NUMBER: Your display name has not been approved yet."]
    assert answer["status"] == "CONNECTED"


def test_available_or_never_read_says_nothing():
    for health in (None, Health(CanSend.AVAILABLE)):
        answer = World(Policy.PER_NUMBER, health=health).ask()
        assert answer["allowed"] and answer["warnings"] == []


def test_a_blocked_entity_without_codes_still_blocks_and_says_which_part():
    health = Health(CanSend.BLOCKED, (HealthEntity("BUSINESS", "506914307656634", CanSend.BLOCKED),))
    answer = World(Policy.PER_NUMBER, health=health).ask()
    assert answer["decision"] == "DENIED_BLOCKED_BY_META" and "BUSINESS 506914307656634" in answer["error"]
    _ = HealthError  # the error type is part of the public shape tested in test_graph_client
