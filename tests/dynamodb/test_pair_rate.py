"""The pair rate on DynamoDB Local (DESIGN §3 row 6, issue 17): with PairRateGuard on and the clock held
still, 16 senders racing on one person get exactly the burst of 45, never more, and one token back per
6 s of clock; Meta's 131056 refusal, through the webhook receiver, backs the pair off 4^X s, whatever
the guard says, a repeat backs it off longer, and duplicates or any delivery order change nothing.
"""

from __future__ import annotations

import json

import pytest

from tests.dynamodb.conftest import PHONE_NUMBER_ID, template
from tests.dynamodb.test_concurrency import Senders
from tests.webhooks import LOCAL_APP_SECRET, reference_body

pytestmark = pytest.mark.dynamodb

PERSON = "16505551234"  # the recipient of the reference 131056 status
SAMPLE = "messages.status-failed-131056-pair-rate.json"
SAMPLE_AT = 1789567516  # its status's timestamp


def guarded(stack, on: bool = True):
    return stack.with_env(PAIR_RATE_GUARD="on" if on else "off")


def pair_item(stack, person: str = PERSON, pnid: str = PHONE_NUMBER_ID) -> dict | None:
    from numberguard.store import keys

    return stack.client.get_item(TableName=stack.settings.recipients_table, ConsistentRead=True,
                                 Key=keys.pair_key(pnid, person)).get("Item")


@pytest.mark.parametrize("guard", ["on", "off"])
def test_sixteen_senders_get_exactly_the_burst_to_one_person_and_a_token_per_6_seconds(ddb_stack, guard):
    # Given a number (limit 1K) and the guard on, the clock held still
    stack = guarded(ddb_stack, guard == "on")
    stack.register()
    senders = Senders(stack)
    now = int(stack.clock())
    # When 16 threads send 200 checks to one person
    race = senders.run([template(PERSON)] * 200, copies=1, seed=3)
    allowed = [s for s in race if s.answer["allowed"]]
    if guard == "off":  # Then without the guard nothing limits the burst (Meta's pair rate is the sender's)
        assert len(allowed) == 200 and pair_item(stack) is None
        return
    # Then exactly 45 are allowed, every other is DENIED_PAIR_RATE with the time of the next token
    assert len(allowed) == 45, len(allowed)
    denied = [s.answer for s in race if not s.answer["allowed"]]
    assert {a["decision"] for a in denied} == {"DENIED_PAIR_RATE"}
    assert {a["retry_after_seconds"] for a in denied} == {6}
    assert int(pair_item(stack)["tat"]["N"]) == now + 45 * 6  # the bucket as stored: empty, never below
    # And one token comes back per 6 s of clock, never more: 16 threads racing for it again
    for step, back in ((5, 0), (1, 1), (12, 2)):
        stack.clock.advance(step)
        again = senders.run([template(PERSON)] * 32, copies=1, seed=step)
        assert sum(1 for s in again if s.answer["allowed"]) == back, step
        assert {s.decision for s in again if not s.answer["allowed"]} <= {"DENIED_PAIR_RATE"}
    # And another person of the same number has a full bucket of its own
    other = senders.run([template("16505550000")] * 60, copies=1, seed=9)
    assert sum(1 for s in other if s.answer["allowed"]) == 45


def receiver(stack):
    from numberguard.store.archive import MemoryArchive
    from numberguard.wiring import build

    from numberguard_ops.fakes import FakePublisher, StaticSecrets

    parts = build(stack.settings, clock=stack.clock, publisher=FakePublisher(), archive=MemoryArchive(),
                  secrets=StaticSecrets(LOCAL_APP_SECRET, "t"))
    return parts.webhook_receiver


def refusal(wamid: str, at: int, recipient: str = PERSON) -> bytes:
    """The reference 131056 status, for another message and time."""
    body = json.loads(reference_body(SAMPLE))
    status = body["entry"][0]["changes"][0]["value"]["statuses"][0]
    status.update(id=wamid, timestamp=str(at), recipient_id=recipient)
    return json.dumps(body).encode()


def post(stack, raw: bytes) -> dict:
    from numberguard.webhooks.signature import sign

    answer = receiver(stack).receive(raw, sign(raw, LOCAL_APP_SECRET))
    assert answer.status == 200 and isinstance(answer.body, dict), answer
    return answer.body


def test_metas_refusal_backs_the_pair_off_and_a_repeat_longer_in_any_order(ddb_stack):
    # Given a number, the guard off, the clock at the reference status's time
    stack = guarded(ddb_stack, False)
    stack.clock.now = SAMPLE_AT
    stack.register()
    checker = stack.checker()
    assert checker.handle(template(PERSON))["allowed"]
    # When Meta's 131056 sample arrives through the webhook receiver
    assert post(stack, reference_body(SAMPLE))["counts"]["pair_rate_backoff"] == 1
    # Then the next check to that person is DENIED_PAIR_RATE with the backoff (4^0 s); another person goes
    answer = checker.handle(template(PERSON))
    assert (answer["decision"], answer["retry_after_seconds"]) == ("DENIED_PAIR_RATE", 1), answer
    assert "131056" in answer["error"]
    assert checker.handle(template("16505550000"))["allowed"]
    # And a repeat grows it (4^1 s from the repeat's time), a third again (4^2 s)
    post(stack, refusal("wamid.second", SAMPLE_AT + 1))
    assert checker.handle(template(PERSON))["retry_after_seconds"] == 5
    post(stack, refusal("wamid.third", SAMPLE_AT + 6))
    assert checker.handle(template(PERSON))["retry_after_seconds"] == 6 + 16
    stored = pair_item(stack)
    # And duplicates and out-of-order deliveries change nothing: Meta's retries, the three again in reverse
    for raw in (refusal("wamid.third", SAMPLE_AT + 6), refusal("wamid.second", SAMPLE_AT + 1), reference_body(SAMPLE)):
        assert post(stack, raw)["counts"]["pair_rate_backoff_unchanged"] == 1
    assert pair_item(stack) == stored
    assert checker.handle(template(PERSON))["retry_after_seconds"] == 22
    # And when the backoff ends the person may be sent to again
    stack.clock.now = SAMPLE_AT + 22
    assert checker.handle(template(PERSON))["allowed"]


