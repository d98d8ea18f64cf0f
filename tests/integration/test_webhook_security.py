"""Given the webhook endpoint, when a request is not provably from Meta, then it is refused before
anything is stored; the subscription handshake answers only the right verify token."""

from __future__ import annotations

import json

from numberguard.webhooks import sign

from tests.webhooks import LOCAL_VERIFY_TOKEN, api_event, reference_body, signed_post

BODY = reference_body("messages.inbound-text.json")


def stored_items(world) -> dict[str, int]:
    """How many items each table holds (the registration's own items included)."""
    settings = world.stack.settings
    tables = (settings.numbers_table, settings.recipients_table, settings.limits_table, settings.history_table)
    return {t: world.stack.client.scan(TableName=t, Select="COUNT")["Count"] for t in tables}


def test_requests_not_signed_by_meta_are_refused_and_nothing_is_stored(webhook_world):
    # Given a registered number and the tables as registration left them
    webhook_world.stack.register(tier="TIER_1K")
    before = stored_items(webhook_world)
    cases = {
        "unsigned": api_event("POST", BODY, {"Content-Type": "application/json"}),
        "empty header": api_event("POST", BODY, {"X-Hub-Signature-256": ""}),
        "wrong signature": api_event("POST", BODY, {"X-Hub-Signature-256": "sha256=" + "0" * 64}),
        "not sha256": api_event("POST", BODY, {"X-Hub-Signature-256": "sha1=" + sign(BODY, "local-app-secret")[7:47]}),
        "another secret": signed_post(BODY, secret="someone-elses-app-secret"),
        "truncated body": api_event("POST", BODY[:-10], {"X-Hub-Signature-256": sign(BODY, "local-app-secret")}),
        "changed body": api_event("POST", BODY.replace(b"16505551234", b"16505550000"),
                                  {"X-Hub-Signature-256": sign(BODY, "local-app-secret")}),
    }
    for case, event in cases.items():
        # When it is POSTed
        answer = webhook_world.invoke(event)
        # Then 401 with a reason, and nothing archived or applied
        assert answer["statusCode"] == 401, (case, answer)
        assert "X-Hub-Signature-256" in json.loads(answer["body"])["error"], case
        assert webhook_world.archived() == [], case
        assert stored_items(webhook_world) == before, case


def test_the_header_name_is_case_insensitive_and_a_signed_body_is_taken(webhook_world):
    webhook_world.stack.register(tier="TIER_1K")
    event = api_event("POST", BODY, {"x-hub-signature-256": sign(BODY, "local-app-secret")})
    assert webhook_world.invoke(event)["statusCode"] == 200
    assert len(webhook_world.archived()) == 1


def test_handshake_answers_the_challenge_only_for_the_right_token(webhook_world):
    def handshake(query):
        return webhook_world.invoke(api_event("GET", query=query))

    right = handshake({"hub.mode": "subscribe", "hub.verify_token": LOCAL_VERIFY_TOKEN, "hub.challenge": "1158201444"})
    assert (right["statusCode"], right["body"]) == (200, "1158201444")
    assert right["headers"]["Content-Type"] == "text/plain"
    wrong = handshake({"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"})
    assert wrong["statusCode"] == 403 and "verify_token" in json.loads(wrong["body"])["error"]
    missing = handshake(None)
    assert missing["statusCode"] == 400 and "hub.mode" in json.loads(missing["body"])["error"]
    assert webhook_world.archived() == []


def test_the_sample_events_are_the_handshake_and_a_signed_post(webhook_world):
    from tests.conftest import load_event

    webhook_world.stack.register(tier="TIER_1K")
    assert webhook_world.invoke(load_event("webhook.verify.json"))["statusCode"] == 200
    assert webhook_world.invoke(load_event("webhook.post.json"))["statusCode"] == 200


def test_other_methods_are_refused(webhook_world):
    answer = webhook_world.invoke(api_event("PUT", BODY))
    assert answer["statusCode"] == 405 and webhook_world.archived() == []


def test_a_secret_that_cannot_be_read_asks_meta_to_retry(webhook_world):
    import boto3
    from aws_lambda_powertools.utilities import parameters

    boto3.client("ssm").delete_parameter(Name=webhook_world.stack.env["APP_SECRET_PARAMETER"])
    parameters.clear_caches()
    answer = webhook_world.invoke(signed_post(BODY))
    assert answer["statusCode"] == 503 and webhook_world.archived() == []
