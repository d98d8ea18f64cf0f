"""Races between two checks, made deterministic with botocore event hooks (on DynamoDB Local).

Each test lets check A run up to one DynamoDB call, runs check B to its end from inside that
call's `before-call` hook (B has a client of its own, like another Lambda instance), then lets A
go on. Meta's count of unique recipients is recomputed from the answers alone (conftest.Ledger).
"""

from __future__ import annotations

import pytest

from tests.dynamodb.conftest import DAY, PHONE_NUMBER_ID, Ledger, hooked, recipient, template
from tests.dynamodb.test_faults import READS, Fault

pytestmark = pytest.mark.dynamodb

BUCKET = 600
R = recipient(1)


class Interleave:
    """Runs `other` once, just before the `nth` write call (any operation) of a checker's store."""

    def __init__(self, store, nth: int, other):
        self.store, self.event, self.nth, self.other = store, "before-call.dynamodb", nth, other
        self.seen = 0
        self.ran = False

    def __call__(self, event_name: str = "", **_kwargs):
        if event_name.rsplit(".", 1)[-1] in READS:
            return
        self.seen += 1
        if self.seen == self.nth:
            self.ran = True
            self.other()

    def __enter__(self) -> Interleave:
        self._hook = hooked(self.store, self.event, self)
        self._hook.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hook.__exit__(*exc)


def batch(recipients: list[str]) -> dict:
    return {"phone_number_id": PHONE_NUMBER_ID, "recipients": recipients, "message": "template"}


class Senders:
    def __init__(self, stack):
        self.stack = stack
        self.ledger = Ledger()

    def send(self, checker, payload: dict) -> dict:
        return self.ledger.add(int(checker.clock()), payload, checker.handle(payload))

    def fill(self, checker, count: int, start: int = 1000) -> list[str]:
        """Sends to `count` new recipients; returns the decisions."""
        return [self.send(checker, template(recipient(start + i)))["decision"] for i in range(count)]


@pytest.mark.parametrize("fault", [
    None, "refused", "reply_lost", "retried",
])
def test_two_checks_of_one_new_recipient_take_one_slot(ddb_stack, fault):
    limit = 4
    ddb_stack.register(tier=str(limit))
    a, b = ddb_stack.own_checker(), ddb_stack.own_checker()
    senders = Senders(ddb_stack)
    # Given check A read R as new; B counts R between A's read and A's reserve
    with Interleave(a.store, 1, lambda: senders.send(b, template(R))) as race:
        if fault is None:
            answer = senders.send(a, template(R))
        else:  # A's third write gives its spare slot back: break it
            with Fault(a.store, 3, fault, writes_only=True) as broken:
                answer = senders.send(a, template(R))
            assert broken.fired == 1
    assert race.ran
    # Then A finds R counted and gives its spare slot back (or leaks it when that fails: never fewer)
    if fault in (None, "retried"):
        assert answer["decision"] == "ALLOWED_ALREADY_COUNTED", answer
    else:
        assert answer["decision"] == "DENIED_STORE_UNAVAILABLE", answer
    assert ddb_stack.counted_recipients() == {R}
    # and the counter never counts fewer recipients than the records: no over-admission follows
    assert ddb_stack.counter()["used"] >= len(ddb_stack.counted_recipients())
    senders.fill(a, limit + 1)
    assert senders.ledger.max_meta_count() <= limit


def test_a_batch_and_a_single_counting_one_recipient_count_it_at_least_once(ddb_stack):
    limit = 4
    ddb_stack.register(tier=str(limit))
    a, b = ddb_stack.own_checker(), ddb_stack.own_checker()
    senders = Senders(ddb_stack)
    # Given a batch read R as new; a single check counts R before the batch reserves
    with Interleave(a.store, 1, lambda: senders.send(b, template(R))) as race:
        answer = senders.send(a, batch([R, recipient(2)]))
    assert race.ran
    # Then both are allowed, R may be counted twice (too many, never too few)
    assert [r["decision"] for r in answer["results"]] == ["ALLOWED_NEW_RECIPIENT"] * 2
    assert ddb_stack.counted_recipients() == {R, recipient(2)}
    assert ddb_stack.counter()["used"] >= 2
    senders.fill(a, limit + 1)
    assert senders.ledger.max_meta_count() <= limit


