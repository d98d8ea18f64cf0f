"""DynamoDB plumbing, written once: error codes, conditional failures, cancellation reasons, the one
jitter, the retry budgets, and bounded, backing-off BatchGetItem / BatchWriteItem."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from enum import IntEnum
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

T = TypeVar("T")

BATCH_GET_MAX = 100
BATCH_WRITE_MAX = 25
TRANSACT_MAX = 100  # actions per TransactWriteItems

CONDITIONAL_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELED = "TransactionCanceledException"
TRANSACTION_CONFLICT = "TransactionConflictException"
REASON_CONDITION = "ConditionalCheckFailed"  # a cancellation reason: that item's condition failed

# Codes a retry may fix: throttling, timeouts, conflicts with other writers, DynamoDB's own errors.
TRANSIENT_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "LimitExceededException", "InternalServerError", "ServiceUnavailable", "RequestTimeout",
    "RequestTimeoutException", TRANSACTION_CONFLICT, "TransactionInProgressException",
    "ReplicatedWriteConflictException",
})
# Codes of a request refused for what it carries (a key over DynamoDB's size limit, an item over
# 400 KB): the same write fails the same way every time, so no retry can fix it.
REFUSED_CODES = frozenset({"ValidationException", "ItemCollectionSizeLimitExceededException"})
# A transaction cancelled only for such reasons ("None": the items that did not cause it).
REFUSED_REASONS = frozenset({"ValidationError", "ItemCollectionSizeLimitExceeded", "None"})


class StoreUnavailable(RuntimeError):
    """DynamoDB could not be reached or refused the call for a reason a retry may fix."""


# Everything a DynamoDB call can raise that means "not now" to the caller (use cases catch these
# without importing the SDK).
STORE_ERRORS: tuple[type[Exception], ...] = (ClientError, BotoCoreError, StoreUnavailable)


class Budget(IntEnum):
    """Attempts per call kind (a contended write, an unprocessed batch, a contended transaction)."""

    CONTENDED_WRITE = 8
    BATCH = 8
    TRANSACTION = 8


def code(err: BaseException) -> str:
    """DynamoDB's error code ("" for anything but a ClientError)."""
    if not isinstance(err, ClientError):
        return ""
    return str(err.response.get("Error", {}).get("Code", ""))


def condition_failed(err: ClientError) -> bool:
    """A plain conditional write's condition did not hold."""
    return code(err) == CONDITIONAL_FAILED


def cancellation_reasons(err: ClientError) -> list[str]:
    """The per-item reason codes of a cancelled TransactWriteItems (empty for any other error)."""
    if code(err) != TRANSACTION_CANCELED:
        return []
    return [str(r.get("Code", "None")) for r in err.response.get("CancellationReasons", [])]


def failed_at(reasons: Sequence[str], index: int) -> bool:
    """Item `index` of a cancelled transaction failed its condition."""
    return len(reasons) > index and reasons[index] == REASON_CONDITION


def is_transient(err: BaseException) -> bool:
    """A failure a retry may fix (throttling, timeouts, 5xx, conflicts), as opposed to a bad request or a
    condition that did not hold."""
    if isinstance(err, ParamValidationError):  # the SDK refused the request before sending it
        return False
    if isinstance(err, StoreUnavailable | BotoCoreError | ConnectionError | TimeoutError):
        return True
    if not isinstance(err, ClientError):
        return False
    if code(err) in TRANSIENT_CODES:
        return True
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return isinstance(status, int) and status >= 500


def refused_for_good(err: BaseException) -> str | None:
    """The code of a refusal no retry can fix (the request is invalid for what it carries), else None.

    Not transient and not this: the deployment's faults (access denied, a missing table), which a
    retry after the operator's fix does fix, and bugs.
    """
    if isinstance(err, ParamValidationError):
        return "ParamValidationError"
    if not isinstance(err, ClientError):
        return None
    if code(err) in REFUSED_CODES:
        return code(err)
    reasons = set(cancellation_reasons(err))
    if reasons and reasons <= REFUSED_REASONS and reasons != {"None"}:
        return TRANSACTION_CANCELED
    return None


def backoff(attempt: int) -> None:
    """The one jittered pause before retrying (full jitter, capped at 0.2 s)."""
    time.sleep(min(0.2, 0.005 * (2**attempt)) * random.random())


def pause() -> None:
    """A short pause before re-reading after a conflict on the hot path."""
    time.sleep(0.002 + random.random() * 0.01)


def retry_conflicts(call: Callable[[], T], why: str, budget: Budget = Budget.CONTENDED_WRITE) -> T:
    """`call`, retried while another writer's transaction holds the item (TransactionConflictException,
    which botocore does not retry: it is contention, not an outage)."""
    for attempt in range(1, budget + 1):
        try:
            return call()
        except ClientError as err:
            if code(err) != TRANSACTION_CONFLICT:
                raise
            backoff(attempt)
    raise StoreUnavailable(why)


def batch_get(client: Any, wanted: Iterable[tuple[str, dict]], *, consistent: bool = True,
              projection: str | None = None) -> dict[str, list[dict]]:
    """Every item of (table, key) pairs, BATCH_GET_MAX per call, unprocessed keys retried with backoff
    within Budget.BATCH; items by table."""
    found: dict[str, list[dict]] = {}
    wanted = list(wanted)
    for start in range(0, len(wanted), BATCH_GET_MAX):
        request: dict[str, dict] = {}
        for table, key in wanted[start:start + BATCH_GET_MAX]:
            spec = request.setdefault(table, {"Keys": [], "ConsistentRead": consistent})
            if projection:
                spec["ProjectionExpression"] = projection
            spec["Keys"].append(key)
        for attempt in range(1, Budget.BATCH + 2):
            reply = client.batch_get_item(RequestItems=request)
            for table, items in reply.get("Responses", {}).items():
                found.setdefault(table, []).extend(items)
            request = reply.get("UnprocessedKeys") or {}
            if not request:
                break
            if attempt > Budget.BATCH:
                raise StoreUnavailable("DynamoDB kept returning unprocessed keys")
            backoff(attempt)
    return found


def batch_put(client: Any, table: str, items: Sequence[dict]) -> None:
    """Put `items`, BATCH_WRITE_MAX per BatchWriteItem, unprocessed items retried with backoff within
    Budget.BATCH."""
    for start in range(0, len(items), BATCH_WRITE_MAX):
        pending = {table: [{"PutRequest": {"Item": item}} for item in items[start:start + BATCH_WRITE_MAX]]}
        for attempt in range(1, Budget.BATCH + 2):
            reply = client.batch_write_item(RequestItems=pending)
            pending = reply.get("UnprocessedItems") or {}
            if not pending:
                break
            if attempt > Budget.BATCH:
                raise StoreUnavailable("DynamoDB kept returning unprocessed items")
            backoff(attempt)


def query_all(client: Any, **query: Any) -> list[dict]:
    """Every item a Query matches, page after page."""
    items: list[dict] = []
    start = None
    while True:
        reply = client.query(**query, **({"ExclusiveStartKey": start} if start else {}))
        items.extend(reply.get("Items", []))
        start = reply.get("LastEvaluatedKey")
        if not start:
            return items
