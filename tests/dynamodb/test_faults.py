"""Faults at every DynamoDB call of the limit check never cause over-admission (DynamoDB Local).

A workload (new recipients past the limit, repeats, service-window replies, moves to newer buckets,
a batch) runs once fault-free to learn its sequence of DynamoDB calls; then once per call, on a
number of its own, with that one call broken through botocore's event hooks on the checker's
clients, in three shapes:
- refused: the call never reaches DynamoDB (connection error, throttling, internal error);
- reply lost: DynamoDB applied the call, the reply never came back (read timeout, 500);
- retried: DynamoDB applied the call and answered 500; botocore's own retry sends it again.
Whatever the fault, Meta's count of unique recipients, recomputed from the answers alone, never
exceeds the limit; the check that met a refused or lost call answers DENIED_STORE_UNAVAILABLE
(ALLOWED_STORE_UNAVAILABLE with FAIL_MODE=open) and no other check fails; repeats of admitted
recipients stay allowed; and every slot a fault leaked is free again 24 h + W after it was taken.
"""

from __future__ import annotations

import itertools
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import urllib3
from botocore.awsrequest import AWSResponse
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from tests.conftest import FakeClock
from tests.dynamodb.conftest import (
    COUNTED_DECISIONS,
    DAY,
    PHONE_NUMBER_ID,
    DynamoStack,
    Ledger,
    counting,
    hooked,
    recipient,
    template,
)

pytestmark = pytest.mark.dynamodb

LIMIT = 6
BUCKET = 600
RECIPIENTS = [recipient(i) for i in range(8)]
IN_WINDOW = recipient(50)
FRESH = [recipient(100 + i) for i in range(LIMIT + 2)]
READS = frozenset({"BatchGetItem", "GetItem", "Query", "Scan"})
PARALLEL = 4  # scenarios run side by side, each on its own number, clock and clients
_numbers = itertools.count(300_000_000_000_001)  # a number of its own for every scenario of the session


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
EVENTS = {"refused": "before-call.dynamodb", "reply_lost": "after-call.dynamodb", "retried": "before-send.dynamodb"}


class _Body:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **_kwargs):
        yield self.data


class Fault:
    """Breaks the `nth` DynamoDB call (any operation; `writes_only`: the nth write) of a store, once."""

    _http = urllib3.PoolManager(maxsize=PARALLEL * 2)

    def __init__(self, store, nth: int, kind: str, *, writes_only: bool = False):
        self.store, self.nth, self.kind, self.writes_only = store, nth, kind, writes_only
        self.event = EVENTS[kind]
        self.seen = 0
        self.fired = 0
        self.hit: str | None = None  # the operation broken

    def __call__(self, event_name: str = "", request=None, **_kwargs):
        operation = event_name.rsplit(".", 1)[-1]
        if self.writes_only and operation in READS:
            return None
        self.seen += 1
        if self.seen != self.nth:
            return None
        self.fired += 1
        self.hit = operation
        if self.kind == "refused":
            raise REFUSED[self.nth % len(REFUSED)](operation)
        if self.kind == "reply_lost":
            raise REPLY_LOST[self.nth % len(REPLY_LOST)](operation)
        # retried: apply the call for real, then answer as if DynamoDB had failed; botocore retries it.
        self._http.request(request.method, request.url, body=request.body, headers=dict(request.headers.items()))
        body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "injected"})
        return AWSResponse(request.url, 500, {"Content-Type": "application/x-amz-json-1.0"}, _Body(body.encode()))

    def __enter__(self) -> Fault:
        self._hook = hooked(self.store, self.event, self)
        self._hook.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hook.__exit__(*exc)


def payload(phone_number_id: str, recipient_or_list, message: str = "template", **extra) -> dict:
    key = "recipients" if isinstance(recipient_or_list, list) else "recipient"
    return {"phone_number_id": phone_number_id, key: recipient_or_list, "message": message, **extra}


