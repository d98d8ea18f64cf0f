"""Faults at every DynamoDB call of the limit check never cause over-admission (DynamoDB Local).

A fault is injected at the N-th call of one operation with botocore's event hooks on the checker's
own client, in three shapes:
- refused: the call never reaches DynamoDB (connection error, throttling, internal error);
- reply lost: DynamoDB applied the call, the reply never came back (read timeout, 500);
- retried: DynamoDB applied the call and answered 500; botocore's retry sends it again.
Whatever the fault, Meta's count of unique recipients, recomputed from the answers alone, never
exceeds the limit; a check that met a fault answers DENIED_STORE_UNAVAILABLE (ALLOWED_... when
FAIL_MODE=open); and every slot a fault leaked is free again 24 h + W after it was taken.
"""

from __future__ import annotations

import json

import pytest
import urllib3
from botocore.awsrequest import AWSResponse
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from tests.dynamodb.conftest import (
    DAY,
    PHONE_NUMBER_ID,
    Ledger,
    counting,
    recipient,
    session,
    template,
)

pytestmark = pytest.mark.dynamodb

LIMIT = 6
BUCKET = 600
RECIPIENTS = [recipient(i) for i in range(8)]
IN_WINDOW = recipient(50)
FRESH = [recipient(100 + i) for i in range(LIMIT + 2)]

# Calls of each operation in one fault-free run of the workload below (test_baseline pins them),
# and the call indexes the faults hit: every kind of call, at its first and last use.
BASELINE = {"BatchGetItem": 21, "UpdateItem": 10, "TransactWriteItems": 8, "BatchWriteItem": 2}
ROLES = {
    "BatchGetItem": {1: "read, new", 5: "read, repeat", 9: "read, window reply", 11: "read, move",
                     13: "read, batch", 14: "read, move", 21: "read, limit reached"},
    "UpdateItem": {1: "reserve", 2: "record counted", 7: "reserve", 8: "record counted",
                   9: "batch move_buckets", 10: "batch reserve"},
    "TransactWriteItems": {1: "move", 3: "move", 8: "move"},
    "BatchWriteItem": {1: "batch records of moves", 2: "batch records of new recipients"},
}

def client_error(code: str, status: int, operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "injected by the test"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


REFUSED = [
    lambda op: EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
    lambda op: client_error("ProvisionedThroughputExceededException", 400, op),
    lambda op: client_error("InternalServerError", 500, op),
    lambda op: ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"),
]
REPLY_LOST = [
    lambda op: ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
    lambda op: client_error("InternalServerError", 500, op),
]


class _Body:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **_kwargs):
        yield self.data


class Fault:
    """Breaks the `nth` call (or send, for `retried`) of `operation` on one client, once."""

    def __init__(self, client, operation: str, nth: int, kind: str):
        self.client, self.operation, self.nth, self.kind = client, operation, nth, kind
        self.seen = 0
        self.fired = 0
        self.error = None
        if kind == "refused":
            self.error = REFUSED[nth % len(REFUSED)](operation)
            self.event = f"before-call.dynamodb.{operation}"
        elif kind == "reply_lost":
            self.error = REPLY_LOST[nth % len(REPLY_LOST)](operation)
            self.event = f"after-call.dynamodb.{operation}"
        elif kind == "retried":
            self.event = f"before-send.dynamodb.{operation}"
            self._http = urllib3.PoolManager()
        else:
            raise ValueError(kind)

    def __call__(self, request=None, **_kwargs):
        self.seen += 1
        if self.seen != self.nth:
            return None
        self.fired += 1
        if self.kind != "retried":
            raise self.error
        # Apply the call for real, then answer as if DynamoDB had failed: botocore will retry it.
        self._http.request(request.method, request.url, body=request.body, headers=dict(request.headers.items()))
        body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "injected"})
        return AWSResponse(
            request.url, 500, {"Content-Type": "application/x-amz-json-1.0"}, _Body(body.encode())
        )

    def __enter__(self) -> Fault:
        self.client.meta.events.register(self.event, self)
        return self

    def __exit__(self, *exc) -> None:
        self.client.meta.events.unregister(self.event, self)


