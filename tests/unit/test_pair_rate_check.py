"""The check and the pair rate (DESIGN §3 row 6), on the in-memory fakes: Meta's 131056 backoff for
every send to the person (any linked id), and with PairRateGuard on, the (number, person) bucket."""

from __future__ import annotations

from collections import Counter

import pytest
from numberguard.config import Settings
from numberguard.domain import events as ev
from numberguard.domain.number import NumberState, scope_key
from numberguard.domain.pairrate import CAPACITY, INTERVAL, PairState, after_strike
from numberguard.domain.people import link_space
from numberguard.domain.status import Quality
from numberguard.domain.tiers import Policy
from numberguard.usecases.limit_check import LimitChecker
from numberguard.usecases.pairrate import PairStrikes

from tests.unit.fakes import FakeLimitStore, FakePairStore

PNID, WABA, DISPLAY = "106540352242922", "102290129340398", "15550783881"
R, BSUID = "16505551234", "US.13491208655302741918"
START = 1_800_000_000


class World:
    def __init__(self, guard: bool, limit: int | None = 1000):
        self.now = START
        self.store = FakeLimitStore()
        self.pairs = FakePairStore(self.store)
        self.number = NumberState(PNID, WABA, DISPLAY, scope_key(Policy.PER_NUMBER, PNID, None), None,
                                  quality=Quality.GREEN)
        self.store.add(self.number, limit, "TIER_1K")
        self.checker = LimitChecker(self.store, Settings(pair_rate_guard=guard), clock=lambda: self.now,
                                    pairs=self.pairs)

    def ask(self, recipient: str = R, **extra) -> dict:
        payload = {"phone_number_id": PNID, "message": "template", **extra}
        if "recipients" not in extra:
            payload["recipient"] = recipient
        return self.checker.handle(payload)

    def refused(self, wamid: str, at: int, recipient: str = R) -> None:
        """Meta's failed status with 131056, through the intake's use case."""
        status = ev.MessageStatus(WABA, at, f"{wamid}#failed", PNID, recipient, wamid, "failed", None, (131056,))
        numbers = type("Numbers", (), {"get": lambda _self, pnid: self.number})()
        PairStrikes(self.pairs, None, numbers, lambda: self.now).apply([status], Counter())


def test_with_the_guard_45_go_at_once_then_one_per_6_seconds():
    world = World(guard=True)
    answers = [world.ask() for _ in range(60)]
    assert [a["allowed"] for a in answers] == [True] * CAPACITY + [False] * 15
    assert {a["decision"] for a in answers[CAPACITY:]} == {"DENIED_PAIR_RATE"}
    assert {a["retry_after_seconds"] for a in answers[CAPACITY:]} == {INTERVAL}
    world.now += INTERVAL
    assert world.ask()["allowed"] and not world.ask()["allowed"]
    assert world.ask(recipient="16505550000")["allowed"]  # another person is another pair


def test_without_the_guard_the_burst_is_not_limited():
    world = World(guard=False)
    assert all(world.ask()["allowed"] for _ in range(100))
    assert world.store.pairs == {}  # nothing written for the pair


def test_metas_backoff_denies_with_or_without_the_guard_and_grows_with_repeats():
    for guard in (False, True):
        world = World(guard)
        world.refused("wamid.A", START)
        first = world.ask()
        assert (first["decision"], first["retry_after_seconds"]) == ("DENIED_PAIR_RATE", 1 if not guard else INTERVAL)
        assert "131056" in first["error"]
        world.refused("wamid.B", START + 1)
        world.refused("wamid.B", START + 1)  # a duplicate
        # 4^1 s from the repeat; with the guard, the bucket Meta emptied at START + 1 refills its first token later
        assert world.ask()["retry_after_seconds"] == (1 + INTERVAL if guard else 1 + 4)
        world.now = START + 5
        assert world.ask()["allowed"] is (not guard)


def test_row_6_comes_before_the_service_window_and_after_the_template_rows():
    world = World(guard=False)
    world.store.windows[(PNID, R)] = START + 3600
    world.refused("wamid.A", START)
    answer = world.ask(message="session")
    assert answer["decision"] == "DENIED_PAIR_RATE"


def test_a_dry_run_spends_no_token_and_a_denied_check_spends_none():
    world = World(guard=True, limit=1)
    for _ in range(50):
        assert world.ask(dry_run=True)["allowed"]
    assert world.store.pairs == {}
    assert world.ask()["decision"] == "ALLOWED_NEW_RECIPIENT"
    assert world.ask(recipient="16505550000")["decision"] == "DENIED_LIMIT_REACHED"
    assert (PNID, "16505550000") not in world.store.pairs  # the limit denied it: no token spent
    assert world.store.pairs[(PNID, R)].tokens(START) == CAPACITY - 1


def test_a_batch_spends_one_token_per_allowed_person():
    world = World(guard=True)
    people = [f"165055500{i:02d}" for i in range(10)]
    answer = world.ask(recipients=[*people, people[0]])  # one person twice counts once
    assert answer["allowed_count"] == 11
    assert {k: p.tokens(START) for (_, k), p in world.store.pairs.items()} == dict.fromkeys(people, CAPACITY - 1)
    for _ in range(CAPACITY - 2):
        world.ask(recipient=people[0])
    answer = world.ask(recipients=people)
    decisions = [r["decision"] for r in answer["results"]]
    assert decisions == ["ALLOWED_ALREADY_COUNTED"] * 10
    answer = world.ask(recipients=people)
    assert answer["results"][0]["decision"] == "DENIED_PAIR_RATE"
    assert [r["decision"] for r in answer["results"][1:]] == ["ALLOWED_ALREADY_COUNTED"] * 9


@pytest.mark.parametrize("asked", [R, BSUID])
def test_any_linked_id_of_the_person_finds_the_backoff(asked):
    world = World(guard=False)
    space = link_space(None, WABA)
    world.store.link(space, R, BSUID)
    # Meta refused a send named by the BSUID only: the pair is the person's (key: its phone number)
    people = type("People", (), {"links": lambda _self, sp, ids: {i: world.store.links[(sp, i)] for i in ids
                                                                   if (sp, i) in world.store.links}})()
    numbers = type("Numbers", (), {"get": lambda _self, pnid: world.number})()
    status = ev.MessageStatus(WABA, START, "wamid.A#failed", PNID, BSUID, "wamid.A", "failed", None, (131056,),
                              BSUID)
    PairStrikes(world.pairs, people, numbers, lambda: world.now).apply([status], Counter())
    assert (PNID, R) in world.store.pairs
    assert world.ask(recipient=asked)["decision"] == "DENIED_PAIR_RATE"


def test_a_refusal_under_an_older_key_still_counts_for_the_person():
    world = World(guard=False)
    world.store.pairs[(PNID, BSUID)] = after_strike(PairState(), "wamid.A", START) or PairState()
    world.store.link(link_space(None, WABA), R, BSUID)  # linked later: the key is now the phone number
    assert world.ask(recipient=R)["decision"] == "DENIED_PAIR_RATE"
