"""The check is O(1) in DynamoDB calls whatever the number of recipient records stored (DynamoDB Local).

Calls are counted with botocore's `before-call` hook on the checker's client (one per API call,
whatever botocore's own retries). Seeding time and the figures are printed (run with -s), never
asserted: speed lives in bench/.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.dynamodb.conftest import PHONE_NUMBER_ID, counting, raw_client, recipient, session, template

pytestmark = pytest.mark.dynamodb

BUCKET = 600
SCOPE = f"number#{PHONE_NUMBER_ID}"
SEEDED_BASE = 2_000_000  # seeded recipients: recipient(SEEDED_BASE + i)
SEED_THREADS = 8


def seed_counted(stack, count: int) -> float:
    """Stores `count` counted records in the current bucket and sets the counter to match; returns seconds."""
    from numberguard.store import keys
    from numberguard.store.dynamo import BATCH_WRITE_MAX
    from numberguard.store.items import RECORD_TTL_SECONDS

    now = int(stack.clock())
    window = stack.settings.window
    bucket, until = window.bucket_of(now), window.counted_until(now)
    table = stack.settings.recipients_table

    def item(i: int) -> dict:
        return {"PutRequest": {"Item": {
            **keys.counted_key(SCOPE, recipient(SEEDED_BASE + i)),
            "counted_bucket": {"N": str(bucket)},
            "counted_until": {"N": str(until)},
            "expires_at": {"N": str(now + RECORD_TTL_SECONDS)},
            "phone_number_id": {"S": PHONE_NUMBER_ID},
        }}}

    def lane(lane_no: int) -> None:
        client = raw_client(stack.endpoint)
        for start in range(lane_no * BATCH_WRITE_MAX, count, SEED_THREADS * BATCH_WRITE_MAX):
            pending = {table: [item(i) for i in range(start, min(start + BATCH_WRITE_MAX, count))]}
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    began = time.monotonic()
    with ThreadPoolExecutor(SEED_THREADS) as pool:
        list(pool.map(lane, range(SEED_THREADS)))
    stack.client.update_item(
        TableName=stack.settings.limits_table,
        Key=keys.scope_key(SCOPE),
        UpdateExpression="SET used = :n, buckets = :b",
        ExpressionAttributeValues={":n": {"N": str(count)}, ":b": {"M": {str(bucket): {"N": str(count)}}}},
    )
    return time.monotonic() - began


def batch(recipients: list[str]) -> dict:
    return {"phone_number_id": PHONE_NUMBER_ID, "recipients": recipients, "message": "template"}


def calls_of(checker, payload: dict) -> tuple[dict, list[str]]:
    with counting(checker.store) as calls:
        answer = checker.handle(payload)
    return answer, list(calls.calls)


@pytest.mark.parametrize("stored", [1_000, 100_000])
def test_calls_per_check_do_not_grow_with_the_records_stored(ddb_stack, stored):
    # Given a number with room to spare and `stored` counted recipient records in its scope
    ddb_stack.register(tier="1000000")
    seconds = seed_counted(ddb_stack, stored)
    checker = ddb_stack.checker()
    seeded = [recipient(SEEDED_BASE + i) for i in (0, stored // 2, stored - 1)]
    assert checker.handle(template(seeded[0], dry_run=True))["used"] == stored
    figures: dict[str, int | float] = {}

    # When a new recipient is checked: one read, one reserve, one record write
    answer, calls = calls_of(checker, template(recipient(1)))
    assert answer["decision"] == "ALLOWED_NEW_RECIPIENT", answer
    assert len(calls) <= 3, calls
    figures["new recipient"] = len(calls)

    # a repeat in the same bucket: the read alone
    answer, calls = calls_of(checker, template(recipient(1)))
    assert answer["decision"] == "ALLOWED_ALREADY_COUNTED" and len(calls) == 1, (answer, calls)
    figures["repeat, same bucket"] = len(calls)

    # a reply inside a service window (session or template): the read alone, nothing counted
    now = int(ddb_stack.clock())
    ddb_stack.open_window(PHONE_NUMBER_ID, recipient(2), now + 3600)
    for payload in (session(recipient(2)), template(recipient(2))):
        answer, calls = calls_of(checker, payload)
        assert answer["decision"] == "ALLOWED_SERVICE_WINDOW" and len(calls) == 1, (answer, calls)
    assert answer["used"] == stored + 1
    figures["service-window reply"] = len(calls)

    # repeats in a newer bucket (seeded recipients and the new one): the read and one transaction
    ddb_stack.clock.advance(BUCKET)
    for r in [*seeded, recipient(1)]:
        answer, calls = calls_of(checker, template(r))
        assert answer["decision"] == "ALLOWED_ALREADY_COUNTED", answer
        assert len(calls) <= 2, calls
    figures["repeat, newer bucket"] = len(calls)

    # Then a batch of 1,000 (new, then repeats in a newer bucket) takes at most 0.1 calls per recipient
    fresh = [recipient(10_000 + i) for i in range(1000)]
    answer, calls = calls_of(checker, batch(fresh))
    assert answer["decision"] == "ALLOWED_NEW_RECIPIENT" and answer["allowed_count"] == 1000
    assert len(calls) <= 100, len(calls)
    figures["batch of 1000 new, calls"] = len(calls)
    ddb_stack.clock.advance(BUCKET)
    repeats = [recipient(SEEDED_BASE + i) for i in range(0, stored, max(1, stored // 1000))][:1000]
    answer, calls = calls_of(checker, batch(repeats))
    assert answer["decision"] == "ALLOWED_ALREADY_COUNTED" and answer["allowed_count"] == len(repeats) == 1000
    assert len(calls) <= 100, len(calls)
    figures["batch of 1000 repeats (newer bucket), calls"] = len(calls)
    assert checker.handle(template(recipient(3), dry_run=True))["used"] == stored + 1 + 1000
    figures["seeding seconds"] = round(seconds, 1)
    print(f"\n{stored} records stored: {figures}")
