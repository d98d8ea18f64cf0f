"""Recipients are people, on DynamoDB Local: the same people checked through different linked ids at
once never over-admit, and a person counted under two ids before Meta linked them gives exactly one
slot back, whether the link arrives once, twice, out of order or while checks of that person run.
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter

import pytest

from tests.dynamodb.conftest import PHONE_NUMBER_ID, recipient, template

pytestmark = pytest.mark.dynamodb

THREADS = 16
PEOPLE = 300
# Each thread checks this many of the 300 people (a random sample, so threads overlap and race for the
# last slots); PEOPLE_SWEEP=full makes every thread check every person (16 x 300 checks, about a minute).
PER_THREAD = PEOPLE if os.environ.get("PEOPLE_SWEEP") == "full" else 25
LIMIT = 100
BUCKET = 600
WABA = "102290129340398"
SCOPE = f"number#{PHONE_NUMBER_ID}"
COUNTED = {"ALLOWED_NEW_RECIPIENT", "ALLOWED_ALREADY_COUNTED"}


def bsuid(i: int) -> str:
    return f"US.{9_000_000_000 + i}"


def parts_of(stack):
    from numberguard.wiring import build

    from numberguard_ops.fakes import FakePublisher

    return build(stack.settings, clock=stack.clock, publisher=FakePublisher())


def people_of(stack):
    from numberguard.usecases.people import People

    parts = parts_of(stack)
    return People(parts.people_store, parts.stores.numbers, parts.stores.windows, stack.clock)


def linked(stack, i: int, at: int, counts: Counter | None = None) -> Counter:
    from numberguard.usecases.people import Shown

    counts = Counter() if counts is None else counts
    people_of(stack).link([Shown(PHONE_NUMBER_ID, WABA, (recipient(i), bsuid(i)), at)], counts)
    return counts


def run_threads(work: list) -> None:
    start = threading.Barrier(len(work))
    errors: list[BaseException] = []

    def lane(fn):
        try:
            start.wait()
            fn()
        except BaseException as err:  # surfaced below: a thread must never die silently
            errors.append(err)

    threads = [threading.Thread(target=lane, args=(fn,)) for fn in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def live_records(stack, ids: list[str]) -> list[str]:
    return sorted(stack.counted_recipients() & set(ids))


def test_sixteen_threads_checking_300_people_by_either_linked_id_admit_exactly_the_limit(ddb_stack):
    # Given 300 people, each linked by Meta under a phone number and a BSUID, and a limit of 100
    ddb_stack.register(tier=str(LIMIT))
    seed_links(ddb_stack, PEOPLE)
    checkers = [ddb_stack.checker()] * 8 + [ddb_stack.own_checker() for _ in range(THREADS - 8)]
    answers: list[tuple[int, str, dict]] = []
    lock = threading.Lock()

    def sender(n: int):
        rng = random.Random(n)
        order = rng.sample(range(PEOPLE), PER_THREAD)

        def run():
            for i in order:
                asked = rng.choice((recipient(i), bsuid(i)))
                answer = checkers[n].handle(template(asked))
                with lock:
                    answers.append((i, asked, answer))
        return run

    # When 16 threads check the people (each through a random one of their two ids) at once
    run_threads([sender(n) for n in range(THREADS)])

    # Then exactly 100 people are admitted (0 over), each counted once, under its phone number
    admitted = {i for i, _, answer in answers if answer["decision"] in COUNTED}
    assert len(admitted) == LIMIT, len(admitted)
    decisions = {answer["decision"] for _, _, answer in answers}
    assert decisions <= COUNTED | {"DENIED_LIMIT_REACHED"}, decisions
    new = Counter(i for i, _, answer in answers if answer["decision"] == "ALLOWED_NEW_RECIPIENT")
    assert max(new.values()) == 1, "a person was admitted as new twice"
    assert ddb_stack.counter()["used"] == LIMIT
    assert ddb_stack.counted_recipients() == {recipient(i) for i in admitted}


def seed_links(stack, count: int) -> None:
    """Link items as the intake writes them (store/people.py), put in bulk: the check is under test here."""
    from numberguard.domain.people import link_space
    from numberguard.store import keys

    space, at = link_space(None, WABA), int(stack.clock())
    items = []
    for i in range(count):
        ids = sorted((recipient(i), bsuid(i)))
        items += [{"PutRequest": {"Item": {**keys.link_key(space, one), "person": {"S": recipient(i)},
                                           "ids": {"SS": ids}, "at": {"N": str(at)}, "rev": {"N": "1"}}}}
                  for one in ids]
    for start in range(0, len(items), 25):
        pending = {stack.settings.recipients_table: items[start:start + 25]}
        while pending:
            pending = stack.client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    assert stack.checker().handle(template(bsuid(0), dry_run=True))["decision"] == "ALLOWED_NEW_RECIPIENT"


def counted_twice(stack) -> None:
    """A person checked by phone and by BSUID before Meta linked them: counted twice (Meta's count is unknown)."""
    checker = stack.checker()
    assert checker.handle(template(recipient(1)))["decision"] == "ALLOWED_NEW_RECIPIENT"
    assert checker.handle(template(bsuid(1)))["decision"] == "ALLOWED_NEW_RECIPIENT"
    assert stack.counter()["used"] == 2


def evaluator_run(stack) -> dict:
    return parts_of(stack).evaluator.run()


@pytest.mark.parametrize("deliveries", [[10], [10, 10], [10, 5], [5, 10, 10]], ids=["once", "twice", "older-after",
                                                                                     "out-of-order"])
def test_counted_under_two_ids_before_the_link_gives_exactly_one_slot_back(ddb_stack, deliveries):
    ddb_stack.register(tier="10")
    counted_twice(ddb_stack)
    at = int(ddb_stack.clock())
    given = sum(linked(ddb_stack, 1, at - d)["slots_given_back"] for d in deliveries)
    assert given == 1 and ddb_stack.counter()["used"] == 1
    assert live_records(ddb_stack, [recipient(1), bsuid(1)]) == [recipient(1)]
    assert evaluator_run(ddb_stack)["counts"].get("slots_given_back", 0) == 0  # nothing left to fold
    checker = ddb_stack.checker()
    for asked in (recipient(1), bsuid(1)):
        answer = checker.handle(template(asked))
        assert (answer["decision"], answer["used"]) == ("ALLOWED_ALREADY_COUNTED", 1)


@pytest.mark.parametrize("newer_bucket", [False, True], ids=["same-bucket", "newer-bucket"])
def test_the_link_applied_while_the_person_is_checked_gives_exactly_one_slot_back(ddb_stack, newer_bucket):
    # Given a person counted under both ids (and, in a newer bucket, checks that move their records)
    ddb_stack.register(tier="10")
    counted_twice(ddb_stack)
    if newer_bucket:
        ddb_stack.clock.advance(BUCKET)
    at = int(ddb_stack.clock())
    checkers = [ddb_stack.own_checker() for _ in range(6)]
    answers: list[dict] = []

    def checks(n: int):
        def run():
            rng = random.Random(n)
            for _ in range(15):
                answers.append(checkers[n].handle(template(rng.choice((recipient(1), bsuid(1))))))
        return run

    # When two deliveries of the link land while six senders check the person by either id
    run_threads([checks(n) for n in range(6)] + [lambda: linked(ddb_stack, 1, at), lambda: linked(ddb_stack, 1, at)])
    evaluator_run(ddb_stack)  # at the latest by the next evaluator run

    # Then every check was allowed as already counted, and the person counts once
    assert {a["decision"] for a in answers} == {"ALLOWED_ALREADY_COUNTED"}
    assert ddb_stack.counter()["used"] == 1
    assert live_records(ddb_stack, [recipient(1), bsuid(1)]) == [recipient(1)]


def test_a_linked_person_costs_at_most_one_call_more_and_an_unlinked_bsuid_none(ddb_stack):
    from tests.dynamodb.conftest import counting, session

    ddb_stack.register(tier="1000")
    seed_links(ddb_stack, 3)
    checker = ddb_stack.checker()

    def calls(payload: dict) -> tuple[str, int]:
        with counting(checker.store) as counted:
            answer = checker.handle(payload)
        return answer["decision"], len(counted.calls)

    # A number's first check in a process also learns where its links live (one call more, once)
    assert calls(template(recipient(999), dry_run=True)) == ("ALLOWED_NEW_RECIPIENT", 2)
    # Then an unlinked BSUID costs what a phone number costs (3 new / 1 repeat / 2 older bucket / 1 window reply)
    lone = "US.123456789"
    assert calls(template(lone)) == ("ALLOWED_NEW_RECIPIENT", 3)
    assert calls(template(lone)) == ("ALLOWED_ALREADY_COUNTED", 1)
    # A linked person, by either id: one call more (its other id's records)
    assert calls(template(bsuid(1))) == ("ALLOWED_NEW_RECIPIENT", 4)
    for asked in (bsuid(1), recipient(1)):
        assert calls(template(asked)) == ("ALLOWED_ALREADY_COUNTED", 2)
    now = int(ddb_stack.clock())
    ddb_stack.open_window(PHONE_NUMBER_ID, bsuid(2), now + 3600)
    ddb_stack.open_window(PHONE_NUMBER_ID, "US.555", now + 3600)
    assert calls(session("US.555")) == ("ALLOWED_SERVICE_WINDOW", 1)
    assert calls(session(recipient(2))) == ("ALLOWED_SERVICE_WINDOW", 2)
    ddb_stack.clock.advance(BUCKET)
    assert calls(template(lone)) == ("ALLOWED_ALREADY_COUNTED", 2)
    assert calls(template(bsuid(1))) == ("ALLOWED_ALREADY_COUNTED", 3)
