"""Every AWS call of a function ends (answered or failed) well inside the function's Timeout, so the
function itself answers: numberguard/budgets.py against template.yaml."""

from __future__ import annotations

import pytest
from numberguard import budgets

from tests.infra.conftest import of_type

MARGIN = 0.75  # a call's worst case may use at most this share of the Timeout; the rest is the answer's


def _timeout(sam: dict, function: str) -> float:
    return sam["Resources"][function]["Properties"].get("Timeout", sam["Globals"]["Function"]["Timeout"])


def test_every_function_has_its_budgets(sam):
    assert set(budgets.BY_FUNCTION) == set(of_type(sam, "AWS::Serverless::Function"))


@pytest.mark.parametrize("function", sorted(budgets.BY_FUNCTION))
def test_no_call_can_outlast_its_functions_timeout(sam, function):
    timeout = _timeout(sam, function)
    for budget in budgets.BY_FUNCTION[function]:
        assert budget.worst_case <= MARGIN * timeout, f"{function}: {budget} may take {budget.worst_case} s"


def test_the_budget_is_what_botocore_gets():
    config = budgets.CHECK_DYNAMODB.config(max_pool_connections=64)
    assert (config.connect_timeout, config.read_timeout) == (0.5, 0.8)
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}
    assert config.max_pool_connections == 64
    assert budgets.CHECK_DYNAMODB.worst_case == 2 * 1.3 + 1


def test_a_client_made_without_a_budget_is_the_stores_one():
    from numberguard.store.client import CLIENT_CONFIG

    stores = budgets.STORES_DYNAMODB.config(max_pool_connections=64)
    assert (CLIENT_CONFIG.connect_timeout, CLIENT_CONFIG.read_timeout, CLIENT_CONFIG.retries) == \
        (stores.connect_timeout, stores.read_timeout, stores.retries)
