"""EvaluatorFunction: run by EventBridge Scheduler. Safe to run twice at once and to re-run after a crash."""

from numberguard.observability import logger
from numberguard.wiring import evaluator


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    summary = evaluator().run()
    logger.info("evaluation done", extra=summary)
    return summary
