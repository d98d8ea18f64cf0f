"""One Logger and Metrics for the whole package (service and namespace come from POWERTOOLS_* env).

The tracer is created where it is used: importing the X-Ray SDK costs cold-start time.
"""

import os

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "numberguard"))
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "numberguard"),
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", "numberguard"),
)
