"""The fuzz tier: hypothesis, sized so the whole tier runs in about a minute on 2 cores.

Each example draws PER_EXAMPLE inputs and runs them all: hypothesis' own cost per example (about a
millisecond here) is then shared, and 1,000 examples make 10,000 inputs per entry point.

`derandomize=True`: CI and every developer generate the same inputs (a failure reproduces as is);
a different seed is a change of the strategies, reviewed like code.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "fuzz",
    max_examples=1_000,
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                           HealthCheck.function_scoped_fixture],
)
FUZZ = settings.get_profile("fuzz")
PER_EXAMPLE = 10


# The webhook function's world on moto (tables, archive bucket, SecureString secrets, topic), and
# DynamoDB Local with fresh tables (test_fuzz_poison: values moto would store but DynamoDB refuses).
from tests.dynamodb.conftest import ddb_stack, dynamodb_local  # noqa: E402, F401
from tests.integration.conftest import webhook_world  # noqa: E402, F401


@pytest.fixture
def serial_writes(monkeypatch):
    """The intake's parallel writes one at a time: moto's transactions are not thread-safe (a copy of a
    table raced by another thread's write), and a fixed order makes every run the same."""
    monkeypatch.setattr("numberguard.usecases.intake.PARALLEL_WRITES", 1)
