"""How long each function's AWS calls may take, so that every call answers or fails inside the
function's Lambda Timeout (template.yaml) and the function can still say so.

A Lambda timeout is an error, not an answer: the check must answer DENIED_STORE_UNAVAILABLE /
ALLOWED_STORE_UNAVAILABLE and the webhook 503 while there is time to. botocore's defaults (60 s
connect and read, 3 to 5 attempts) would outlast every Timeout here. Each budget's worst case
(every attempt waits its full connect and read timeouts, every retry its longest backoff) stays
well inside its function's Timeout: tests/infra checks it, tests/integration hangs the endpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.config import Config

# botocore's standard retry mode waits up to 2**(n-1) s (random, capped at 20 s) before retry n.
_MAX_BACKOFF = 20.0


@dataclass(frozen=True)
class CallBudget:
    connect: float  # seconds to open a connection
    read: float  # seconds to wait for each read of the answer
    attempts: int  # in all, the first one included
    body_wait: float = 0.0  # an S3 PUT waits up to 1 s for "100 Continue" before it sends the body

    def config(self, **extra: Any) -> Config:
        return Config(connect_timeout=self.connect, read_timeout=self.read,
                      retries={"mode": "standard", "total_max_attempts": self.attempts}, **extra)

    @property
    def worst_case(self) -> float:
        """Seconds one call can take before it answers or raises."""
        backoff = sum(min(_MAX_BACKOFF, 2.0**retry) for retry in range(self.attempts - 1))
        return self.attempts * (self.connect + self.body_wait + self.read) + backoff


# LimitCheckFunction (Timeout 5 s): DynamoDB answers in milliseconds; a second attempt covers a
# throttle or a lost connection. Worst case 3.6 s; a hung endpoint is answered in at most 2.6 s.
CHECK_DYNAMODB = CallBudget(connect=0.5, read=0.8, attempts=2)

# Every other store's calls, in the webhook (Timeout 25 s, under API Gateway's 29 s; a failure
# answers 503 and Meta retries) and the evaluator (Timeout 120 s; it stops taking new work when
# little time is left), the CLI and local mode: one client for all the stores of a process.
STORES_DYNAMODB = CallBudget(connect=1.0, read=3.0, attempts=3)  # worst 15 s

# WebhookFunction: the archive (a PUT of up to 3 MB) and the two secrets.
WEBHOOK_S3 = CallBudget(connect=1.0, read=2.5, attempts=2, body_wait=1.0)  # worst 10 s
WEBHOOK_SSM = CallBudget(connect=1.0, read=2.0, attempts=2)  # worst 7 s

# EvaluatorFunction: the notification receipts.
RECEIPTS_SQS = CallBudget(connect=3.0, read=10.0, attempts=3)  # worst 42 s

# Webhook and evaluator: one SDK attempt; SnsPublisher retries only what SNS refused, and a publish
# ends well inside the outbox's grace, so the outbox never publishes again what a slow writer is
# still publishing. Worst 8 s.
NOTIFY_SNS = CallBudget(connect=3.0, read=5.0, attempts=1)

# Which budgets each function's calls use (template.yaml's logical ids; tests/infra checks them
# against each function's Timeout).
BY_FUNCTION: dict[str, tuple[CallBudget, ...]] = {
    "LimitCheckFunction": (CHECK_DYNAMODB,),
    "WebhookFunction": (STORES_DYNAMODB, WEBHOOK_S3, WEBHOOK_SSM, NOTIFY_SNS, CHECK_DYNAMODB),
    "EvaluatorFunction": (STORES_DYNAMODB, RECEIPTS_SQS, NOTIFY_SNS),
    # The Graph reads have their own timeouts (graph/client.py); the token is read with the same
    # bounded SSM client as the webhook's secrets.
    "MetaSyncFunction": (STORES_DYNAMODB, WEBHOOK_SSM, NOTIFY_SNS),
}
