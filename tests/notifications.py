"""Reading numberguard's notifications the way a subscriber does, and checking them against docs/."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import jsonschema

from tests.conftest import ROOT

SCHEMA_PATH = ROOT / "docs" / "notification.schema.json"


@lru_cache(maxsize=1)
def schema() -> dict:
    document = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    return document


def validate(document: dict) -> None:
    """Raises jsonschema.ValidationError naming the field when the document breaks the schema."""
    jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker()).validate(document)


@dataclass(frozen=True)
class Received:
    document: dict  # the `default` JSON document
    attributes: dict[str, str]  # event_type, phone_number_id, severity, notification_id
    subject: str | None

    @property
    def type(self) -> str:
        return self.document["type"]

    def brief(self) -> tuple:
        return self.type, self.document["from"], self.document["to"]


class Inbox:
    """An SQS queue subscribed to the topic (SNS envelope, not raw): what a subscriber receives."""

    def __init__(self, sns, sqs, topic_arn: str, name: str = "numberguard-inbox", filter_policy: dict | None = None):
        self.sqs = sqs
        self.url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes = {"FilterPolicy": json.dumps(filter_policy)} if filter_policy else {}
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)

    def read(self) -> list[Received]:
        """Everything delivered since the last read (each document validated against the schema)."""
        out: list[Received] = []
        while True:
            reply = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = reply.get("Messages", [])
            if not messages:
                return out
            for message in messages:
                envelope = json.loads(message["Body"])
                document = json.loads(envelope["Message"])
                validate(document)
                attributes = {k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()}
                out.append(Received(document, attributes, envelope.get("Subject")))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


def receipt_queue(sns, sqs, topic_arn: str, name: str = "numberguard-notificationreceiptqueue") -> str:
    """The template's NotificationReceiptQueue: subscribed to the topic, envelope kept; returns its URL
    (the evaluator's NOTIFICATION_RECEIPT_QUEUE_URL)."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "false"})
    return url
