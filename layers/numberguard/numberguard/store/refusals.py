"""Which store failures a retry can never fix: DynamoDB refused the write because of what it carries.

Three classes (README, "What Meta is answered"): transient (throttling, timeouts, unavailable
service, conflicts: the body answers 503 and Meta retries), the deployment's (access denied, a
missing table: 503 too, a retry after the fix applies it), and refusals of the data itself (a key
over DynamoDB's size limit, an item over 400 KB, an invalid parameter): the same write fails the same
way on every delivery, so it is recorded against its one update and the rest of the body is applied.
"""

from __future__ import annotations

from botocore.exceptions import ClientError, ParamValidationError

# DynamoDB's codes for a request refused for its content (the same request always fails).
REFUSED_CODES = frozenset({"ValidationException", "ItemCollectionSizeLimitExceededException"})
# A transaction cancelled only for such reasons (or "None": the items that did not cause it).
REFUSED_REASONS = frozenset({"ValidationError", "ItemCollectionSizeLimitExceeded", "None"})


def refused_for_good(err: BaseException) -> str | None:
    """The refusal's code when a retry of this write can never succeed, else None (retry, or a bug)."""
    if isinstance(err, ParamValidationError):  # the SDK refused it before sending
        return "ParamValidationError"
    if not isinstance(err, ClientError):
        return None
    code = err.response.get("Error", {}).get("Code", "")
    if code in REFUSED_CODES:
        return code
    if code == "TransactionCanceledException":
        reasons = {r.get("Code", "None") for r in err.response.get("CancellationReasons", [])}
        if reasons and reasons <= REFUSED_REASONS and reasons != {"None"}:
            return code
    return None
