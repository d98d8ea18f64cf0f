"""The publisher interface and its SNS implementation (the in-memory fake is numberguard_ops.fakes)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
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
        extra = {"waba_id": {"DataType": "String", "StringValue": str(self.document["waba_id"])}} \
            if self.document.get("waba_id") else {}
        return extra | {
            "event_type": {"DataType": "String", "StringValue": self.type},
            "phone_number_id": {"DataType": "String", "StringValue": str(self.document.get("phone_number_id") or "-")},
            "severity": {"DataType": "String", "StringValue": self.severity},
            "notification_id": {"DataType": "String", "StringValue": self.id},
        }


class Publisher(Protocol):
    def publish(self, notification: Notification) -> None: ...


# Answers that say SNS did not take the message: trying again at once cannot send it twice.
NOT_TAKEN_CODES = frozenset({"Throttled", "Throttling", "ThrottlingException", "ThrottledException",
                             "RequestThrottled", "TooManyRequestsException", "KMSThrottling"})
ATTEMPTS = 3


def not_taken(err: Exception) -> bool:
    from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

    if isinstance(err, (ConnectTimeoutError, EndpointConnectionError)):
        return True  # never reached SNS
    return isinstance(err, ClientError) and err.response.get("Error", {}).get("Code") in NOT_TAKEN_CODES


class SnsPublisher:
    """Publishes with the SDK's retries off (wiring.Parts.publisher): the SDK would also retry a read timeout
    or a 500, after which SNS may already hold the message, and send it twice. Here only an answer
    that says SNS took nothing is retried; any other failure leaves the entry to the outbox, which
    first asks the receipt queue whether SNS has it (notify/receipts.py)."""

    def __init__(self, client, topic_arn: str, attempts: int = ATTEMPTS, pause=None):
        self.client = client
        self.topic_arn = topic_arn
        self.attempts = attempts
        self.pause = pause or time.sleep

    def publish(self, notification: Notification) -> None:
        for attempt in range(1, self.attempts + 1):
            try:
                return self._publish(notification)
            except Exception as err:
                if attempt == self.attempts or not not_taken(err):
                    raise
                self.pause(0.05 * 2 ** attempt)

    def _publish(self, notification: Notification) -> None:
        self.client.publish(
            TopicArn=self.topic_arn,
            MessageStructure="json",
            Subject=notification.subject[:99],
            Message=json.dumps(
                {"default": json.dumps(notification.document, sort_keys=True), "email": notification.email}
            ),
            MessageAttributes=notification.attributes(),
        )

