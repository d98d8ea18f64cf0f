"""MetaSyncFunction: Meta's current state, read by EventBridge Scheduler's runs or on demand ({"waba_id": "..."})."""

from aws_lambda_powertools.metrics import MetricUnit
from numberguard.observability import logger, metrics
from numberguard.wiring import meta_sync


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    metrics.add_metric(name="MetaSyncRuns", unit=MetricUnit.Count, value=1)
    answer = meta_sync().handle(event, time_left=(lambda: remaining() / 1000) if callable(remaining) else None)
    if answer.get("access") in ("refused", "META_ACCESS_FAILED"):
        metrics.add_metric(name="MetaAccessRefused", unit=MetricUnit.Count, value=1)  # the alarm's metric
    if answer.get("throttled"):
        metrics.add_metric(name="MetaSyncThrottled", unit=MetricUnit.Count, value=1)
    logger.info("meta sync done", extra={k: v for k, v in answer.items() if k != "changes"})
    return answer
