"""Given the ids Meta shows for its users, when numberguard links them into people, folds a person counted
twice and applies a change of number or BSUID, then one person counts once, under one key, and a retired
id starts fresh (domain/people.py, pure)."""

from __future__ import annotations

from numberguard.domain.people import (
    IdLink,
    Person,
    Stint,
    change_ids,
    key_of,
    latest_window,
    link,
    link_space,
    person_of,
    plan_fold,
)

PHONE = "16505551234"
NEW_PHONE = "16505554321"
BSUID = "US.13491208655302741918"
NEW_BSUID = "US.15098342271160483952"
PARENT = "US.ENT.11815799212886844830"
T = 1_789_000_000


def test_the_key_is_the_phone_else_the_bsuid_else_the_parent():
    assert key_of([BSUID, PARENT, PHONE]) == PHONE
    assert key_of([PARENT, BSUID]) == BSUID
    assert key_of([PARENT]) == PARENT
    assert key_of([NEW_PHONE, PHONE]) == PHONE  # deterministic: two intakes agree


def test_links_belong_to_the_portfolio_else_the_waba():
    assert link_space("5550001", "102290129340398") == "portfolio:5550001"
    assert link_space(None, "102290129340398") == "waba:102290129340398"


def test_ids_shown_together_become_one_person():
    person = link({}, [PHONE, BSUID], T)
    assert person == Person(PHONE, frozenset({PHONE, BSUID}), T)
    assert person.others == {BSUID}


def test_one_id_or_malformed_ids_link_nothing():
    assert link({}, [BSUID], T) is None
    assert link({}, [BSUID, "realsheenanelson", "", "us.1"], T) is None  # a username is never a key


def test_the_same_link_again_changes_nothing():
    person = link({}, [PHONE, BSUID], T)
    found = {PHONE: IdLink(person), BSUID: IdLink(person)}
    assert link(found, [BSUID, PHONE], T + 5) is None
    assert link(found, [PHONE, BSUID], T - 5) is None  # an older delivery of the same


def test_a_new_id_joins_the_person_and_two_persons_merge():
    person = link({}, [BSUID, PARENT], T)
    assert person.key == BSUID
    joined = link({BSUID: IdLink(person), PARENT: IdLink(person)}, [PHONE, BSUID], T + 1)
    assert joined == Person(PHONE, frozenset({PHONE, BSUID, PARENT}), T + 1)
    other = person_of([NEW_PHONE, NEW_BSUID], T)
    merged = link({BSUID: IdLink(person), NEW_BSUID: IdLink(other)}, [BSUID, NEW_BSUID], T + 2)
    assert merged.ids == {BSUID, PARENT, NEW_PHONE, NEW_BSUID} and merged.key == NEW_PHONE


def test_an_event_older_than_a_retirement_does_not_bring_the_id_back():
    found = {PHONE: IdLink(retired_at=T)}
    assert link(found, [PHONE, BSUID], T - 1) is None
    assert link(found, [PHONE, BSUID], T) is None
    fresh = link(found, [PHONE, NEW_BSUID], T + 1)  # a recycled number, shown again later: a new person
    assert fresh == Person(PHONE, frozenset({PHONE, NEW_BSUID}), T + 1)


def test_a_number_change_retires_the_old_phone_and_bsuid():
    person = person_of([PHONE, BSUID, PARENT], T)
    found = {i: IdLink(person) for i in person.ids}
    change = change_ids(found, [PHONE, BSUID], [NEW_PHONE, NEW_BSUID], T + 10)
    assert change.retired == {PHONE, BSUID}
    assert change.current == {NEW_PHONE, NEW_BSUID, PARENT}
    assert change.person == Person(NEW_PHONE, frozenset({NEW_PHONE, NEW_BSUID, PARENT}), T + 10)


def test_a_bsuid_change_keeps_the_phone():
    person = person_of([PHONE, BSUID], T)
    change = change_ids({PHONE: IdLink(person), BSUID: IdLink(person)}, [BSUID], [NEW_BSUID], T + 10)
    assert change.person == Person(PHONE, frozenset({PHONE, NEW_BSUID}), T + 10)
    assert change.retired == {BSUID}


