"""Two evaluator runs at once over 50 due numbers apply and publish each change once (on DynamoDB
Local: moto loses updates under concurrent writers, so it cannot show this).

The evaluator runs through its real handler (functions/evaluator/app.py) with the template's
environment; DynamoDB is DynamoDB Local, SNS and SQS are moto's (moto lets the DynamoDB Local calls
through), and a subscriber's SQS queue receives what was published.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from evaluator import app as evaluator_app
from moto import mock_aws
from numberguard import wiring

from tests.flagged_numbers import DAY, expected, expected_state, flag_numbers, outcome_state, pnid
from tests.integration.test_evaluator_scenarios import EvaluatorContext
from tests.notifications import Inbox

pytestmark = pytest.mark.dynamodb

NUMBERS = 50
PERIOD = 300


@pytest.fixture
def world(ddb_stack, monkeypatch):
    """DynamoDB Local tables, moto's SNS topic with a subscribed queue, the fake clock in wiring."""
    with mock_aws():
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        topic = sns.create_topic(Name="numberguard-notifications")["TopicArn"]
        inbox = Inbox(sns, sqs, topic)
        monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", topic)
        ddb_stack.env["NOTIFICATION_TOPIC_ARN"] = topic
        monkeypatch.setattr(wiring, "clock", ddb_stack.clock)
        wiring.reset()
        yield ddb_stack, inbox
        wiring.reset()


def test_6_two_runs_at_once_over_50_due_numbers_apply_and_publish_each_change_once(world):
    stack, inbox = world
    flag_numbers(stack, NUMBERS)
    inbox.read()
    stack.clock.advance(7 * DAY + 60)

    start = threading.Barrier(2)

    def invoke(_):
        start.wait()
        return evaluator_app.lambda_handler({}, EvaluatorContext())

    with ThreadPoolExecutor(2) as pool:
        summaries = list(pool.map(invoke, range(2)))

    received = inbox.read()
    ids = Counter(r.document["id"] for r in received)
    assert max(ids.values()) == 1, "a change was published twice"
    assert Counter(r.type for r in received) == expected(NUMBERS)
    assert outcome_state(NUMBERS) == expected_state(NUMBERS)
    # Both runs found the 50 numbers due and really raced: each recorded some changes, lost others.
    assert [s["counts"]["numbers_due"] for s in summaries] == [NUMBERS, NUMBERS]
    recorded = [len(s["changes"]) for s in summaries]
    assert sum(recorded) == sum(expected(NUMBERS).values())
    history = wiring.build(stack.settings).stores.history
    for i in range(NUMBERS):
        entries = [e for e in history.history(pnid(i)) if e["type"] in ("FLAG_OUTCOME", "LIMIT_CHANGED")]
        assert len(entries) == (1 if i % 2 == 0 else 2) and all(e["published"] for e in entries)

    stack.clock.advance(PERIOD)
    evaluator_app.lambda_handler({}, EvaluatorContext())  # the next run finds nothing left to do
    assert inbox.read() == []


def test_two_runs_at_once_publish_each_waiting_notification_once(world):
    """SNS was down while 20 numbers were flagged: 40 notifications wait in the outbox. Two runs at
    once publish each of them exactly once (the claim), and later runs publish nothing more."""
    from numberguard_ops.fakes import FakePublisher

    stack, inbox = world
    down = FakePublisher(fail_next=10_000)
    flag_numbers(stack, 20, publisher=down)
    assert inbox.read() == [] and not down.sent
    stack.clock.advance(120)  # past the writers' grace

    start = threading.Barrier(2)

    def invoke(_):
        start.wait()
        return evaluator_app.lambda_handler({}, EvaluatorContext())

    with ThreadPoolExecutor(2) as pool:
        summaries = list(pool.map(invoke, range(2)))
    received = inbox.read()
    assert Counter(r.type for r in received) == Counter({"QUALITY_CHANGED": 20, "STATUS_CHANGED": 20})
    assert len({r.document["id"] for r in received}) == 40
    assert sum(s["counts"].get("outbox_published", 0) for s in summaries) == 40
    stack.clock.advance(PERIOD)
    evaluator_app.lambda_handler({}, EvaluatorContext())
    assert inbox.read() == []
