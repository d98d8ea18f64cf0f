"""Delivery receipts: which notifications SNS accepted, seen from a queue subscribed to the topic.

A publish can succeed without the publisher learning it: the answer is lost (a read timeout after
SNS took the message), or the write that marks the history entry published fails, or the function
dies in between. The entry then stays in the outbox, and publishing it again would send it twice.
The receipt queue (NotificationReceiptQueue, subscribed to NotificationTopic) holds a copy of every
message SNS accepted; before the outbox publishes anything again, it takes the receipts and marks
the entries SNS already has as published instead. SNS delivers to SQS in well under a second, far
inside the outbox's grace, so a notification goes out again only when SNS never took it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

# The last receive before the outbox decides waits this long: a long poll asks every SQS server,
# so a receipt that exists is not missed (a short poll samples some of them).
RECEIPT_WAIT_SECONDS = 1
BATCH = 10  # SQS's most per ReceiveMessage and per DeleteMessageBatch


@dataclass(frozen=True)
class Receipt:
    handle: str  # to delete it once taken into account
    notification_id: str | None  # None: a message that is not one of ours (deleted, counted)


def parse_receipt(body: str, handle: str) -> Receipt:
    """The SNS envelope SQS holds (raw delivery off): the id is the `notification_id` attribute,
    else the `id` of the JSON document."""
    try:
        envelope = json.loads(body)
        attribute = (envelope.get("MessageAttributes") or {}).get("notification_id") or {}
        found = attribute.get("Value") if isinstance(attribute, dict) else None
        if not found:
            found = json.loads(envelope.get("Message") or "{}").get("id")
    except (ValueError, AttributeError, TypeError):
        found = None
    return Receipt(handle, found if isinstance(found, str) and found else None)


class ReceiptQueue(Protocol):
    def receive(self, wait_seconds: int) -> list[Receipt]: ...

    def delete(self, receipts: list[Receipt]) -> None: ...


class SqsReceiptQueue:
    def __init__(self, client, queue_url: str):
        self.client = client
        self.queue_url = queue_url

    def receive(self, wait_seconds: int) -> list[Receipt]:
        reply = self.client.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=BATCH,
                                            WaitTimeSeconds=wait_seconds, VisibilityTimeout=60)
        return [parse_receipt(m.get("Body", ""), m["ReceiptHandle"]) for m in reply.get("Messages", [])]

    def delete(self, receipts: list[Receipt]) -> None:
        for start in range(0, len(receipts), BATCH):
            chunk = receipts[start:start + BATCH]
            self.client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": r.handle} for i, r in enumerate(chunk)])

