"""The outbox publishes again only what SNS never took: receipts of what SNS accepted mark entries
published first, and the publisher retries at once only answers that say SNS took nothing.
(In-memory fakes; tests/integration/test_fault_sweep.py does the same on moto with injected faults.)"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError
from numberguard.domain.records import OutboxEntry
from numberguard.notify.publisher import SnsPublisher
from numberguard.notify.receipts import RECEIPT_WAIT_SECONDS, parse_receipt
from numberguard.usecases import outbox as outbox_module
from numberguard.usecases.outbox import Outbox

from numberguard_ops.fakes import FakePublisher, FakeReceiptQueue

NOW = 1_800_000_000


def document(n: int) -> dict:
    return {"id": f"id-{n}", "type": "STATUS_CHANGED", "severity": "INFO", "phone_number_id": "106540352242922",
            "display_phone_number": "15550783881", "waba_id": "102290129340398", "scope": "number#106540352242922",
            "at": "2027-01-15T08:00:00Z", "from": "CONNECTED", "to": "FLAGGED", "reason": "quality Low"}


class FakeHistory:
    """The outbox's view of the history table (a HistoryPort): entries by sort key, `outbox_at` while unpublished."""

    def __init__(self):
        self.entries: dict[str, dict] = {}

    def add(self, n: int, outbox_at: int) -> None:
        self.entries[f"sk-{n}"] = {"id": f"id-{n}", "outbox_at": outbox_at, "document": json.dumps(document(n))}

    def unpublished(self, now, page=100):
        return [OutboxEntry("106540352242922", sk, e["id"], e["outbox_at"], e["document"])
                for sk, e in self.entries.items() if "outbox_at" in e and (now is None or e["outbox_at"] <= now)]

    def claim_unpublished(self, pnid, sk, seen_at, until):
        entry = self.entries[sk]
        if entry.get("outbox_at") != seen_at:
            return False
        entry["outbox_at"] = until
        return True

    def mark_entry_published(self, pnid, sk, published=True):
        self.entries[sk].pop("outbox_at", None)
        self.entries[sk]["published"] = published

    def published(self) -> set[str]:
        return {sk for sk, e in self.entries.items() if e.get("published") is True}


@pytest.fixture
def parts():
    return FakeHistory(), FakePublisher(), FakeReceiptQueue()


def test_an_entry_sns_already_took_is_marked_published_and_not_sent_again(parts):
    history, publisher, receipts = parts
    history.add(1, outbox_at=NOW - 10)  # due: its writer's publish answer was lost
    receipts.deliver("id-1")  # but SNS took it
    counts = Counter()
    assert Outbox(history, publisher, receipts).drain(NOW, counts) == 0
    assert publisher.sent == [] and history.published() == {"sk-1"}
    assert counts["outbox_already_delivered"] == 1 and len(receipts.deleted) == 1


def test_an_entry_sns_never_took_is_published_once_after_a_long_poll_for_its_receipt(parts):
    history, publisher, receipts = parts
    history.add(1, outbox_at=NOW - 10)
    assert Outbox(history, publisher, receipts).drain(NOW, Counter()) == 1
    assert [n.id for n in publisher.sent] == ["id-1"] and history.published() == {"sk-1"}
    assert receipts.waits == [0, RECEIPT_WAIT_SECONDS]  # asked every SQS server before publishing again


def test_a_receipt_for_an_entry_still_in_its_grace_settles_it_before_it_is_due(parts):
    history, publisher, receipts = parts
    history.add(1, outbox_at=NOW + 50)  # the writer published and died before marking it
    receipts.deliver("id-1")
    outbox = Outbox(history, publisher, receipts)
    outbox.drain(NOW, Counter())
    outbox.drain(NOW + 600, Counter())
    assert publisher.sent == [] and history.published() == {"sk-1"}


def test_a_quiet_run_reads_the_receipt_queue_once_without_waiting(parts):
    history, publisher, receipts = parts
    counts = Counter()
    Outbox(history, publisher, receipts).drain(NOW, counts)
    assert receipts.waits == [0] and counts["outbox_published"] == 0


