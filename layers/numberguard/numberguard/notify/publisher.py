"""The publisher interface, its SNS implementation and an in-memory fake for tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Notification:
    """One change worth telling people and systems about. `id` is stable: subscribers deduplicate on it."""

    id: str
    type: str
    severity: str  # INFO, WARNING, CRITICAL
    document: dict  # the JSON `default` message
    email: str  # short human text
    subject: str

    def attributes(self) -> dict:
        return {
            "event_type": {"DataType": "String", "StringValue": self.type},
            "phone_number_id": {"DataType": "String", "StringValue": str(self.document.get("phone_number_id") or "-")},
            "severity": {"DataType": "String", "StringValue": self.severity},
            "notification_id": {"DataType": "String", "StringValue": self.id},
        }


class Publisher(Protocol):
    def publish(self, notification: Notification) -> None: ...


class SnsPublisher:
    def __init__(self, client, topic_arn: str):
        self.client = client
        self.topic_arn = topic_arn

    def publish(self, notification: Notification) -> None:
        self.client.publish(
            TopicArn=self.topic_arn,
            MessageStructure="json",
            Subject=notification.subject[:99],
            Message=json.dumps(
                {"default": json.dumps(notification.document, sort_keys=True), "email": notification.email}
            ),
            MessageAttributes=notification.attributes(),
        )


@dataclass
class FakePublisher:
    """Keeps what was published; can be told to fail (fault injection)."""

    sent: list[Notification] = field(default_factory=list)
    fail_next: int = 0

    def publish(self, notification: Notification) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("fake SNS is down")
        self.sent.append(notification)

    def types(self) -> list[str]:
        return [n.type for n in self.sent]
