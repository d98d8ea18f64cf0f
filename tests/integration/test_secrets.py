"""The Meta app secret and the verify token: read only from SSM SecureString, cached, never shown.

Given distinctive secret values in SSM, when the webhook handler runs every path that touches them
(a signed POST, a forged one, the verification handshake right and wrong, SSM unreachable), then
neither value appears in any answer or any log line, and SSM is read once, not per request.
"""

from __future__ import annotations

import json
import logging

import boto3
import pytest
from numberguard.webhooks import sign

from numberguard_ops.template import function_environment, load
from tests.aws_calls import aws_calls
from tests.logs import captured_logs
from tests.webhooks import api_event, envelope, signed_post

APP_SECRET = "app-SECRET-7f2a91c4e0d84b1e"
VERIFY_TOKEN = "verify-TOKEN-3c5e8d2b6a9f41d7"


@pytest.fixture
def secret_world(webhook_world, monkeypatch):
    from aws_lambda_powertools.utilities import parameters

    ssm = boto3.client("ssm")
    env = function_environment("WebhookFunction")
    ssm.put_parameter(Name=env["APP_SECRET_PARAMETER"], Value=APP_SECRET, Type="SecureString", Overwrite=True)
    ssm.put_parameter(Name=env["VERIFY_TOKEN_PARAMETER"], Value=VERIFY_TOKEN, Type="SecureString", Overwrite=True)
    parameters.clear_caches()
    webhook_world.stack.register()
    monkeypatch.setattr("numberguard.usecases.intake.PARALLEL_WRITES", 1)  # moto: one write at a time
    return webhook_world


def _quality_body(n: int) -> bytes:
    change = {"field": "phone_number_quality_update", "value": {
        "display_phone_number": "15550783881", "event": "FLAGGED", "current_limit": "TIER_1K"}}
    return envelope("102290129340398", [change], time=1_800_000_000 + n)


def _requests() -> list[tuple[str, dict]]:
    body = _quality_body(1)
    forged = signed_post(body, secret="guess")
    prefix = api_event("GET", query={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN[:-1],
                                     "hub.challenge": "1158201444"})
    return [
        ("signed", signed_post(body, secret=APP_SECRET)),
        ("retried", signed_post(body, secret=APP_SECRET)),
        ("another", signed_post(_quality_body(2), secret=APP_SECRET)),
        ("forged", forged),
        ("unsigned", api_event("POST", body, {"Content-Type": "application/json"})),
        ("handshake", api_event("GET", query={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                              "hub.challenge": "1158201444"})),
        ("wrong token", prefix),
        ("no token", api_event("GET", query={"hub.mode": "subscribe", "hub.challenge": "1"})),
    ]


def _no_secret_in(text: str) -> None:
    for secret in (APP_SECRET, VERIFY_TOKEN):
        assert secret not in text
        assert secret.lower() not in text.lower()
        assert secret[:12] not in text  # not even a recognisable part of it


def test_secrets_never_reach_answers_or_logs(secret_world, lambda_context, caplog):
    caplog.set_level(logging.INFO)  # every library's lines, stricter than Lambda's default (WARNING)
    answers = {}
    with captured_logs("DEBUG") as logs, aws_calls() as recorder:
        for name, event in _requests():
            answers[name] = secret_world.invoke(event, lambda_context)
    # Then each request got the answer it deserves
    assert {k: a["statusCode"] for k, a in answers.items()} == {
        "signed": 200, "retried": 200, "another": 200, "forged": 401, "unsigned": 401,
        "handshake": 200, "wrong token": 403, "no token": 403,
    }
    assert answers["handshake"]["body"] == "1158201444"
    # And no answer, no package log line and no other log record carries either secret
    _no_secret_in(json.dumps(answers))
    assert logs.records(), "the handler logged nothing at DEBUG"
    _no_secret_in(logs.text)
    _no_secret_in("\n".join(r.getMessage() + json.dumps(getattr(r, "__dict__", {}), default=str)
                            for r in caplog.records))
    # And SSM was read once per secret for all eight requests (Powertools' cache, 5 minutes)
    reads = [c.params["Name"] for c in recorder.calls if c.action == "ssm:GetParameter"]
    assert sorted(reads) == sorted(set(reads)) and len(reads) == 2, reads
    assert all(c.params.get("WithDecryption") for c in recorder.calls if c.action == "ssm:GetParameter")


def test_an_unreachable_secret_answers_503_without_naming_its_value(secret_world, lambda_context):
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    with captured_logs("DEBUG") as logs, aws_calls() as recorder:
        recorder.arm(0, "throttle", where=lambda c: c.service == "ssm")
        answer = secret_world.invoke(signed_post(_quality_body(3), secret=APP_SECRET), lambda_context)
    # Then Meta is told to retry, nothing was archived or applied, and the reason names no value
    assert answer["statusCode"] == 503, answer
    assert not [c for c in recorder.calls if c.service in ("s3", "sns") or c.operation.startswith(("Put", "Update"))]
    _no_secret_in(answer["body"] + logs.text)


def test_the_template_reads_the_secrets_from_ssm_securestring_only():
    doc = load()
    env = doc["Resources"]["WebhookFunction"]["Properties"]["Environment"]["Variables"]
    # Given the function's environment, it holds the parameters' names, never a value
    assert env["APP_SECRET_PARAMETER"] == {"Ref": "AppSecretParameterName"}
    assert env["VERIFY_TOKEN_PARAMETER"] == {"Ref": "VerifyTokenParameterName"}
    for name in ("AppSecretParameterName", "VerifyTokenParameterName"):
        assert doc["Parameters"][name]["Default"].startswith("/numberguard/")
        assert not doc["Parameters"][name].get("NoEcho"), "a name, not a value: nothing to hide"
    # And no parameter of the stack takes a secret's value (it would sit in the stack's history)
    for name in doc["Parameters"]:
        assert "secret" not in name.lower() or name.endswith(("ParameterName", "KmsKeyArn")), name
    # And the template creates no plain-text parameter that could hold one
    assert not [r for r in doc["Resources"].values() if r["Type"] == "AWS::SSM::Parameter"]


def test_a_forged_signature_of_the_right_shape_is_refused_whatever_the_body(secret_world, lambda_context):
    body = _quality_body(4)
    answer = secret_world.invoke(api_event("POST", body, {"X-Hub-Signature-256": sign(body, APP_SECRET[:-1])}),
                                 lambda_context)
    assert answer["statusCode"] == 401
    assert secret_world.archived() == []
