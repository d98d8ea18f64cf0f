"""A fault at every AWS call of the webhook and the evaluator, one at a time (the Nth call of a clean run).

Faults (tests/aws_calls.py): throttling, a 500, a timeout before the call, a timeout after it (the
write landed, the answer was lost) and, on conditional writes, the SDK's retry meeting its own write
(ConditionalCheckFailed). For each, on a fresh stack on moto with a fake clock:
- the webhook answers 200 or 5xx (Meta retries a 5xx), never 4xx and never an unhandled error, and
  after Meta's retry and the next evaluator run the state, the archive and the notifications are
  those of a run without faults: the work done exactly once;
- the evaluator, failing mid-run, is resumed by the next scheduled runs to the same end state (the
  same items; only a history entry's `recorded_at`, when its write landed, is a period or two
  later), and each notification reaches subscribers once (a failed publish is retried by a later run).
When SNS accepted a message but the function never learnt it (the answer lost, or the write that
marks it published failed), the receipt queue's copy tells the next evaluator run, which marks it
published instead of sending it again: each notification once, never lost, never twice.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from contextlib import contextmanager

import boto3
import pytest
from moto import mock_aws

from tests.aws_calls import aws_calls, is_conditional_write
from tests.conftest import FakeClock, LambdaContext, Stack, load_event, stack_env
from tests.notifications import Inbox, receipt_queue
from tests.webhooks import LOCAL_APP_SECRET, LOCAL_VERIFY_TOKEN, reference_body, signed_post

PNID, WABA = "106540352242922", "102290129340398"
DAY = 86_400
PERIOD = 300  # the template's default EvaluatorSchedule, rate(5 minutes)


@contextmanager
def fresh_stack(monkeypatch):
    """The whole stack on a new moto: tables, archive bucket, secrets, topic with a subscriber."""
    from aws_lambda_powertools.utilities import parameters
    from numberguard import wiring

    from numberguard_ops.template import create_tables, function_environment

    with mock_aws(), monkeypatch.context() as patch:
        env = {**stack_env(), **function_environment("WebhookFunction")}
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        env["NOTIFICATION_TOPIC_ARN"] = sns.create_topic(Name="numberguard-notification")["TopicArn"]
        env["NOTIFICATION_RECEIPT_QUEUE_URL"] = receipt_queue(sns, sqs, env["NOTIFICATION_TOPIC_ARN"])
        patch.setattr("numberguard.usecases.outbox.RECEIPT_WAIT_SECONDS", 0)  # moto's short poll sees all
        boto3.client("s3").create_bucket(Bucket=env["ARCHIVE_BUCKET"])
        ssm = boto3.client("ssm")
        ssm.put_parameter(Name=env["APP_SECRET_PARAMETER"], Value=LOCAL_APP_SECRET, Type="SecureString")
        ssm.put_parameter(Name=env["VERIFY_TOKEN_PARAMETER"], Value=LOCAL_VERIFY_TOKEN, Type="SecureString")
        for k, v in env.items():
            patch.setenv(k, v)
        patch.delenv("DYNAMODB_ENDPOINT", raising=False)
        clock = FakeClock()
        patch.setattr(wiring, "clock", clock)
        patch.setattr("numberguard.usecases.intake.PARALLEL_WRITES", 1)  # moto: one write at a time, fixed order
        parameters.clear_caches()
        wiring.reset()
        client = boto3.client("dynamodb")
        create_tables(client)
        stack = Stack(client, clock, env)
        stack.inbox = Inbox(sns, sqs, env["NOTIFICATION_TOPIC_ARN"])
        stack.register(tier="TIER_10K", quality="GREEN")
        try:
            yield stack
        finally:
            parameters.clear_caches()
            wiring.reset()


def snapshot(stack) -> dict:
    """Everything stored: every item of every table, and the archive's keys."""
    cfg = stack.settings
    tables = {}
    for table in (cfg.numbers_table, cfg.recipients_table, cfg.limits_table, cfg.history_table):
        items = [i for page in stack.client.get_paginator("scan").paginate(TableName=table) for i in page["Items"]]
        tables[table] = sorted(json.dumps(i, sort_keys=True) for i in items)
    s3 = boto3.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=stack.env["ARCHIVE_BUCKET"]).get("Contents", [])]
    return {"tables": tables, "archive": sorted(keys)}


def received(stack) -> Counter:
    return Counter((r.attributes["notification_id"], r.type) for r in stack.inbox.read())


def evaluate(stack) -> dict:
    from evaluator.app import lambda_handler

    class Context(LambdaContext):
        function_name = "EvaluatorFunction"

        def get_remaining_time_in_millis(self) -> int:
            return 120_000

    return lambda_handler(load_event("evaluator.scheduled.json"), Context())


def scheduled_runs(stack, runs: int = 2) -> None:
    """The evaluator's next scheduled runs, one period apart (a failed publish is leased for a minute)."""
    for _ in range(runs):
        evaluate(stack)
        stack.clock.advance(PERIOD)


