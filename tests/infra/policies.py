"""What a function of the expanded template may do: its role's statements, as (action, resource) grants.

Generic on purpose: `grants(cfn, "AnyFunction")` works for every AWS::Serverless::Function after the
SAM transform (inline `Policies`, SAM policy templates and AWS::IAM::Policy resources attached to its
role). Resources are written as the template names them: `NumbersTable.Arn` for
`!GetAtt NumbersTable.Arn`, the ARN string when it is a literal, JSON otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from tests.infra.conftest import of_type


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def role_of(cfn: dict, function: str) -> str:
    """Logical id of the IAM role a function runs as."""
    role = cfn["Resources"][function]["Properties"]["Role"]
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        return role["Fn::GetAtt"][0]
    raise AssertionError(f"{function} runs as a role the template does not create: {role!r}")


def unconditional(statement) -> list[dict]:
    """A statement, or both branches of `Fn::If` (a condition may grant either), `AWS::NoValue` dropped."""
    if isinstance(statement, dict) and "Fn::If" in statement:
        _, yes, no = statement["Fn::If"]
        return unconditional(yes) + unconditional(no)
    if statement == {"Ref": "AWS::NoValue"}:
        return []
    return [statement]


def statements(cfn: dict, function: str) -> list[dict]:
    """Every inline statement of the function's role, wherever the template attached it."""
    role = role_of(cfn, function)
    found = []
    for policy in cfn["Resources"][role]["Properties"].get("Policies", []):
        found.extend(as_list(policy["PolicyDocument"]["Statement"]))
    for policy in of_type(cfn, "AWS::IAM::Policy").values():
        props = policy["Properties"]
        if {"Ref": role} in as_list(props.get("Roles", [])):
            found.extend(as_list(props["PolicyDocument"]["Statement"]))
    return [s for statement in found for s in unconditional(statement)]


def managed_policies(cfn: dict, function: str) -> list:
    return list(cfn["Resources"][role_of(cfn, function)]["Properties"].get("ManagedPolicyArns", []))


def resource_name(resource) -> str:
    if isinstance(resource, str):
        return resource
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        target = resource["Fn::GetAtt"]
        return ".".join(target) if isinstance(target, list) else target
    return json.dumps(resource, sort_keys=True)


def grants(cfn: dict, function: str, *, service: str | None = None) -> set[tuple[str, str]]:
    """(action, resource) pairs the function's role allows; `service` keeps one prefix ("dynamodb")."""
    out = set()
    for statement in statements(cfn, function):
        assert statement.get("Effect") == "Allow", f"{function}: a {statement.get('Effect')} statement"
        assert "NotAction" not in statement and "NotResource" not in statement, f"{function}: {statement}"
        for action in as_list(statement["Action"]):
            if service is None or action.startswith(f"{service}:"):
                out.update((action, resource_name(r)) for r in as_list(statement["Resource"]))
    return out


def table_arns(tables: Iterable[str]) -> set[str]:
    """How the template names the ARNs of tables given by logical id."""
    return {f"{table}.Arn" for table in tables}
