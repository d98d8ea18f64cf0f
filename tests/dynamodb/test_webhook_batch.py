"""A POST of 1,000 updates on DynamoDB Local: the intake's DynamoDB calls grow with the numbers and
facets a batch touches, not with its updates (service windows: one read and one transaction per 100
users, and a retry only reads them).

Times are printed (run with -s), never asserted: speed is reported by bench/.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.webhooks import LOCAL_APP_SECRET

pytestmark = pytest.mark.dynamodb

WABA = "102290129340398"
NUMBERS = {f"1065403522{i:05d}": f"155507{i:05d}" for i in range(10)}
T0 = 1_799_900_000


def receiver(stack):
    from numberguard.store.archive import MemoryArchive
    from numberguard.wiring import build

    from numberguard_ops.fakes import FakePublisher, StaticSecrets

    publisher = FakePublisher()
    parts = build(stack.settings, clock=stack.clock, publisher=publisher, archive=MemoryArchive(),
                  secrets=StaticSecrets(LOCAL_APP_SECRET, "t"))
    return parts.webhook_receiver, publisher


def body(changes: list[dict]) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [
        {"id": WABA, "time": T0 + i, "changes": [c]} for i, c in enumerate(changes)]}).encode()


def inbound(i: int) -> dict:
    pnid = list(NUMBERS)[i % len(NUMBERS)]
    return {"field": "messages", "value": {"metadata": {"phone_number_id": pnid}, "messages": [
        {"from": f"1650{i:07d}", "id": f"wamid.{i}", "timestamp": str(T0 + i), "type": "text"}]}}


def status(i: int) -> dict:
    pnid = list(NUMBERS)[i % len(NUMBERS)]
    return {"field": "messages", "value": {"metadata": {"phone_number_id": pnid}, "statuses": [
        {"id": f"wamid.{i}", "status": "delivered", "timestamp": str(T0 + i), "recipient_id": f"1650{i:07d}"}]}}


def quality(i: int) -> dict:
    display = list(NUMBERS.values())[i % len(NUMBERS)]
    event = "FLAGGED" if (i // len(NUMBERS)) % 2 == 0 else "UNFLAGGED"
    return {"field": "phone_number_quality_update", "value": {"display_phone_number": display, "event": event,
                                                              "current_limit": "TIER_10K"}}


MIXES = {
    "1000 inbound messages (1000 users)": [inbound(i) for i in range(1000)],
    "1000 delivery statuses": [status(i) for i in range(1000)],
    "1000 quality updates (10 numbers)": [quality(i) for i in range(1000)],
    "mixed 700 statuses, 250 inbound, 50 quality": [status(i) for i in range(700)]
    + [inbound(i) for i in range(250)] + [quality(i) for i in range(50)],
}


@pytest.mark.parametrize("mix", list(MIXES))
def test_a_1000_update_post(ddb_stack, mix, capsys):
    from numberguard.webhooks import sign

    from tests.dynamodb.conftest import CallCounter

    for pnid, display in NUMBERS.items():
        ddb_stack.register(phone_number_id=pnid, display_phone_number=display, tier="TIER_10K", waba_id=WABA)
    webhook, _publisher = receiver(ddb_stack)
    raw = body(MIXES[mix])
    counter = CallCounter()
    client = webhook.intake.stores.numbers.client
    client.meta.events.register("before-call.dynamodb", counter)
    try:
        started = time.perf_counter()
        answer = webhook.receive(raw, sign(raw, LOCAL_APP_SECRET))
        first = time.perf_counter() - started
        first_calls = counter.total
        counter.reset()
        started = time.perf_counter()
        retry = webhook.receive(raw, sign(raw, LOCAL_APP_SECRET))  # Meta's retry of the same body
        again = time.perf_counter() - started
    finally:
        client.meta.events.unregister("before-call.dynamodb", counter)
    assert answer.status == 200 and answer.body["received"] == 1000, answer
    assert retry.status == 200 and retry.body["changes"] == 0
    if mix.startswith("1000 quality"):
        # Each number's quality and flag logs read and written once, not once per update.
        assert first_calls <= 12 * len(NUMBERS) + 3 * answer.body["changes"], first_calls
    if mix.startswith("1000 inbound"):
        # 1,000 windows: 10 reads and 10 transactions; the retry finds them open and only reads.
        assert first_calls <= 2 * 10 + 5, first_calls
        assert counter.total <= 10 + 5, counter.total
    with capsys.disabled():
        print(f"\n  {mix}: {first * 1000:.0f} ms, {first_calls} DynamoDB calls, {answer.body['changes']} changes "
              f"announced; retried: {again * 1000:.0f} ms, {counter.total} calls")