def _post(stack):
    from webhook.app import lambda_handler

    def post(event):
        try:
            return lambda_handler(event, LambdaContext())["statusCode"]
        except Exception as err:
            return f"raised {type(err).__name__}: {err}"[:200]
    return post


def _body() -> bytes:
    """Meta's quality downgrade (FLAGGED: state, history, two notifications), an inbound message and a
    pair-rate refusal (131056: the pair's backoff, a read then a conditional write)."""
    flagged = json.loads(reference_body("phone_number_quality_update.legacy-flagged.json"))
    inbound = json.loads(reference_body("messages.inbound-text.json"))
    pair_rate = json.loads(reference_body("messages.status-failed-131056-pair-rate.json"))
    flagged["entry"][0]["changes"] += inbound["entry"][0]["changes"] + pair_rate["entry"][0]["changes"]
    return json.dumps(flagged).encode()


def _the_functions(call) -> bool:
    """The functions' calls; the test's own subscriber queue (the inbox) is not theirs."""
    return call.service != "sqs" or "notificationreceiptqueue" in str(call.params.get("QueueUrl", ""))


def _kinds(call) -> list[str]:
    kinds = ["throttle", "server", "timeout", "timeout_after"]
    return [*kinds, "conditional_after"] if is_conditional_write(call) else kinds


def _cases(calls) -> list[tuple[int, str, str]]:
    """Every call gets a fault. By default one kind per call, rotating (a fresh stack per case costs
    seconds on moto); FAULT_SWEEP=full tries every kind at every call."""
    if os.environ.get("FAULT_SWEEP") == "full":
        return [(n, kind, calls[n].action) for n in range(len(calls)) for kind in _kinds(calls[n])]
    cases = []
    for n, call in enumerate(calls):
        kinds = _kinds(call)
        cases.append((n, kinds[n % len(kinds)], call.action))
    return cases


def webhook_run(body: bytes) -> dict:
    """A body posted once on a fresh stack, then the scheduled runs: the calls made, the state and what
    was published (the baseline every faulted run is compared with)."""
    mp = pytest.MonkeyPatch()
    try:
        with fresh_stack(mp) as stack:
            event = signed_post(body)
            with aws_calls() as recorder:
                assert _post(stack)(event) == 200
            scheduled_runs(stack)
            calls = [c for c in recorder.calls if _the_functions(c)]
            return {"event": event, "calls": calls, "state": snapshot(stack), "sent": received(stack)}
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def webhook_baseline():
    return webhook_run(_body())


def test_the_webhook_baseline_touches_every_kind_of_resource(webhook_baseline):
    print("webhook calls:", [c.action for c in webhook_baseline["calls"]])
    services = {c.service for c in webhook_baseline["calls"]}
    assert {"dynamodb", "s3", "sns", "ssm"} <= services, services
    assert sum(webhook_baseline["sent"].values()) >= 2


def webhook_faults(baseline: dict) -> list[tuple]:
    """The baseline's body on a fresh stack with one fault per case, then Meta's retry and the scheduled
    runs. Each case: (where, kind, action, first answer, Meta's retry, state equal to a clean run's,
    notifications)."""
    mp, event, results = pytest.MonkeyPatch(), baseline["event"], []
    try:
        for n, kind, action in _cases(baseline["calls"]):
            with fresh_stack(mp) as stack, aws_calls() as recorder:
                post = _post(stack)
                recorder.arm(n, kind, where=_the_functions)
                first = post(event)
                recorder.disarm()
                # Meta retries anything but a 200 (for up to 7 days); the evaluator runs on its schedule
                second = post(event) if first != 200 else 200
                scheduled_runs(stack)
                results.append((f"fault {kind} at call {n} ({action})", kind, action, first, second,
                                snapshot(stack) == baseline["state"], received(stack)))
    finally:
        mp.undo()
    return results


@pytest.fixture(scope="module")
def webhook_sweep(webhook_baseline):
    return webhook_faults(webhook_baseline)


def test_a_fault_at_any_webhook_call_gets_a_retryable_answer_and_the_retry_succeeds(webhook_sweep):
    problems = [f"{where}: answers {first}, then {second}" for where, _, _, first, second, _, _ in webhook_sweep
                if first not in (200, 500, 503) or second != 200]
    assert not problems, "\n".join(problems)


def test_a_fault_at_any_webhook_call_loses_no_notification_and_sends_none_twice(webhook_sweep, webhook_baseline):
    problems = [f"{where}: {dict(sent)}" for where, kind, action, _, _, _, sent in webhook_sweep
                if not _same_notifications(sent, webhook_baseline["sent"], kind, action)]
    assert not problems, "\n".join(problems)


def test_a_fault_at_any_webhook_call_ends_in_the_stored_state_of_a_clean_run(webhook_sweep):
    problems = [where for where, _, _, _, _, same, _ in webhook_sweep if not same]
    assert not problems, "\n".join(problems)


