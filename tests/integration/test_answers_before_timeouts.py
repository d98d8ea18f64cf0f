"""A hung AWS service gets an answer, not a Lambda timeout: the check answers by its fail mode and the
webhook answers 503 well inside their Timeouts (numberguard/budgets.py bounds every call).

The endpoints here accept connections and never answer (tests/hanging.py), the worst a client can
meet: no error to act on, only its own timeouts. Upper bounds on time are asserted here only.
"""

from __future__ import annotations

import time

import pytest

from numberguard_ops.template import function_environment, load
from tests.conftest import LambdaContext, load_event
from tests.hanging import hanging_endpoint
from tests.webhooks import envelope, signed_post


def _timeout(function: str) -> float:
    doc = load()
    return doc["Resources"][function]["Properties"].get("Timeout", doc["Globals"]["Function"]["Timeout"])


@pytest.fixture
def fresh_wiring():
    from numberguard import wiring

    wiring.reset()
    yield
    wiring.reset()


@pytest.mark.parametrize(("fail_mode", "decision"), [
    ("closed", "DENIED_STORE_UNAVAILABLE"), ("open", "ALLOWED_STORE_UNAVAILABLE")])
def test_the_check_answers_by_its_fail_mode_when_dynamodb_hangs(monkeypatch, fresh_wiring, fail_mode, decision):
    from limit_check.app import lambda_handler
    from numberguard import wiring

    with hanging_endpoint() as endpoint:
        for key, value in {**function_environment("LimitCheckFunction"), "DYNAMODB_ENDPOINT": endpoint,
                           "FAIL_MODE": fail_mode}.items():
            monkeypatch.setenv(key, value)
        wiring.reset()
        started = time.monotonic()
        answer = lambda_handler(load_event("limit_check.template.json"), LambdaContext())
        took = time.monotonic() - started
    assert answer["decision"] == decision
    print(f"\ncheck answered {decision} after {took:.2f} s (Timeout {_timeout('LimitCheckFunction')} s)")
    # answered before Lambda would have ended it (budgets.py keeps a hung call to 2.6 s; on an idle
    # machine this takes about 2 s, the rest of the margin is for a loaded one)
    assert took < _timeout("LimitCheckFunction")


def test_the_webhook_answers_503_when_s3_hangs(webhook_world, monkeypatch, fresh_wiring):
    from numberguard import wiring

    from tests.webhooks import LOCAL_APP_SECRET

    webhook_world.stack.register()
    body = envelope("102290129340398", [{"field": "phone_number_quality_update", "value": {
        "display_phone_number": "15550783881", "event": "FLAGGED", "current_limit": "TIER_1K"}}])
    with hanging_endpoint() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)  # only S3 hangs; SSM and DynamoDB answer
        wiring.reset()
        started = time.monotonic()
        answer = webhook_world.invoke(signed_post(body, secret=LOCAL_APP_SECRET))
        took = time.monotonic() - started
    assert answer["statusCode"] == 503, answer
    assert "archived" in answer["body"]
    assert webhook_world.history() == []  # nothing applied without its archive
    print(f"\nwebhook answered 503 after {took:.2f} s (Timeout {_timeout('WebhookFunction')} s)")
    assert took < _timeout("WebhookFunction")  # about 9 s on an idle machine: S3's two attempts
