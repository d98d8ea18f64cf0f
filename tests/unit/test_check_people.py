"""Given a person Meta showed under a phone number, a BSUID and a parent BSUID, when a sender checks them
by any of those ids, then the check finds the one counted slot and the one service window of the person:
one person counts once (DESIGN §3). The store is the in-memory fake."""

from __future__ import annotations

import pytest
from numberguard.domain.people import link_space
from numberguard.domain.tiers import Policy

from tests.unit.test_limit_checker import DAY, PNID, PORTFOLIO, WABA, W, World

PHONE = "16505551234"
BSUID = "US.13491208655302741918"
PARENT = "US.ENT.11815799212886844830"
SPACE = link_space(PORTFOLIO, WABA)


@pytest.fixture(params=[Policy.PER_NUMBER, Policy.PORTFOLIO], ids=["per-number", "portfolio"])
def world(request) -> World:
    world = World(request.param, limit=3)
    world.store.link(SPACE, PHONE, BSUID, PARENT)
    return world


@pytest.mark.parametrize("first", [PHONE, BSUID, PARENT])
@pytest.mark.parametrize("then", [PHONE, BSUID, PARENT])
def test_a_person_counted_by_one_id_is_already_counted_by_every_other(world, first, then):
    assert world.ask(first)["decision"] == "ALLOWED_NEW_RECIPIENT"
    answer = world.ask(then)
    assert (answer["decision"], answer["used"]) == ("ALLOWED_ALREADY_COUNTED", 1)
    world.clock_now += W  # a newer bucket: moved, still one
    assert world.ask(then)["decision"] == "ALLOWED_ALREADY_COUNTED" and world.ask(first)["used"] == 1


def test_the_count_lives_under_the_phone_number(world):
    world.ask(BSUID)
    assert {r for (_, r) in world.store.counted} == {PHONE}


@pytest.mark.parametrize("opened", [PHONE, BSUID, PARENT])
def test_a_window_under_any_id_serves_every_id(world, opened):
    world.open_window(opened)
    for asked in (PHONE, BSUID, PARENT):
        assert world.ask(asked, message="session")["decision"] == "ALLOWED_SERVICE_WINDOW"


def test_an_unlinked_bsuid_is_a_person_of_its_own(world):
    other = "US.99999999"
    assert world.ask(other)["decision"] == "ALLOWED_NEW_RECIPIENT"
    assert world.ask(other, message="session")["decision"] == "DENIED_WINDOW_CLOSED"
    assert world.ask(PHONE)["used"] == 2


def test_a_batch_naming_one_person_twice_counts_once(world):
    answer = world.checker.handle({"phone_number_id": PNID, "recipients": [PHONE, BSUID, PARENT, "16505550000"],
                                   "message": "template"})
    assert answer["used"] == 2 and answer["allowed_count"] == 4
    assert [r["recipient"] for r in answer["results"]] == [PHONE, BSUID, PARENT, "16505550000"]
    assert {r["decision"] for r in answer["results"][:3]} == {"ALLOWED_NEW_RECIPIENT"}


def test_a_person_counted_twice_before_the_link_is_found_counted_and_never_counted_a_third_time():
    world = World(Policy.PER_NUMBER, limit=3)
    world.ask(PHONE)
    world.ask(BSUID)
    world.store.link(SPACE, PHONE, BSUID)  # Meta links them; the fold (store) is not run here
    for asked in (PHONE, BSUID):
        answer = world.ask(asked)
        assert (answer["decision"], answer["used"]) == ("ALLOWED_ALREADY_COUNTED", 2)


def test_a_release_by_another_id_gives_back_the_slot_its_reference_took(world):
    assert world.ask(PHONE, reference="send-1")["decision"] == "ALLOWED_NEW_RECIPIENT"
    answer = world.release(BSUID, "send-1")
    assert (answer["decision"], answer["used"]) == ("RELEASED", 0)
    assert world.release(PARENT, "send-1")["decision"] == "NOTHING_TO_RELEASE"


def test_after_the_stint_ends_the_person_is_new_again_under_any_id(world):
    world.ask(BSUID)
    world.clock_now += DAY + 2 * W
    assert world.ask(PARENT)["decision"] == "ALLOWED_NEW_RECIPIENT"
