"""Shared fixtures: a fake clock, moto with the template's tables, the real handler."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
REFERENCE = ROOT.parent / "shared" / "reference"

# No test may reach real AWS: fake credentials, a fixed region, no instance metadata lookups.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


class FakeClock:
    """Time passed in: starts at a fixed instant and moves only when told."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class LambdaContext:
    function_name = "LimitCheckFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:LimitCheckFunction"
    aws_request_id = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


class Stack:
    """The template's tables in an embedded AWS (moto or DynamoDB Local) and the real use cases."""

    def __init__(self, client, clock: FakeClock, env: dict[str, str]):
        self.client = client
        self.clock = clock
        self.env = env

    @property
    def settings(self):
        from numberguard.config import Settings

        return Settings.from_env(self.env)

    def register(self, phone_number_id="106540352242922", tier="TIER_1K", waba_id="102290129340398",
                 display_phone_number="15550783881", portfolio_id=None, connection="CONNECTED", quality="GREEN"):
        from numberguard.usecases.numbers import NumberRegistration
        from numberguard.wiring import build

        return build(self.settings, clock=self.clock).numbers.register(
            NumberRegistration(phone_number_id, waba_id, display_phone_number, tier, portfolio_id, connection, quality),
            int(self.clock()),
        )

    def checker(self):
        from numberguard.wiring import build

        return build(self.settings, clock=self.clock).limit_checker

    def open_window(self, phone_number_id: str, recipient: str, until: int) -> None:
        from numberguard.store import keys

        self.client.put_item(
            TableName=self.settings.recipients_table,
            Item={**keys.window_key(phone_number_id, recipient), "service_window_until": {"N": str(until)},
                  "expires_at": {"N": str(until + 86400)}},
        )

    def set_number(self, phone_number_id: str, **facets) -> None:
        from numberguard.store.models import models_for

        number = models_for(self.settings).number.get(phone_number_id)
        for name, value in facets.items():
            setattr(number, name, value)
        number.save()


def stack_env(**overrides) -> dict[str, str]:
    from numberguard_ops.template import function_environment

    env = function_environment("LimitCheckFunction")
    env.update(overrides)
    return env


@pytest.fixture
def moto_stack(clock, monkeypatch):
    """Tables from template.yaml on moto; handlers and use cases bound to them."""
    import boto3
    from moto import mock_aws
    from numberguard import wiring

    from numberguard_ops.template import create_tables

    with mock_aws():
        env = stack_env()
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        monkeypatch.delenv("DYNAMODB_ENDPOINT", raising=False)
        wiring.reset()
        client = boto3.client("dynamodb")
        create_tables(client)
        stack = Stack(client, clock, env)
        yield stack
        wiring.reset()
