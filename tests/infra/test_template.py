"""template.yaml is valid, expands, and the limit check's role allows exactly the DynamoDB calls it makes.

The calls are not read from the code: a run of every path of the check (new recipients, repeats in
the same and in newer buckets, batches, service-window replies, the limit reached, releases, both
policies) on moto records each DynamoDB action and table through botocore's `before-parameter-build` hook, and
the role, as CloudFormation receives it, must grant that set and nothing more.
"""

from __future__ import annotations

import threading

import pytest
from cfnlint.api import lint_file

from numberguard_ops.template import TEMPLATE, local_name
from tests.conftest import Stack
from tests.infra.conftest import of_type
from tests.infra.policies import grants, managed_policies, role_of

# IAM authorises each action of a transaction as the single-item action it stands for.
TRANSACT_ACTIONS = {"Update": "UpdateItem", "Put": "PutItem", "Delete": "DeleteItem",
                    "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
PNID = "106540352242922"


class DynamoCalls:
    """(IAM action, table logical id) of every DynamoDB call a botocore client makes."""

    def __init__(self, tables: dict[str, str]):
        self.tables = tables  # physical name -> logical id
        self.seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def __call__(self, model=None, params=None, **_kwargs) -> None:
        operation, params = model.name, params or {}
        if operation == "TransactWriteItems" or operation == "TransactGetItems":
            found = [(TRANSACT_ACTIONS[kind], body["TableName"])
                     for item in params["TransactItems"] for kind, body in item.items()]
        elif "RequestItems" in params:
            found = [(operation, table) for table in params["RequestItems"]]
        else:
            found = [(operation, params["TableName"])]
        with self._lock:
            self.seen.update((f"dynamodb:{action}", self.tables[table]) for action, table in found)


def recorded_checker(stack: Stack, calls: DynamoCalls):
    """The limit check as wired for Lambda, on a DynamoDB client of its own whose calls `calls` records
    (set-up such as registering numbers goes through other clients and is not recorded)."""
    import botocore.session
    from numberguard.store.client import CLIENT_CONFIG
    from numberguard.store.limits import LimitStore
    from numberguard.usecases.limit_check import LimitChecker

    cfg = stack.settings
    client = botocore.session.get_session().create_client("dynamodb", region_name=cfg.region, config=CLIENT_CONFIG)
    client.meta.events.register("before-parameter-build.dynamodb", calls)
    store = LimitStore(client, numbers_table=cfg.numbers_table, recipients_table=cfg.recipients_table,
                       limits_table=cfg.limits_table)
    return LimitChecker(store, cfg, clock=stack.clock)


def exercise_the_check(stack: Stack, calls: DynamoCalls) -> None:
    """Every path of the check, release included, under the per-number policy."""
    checker = recorded_checker(stack, calls)
    clock = stack.clock
    stack.register(phone_number_id=PNID, tier="2")

    def ask(body: dict) -> dict:
        defaults = {"phone_number_id": PNID} if "action" in body else {"phone_number_id": PNID, "message": "template"}
        answer = checker.handle({**defaults, **body})
        assert answer["decision"] not in ("INVALID_REQUEST", "DENIED_STORE_UNAVAILABLE"), answer
        return answer

    assert ask({"recipient": "16505550001", "reference": "s1"})["decision"] == "ALLOWED_NEW_RECIPIENT"
    assert ask({"recipient": "16505550001", "reference": "s2"})["decision"] == "ALLOWED_ALREADY_COUNTED"
    assert ask({"recipients": ["16505550002", "16505550003"]})["allowed_count"] == 1  # the limit is 2
    stack.open_window(PNID, "16505550009", int(clock()) + 3600)
    assert ask({"recipient": "16505550009", "message": "session"})["decision"] == "ALLOWED_SERVICE_WINDOW"
    clock.advance(600)
    assert ask({"recipient": "16505550001"})["decision"] == "ALLOWED_ALREADY_COUNTED"  # moved
    assert ask({"recipients": ["16505550001", "16505550002"]})["allowed_count"] == 2
    assert ask({"recipient": "16505550004"})["decision"] == "DENIED_LIMIT_REACHED"
    ask({"recipient": "16505550004", "dry_run": True})
    release = {"action": "release", "recipient": "16505550005", "reference": "r1"}
    clock.advance(86_400 + 1200)  # everything freed
    assert ask({"recipient": "16505550005", "reference": "r1"})["decision"] == "ALLOWED_NEW_RECIPIENT"
    assert ask(release)["decision"] == "RELEASED"


def exercise_the_portfolio_policy(stack: Stack, calls: DynamoCalls) -> None:
    """Under the portfolio policy a check learns the number's scope first."""
    portfolio = Stack(stack.client, stack.clock, {**stack.env, "LIMIT_POLICY": "portfolio"})
    portfolio.register(phone_number_id="106540352242999", tier="TIER_2K", portfolio_id="777")
    answer = recorded_checker(portfolio, calls).handle(
        {"phone_number_id": "106540352242999", "recipient": "16505550001", "message": "template"}
    )
    assert answer["decision"] == "ALLOWED_NEW_RECIPIENT", answer


@pytest.fixture
def calls_of_the_check(moto_stack, sam) -> set[tuple[str, str]]:
    calls = DynamoCalls({local_name(name): name for name in of_type(sam, "AWS::DynamoDB::Table")})
    exercise_the_check(moto_stack, calls)
    exercise_the_portfolio_policy(moto_stack, calls)
    return calls.seen


def test_cfn_lint_finds_nothing():
    matches = lint_file(TEMPLATE)
    assert not matches, "\n".join(str(m) for m in matches)


def test_the_template_expands_into_the_limit_check_and_its_own_role(cfn):
    function = cfn["Resources"]["LimitCheckFunction"]
    assert function["Type"] == "AWS::Lambda::Function"
    assert of_type(cfn, "AWS::IAM::Role")[role_of(cfn, "LimitCheckFunction")]
    assert function["Properties"]["Handler"] == "app.lambda_handler"


def test_the_limit_check_may_make_exactly_the_dynamodb_calls_it_makes(cfn, calls_of_the_check):
    # Given the calls a run of every path of the check made (tables by logical id)
    used = {(action, f"{table}.Arn") for action, table in calls_of_the_check}
    assert {"dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:GetItem"} <= {a for a, _ in used}
    # Then the role grants exactly those, each on its own table's ARN
    granted = grants(cfn, "LimitCheckFunction", service="dynamodb")
    assert granted == used, f"granted but never called: {sorted(granted - used)}; called but not granted: " \
        f"{sorted(used - granted)}"


def test_the_limit_check_role_has_no_wildcard_and_no_other_service(cfn):
    for action, resource in grants(cfn, "LimitCheckFunction"):
        assert action.startswith("dynamodb:") and "*" not in action, action
        assert "*" not in resource, (action, resource)
    # the managed policies SAM adds: logs (basic execution) and X-Ray (Tracing: Active), nothing else
    names = sorted(str(arn).rsplit("/", 1)[-1] for arn in managed_policies(cfn, "LimitCheckFunction"))
    assert names == ["AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess"], names
