"""Local mode builds the template's SNS → SQS subscriptions in its embedded AWS, so the evaluator's
receipt queue gets a copy of every notification there as it does on AWS (the outbox depends on it)."""

from __future__ import annotations

import json

import pytest
from numberguard.notify.receipts import parse_receipt

from numberguard_ops import template
from numberguard_ops.embedded_aws import MotoServer, Secrets, client, create_resources


@pytest.fixture
def moto_server():
    server = MotoServer(port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_receipt_queue_is_subscribed_and_gets_each_notification_with_its_id(moto_server):
    made = create_resources(moto_server.endpoint, Secrets())
    assert made.subscriptions == ["NotificationReceiptSubscription"]  # email and lambda ones have no local endpoint

    client("sns", moto_server.endpoint).publish(
        TopicArn=made.topics["NotificationTopic"], MessageStructure="json",
        Message=json.dumps({"default": json.dumps({"id": "n-1"}), "email": "text"}),
        MessageAttributes={"notification_id": {"DataType": "String", "StringValue": "n-1"}})
    sqs = client("sqs", moto_server.endpoint)
    messages = sqs.receive_message(QueueUrl=made.queues["NotificationReceiptQueue"],
                                   MaxNumberOfMessages=10).get("Messages", [])
    assert [parse_receipt(m["Body"], m["ReceiptHandle"]).notification_id for m in messages] == ["n-1"]


def test_the_evaluator_is_told_that_queue():
    url = template.function_environment("EvaluatorFunction")["NOTIFICATION_RECEIPT_QUEUE_URL"]
    assert url.rsplit("/", 1)[1] == template.Resolver().physical_name("NotificationReceiptQueue")
