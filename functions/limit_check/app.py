"""LimitCheckFunction: invoked synchronously before every send. Errors are answers, not exceptions."""

from aws_lambda_powertools.metrics import MetricUnit
from numberguard.domain.check import MAX_REFERENCE
from numberguard.observability import logger, metrics
from numberguard.wiring import limit_checker


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    reference = _reference(event)
    if reference:
        logger.append_keys(reference=reference)
    # Every line of this check carries one id: the caller's reference ties it to their send.
    logger.set_correlation_id(reference or context.aws_request_id)
    answer = limit_checker().handle(event)
    metrics.add_metric(name=answer["decision"], unit=MetricUnit.Count, value=1)
    logger.info("limit check", extra={"decision": answer["decision"], "phone_number_id": answer["phone_number_id"]})
    return answer


def _reference(event) -> str | None:
    """The caller's reference when it is one the contract accepts (an oversized one is not logged)."""
    reference = event.get("reference") if isinstance(event, dict) else None
    if isinstance(reference, str) and 0 < len(reference.strip()) <= MAX_REFERENCE:
        return reference.strip()
    return None