def test_receipts_of_published_entries_are_only_deleted(parts):
    history, publisher, receipts = parts
    for n in range(25):
        receipts.deliver(f"id-{n}")  # every publish that went well leaves one
    counts = Counter()
    Outbox(history, publisher, receipts).drain(NOW, counts)
    assert len(receipts.deleted) == 25 and receipts.waiting == [] and counts["receipts_taken"] == 25
    assert counts["outbox_already_delivered"] == 0 and publisher.sent == []


def test_when_receipts_are_left_in_the_queue_due_entries_wait_for_the_next_run(parts, monkeypatch):
    history, publisher, receipts = parts
    monkeypatch.setattr(outbox_module, "MAX_RECEIPTS_PER_RUN", 10)
    for n in range(15):
        receipts.deliver(f"other-{n}")
    receipts.deliver("id-1")  # the 16th: not read in this run
    history.add(1, outbox_at=NOW - 10)
    counts = Counter()
    outbox = Outbox(history, publisher, receipts)
    outbox.drain(NOW, counts)
    assert publisher.sent == [] and counts["outbox_waits_for_receipts"] == 1
    outbox.drain(NOW + 300, Counter())
    assert publisher.sent == [] and history.published() == {"sk-1"}


def test_a_message_that_is_not_a_notification_is_deleted_and_counted(parts):
    history, publisher, receipts = parts
    receipts.waiting.append(parse_receipt("not json", "h-1"))
    counts = Counter()
    Outbox(history, publisher, receipts).drain(NOW, counts)
    assert counts["receipts_unreadable"] == 1 and len(receipts.deleted) == 1


def test_without_a_receipt_queue_the_outbox_publishes_what_is_due(parts):
    history, publisher, _ = parts
    history.add(1, outbox_at=NOW - 10)
    assert Outbox(history, publisher).drain(NOW, Counter()) == 1


def test_a_receipt_names_the_notification_by_its_attribute_or_its_document():
    envelope = {"Type": "Notification", "Message": json.dumps({"id": "from-document"}),
                "MessageAttributes": {"notification_id": {"Type": "String", "Value": "from-attribute"}}}
    assert parse_receipt(json.dumps(envelope), "h").notification_id == "from-attribute"
    del envelope["MessageAttributes"]
    assert parse_receipt(json.dumps(envelope), "h").notification_id == "from-document"
    for body in ("", "[]", json.dumps({"Message": "not json"}), json.dumps({"Message": json.dumps({"id": 7})})):
        assert parse_receipt(body, "h").notification_id is None, body


class FlakySns:
    def __init__(self, *errors):
        self.errors, self.calls = list(errors), 0

    def publish(self, **_):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"MessageId": "m"}


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "Publish")


def _publish(client) -> None:
    from numberguard.notify.messages import notification_from_document

    SnsPublisher(client, "arn:aws:sns:us-east-1:123456789012:t", pause=lambda _: None).publish(
        notification_from_document(document(1)))


@pytest.mark.parametrize("refused", [_client_error("Throttled", 400), ConnectTimeoutError(endpoint_url="https://sns")])
def test_an_answer_that_sns_took_nothing_is_retried_at_once(refused):
    client = FlakySns(refused)
    _publish(client)
    assert client.calls == 2


@pytest.mark.parametrize("ambiguous", [ReadTimeoutError(endpoint_url="https://sns"),
                                       _client_error("InternalError", 500)])
def test_an_answer_that_leaves_open_whether_sns_took_it_is_left_to_the_outbox(ambiguous):
    client = FlakySns(ambiguous)
    with pytest.raises(type(ambiguous)):
        _publish(client)
    assert client.calls == 1  # a second try could send it twice; the outbox asks the receipts first


def test_refusals_are_retried_a_bounded_number_of_times():
    client = FlakySns(*[_client_error("Throttled", 400)] * 5)
    with pytest.raises(ClientError):
        _publish(client)
    assert client.calls == 3
