"""Given a body with two updates (a quality downgrade and an inbound message), when DynamoDB fails one
update's write with the errors the AWS SDK really raises, then Meta is answered 503 only when a retry
can fix it (throttling, timeouts, an unreachable or unavailable service, conflicts, and the deployment's
own faults, fixed before Meta's retry), and a write refused for what it carries (a key over DynamoDB's
size limit, an item over 400 KB) is recorded against its one update: counted, logged with the archive
key, the other update applied and the body answered 200, on every delivery."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from botocore.client import BaseClient
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ParamValidationError,
    ReadTimeoutError,
)

from tests.integration.test_webhook_poison import envelope, messages_entry, quality_entry
from tests.logs import captured_logs
from tests.webhooks import signed_post

PNID = "106540352242922"
ENDPOINT = "https://dynamodb.us-east-1.amazonaws.com/"


def client_error(code: str, status: int, message: str, operation: str = "UpdateItem", **extra) -> ClientError:
    """The ClientError botocore raises for DynamoDB's answer (the shape of its parsed error response)."""
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}, **extra}, operation)


REFUSED = {
    "key over 2,048 bytes": lambda: client_error(
        "ValidationException", 400, "One or more parameter values were invalid: Size of hashkey has exceeded the "
        "maximum size limit of2048 bytes"),
    "item over 400 KB": lambda: client_error(
        "ValidationException", 400, "Item size has exceeded the maximum allowed size"),
    "item collection over 10 GB": lambda: client_error(
        "ItemCollectionSizeLimitExceededException", 400, "Item collection size limit exceeded"),
    "transaction cancelled by a validation error": lambda: client_error(
        "TransactionCanceledException", 400, "Transaction cancelled, please refer cancellation reasons for "
        "specific reasons [ValidationError]", "TransactWriteItems",
        CancellationReasons=[{"Code": "ValidationError",
                              "Message": "Item size has exceeded the maximum allowed size"}]),
    "refused by the SDK before sending": lambda: ParamValidationError(
        report="Invalid length for parameter Key.pk.S, value: 0, valid min length: 1"),
}
RETRIED = {
    "provisioned throughput exceeded": lambda: client_error(
        "ProvisionedThroughputExceededException", 400, "The level of configured provisioned throughput for the "
        "table was exceeded. Consider increasing your provisioning level with the UpdateTable API."),
    "throttled": lambda: client_error("ThrottlingException", 400, "Rate of requests exceeds the allowed throughput."),
    "account request limit": lambda: client_error(
        "RequestLimitExceeded", 400, "Throughput exceeds the current throughput limit for your account."),
    "internal server error": lambda: client_error("InternalServerError", 500, "Internal server error"),
    "service unavailable": lambda: client_error("ServiceUnavailable", 503, "Service Unavailable"),
    "transaction conflict": lambda: client_error(
        "TransactionConflictException", 400, "Transaction is ongoing for the item"),
    "transaction cancelled by a conflict": lambda: client_error(
        "TransactionCanceledException", 400, "Transaction cancelled [TransactionConflict]", "TransactWriteItems",
        CancellationReasons=[{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]),
    "read timeout": lambda: ReadTimeoutError(endpoint_url=ENDPOINT),
    "connect timeout": lambda: ConnectTimeoutError(endpoint_url=ENDPOINT),
    "endpoint not reachable": lambda: EndpointConnectionError(endpoint_url=ENDPOINT),
    # The deployment's faults: a retry after the operator's fix applies the body (Meta retries 7 days).
    "access denied": lambda: client_error(
        "AccessDeniedException", 400, "User is not authorized to perform: dynamodb:UpdateItem"),
    "table not found": lambda: client_error(
        "ResourceNotFoundException", 400, "Requested resource not found"),
}


def window_write(operation: str, params: dict) -> bool:
    """The service-window write of the body's inbound message."""
    return operation == "UpdateItem" and params.get("Key", {}).get("pk", {}).get("S", "").startswith("w#")


def quality_log_write(operation: str, params: dict) -> bool:
    return operation == "PutItem" and params.get("Item", {}).get("pk", {}).get("S", "") == f"LOG#{PNID}#quality"


@contextmanager
def failing(where: Callable[[str, dict], bool], error: Callable[[], Exception], times: int | None) -> Iterator[list]:
    """DynamoDB fails the calls `where` matches (`times` of them; None: every one, as a refusal does)."""
    original, failed = BaseClient._make_api_call, []

    def _make_api_call(client, operation, params):
        if client.meta.service_model.signing_name == "dynamodb" and where(operation, params) and (
                times is None or len(failed) < times):
            failed.append(operation)
            raise error()
        return original(client, operation, params)

    BaseClient._make_api_call = _make_api_call
    try:
        yield failed
    finally:
        BaseClient._make_api_call = original


def window_open(world) -> bool:
    from numberguard.store import keys

    item = world.stack.client.get_item(TableName=world.stack.settings.recipients_table,
                                       Key=keys.window_key(PNID, "16505551234")).get("Item")
    return item is not None


BODY = envelope(quality_entry("FLAGGED"), messages_entry())


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_write_refused_for_what_it_carries_is_recorded_and_the_rest_is_applied(webhook_world, name):
    webhook_world.stack.register(tier="TIER_10K", quality="GREEN")
    with failing(window_write, REFUSED[name], times=None) as failed:
        answers = []
        for _ in range(2):  # Meta's redelivery is answered the same: it would be refused the same way
            with captured_logs() as logs:
                answers.append(webhook_world.invoke(signed_post(BODY)))
    assert [a["statusCode"] for a in answers] == [200, 200], answers
    assert failed, "the fault was injected"
    assert json.loads(answers[1]["body"])["counts"]["refused_by_store"] == 1
    assert webhook_world.number()["quality"] == "RED"  # the other update is applied
    assert not window_open(webhook_world)
    (key,) = webhook_world.archived()
    (record,) = [r for r in logs.records() if r["message"].startswith("update refused by the store")]
    assert (record["archive_key"], record["update"]) == (key, "InboundMessage")


def test_a_refused_facet_write_spares_the_message_beside_it(webhook_world):
    webhook_world.stack.register(tier="TIER_10K", quality="GREEN")
    with failing(quality_log_write, REFUSED["item over 400 KB"], times=None):
        answer = webhook_world.invoke(signed_post(BODY))
    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"])["counts"]["refused_by_store"] == 1
    assert window_open(webhook_world)
    assert webhook_world.number()["quality"] == "GREEN"


@pytest.mark.parametrize("name", sorted(RETRIED))
def test_a_failure_a_retry_can_fix_answers_503_and_the_retry_applies_everything(webhook_world, name):
    webhook_world.stack.register(tier="TIER_10K", quality="GREEN")
    with failing(window_write, RETRIED[name], times=None) as failed:  # past the store's own retries
        first = webhook_world.invoke(signed_post(BODY))
    assert first["statusCode"] == 503, first
    assert failed
    again = webhook_world.invoke(signed_post(BODY))  # Meta's retry, the fault gone
    assert again["statusCode"] == 200, again
    assert "refused_by_store" not in json.loads(again["body"])["counts"]
    assert webhook_world.number()["quality"] == "RED" and window_open(webhook_world)
