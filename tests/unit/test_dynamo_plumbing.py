"""store/dynamo.py: which failures a retry may fix, what a cancelled transaction says, and batches
that give up (StoreUnavailable) instead of spinning when DynamoDB keeps returning unprocessed work."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError, ReadTimeoutError
from numberguard.store import dynamo


def client_error(code: str, status: int = 400, reasons: list[str] | None = None) -> ClientError:
    response: dict = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": r} for r in reasons]
    return ClientError(response, "TransactWriteItems")


@pytest.mark.parametrize("err", [
    client_error("ProvisionedThroughputExceededException"),
    client_error("ThrottlingException"),
    client_error("TransactionConflictException"),
    client_error("InternalServerError", 500),
    client_error("SomethingNew", 503),
    EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
    dynamo.StoreUnavailable("contended"),
])
def test_throttling_timeouts_5xx_and_conflicts_are_transient(err):
    assert dynamo.is_transient(err)


@pytest.mark.parametrize("err", [
    client_error("ConditionalCheckFailedException"),
    client_error("ValidationException"),
    client_error("TransactionCanceledException", reasons=["ConditionalCheckFailed"]),
    ValueError("bad body"),
])
def test_failed_conditions_and_bad_requests_are_not(err):
    assert not dynamo.is_transient(err)


@pytest.mark.parametrize("err,code", [
    (client_error("ValidationException"), "ValidationException"),  # a key over its size, an item over 400 KB
    (client_error("ItemCollectionSizeLimitExceededException"), "ItemCollectionSizeLimitExceededException"),
    (client_error("TransactionCanceledException", reasons=["None", "ValidationError"]),
     "TransactionCanceledException"),
    (ParamValidationError(report="Invalid length for parameter Key.pk.S"), "ParamValidationError"),
])
def test_a_request_refused_for_what_it_carries_is_refused_for_good(err, code):
    assert dynamo.refused_for_good(err) == code
    assert not dynamo.is_transient(err)


@pytest.mark.parametrize("err", [
    client_error("ProvisionedThroughputExceededException"), client_error("ThrottlingException"),
    client_error("InternalServerError", 500), client_error("TransactionConflictException"),
    client_error("TransactionCanceledException", reasons=["None", "TransactionConflict"]),
    client_error("TransactionCanceledException", reasons=["ConditionalCheckFailed"]),
    client_error("AccessDeniedException"), client_error("ResourceNotFoundException"),  # the deployment's: retried
    ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), ValueError("a bug"),
])
def test_everything_else_is_not_refused_for_good(err):
    assert dynamo.refused_for_good(err) is None


def test_cancellation_reasons_name_the_item_whose_condition_failed():
    err = client_error("TransactionCanceledException", reasons=["None", "ConditionalCheckFailed"])
    reasons = dynamo.cancellation_reasons(err)
    assert reasons == ["None", "ConditionalCheckFailed"]
    assert not dynamo.failed_at(reasons, 0) and dynamo.failed_at(reasons, 1) and not dynamo.failed_at(reasons, 2)
    assert dynamo.cancellation_reasons(client_error("ConditionalCheckFailedException")) == []


class Unprocessing:
    """A client whose batch calls never process anything (a throttled table)."""

    def __init__(self):
        self.calls = 0

    def batch_get_item(self, RequestItems):
        self.calls += 1
        return {"Responses": {}, "UnprocessedKeys": RequestItems}

    def batch_write_item(self, RequestItems):
        self.calls += 1
        return {"UnprocessedItems": RequestItems}


def test_a_batch_get_that_stays_unprocessed_gives_up_after_its_budget():
    client = Unprocessing()
    with pytest.raises(dynamo.StoreUnavailable):
        dynamo.batch_get(client, [("t", {"pk": {"S": "a"}})])
    assert client.calls == dynamo.Budget.BATCH + 1


def test_a_batch_put_that_stays_unprocessed_gives_up_after_its_budget():
    client = Unprocessing()
    with pytest.raises(dynamo.StoreUnavailable):
        dynamo.batch_put(client, "t", [{"pk": {"S": "a"}}])
    assert client.calls == dynamo.Budget.BATCH + 1


def test_batch_get_splits_by_100_keys_and_collects_by_table():
    seen: list[int] = []

    class Echo:
        def batch_get_item(self, RequestItems):
            keys = RequestItems["t"]["Keys"]
            seen.append(len(keys))
            return {"Responses": {"t": keys}}

    found = dynamo.batch_get(Echo(), [("t", {"pk": {"S": str(i)}}) for i in range(250)])
    assert seen == [100, 100, 50] and len(found["t"]) == 250