def test_a_change_for_an_unknown_person_still_names_the_new_ids():
    change = change_ids({}, [BSUID], [NEW_BSUID], T)
    assert change.person is None and change.current == {NEW_BSUID} and change.retired == {BSUID}


def test_a_change_delivered_after_a_later_one_is_ignored():
    found = {PHONE: IdLink(retired_at=T + 100), BSUID: IdLink(retired_at=T + 100)}
    assert change_ids(found, [PHONE, BSUID], [NEW_PHONE, NEW_BSUID], T) is None
    assert change_ids({}, [], [NEW_BSUID], T) is None
    assert change_ids({}, [BSUID], ["not-an-id"], T) is None


NOW = T


def test_one_live_stint_needs_no_fold():
    assert plan_fold(PHONE, {PHONE: Stint(10, NOW + 100)}, NOW) is None
    assert plan_fold(PHONE, {PHONE: Stint(10, NOW + 100), BSUID: Stint(3, NOW - 1)}, NOW) is None  # expired


def test_counted_under_two_ids_gives_one_slot_back_and_keeps_the_latest_stint():
    fold = plan_fold(PHONE, {PHONE: Stint(10, NOW + 100, "send-1"), BSUID: Stint(12, NOW + 300, "send-2")}, NOW)
    assert fold.slots == 1 and fold.given_back == {10: 1}
    assert fold.key_stint == Stint(12, NOW + 300, None)  # moved: a release of send-2 cannot un-count it
    assert fold.cleared == ((BSUID, 12),)
    assert fold.key_was == Stint(10, NOW + 100, "send-1")


def test_the_key_keeps_its_own_stint_when_it_is_the_latest():
    fold = plan_fold(PHONE, {PHONE: Stint(12, NOW + 300, "send-1"), BSUID: Stint(10, NOW + 100)}, NOW)
    assert fold.key_stint is None and fold.given_back == {10: 1} and fold.cleared == ((BSUID, 10),)


def test_a_person_counted_only_under_another_id_moves_to_the_key_without_a_slot():
    fold = plan_fold(PHONE, {BSUID: Stint(12, NOW + 300, "send-2")}, NOW)
    assert fold.slots == 0 and fold.key_was is None
    assert fold.key_stint == Stint(12, NOW + 300) and fold.cleared == ((BSUID, 12),)


def test_three_ids_counted_give_two_slots_back():
    stints = {PHONE: Stint(10, NOW + 100), BSUID: Stint(10, NOW + 100), PARENT: Stint(11, NOW + 200)}
    fold = plan_fold(PHONE, stints, NOW)
    assert fold.slots == 2 and fold.given_back == {10: 2}


def test_the_persons_window_is_the_latest_of_its_ids():
    assert latest_window({PHONE: NOW - 5, BSUID: NOW + 50}) == NOW + 50
    assert latest_window({}) == 0


def test_a_new_number_that_was_someone_elses_leaves_that_person():
    mine = person_of([PHONE, BSUID], T)
    before = person_of([NEW_PHONE, "US.4444"], T - 100)  # who had the number before
    found = {PHONE: IdLink(mine), BSUID: IdLink(mine), NEW_PHONE: IdLink(before), "US.4444": IdLink(before)}
    change = change_ids(found, [PHONE, BSUID], [NEW_PHONE, NEW_BSUID], T)
    assert change.person.ids == {NEW_PHONE, NEW_BSUID}
    assert change.detached == {"US.4444": None}  # alone now: linked to nothing


def test_a_new_id_already_shown_with_the_other_new_id_joins():
    mine = person_of([PHONE, BSUID], T)
    early = person_of([NEW_PHONE, NEW_BSUID], T + 5)  # a message after the change, delivered before it
    found = {PHONE: IdLink(mine), BSUID: IdLink(mine), NEW_PHONE: IdLink(early), NEW_BSUID: IdLink(early)}
    change = change_ids(found, [PHONE, BSUID], [NEW_PHONE, NEW_BSUID], T)
    assert change.person.ids == {NEW_PHONE, NEW_BSUID} and change.detached == {}