class Run:
    """Sends through one checker, recording every answer (and whether a fault fired during it)."""

    def __init__(self, stack, checker, fault: Fault | None = None):
        self.stack, self.checker, self.fault = stack, checker, fault
        self.ledger = Ledger()

    def send(self, payload: dict) -> dict:
        before = self.fault.fired if self.fault else 0
        answer = self.checker.handle(payload)
        faulted = bool(self.fault) and self.fault.fired != before
        return self.ledger.add(int(self.stack.clock()), payload, answer, faulted)

    def workload(self) -> None:
        """New recipients, repeats, window replies, moves, a batch, then more moves and refusals."""
        stack, clock = self.stack, self.stack.clock
        for r in RECIPIENTS[:4]:  # b0: four new recipients
            self.send(template(r))
        for r in RECIPIENTS[:4]:  # repeats in the same bucket: a read each
            self.send(template(r))
        stack.open_window(PHONE_NUMBER_ID, IN_WINDOW, int(clock()) + 3600)
        self.send(session(IN_WINDOW))
        self.send(template(IN_WINDOW))
        clock.advance(BUCKET)  # b1: two repeats move
        for r in RECIPIENTS[:2]:
            self.send(template(r))
        clock.advance(BUCKET)  # b2: a batch moves four (from b0 and b1), admits two new, refuses two
        self.send({"phone_number_id": PHONE_NUMBER_ID, "recipients": RECIPIENTS, "message": "template"})
        clock.advance(BUCKET)  # b3: six repeats move, two are refused at the limit
        for r in RECIPIENTS:
            self.send(template(r))

    def heal(self) -> list[dict]:
        """Every bucket the workload used has folded: the whole limit is free again."""
        last_bucket = int(self.stack.clock()) // BUCKET
        self.stack.clock.now = (last_bucket + 1) * BUCKET + DAY  # end of the last bucket + 24 h
        return [self.send(template(r)) for r in FRESH]

    def refused_repeats(self) -> list[tuple[int, str, str]]:
        """Fault-free checks that refused a recipient the answers had admitted in the 24 h before."""
        out = []
        for e in self.ledger.entries:
            if e.faulted:
                continue
            for r, decision in e.per_recipient():
                earlier = [at for at, who in self.ledger.counted_sends() if who == r and at <= e.at < at + DAY]
                if earlier and not decision.startswith("ALLOWED_") and earlier[0] < e.at:
                    out.append((e.at, r, decision))
        return out


def assert_never_over_admits(run: Run, healed: list[dict]) -> None:
    assert run.ledger.max_meta_count() <= LIMIT, run.ledger.max_meta_count()
    # every leaked slot is back: exactly the limit is admitted after 24 h + W
    decisions = sorted(a["decision"] for a in healed)
    assert decisions == ["ALLOWED_NEW_RECIPIENT"] * LIMIT + ["DENIED_LIMIT_REACHED"] * (len(FRESH) - LIMIT), decisions


def test_baseline_calls_per_operation(ddb_stack):
    """The fault-free workload (pins BASELINE, so every call index below hits a real call)."""
    ddb_stack.register(tier=str(LIMIT))
    checker = ddb_stack.own_checker()
    run = Run(ddb_stack, checker)
    with counting(checker.store.client) as calls:
        run.workload()
    per_operation = {op: calls.calls.count(op) for op in sorted(set(calls.calls))}
    assert per_operation == BASELINE, per_operation
    assert not run.refused_repeats()
    assert_never_over_admits(run, run.heal())


def cases():
    for operation, roles in ROLES.items():
        kinds = ("refused", "reply_lost") if operation == "BatchGetItem" else ("refused", "reply_lost", "retried")
        for nth, role in roles.items():
            for kind in kinds:
                marks = KNOWN_BUGS.get((operation, nth, kind), ())
                yield pytest.param(operation, nth, kind, id=f"{operation}-{nth}-{role.replace(' ', '_')}-{kind}",
                                   marks=marks)


# Bugs these tests found in the layer (reported with fixes; strict: they fail the run once fixed).
RECORD_RETRIED = pytest.mark.xfail(strict=True, reason=(
    "over-admission: record_counted applied, answered 500 and retried by botocore meets its own record, "
    "reads that as 'another check counted it meanwhile' and gives the recipient's slot back"
))
MOVE_STUCK = pytest.mark.xfail(strict=True, reason=(
    "a batch's move_buckets applied without its record writes (reply lost, retried, or the records' "
    "BatchWriteItem failed) leaves records in buckets the counter no longer holds them in: every later "
    "single repeat of those recipients fails its move condition 24 times and answers DENIED_STORE_UNAVAILABLE "
    "until the old bucket folds (up to 24 h + W)"
))
KNOWN_BUGS: dict = {
    ("UpdateItem", 2, "retried"): RECORD_RETRIED,
    ("UpdateItem", 8, "retried"): RECORD_RETRIED,
    ("UpdateItem", 9, "reply_lost"): MOVE_STUCK,
    ("UpdateItem", 9, "retried"): MOVE_STUCK,
    ("BatchWriteItem", 1, "refused"): MOVE_STUCK,
}


