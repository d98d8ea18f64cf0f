"""Never over-admit under concurrency: 16 senders racing on one scope's counter, on DynamoDB Local.

Given a number with a limit L and a recipient population larger than L, when 16 threads send to
it at once (every recipient asked for by two threads, so checks of one recipient race too), then
exactly L unique recipients are admitted, every later send to an admitted recipient is allowed,
and replies inside a service window are allowed without being counted.
"""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass

import pytest

from tests.dynamodb.conftest import PHONE_NUMBER_ID, recipient, session, template

pytestmark = pytest.mark.dynamodb

THREADS = 16
BUCKET = 600
COUNTED = {"ALLOWED_NEW_RECIPIENT", "ALLOWED_ALREADY_COUNTED"}


@dataclass
class Sent:
    recipient: str
    message: str
    started: int  # position in one global sequence of starts and ends: orders checks across threads
    ended: int
    answer: dict

    @property
    def decision(self) -> str:
        return self.answer["decision"]


class Senders:
    """16 threads; threads 0-7 share one checker (one botocore client), 8-15 each own one."""

    def __init__(self, stack):
        shared = stack.checker()
        self.checkers = [shared] * (THREADS // 2) + [stack.own_checker() for _ in range(THREADS - THREADS // 2)]
        self._sequence = itertools.count()
        self._lock = threading.Lock()
        self.sent: list[Sent] = []

    def run(self, payloads: list[dict], copies: int = 2, seed: int = 0) -> list[Sent]:
        """Send every payload `copies` times, spread over the threads in a random order; wait for all."""
        rng = random.Random(seed)
        work = [p for p in payloads for _ in range(copies)]
        rng.shuffle(work)
        lanes = [work[i::THREADS] for i in range(THREADS)]
        start = threading.Barrier(THREADS)
        errors: list[BaseException] = []
        done: list[Sent] = []

        def lane(checker, items):
            try:
                start.wait()
                for payload in items:
                    begun = next(self._sequence)
                    answer = checker.handle(payload)
                    sent = Sent(payload["recipient"], payload["message"], begun, next(self._sequence), answer)
                    with self._lock:
                        done.append(sent)
            except BaseException as err:  # surfaced below: a thread must never die silently
                errors.append(err)

        pairs = zip(self.checkers, lanes, strict=True)
        threads = [threading.Thread(target=lane, args=(checker, items)) for checker, items in pairs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert len(done) == len(work)
        self.sent.extend(done)
        return done


def admitted(sent: list[Sent]) -> set[str]:
    """Unique recipients the answers admitted as counted sends (recomputed from the answers alone)."""
    return {s.recipient for s in sent if s.decision in COUNTED}


def assert_repeats_allowed(sent: list[Sent]) -> int:
    """Every check that started after an answer admitted its recipient was allowed; returns how many."""
    first_admitted_end: dict[str, int] = {}
    for s in sent:
        if s.decision in COUNTED:
            first_admitted_end[s.recipient] = min(s.ended, first_admitted_end.get(s.recipient, s.ended))
    repeats = [s for s in sent if s.recipient in first_admitted_end and s.started > first_admitted_end[s.recipient]]
    refused = [(s.recipient, s.answer) for s in repeats if s.decision not in COUNTED]
    assert not refused, f"repeats of admitted recipients were refused: {refused[:3]}"
    return len(repeats)


@pytest.mark.parametrize(("tier", "limit"), [("1", 1), ("10", 10), ("TIER_250", 250), ("TIER_1K", 1000)])
def test_sixteen_senders_admit_exactly_the_limit(ddb_stack, tier, limit):
    # Given a number whose limit is L, already holding L//2 recipients counted 10 minutes ago
    ddb_stack.register(tier=tier)
    senders = Senders(ddb_stack)
    early = [recipient(i) for i in range(limit // 2)]
    first = senders.run([template(r) for r in early], seed=1)
    assert admitted(first) == set(early)
    assert {s.decision for s in first} <= COUNTED
    ddb_stack.clock.advance(BUCKET)

    # and recipients inside a service window (who never count, even with template messages)
    now = int(ddb_stack.clock())
    in_window = [recipient(900_000 + i) for i in range(max(10, limit // 20))]
    for r in in_window:
        ddb_stack.open_window(PHONE_NUMBER_ID, r, now + 3600)

    # When 16 threads send at once: repeats of the early recipients (moved to the current bucket),
    # new recipients (more than the limit leaves room for) and service-window replies
    # (the race for the last slots is what matters: over twice as many new recipients as free slots)
    fresh = [recipient(100_000 + i) for i in range(limit + max(limit // 10, 10))]
    payloads = [template(r) for r in early + fresh]
    payloads += [session(r) for r in in_window] + [template(r) for r in in_window]
    race = senders.run(payloads, seed=2)

    # Then exactly L unique recipients are admitted, each of them once as a new recipient
    counted = admitted(race)
    assert len(counted) == limit, (len(counted), limit)
    new_answers = [s.recipient for s in race if s.decision == "ALLOWED_NEW_RECIPIENT"]
    assert sorted(new_answers) == sorted(set(new_answers)), "a recipient was admitted as new twice"
    assert set(early) <= counted
    # the only refusals are the limit's (no contention or store error leaks through)
    decisions = {s.decision for s in race}
    assert decisions <= COUNTED | {"DENIED_LIMIT_REACHED", "ALLOWED_SERVICE_WINDOW"}, decisions
    # service-window replies are allowed and never counted
    for s in race:
        if s.recipient in in_window:
            assert s.decision == "ALLOWED_SERVICE_WINDOW", s.answer
    assert not set(in_window) & ddb_stack.counted_recipients()
    # the store agrees with the answers: L live records, the counter at L, no slot leaked
    assert ddb_stack.counted_recipients() == counted
    stored = ddb_stack.counter()
    assert stored["used"] == limit == sum(stored["buckets"].values())
    repeats_during_race = assert_repeats_allowed(race)

    # And every later send to an admitted recipient is allowed, in this bucket and the next one,
    # while everyone else stays refused and the counter does not move
    later = [template(r) for r in sorted(counted)] + [template(r) for r in fresh if r not in counted][:50]
    # (once each: repeats racing one another were the race's, above)
    same_bucket = senders.run(later, copies=1, seed=3)
    ddb_stack.clock.advance(BUCKET)
    next_bucket = senders.run(later, copies=1, seed=4)
    for s in same_bucket + next_bucket:
        expected = {"ALLOWED_ALREADY_COUNTED"} if s.recipient in counted else {"DENIED_LIMIT_REACHED"}
        assert s.decision in expected, s.answer
    assert admitted(senders.sent) == counted
    assert_repeats_allowed(senders.sent)
    stored = ddb_stack.counter()
    assert stored["used"] == limit == sum(stored["buckets"].values())
    # the records moved with the repeats: all L now count from the latest bucket
    current = int(ddb_stack.clock()) // BUCKET
    assert stored["buckets"].get(current) == limit, stored
    print(f"\nlimit {limit}: {len(senders.sent)} checks, {repeats_during_race} repeats raced the admissions")
