"""Every log line of a check or a webhook carries the id that ties it to the send or the request."""

from __future__ import annotations

import json

from tests.conftest import load_event
from tests.logs import captured_logs


def _check(event, lambda_context):
    import limit_check.app

    with captured_logs() as logs:
        answer = limit_check.app.lambda_handler(event, lambda_context)
    return answer, logs.records()


def test_a_check_with_a_reference_logs_it_as_the_correlation_id(moto_stack, lambda_context):
    # Given a registered number, when the sender checks a send with its own reference
    moto_stack.register()
    event = {**load_event("limit_check.template.json"), "reference": "campaign-7/send-42"}
    answer, records = _check(event, lambda_context)
    # Then every line of that check carries the reference
    assert answer["allowed"], answer
    assert records, "the check logged nothing"
    assert {r.get("correlation_id") for r in records} == {"campaign-7/send-42"}
    assert any(r["message"] == "limit check" and r["decision"] == answer["decision"] for r in records)


def test_a_check_without_a_reference_is_tied_to_the_lambda_request_id(moto_stack, lambda_context):
    moto_stack.register()
    event = load_event("limit_check.template.json")
    event.pop("reference", None)
    _, records = _check(event, lambda_context)
    assert records
    assert {r.get("correlation_id") for r in records} == {lambda_context.aws_request_id}


def test_a_rejected_check_is_logged_with_its_id_and_an_oversized_reference_is_not_echoed(moto_stack, lambda_context):
    # Given a request whose reference is far beyond the contract's bound
    huge = "r" * 100_000
    answer, records = _check({"phone_number_id": "1", "recipient": "x", "reference": huge}, lambda_context)
    # Then it is rejected, logged under the request id, and the huge value is not copied into the logs
    assert answer["decision"] == "INVALID_REQUEST"
    assert {r.get("correlation_id") for r in records} == {lambda_context.aws_request_id}
    assert huge not in json.dumps(records)


def test_every_line_of_a_webhook_carries_the_api_request_id(webhook_world, lambda_context, monkeypatch):
    from tests.webhooks import reference_body, signed_post

    monkeypatch.setattr("numberguard.usecases.intake.PARALLEL_WRITES", 1)  # moto: one write at a time
    webhook_world.stack.register()
    event = signed_post(reference_body("phone_number_quality_update.current.json"))
    event["requestContext"]["requestId"] = "api-req-7d1f"
    # When Meta's POST is applied (and a forged one refused)
    with captured_logs("DEBUG") as logs:
        applied = webhook_world.invoke(event, lambda_context)
        forged = webhook_world.invoke({**event, "headers": {"X-Hub-Signature-256": "sha256=" + "0" * 64}},
                                      lambda_context)
    # Then every line says which API request it belongs to
    assert (applied["statusCode"], forged["statusCode"]) == (200, 401)
    records = logs.records()
    assert any(r["message"] == "webhook applied" for r in records), [r["message"] for r in records]
    assert {r.get("correlation_id") for r in records} == {"api-req-7d1f"}
