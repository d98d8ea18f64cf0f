"""LimitCheckFunction: invoked synchronously before every send. Errors are answers, not exceptions."""

from aws_lambda_powertools.metrics import MetricUnit
from numberguard.observability import logger, metrics
from numberguard.wiring import limit_checker


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    if isinstance(event, dict) and isinstance(event.get("reference"), str):
        logger.append_keys(reference=event["reference"])
    answer = limit_checker().handle(event)
    metrics.add_metric(name=answer["decision"], unit=MetricUnit.Count, value=1)
    logger.info("limit check", extra={"decision": answer["decision"], "phone_number_id": answer["phone_number_id"]})
    return answer