def test_a_batch_of_repeats_racing_a_single_repeat_keeps_every_repeat_counted(ddb_stack):
    limit = 10
    ddb_stack.register(tier=str(limit))
    a, b = ddb_stack.own_checker(), ddb_stack.own_checker()
    senders = Senders(ddb_stack)
    repeats = [recipient(1), recipient(2), recipient(3)]
    # Given three recipients counted in bucket b0
    assert senders.send(a, batch(repeats))["allowed_count"] == 3
    # When, 15 minutes later, a batch repeats them while a single check moves one of them first
    ddb_stack.clock.advance(BUCKET + BUCKET // 2)
    with Interleave(a.store, 1, lambda: senders.send(b, template(repeats[0]))) as race:
        answer = senders.send(a, batch(repeats))
    assert race.ran
    assert answer["decision"] == "ALLOWED_ALREADY_COUNTED", answer
    # and the limit is filled at the same time
    assert senders.fill(a, limit - 3) == ["ALLOWED_NEW_RECIPIENT"] * (limit - 3)
    # Then, when bucket b0 frees (24 h after its end, before 24 h after the repeats), nobody new is
    # admitted: Meta still counts the repeats
    window = ddb_stack.settings.window
    ddb_stack.clock.now = window.frees_at(window.bucket_of(int(ddb_stack.clock())) - 1)
    senders.fill(a, 2, start=2000)
    assert senders.ledger.max_meta_count() <= limit


def test_a_check_with_an_earlier_clock_never_moves_a_recipient_back(ddb_stack):
    limit = 1
    ddb_stack.register(tier=str(limit))
    clock = ddb_stack.clock
    boundary = (int(clock()) // BUCKET + 1) * BUCKET
    clock.now = boundary + 1  # A: one second into bucket b1
    a = ddb_stack.own_checker()
    b = ddb_stack.own_checker(clock=lambda: clock() - 2)  # B: two seconds behind (still in b0)
    senders = Senders(ddb_stack)
    # Given A counted R just after a bucket boundary
    assert senders.send(a, template(R))["decision"] == "ALLOWED_NEW_RECIPIENT"
    # When B, whose clock still reads the bucket before, repeats R
    assert senders.send(b, template(R))["allowed"]
    # Then R stays counted until 24 h after A's send: a new recipient waits that long
    clock.now = boundary + DAY
    senders.fill(a, 1)
    assert senders.ledger.max_meta_count() <= limit


@pytest.mark.parametrize("repeat", ["single", "batch"])
def test_a_release_after_a_repeat_in_the_same_bucket_keeps_the_recipient_counted(ddb_stack, repeat):
    limit = 1
    ddb_stack.register(tier=str(limit))
    checker = ddb_stack.own_checker()
    senders = Senders(ddb_stack)
    # Given send-1 took R's slot, and send-2 to R, five minutes later in the same bucket, was allowed
    assert senders.send(checker, template(R, reference="send-1"))["decision"] == "ALLOWED_NEW_RECIPIENT"
    ddb_stack.clock.advance(300)
    body = template(R, reference="send-2") if repeat == "single" else {**batch([R]), "reference": "send-2"}
    assert senders.send(checker, body)["allowed"]
    # When send-1 fails before Meta and its slot is released
    release = {"action": "release", "phone_number_id": PHONE_NUMBER_ID, "recipient": R, "reference": "send-1"}
    answer = checker.handle(release)
    # Then nothing is released: send-2 reached R, so Meta counts R, and nobody new is admitted
    assert answer["decision"] == "NOTHING_TO_RELEASE", answer
    assert ddb_stack.counted_recipients() == {R}
    senders.fill(checker, 2)
    assert senders.ledger.max_meta_count() <= limit


def test_a_release_of_the_latest_send_still_frees_its_slot(ddb_stack):
    ddb_stack.register(tier="1")
    checker = ddb_stack.own_checker()
    # Given R was sent to twice under the same reference (a retried send), then that send failed
    for _ in range(2):
        assert checker.handle(template(R, reference="send-1"))["allowed"]
    release = {"action": "release", "phone_number_id": PHONE_NUMBER_ID, "recipient": R, "reference": "send-1"}
    # Then its slot comes back and another recipient may take it
    assert checker.handle(release)["decision"] == "RELEASED"
    assert checker.handle(template(recipient(2)))["decision"] == "ALLOWED_NEW_RECIPIENT"