class Run:
    """Sends through one checker for one number, recording every answer and whether a fault met it."""

    def __init__(self, stack: DynamoStack, checker, phone_number_id: str = PHONE_NUMBER_ID, fault: Fault | None = None):
        self.stack, self.checker, self.pnid, self.fault = stack, checker, phone_number_id, fault
        self.ledger = Ledger()

    def send(self, body: dict) -> dict:
        before = self.fault.fired if self.fault else 0
        answer = self.checker.handle(body)
        faulted = bool(self.fault) and self.fault.fired != before
        return self.ledger.add(int(self.stack.clock()), body, answer, faulted)

    def workload(self) -> None:
        """New recipients, repeats, window replies, moves, a batch, then more moves and refusals."""
        stack, clock, pnid = self.stack, self.stack.clock, self.pnid
        for r in RECIPIENTS[:4]:  # b0: four new recipients
            self.send(payload(pnid, r))
        for r in RECIPIENTS[:4]:  # repeats in the same bucket
            self.send(payload(pnid, r))
        stack.open_window(pnid, IN_WINDOW, int(clock()) + 3600)
        self.send(payload(pnid, IN_WINDOW, "session"))
        self.send(payload(pnid, IN_WINDOW))
        clock.advance(BUCKET)  # b1: two repeats move
        for r in RECIPIENTS[:2]:
            self.send(payload(pnid, r))
        clock.advance(BUCKET)  # b2: a batch moves four (from b0 and b1), admits two new, refuses two
        self.send(payload(pnid, RECIPIENTS))
        clock.advance(BUCKET)  # b3: six repeats move, two are refused at the limit
        for r in RECIPIENTS:
            self.send(payload(pnid, r))

    def heal(self) -> list[dict]:
        """Every bucket the workload used has folded: the whole limit is free again."""
        last_bucket = int(self.stack.clock()) // BUCKET
        self.stack.clock.now = (last_bucket + 1) * BUCKET + DAY  # end of the last bucket + 24 h
        return [self.send(payload(self.pnid, r)) for r in FRESH]

    def refused_repeats(self) -> list[tuple[int, str, str]]:
        """Fault-free checks that refused a recipient an earlier answer had admitted in the 24 h before."""
        admitted_at: dict[str, int] = {}  # recipient -> time of its latest counted send so far
        out = []
        for e in self.ledger.entries:
            for r, decision in e.per_recipient():
                if not e.faulted and not decision.startswith("ALLOWED_") and e.at < admitted_at.get(r, -DAY) + DAY:
                    out.append((e.at, r, decision))
                if decision in COUNTED_DECISIONS:
                    admitted_at[r] = e.at
        return out

    def problems(self, *, faulted_decision: str | None) -> list[str]:
        """Every property this run broke (empty: all held), ending with the heal after 24 h + W."""
        out = []
        if self.ledger.max_meta_count() > LIMIT:
            out.append(f"OVER-ADMISSION: Meta counted {self.ledger.max_meta_count()} unique recipients, limit {LIMIT}")
        if faulted_decision is not None:
            met = set(self.ledger.decisions(faulted=True))
            if met != {faulted_decision}:
                out.append(f"the faulted check answered {met}, not {faulted_decision}")
        failed = [e.payload.get("recipient", "batch") for e in self.ledger.entries
                  if not e.faulted and "STORE_UNAVAILABLE" in e.answer["decision"]]
        if failed:
            out.append(f"fault-free checks answered STORE_UNAVAILABLE afterwards: {failed}")
        if self.refused_repeats():
            out.append(f"repeats of admitted recipients refused: {self.refused_repeats()}")
        healed = sorted(a["decision"] for a in self.heal())
        if healed != ["ALLOWED_NEW_RECIPIENT"] * LIMIT + ["DENIED_LIMIT_REACHED"] * (len(FRESH) - LIMIT):
            out.append(f"after 24 h + W the limit is not fully available again: {healed}")
        if self.ledger.max_meta_count() > LIMIT:
            out.append(f"OVER-ADMISSION after the heal: {self.ledger.max_meta_count()}")
        return out