def _same_notifications(sent: Counter, expected: Counter, kind: str, action: str) -> bool:
    """Each notification of the clean run, once: none lost, none unexpected, none twice. Also when SNS
    took a message but its bookkeeping did not land (a publish whose answer was lost, a failed write
    of "published" right after it): the receipt queue tells the outbox SNS has it."""
    return sent == expected


@pytest.fixture(scope="module")
def evaluator_baseline():
    mp = pytest.MonkeyPatch()
    try:
        with fresh_stack(mp) as stack:
            start = _flag(stack)
            with aws_calls() as recorder:
                evaluate(stack)
            stack.clock.advance(PERIOD)
            scheduled_runs(stack)
            calls = [c for c in recorder.calls if _the_functions(c)]  # the first run's: where faults land
            return {"start": start, "calls": calls, "state": snapshot(stack), "sent": received(stack)}
    finally:
        mp.undo()


def _flag(stack) -> Counter:
    """Meta flags the number; 7 days and a few minutes later the evaluator has the outcome to apply."""
    assert _post(stack)(signed_post(reference_body("phone_number_quality_update.legacy-flagged.json"))) == 200
    sent = received(stack)
    stack.clock.advance(7 * DAY + 300)
    return sent


def test_the_evaluator_baseline_applies_an_outcome_and_announces_it(evaluator_baseline):
    print("evaluator calls:", [c.action for c in evaluator_baseline["calls"]])
    assert sum(evaluator_baseline["sent"].values()) >= 1, evaluator_baseline["sent"]
    assert {c.service for c in evaluator_baseline["calls"]} >= {"dynamodb", "sns"}


# Writes, publishes and the receipt queue's calls (a failed read of DynamoDB fails the run the same way).
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem", "Publish",
          "ReceiveMessage", "DeleteMessageBatch"}


@pytest.fixture(scope="module")
def evaluator_sweep(evaluator_baseline):
    """Faults at the first run's writes and publishes (a failed read fails the run the same way)."""
    mp, results = pytest.MonkeyPatch(), []
    calls = evaluator_baseline["calls"]
    try:
        for n, kind, action in _cases(calls):
            if calls[n].operation not in WRITES:
                continue
            with fresh_stack(mp) as stack:
                _flag(stack)
                runs = []
                with aws_calls() as recorder:
                    recorder.arm(n, kind, where=_the_functions)
                    for _ in range(3):  # the faulty run, then the next scheduled ones
                        try:
                            evaluate(stack)
                            runs.append("ok")
                        except Exception as err:
                            runs.append(type(err).__name__)  # a failed run goes to the DLQ; the next resumes
                        recorder.disarm()
                        stack.clock.advance(PERIOD)
                results.append((f"fault {kind} at call {n} ({action}), runs {runs}", kind, action, runs,
                                snapshot(stack), received(stack)))
    finally:
        mp.undo()
    return results


def test_a_fault_at_any_evaluator_write_is_resumed_by_the_next_run(evaluator_sweep):
    assert evaluator_sweep
    problems = [where for where, _, _, runs, _, _ in evaluator_sweep if runs[-1] != "ok"]
    assert not problems, "\n".join(problems)


def test_a_fault_at_any_evaluator_write_loses_no_notification_and_sends_none_twice(evaluator_sweep,
                                                                                    evaluator_baseline):
    problems = [f"{where}: {dict(sent)}" for where, kind, action, _, _, sent in evaluator_sweep
                if not _same_notifications(sent, evaluator_baseline["sent"], kind, action)]
    assert not problems, "\n".join(problems)


def test_a_fault_at_any_evaluator_write_ends_in_the_stored_state_of_a_clean_run(evaluator_sweep,
                                                                                 evaluator_baseline):
    """Every item of a clean run, the same, except when a history entry was written: `recorded_at` is
    the time the write landed, one or two periods later when the run that made it was the resumed one
    (the change's own `at`, its document and its id are those of the clean run)."""
    clean = _history_write_times(evaluator_baseline["state"])
    problems = []
    for where, _, _, _, state, _ in evaluator_sweep:
        if _without_write_times(state) != _without_write_times(evaluator_baseline["state"]):
            problems.append(f"{where}: stored items differ")
        late = {key: at - clean[key] for key, at in _history_write_times(state).items()}
        if any(not 0 <= delay <= 2 * PERIOD for delay in late.values()):
            problems.append(f"{where}: history written {late} s after the clean run's")
    assert not problems, "\n".join(problems)


def _history_write_times(state: dict) -> dict:
    items = [json.loads(i) for table, items in state["tables"].items() if table.endswith("history") for i in items]
    return {(i["phone_number_id"]["S"], i["sk"]["S"]): int(i["recorded_at"]["N"]) for i in items if "recorded_at" in i}


def _without_write_times(state: dict) -> dict:
    tables = {table: sorted(json.dumps({k: v for k, v in json.loads(i).items() if k != "recorded_at"}, sort_keys=True)
                            for i in items) for table, items in state["tables"].items()}
    return {**state, "tables": tables}
