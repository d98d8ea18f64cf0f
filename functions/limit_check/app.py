"""LimitCheckFunction: invoked synchronously before every send. Errors are answers, not exceptions."""

from typing import Any

from numberguard.observability import caller_reference, count, logger, metrics
from numberguard.wiring import limit_checker


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    reference = caller_reference(event)
    if reference:
        logger.append_keys(reference=reference)
    # Every line of this check carries one id: the caller's reference ties it to their send.
    logger.set_correlation_id(reference or context.aws_request_id)
    answer: dict[str, Any] = limit_checker().handle(event)
    count(answer["decision"])
    logger.info("limit check", extra={"decision": answer["decision"], "phone_number_id": answer["phone_number_id"]})
    return answer
