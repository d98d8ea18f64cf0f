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


def paused_template(stack, title: str = "FIRST_PAUSE") -> None:
    """The WABA's order_confirmation paused by Meta, through the real intake (a PAUSED webhook)."""
    from numberguard.domain import events as ev
    from numberguard.domain.templates import Category, StatusReading
    from numberguard.wiring import build

    from numberguard_ops.fakes import FakePublisher

    now = int(stack.clock())
    reading = StatusReading("PAUSED", title, None)
    event = ev.TemplateStatusUpdate(WABA, now - 60, f"paused-{title}", "1689556908129832", "order_confirmation",
                                    "en_US", reading, Category.UTILITY)
    build(stack.settings, clock=stack.clock, publisher=FakePublisher()).intake.apply([event])


WABA = "102290129340398"
NAMED = {"name": "order_confirmation", "language": "en-US"}


def test_naming_a_template_keeps_the_calls_per_check(ddb_stack):
    # Given a number with a known (approved, quality RED) template and one never heard of
    from numberguard.domain import events as ev
    from numberguard.domain.templates import StatusReading
    from numberguard.wiring import build

    from numberguard_ops.fakes import FakePublisher

    ddb_stack.register(tier="1000000")
    now = int(ddb_stack.clock())
    build(ddb_stack.settings, clock=ddb_stack.clock, publisher=FakePublisher()).intake.apply([
        ev.TemplateStatusUpdate(WABA, now - 60, "a", "1", "order_confirmation", "en_US", StatusReading("APPROVED")),
        ev.TemplateQuality(WABA, now - 30, "q", "1", "order_confirmation", "YELLOW", "RED", "en_US"),
    ])
    checker = ddb_stack.checker()
    checker.handle(template(recipient(0), dry_run=True))  # this process learns the number (and its WABA)
    figures = {}
    for label, named in (("without", None), ("known template", NAMED),
                         ("unknown template", {"name": "spring_sale", "language": "en"})):
        extra = {"template": named} if named else {}
        base = {"without": 0, "known template": 100, "unknown template": 200}[label]
        # When a new recipient, then a repeat, then a reply in a window are checked
        (new, calls_new), (repeat, calls_repeat), (reply, calls_reply) = _new_repeat_reply(
            ddb_stack, checker, base, extra, now)
        # Then the decisions and the calls are those of a check without a template
        assert [a["decision"] for a in (new, repeat, reply)] == [
            "ALLOWED_NEW_RECIPIENT", "ALLOWED_ALREADY_COUNTED", "ALLOWED_SERVICE_WINDOW"]
        assert (len(calls_new), len(calls_repeat), len(calls_reply)) == (3, 1, 1), (label, calls_new)
        assert calls_new.count("BatchGetItem") == 1
        figures[label] = (len(calls_new), len(calls_repeat), len(calls_reply))
        codes = [w.split(":")[0] for w in new["warnings"]]
        assert codes == {"without": [], "known template": ["TEMPLATE_QUALITY_RED"],
                         "unknown template": ["TEMPLATE_UNKNOWN"]}[label]
    print(f"\ncalls (new, repeat, window reply): {figures}")


@pytest.mark.parametrize("title", ["FIRST_PAUSE", "RATE_LIMITING_PAUSE"])
def test_a_denied_template_send_leaves_the_counter_untouched(ddb_stack, title):
    from numberguard.store import codec, keys

    # Given a number whose template Meta paused
    ddb_stack.register(tier="TIER_250")
    paused_template(ddb_stack, title)

    def stored() -> tuple:
        counter = ddb_stack.client.get_item(TableName=ddb_stack.settings.limits_table, Key=keys.scope_key(SCOPE),
                                            ConsistentRead=True)["Item"]
        records = ddb_stack.client.scan(TableName=ddb_stack.settings.recipients_table, ConsistentRead=True)
        return codec.n(counter, "used"), counter.get("buckets"), records["Count"]

    before = stored()
    checker = ddb_stack.checker()
    # When single, dry-run and batch checks name it
    answers = [checker.handle(template(recipient(1), template=NAMED)),
               checker.handle(template(recipient(2), template=NAMED, dry_run=True, reference="r")),
               checker.handle(batch([recipient(i) for i in range(3, 53)]) | {"template": NAMED})]
    # Then each is denied, with the pause's retry time (none for pacing), and nothing is counted
    retry = 3 * 3600 - 60 if title == "FIRST_PAUSE" else None
    for answer in answers[:2]:
        assert (answer["decision"], answer["retry_after_seconds"]) == ("DENIED_TEMPLATE_PAUSED", retry), answer
    assert answers[2]["denied_count"] == 50 and answers[2]["decision"] == "DENIED_TEMPLATE_PAUSED"
    assert stored() == before
    # And a check without the template still counts (the number itself is fine)
    assert checker.handle(template(recipient(1)))["decision"] == "ALLOWED_NEW_RECIPIENT"