@pytest.mark.parametrize(("operation", "nth", "kind"), list(cases()))
def test_fault_never_over_admits(ddb_stack, operation, nth, kind):
    # Given a number with a limit of 6 and a checker whose N-th call of one operation breaks
    ddb_stack.register(tier=str(LIMIT))
    checker = ddb_stack.own_checker()
    with Fault(checker.store.client, operation, nth, kind) as fault:
        run = Run(ddb_stack, checker, fault)
        # When the workload runs through it
        run.workload()
    assert fault.fired == 1

    # Then Meta never counted more than the limit (recomputed from the answers alone)
    assert run.ledger.max_meta_count() <= LIMIT, run.ledger.max_meta_count()
    # the check that met a refused or lost call failed closed, and no other check failed
    if kind == "retried":
        assert "DENIED_STORE_UNAVAILABLE" not in run.ledger.decisions()
    else:
        faulted = set(run.ledger.decisions(faulted=True))
        assert faulted == {"DENIED_STORE_UNAVAILABLE"}, faulted
    unavailable = [e.payload for e in run.ledger.entries if not e.faulted
                   and "STORE_UNAVAILABLE" in e.answer["decision"]]
    assert not unavailable, f"fault-free checks failed after the fault: {unavailable}"
    # every fault-free repeat of an admitted recipient was allowed
    assert not run.refused_repeats(), run.refused_repeats()
    # and every slot a fault leaked is free again 24 h + W later
    assert_never_over_admits(run, run.heal())


OPEN_CASES = [
    ("BatchGetItem", 1, "refused"),
    ("UpdateItem", 1, "refused"),
    ("UpdateItem", 2, "reply_lost"),
    ("TransactWriteItems", 1, "refused"),
    ("BatchWriteItem", 2, "refused"),
]


@pytest.mark.parametrize(("operation", "nth", "kind"), OPEN_CASES, ids=lambda v: str(v))
def test_fail_open_allows_the_faulted_check_and_counts_nothing_more(ddb_stack, operation, nth, kind):
    # Given FAIL_MODE=open (the sender prefers delivery over the guard when the store is down)
    opened = ddb_stack.with_env(FAIL_MODE="open")
    opened.register(tier=str(LIMIT))
    checker = opened.own_checker()
    with Fault(checker.store.client, operation, nth, kind) as fault:
        run = Run(opened, checker, fault)
        run.workload()
    assert fault.fired == 1
    # Then the faulted check is allowed as ALLOWED_STORE_UNAVAILABLE, and only that one
    assert set(run.ledger.decisions(faulted=True)) == {"ALLOWED_STORE_UNAVAILABLE"}
    assert not [d for d in run.ledger.decisions(faulted=False) if "STORE_UNAVAILABLE" in d]
    # and the counted admissions still stay within the limit (fail-open sends are the operator's choice)
    assert run.ledger.max_meta_count() <= LIMIT
    assert_never_over_admits(run, run.heal())


class Crash(Exception):
    """The Lambda dies here: no answer reaches the sender."""


def crash_once(method):
    state = {"crashed": False}

    def crashing(*args, **kwargs):
        if not state["crashed"]:
            state["crashed"] = True
            raise Crash("the function died after reserving, before writing the recipient record")
        return method(*args, **kwargs)

    return crashing


@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
def test_crash_between_reserve_and_record_leaks_slots_that_free_within_24h_and_w(ddb_stack, batch):
    limit = 4
    ddb_stack.register(tier=str(limit))
    checker = ddb_stack.own_checker()
    ledger = Ledger()

    def send(payload):
        return ledger.add(int(ddb_stack.clock()), payload, checker.handle(payload))

    # Given a crash after the slot was reserved, before the recipient record was written,
    # five minutes into a bucket
    ddb_stack.clock.advance(300)
    leaked_at = int(ddb_stack.clock())
    if batch:
        checker.store.record_counted_batch = crash_once(checker.store.record_counted_batch)
        with pytest.raises(Crash):
            checker.handle({"phone_number_id": PHONE_NUMBER_ID, "recipients": RECIPIENTS[:2], "message": "template"})
        leaked = 2
    else:
        checker.store.record_counted = crash_once(checker.store.record_counted)
        with pytest.raises(Crash):
            checker.handle(template(RECIPIENTS[0]))
        leaked = 1
    assert ddb_stack.counter()["used"] == leaked
    assert not ddb_stack.counted_recipients()

    # When new recipients follow (the crashed ones among them: the sender got no answer, nothing was sent)
    first = [send(template(r)) for r in RECIPIENTS]

    # Then the leaked slots count (too many, never too few): only limit - leaked are admitted
    admitted = [a for a in first if a["decision"] == "ALLOWED_NEW_RECIPIENT"]
    assert len(admitted) == limit - leaked
    assert ledger.max_meta_count() <= limit

    # and they free with their bucket, at most 24 h + W after the crash
    window = ddb_stack.settings.window
    frees_at = window.frees_at(window.bucket_of(leaked_at))
    assert frees_at <= leaked_at + DAY + window.bucket_seconds
    ddb_stack.clock.now = frees_at - 1
    assert send(template(FRESH[0]))["decision"] == "DENIED_LIMIT_REACHED"
    ddb_stack.clock.now = frees_at
    probe = checker.handle(template(FRESH[0], dry_run=True))
    assert (probe["used"], probe["remaining"]) == (0, limit), probe
    healed = [send(template(r)) for r in FRESH[: limit + 2]]
    assert [a["decision"] for a in healed] == ["ALLOWED_NEW_RECIPIENT"] * limit + ["DENIED_LIMIT_REACHED"] * 2
    assert ledger.max_meta_count() <= limit
