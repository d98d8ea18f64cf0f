"""One Logger and Metrics for the whole package (service and namespace come from POWERTOOLS_* env), and the
few things the handlers log with them.

No tracer: the template's `Tracing: Active` has Lambda record one X-Ray segment per invocation by itself.
Creating Powertools' Tracer imports and patches the X-Ray SDK, measured at about 1.4 s on a loaded 2-core
machine against about 0.1-0.25 s for this whole module: too much cold start for the limit check, which
sits in front of every send. The layer therefore ships Powertools without its tracer extra.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from numberguard.domain.check import MAX_REFERENCE

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "numberguard"))
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "numberguard"),
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", "numberguard"),
)


def count(name: str) -> None:
    """One more of `name` in this invocation's metrics (e.g. a decision of the limit check)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def caller_reference(event: Any) -> str | None:
    """The caller's reference when it is one the check accepts (an oversized one is not logged)."""
    reference = event.get("reference") if isinstance(event, dict) else None
    if isinstance(reference, str) and 0 < len(reference.strip()) <= MAX_REFERENCE:
        return reference.strip()
    return None