def baseline_calls(stack: DynamoStack) -> list[str]:
    """The workload's DynamoDB calls, in order, fault-free (and its properties hold)."""
    stack.register(tier=str(LIMIT))
    checker = stack.own_checker()
    run = Run(stack, checker)
    with counting(checker.store) as calls:
        run.workload()
    assert run.problems(faulted_decision=None) == []
    return list(calls.calls)


def sweep(stack: DynamoStack, calls: list[str], kind: str, fail_mode: str = "closed",
          only: set[int] | None = None) -> dict[str, list[str]]:
    """One run per call of the baseline with that call broken; {case: problems} for the runs that broke one."""
    writes_only = kind == "retried"  # a retried read changes nothing
    targets = [op for op in calls if not (writes_only and op in READS)]
    runs = []
    for n, operation in enumerate(targets, start=1):
        if only is not None and n not in only:
            continue
        own = DynamoStack(stack.client, FakeClock(), {**stack.env, "FAIL_MODE": fail_mode}, stack.endpoint)
        pnid = str(next(_numbers))
        own.register(phone_number_id=pnid, tier=str(LIMIT))
        runs.append((n, operation, own, pnid))

    def one(case) -> tuple[str, list[str]]:
        n, operation, own, pnid = case
        checker = own.own_checker()
        with Fault(checker.store, n, kind, writes_only=writes_only) as fault:
            run = Run(own, checker, pnid, fault)
            run.workload()
        name = f"{kind} #{n} ({operation})"
        if fault.fired != 1 or fault.hit != operation:
            return name, [f"the fault hit {fault.hit!r} {fault.fired} times: the workload changed its calls"]
        expected = None
        if kind != "retried":
            expected = "ALLOWED_STORE_UNAVAILABLE" if fail_mode == "open" else "DENIED_STORE_UNAVAILABLE"
        return name, run.problems(faulted_decision=expected)

    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(one, runs))
    return {name: problems for name, problems in results if problems}


@pytest.mark.parametrize("kind", ["refused", "reply_lost", "retried"])
def test_a_fault_at_any_call_never_over_admits_and_fails_closed(ddb_stack, kind):
    calls = baseline_calls(ddb_stack)
    assert {"BatchGetItem", "UpdateItem", "TransactWriteItems", "BatchWriteItem"} <= set(calls), calls
    broken = sweep(ddb_stack, calls, kind)
    assert not broken, "\n".join(f"{case}: {problems}" for case, problems in broken.items())
    print(f"\n{kind}: {len(calls)} calls in the workload, each broken once: all properties held")


def test_fail_open_allows_the_faulted_check_and_still_never_over_admits(ddb_stack):
    # FAIL_MODE=open: the sender prefers delivery when the store is down. Sends it lets through
    # unchecked are the operator's choice; the counted ones must still stay within the limit.
    calls = baseline_calls(ddb_stack)
    first_of_each = {op: n for n, op in reversed(list(enumerate(calls, start=1)))}
    for kind in ("refused", "reply_lost"):
        broken = sweep(ddb_stack, calls, kind, fail_mode="open", only=set(first_of_each.values()))
        assert not broken, "\n".join(f"{case}: {problems}" for case, problems in broken.items())


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

    def send(body):
        return ledger.add(int(ddb_stack.clock()), body, checker.handle(body))

    # Given a crash after the slot was reserved, before the recipient record was written,
    # five minutes into a bucket
    ddb_stack.clock.advance(300)
    leaked_at = int(ddb_stack.clock())
    if batch:
        checker.store.record_counted_batch = crash_once(checker.store.record_counted_batch)
        with pytest.raises(Crash):
            checker.handle(payload(PHONE_NUMBER_ID, RECIPIENTS[:2]))
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
