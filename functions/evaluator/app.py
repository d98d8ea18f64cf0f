"""EvaluatorFunction: run by EventBridge Scheduler. Safe to run twice at once and to re-run after a crash."""

from typing import Any

from numberguard.observability import logger
from numberguard.wiring import evaluator


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: Any) -> Any:
    # The schedule's input is ignored: every run evaluates whatever is due at its own time.
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    summary = evaluator().run(time_left=(lambda: remaining() / 1000) if callable(remaining) else None)
    logger.info("evaluation done", extra=summary)
    return summary
