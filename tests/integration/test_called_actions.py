"""Each function's role allows exactly the AWS actions its code calls, on exactly the resources it touches.

The calls are recorded from real runs on moto (tests/aws_calls.py); the grants come from the
template after the SAM transform. A grant no run exercises must be listed below with its reason.
"""

from __future__ import annotations

import fnmatch
import re

import pytest

from numberguard_ops.template import load
from tests.aws_calls import Call, aws_calls
from tests.infra.conftest import expand

PN = "106540352242922"

# (function, action, resource pattern) granted but not reached by the scenarios, and why it is needed.
UNEXERCISED = {
    ("LimitCheckFunction", "dynamodb:GetItem", "NumbersTable"):
        "the scope lookup of a number whose limit scope this instance has not learnt (portfolio policy)",
}


@pytest.fixture(scope="module")
def cfn() -> dict:
    return expand(load())


def _resource_label(cfn: dict, resource) -> str:
    """A granted resource as a pattern over logical ids: GetAtt X.Arn → X, Sub ${X.Arn}/index/* → X/index/*."""
    if isinstance(resource, dict):
        if "Fn::GetAtt" in resource:
            return resource["Fn::GetAtt"][0]
        if "Ref" in resource:
            return resource["Ref"]
        if "Fn::Sub" in resource:
            text = resource["Fn::Sub"] if isinstance(resource["Fn::Sub"], str) else resource["Fn::Sub"][0]
            text = re.sub(r"\$\{(\w+)\.Arn\}", r"\1", text)
            params = cfn.get("Parameters", {})
            return re.sub(r"\$\{([\w:]+)\}", lambda m: str(params.get(m.group(1), {}).get("Default", m.group(1))), text)
    return str(resource)


def grants(cfn: dict, function: str) -> set[tuple[str, str]]:
    role = cfn["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    found = set()
    for policy in cfn["Resources"][role]["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            found.update((a, _resource_label(cfn, r)) for a in actions for r in resources)
    return found


def _logical_names(cfn: dict, function: str, env: dict[str, str]) -> dict[str, str]:
    """Physical name (as the function's environment gives it in the test) → logical id."""
    names = {}
    variables = cfn["Resources"][function]["Properties"]["Environment"]["Variables"]
    for variable, value in variables.items():
        if isinstance(value, dict) and "Ref" in value and variable in env:
            names[env[variable]] = value["Ref"]
    return names


_TRANSACT_ACTION = {
    "Update": "UpdateItem", "Put": "PutItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem",
}


def needed(call: Call, names: dict[str, str]) -> set[tuple[str, str]]:
    """(IAM action, logical resource) pairs one call needs (a transaction is authorised item by item)."""
    p = call.params
    if call.service == "dynamodb":
        if call.operation in ("BatchGetItem", "BatchWriteItem"):
            return {(call.action, names.get(t, t)) for t in p["RequestItems"]}
        if call.operation == "TransactWriteItems":
            return {
                (f"dynamodb:{_TRANSACT_ACTION[kind]}", names.get(body["TableName"], body["TableName"]))
                for item in p["TransactItems"] for kind, body in item.items()
            }
        table = names.get(p["TableName"], p["TableName"])
        return {(call.action, f"{table}/index/{p['IndexName']}" if p.get("IndexName") else table)}
    if call.service == "s3":
        bucket = names.get(p["Bucket"], p["Bucket"])
        return {(call.action, f"{bucket}/{p['Key']}" if "Key" in p else bucket)}
    if call.service == "sns":
        return {(call.action, names.get(p["TopicArn"], p["TopicArn"]))}
    if call.service == "ssm":
        return {(call.action, f"parameter{p['Name']}")}
    return {(call.action, "?")}


def _granted(pair: tuple[str, str], granted: set[tuple[str, str]]) -> bool:
    action, resource = pair
    return any(a == action and fnmatch.fnmatchcase(resource, pattern) for a, pattern in granted)


def assert_least_privilege(cfn: dict, function: str, calls: list[Call], env: dict[str, str]) -> None:
    names = _logical_names(cfn, function, env)
    used = set().union(*(needed(c, names) for c in calls))
    granted = grants(cfn, function)
    # Then every call the code made is allowed on that very resource
    missing = sorted(pair for pair in used if not _granted(pair, granted))
    assert not missing, f"{function} calls what its role does not allow: {missing}"
    # And every grant is used by a call (or listed, with its reason)
    idle = sorted(
        (a, r) for a, r in granted
        if (function, a, r) not in UNEXERCISED and not any(_granted(u, {(a, r)}) for u in used)
    )
    assert not idle, f"{function} is allowed more than it calls: {idle}"


def test_the_limit_check_calls_exactly_what_its_role_allows(cfn, moto_stack, clock):
    # Given a number, when the check runs every kind of request the contract knows
    moto_stack.register(tier="TIER_250")
    checker = moto_stack.checker()
    with aws_calls() as recorder:
        for payload in (
            {"phone_number_id": PN, "recipient": "16505551234", "message": "template", "reference": "s1"},
            {"phone_number_id": PN, "recipient": "16505551234", "message": "session"},
            {"phone_number_id": PN, "recipient": "16505551299", "message": "template", "dry_run": True},
            {"phone_number_id": PN, "recipients": ["16505551234", "16505551235"], "message": "template"},
            {"action": "release", "phone_number_id": PN, "recipient": "16505551234", "reference": "s1"},
            {"phone_number_id": "999", "recipient": "16505551234", "message": "template"},
        ):
            checker.handle(payload)
            clock.advance(3600)  # later buckets: repeats are moved
        checker.handle({"phone_number_id": PN, "recipient": "16505551235", "message": "template"})
        checker.handle({"phone_number_id": PN, "recipients": ["16505551235", "16505551236"], "message": "template"})
    # Then its role allows each call, and nothing it never calls
    assert recorder.calls
    assert_least_privilege(cfn, "LimitCheckFunction", recorder.calls, moto_stack.env)


def test_an_unneeded_grant_or_a_missing_one_is_caught(cfn):
    # Given a call the role does not allow, the check above would fail (the proof is not vacuous)
    call = Call("dynamodb", "DeleteItem", {"TableName": "numberguard-limits"})
    names = {"numberguard-limits": "LimitsTable"}
    assert not _granted(next(iter(needed(call, names))), grants(cfn, "LimitCheckFunction"))