def test_refusals_keep_the_calls_per_check(ddb_stack):
    """Holds and blocks ride on the number's item, cooldowns on the one BatchGetItem (marketing checks only):
    a batch of 1,000 marketing checks reads one key more per recipient (92 calls where others make 82)."""
    from numberguard.domain.events import MessageStatus
    from numberguard.wiring import build

    from numberguard_ops.fakes import FakePublisher

    ddb_stack.register(tier="1000000")
    checker = ddb_stack.checker()
    checker.handle(template(recipient(0), dry_run=True))  # this process learns the number (and its link space)
    now = int(ddb_stack.clock())
    figures = {}
    for category, base in ((None, 0), ("utility", 100), ("marketing", 200)):
        extra = {"category": category} if category else {}
        (new, calls_new), (repeat, calls_repeat), (reply, calls_reply) = _new_repeat_reply(
            ddb_stack, checker, base, extra, now)
        assert [a["decision"] for a in (new, repeat, reply)] == [
            "ALLOWED_NEW_RECIPIENT", "ALLOWED_ALREADY_COUNTED", "ALLOWED_SERVICE_WINDOW"]
        assert (len(calls_new), len(calls_repeat), len(calls_reply)) == (3, 1, 1), (category, calls_new)
        answer, calls = calls_of(checker, batch([recipient(10_000 + base * 10 + i) for i in range(1000)]) | extra)
        assert answer["allowed_count"] == 1000 and len(calls) <= 100, len(calls)
        figures[category or "no category"] = (len(calls_new), len(calls_repeat), len(calls_reply), len(calls))
    # A person Meta refused with 131049, and a number held after 131048: each denial is the read alone
    intake = build(ddb_stack.settings, clock=ddb_stack.clock, publisher=FakePublisher()).intake
    cooled = recipient(201)
    intake.apply([MessageStatus(WABA, now - 5, "wamid.c#failed", PHONE_NUMBER_ID, cooled, "wamid.c", "failed",
                                None, (131049,))])
    answer, calls = calls_of(checker, template(cooled, category="marketing"))
    assert answer["decision"] == "DENIED_RECIPIENT_COOLDOWN" and calls == ["BatchGetItem"], calls
    intake.apply([MessageStatus(WABA, now - 5, "wamid.h#failed", PHONE_NUMBER_ID, cooled, "wamid.h", "failed",
                                None, (131048,))])
    answer, calls = calls_of(checker, template(recipient(300)))
    assert answer["decision"] == "DENIED_SPAM_RATE_LIMITED" and calls == ["BatchGetItem"], calls
    figures["cooled or held: denial"] = len(calls)
    print(f"\ncalls (new, repeat, window reply, batch of 1000 new) by category: {figures}")


def _new_repeat_reply(ddb_stack, checker, base: int, extra: dict, now: int) -> list[tuple[dict, list[str]]]:
    """A new recipient, the same one again, then a reply inside a window: each answer with its calls."""
    new = calls_of(checker, template(recipient(base + 1), **extra))
    repeat = calls_of(checker, template(recipient(base + 1), **extra))
    ddb_stack.open_window(PHONE_NUMBER_ID, recipient(base + 2), now + 3600)
    return [new, repeat, calls_of(checker, template(recipient(base + 2), **extra))]