def test_refusals_delivered_newest_first_end_where_in_order_delivery_ends(ddb_stack):
    stack = guarded(ddb_stack, False)
    stack.clock.now = SAMPLE_AT
    stack.register()
    bodies = [refusal(f"wamid.{i}", SAMPLE_AT + 2 * i) for i in range(4)]
    for raw in reversed(bodies):
        post(stack, raw)
    reversed_item = pair_item(stack)
    from numberguard.domain.pairrate import backoff

    strikes = {k: int(v["N"]) for k, v in reversed_item["strikes"]["M"].items()}
    assert backoff(strikes).exponent == 3 and int(reversed_item["backoff_until"]["N"]) == SAMPLE_AT + 6 + 64


# ---- faults at the pair's writes (PairRateGuard on) ---------------------------------------------------

OTHER = "16505550000"
TOKENS_LEFT = 3


def pair_workload(stack, pnid: str, checker) -> list[dict]:
    """The person's bucket with 3 tokens left, the clock still: 5 checks to it, then a batch of it and
    another person, then a dry run."""
    from numberguard.domain.pairrate import CAPACITY, INTERVAL
    from numberguard.store import keys

    now = int(stack.clock())
    stack.client.put_item(TableName=stack.settings.recipients_table, Item={
        **keys.pair_key(pnid, PERSON), "tat": {"N": str(now + (CAPACITY - TOKENS_LEFT) * INTERVAL)}})
    answers = [checker.handle({**template(PERSON), "phone_number_id": pnid}) for _ in range(5)]
    batch = checker.handle({"phone_number_id": pnid, "recipients": [PERSON, OTHER], "message": "template"})
    answers += batch.get("results", [])
    answers.append(checker.handle({**template(OTHER), "phone_number_id": pnid, "dry_run": True}))
    return answers


@pytest.mark.parametrize("kind", ["refused", "reply_lost", "retried"])
def test_a_fault_at_any_call_of_the_guarded_check_never_admits_past_the_bucket(ddb_stack, kind):
    from tests.conftest import FakeClock
    from tests.dynamodb.conftest import DynamoStack, counting
    from tests.dynamodb.test_faults import READS, Fault

    stack = guarded(ddb_stack)
    stack.register(phone_number_id="300000000000901")
    checker = stack.own_checker()
    with counting(checker.store) as calls:
        clean = pair_workload(stack, "300000000000901", checker)
    assert [a["decision"] for a in clean[:5]] == ["ALLOWED_NEW_RECIPIENT"] + ["ALLOWED_ALREADY_COUNTED"] * 2 + [
        "DENIED_PAIR_RATE"] * 2
    assert [a["decision"] for a in clean[5:]] == [
        "DENIED_PAIR_RATE", "ALLOWED_NEW_RECIPIENT", "ALLOWED_ALREADY_COUNTED"]
    assert calls.calls.count("UpdateItem") >= TOKENS_LEFT + 1, calls.calls
    targets = [op for op in calls.calls if not (kind == "retried" and op in READS)]
    problems = []
    for n, operation in enumerate(targets, start=1):
        own = DynamoStack(stack.client, FakeClock(), stack.env, stack.endpoint)
        pnid = str(300_000_000_001_000 + n)
        own.register(phone_number_id=pnid)
        checker = own.own_checker()
        with Fault(checker.store, n, kind, writes_only=kind == "retried") as fault:
            answers = pair_workload(own, pnid, checker)
        if fault.fired != 1:
            problems.append(f"{kind} #{n} ({operation}): the fault fired {fault.fired} times")
        admitted = sum(1 for a in answers[:6] if a["allowed"])  # the five checks and the batch's first
        if admitted > TOKENS_LEFT or (kind == "retried" and admitted != TOKENS_LEFT):
            # (a write the SDK retried after it landed finds its own claim: no token spent twice)
            problems.append(f"{kind} #{n} ({operation}): {admitted} admitted to the person, {TOKENS_LEFT} tokens")
        # the checks that failed (a batch's results all carry its answer: one check)
        other = [a["decision"] for a in answers[:5] + answers[6:] if "STORE_UNAVAILABLE" in a["decision"]]
        if kind == "retried" and other:
            problems.append(f"{kind} #{n} ({operation}): a retried write failed a check: {other}")
        if kind != "retried" and len(other) > 1:
            problems.append(f"{kind} #{n} ({operation}): more than the faulted check failed: {other}")
        tat = pair_item(own, PERSON, pnid)
        if tat is None or "tat" not in tat:
            problems.append(f"{kind} #{n} ({operation}): the pair item lost its bucket")
    assert not problems, "\n".join(problems)
