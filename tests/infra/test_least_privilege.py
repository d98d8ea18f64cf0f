"""Least privilege on the template as CloudFormation receives it (after the SAM transform).

The per-function "only the actions it calls" proof lives in tests/integration/test_called_actions.py:
it records the AWS calls a run really makes and compares them with these roles.
"""

from __future__ import annotations

import pytest

from tests.infra.conftest import of_type

# Actions that have no resource-level permissions: "*" is the only resource IAM accepts for them.
NO_RESOURCE_LEVEL = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "cloudwatch:PutMetricData"}


def statements(document: dict) -> list[dict]:
    """A policy's statements, both branches of a conditional one (Fn::If) included."""
    found = []
    for statement in document["Statement"]:
        if "Fn::If" in statement:
            found.extend(s for s in statement["Fn::If"][1:] if s != {"Ref": "AWS::NoValue"})
        else:
            found.append(statement)
    return found


def role_statements(cfn: dict) -> list[tuple[str, dict]]:
    found = []
    for role_name, role in of_type(cfn, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            found.extend((role_name, statement) for statement in statements(policy["PolicyDocument"]))
    for name, policy in of_type(cfn, "AWS::IAM::Policy").items():
        found.extend((name, statement) for statement in statements(policy["Properties"]["PolicyDocument"]))
    return found


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_there_are_roles_to_check(cfn):
    assert "LimitCheckFunctionRole" in of_type(cfn, "AWS::IAM::Role")


def test_no_statement_grants_every_action_of_a_service(cfn):
    for role, statement in role_statements(cfn):
        for action in as_list(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), f"{role}: {action}"
        assert "NotAction" not in statement, f"{role}: NotAction grants everything else"


def test_no_star_resource_where_an_arn_is_known(cfn):
    for role, statement in role_statements(cfn):
        if statement.get("Effect") != "Allow":
            continue
        resources = as_list(statement.get("Resource", []))
        if "*" in resources:
            broad = set(as_list(statement["Action"])) - NO_RESOURCE_LEVEL
            assert not broad, f"{role} grants {sorted(broad)} on every resource"
        for resource in resources:
            if isinstance(resource, str) and resource != "*":
                assert "*" not in resource, f"{role}: wildcard ARN {resource}"


def test_functions_are_invoked_only_by_the_sources_the_template_names(cfn):
    # Given every resource-based permission on a function, it names a service and a source ARN
    for name, permission in of_type(cfn, "AWS::Lambda::Permission").items():
        props = permission["Properties"]
        assert props["Action"] == "lambda:InvokeFunction", name
        assert props["Principal"].endswith(".amazonaws.com"), f"{name}: {props['Principal']}"
        assert "SourceArn" in props, f"{name}: any {props['Principal']} resource of any account could invoke"
    # And no function has a public URL: the check is reached only with lambda:InvokeFunction
    for name, url in of_type(cfn, "AWS::Lambda::Url").items():
        assert url["Properties"]["AuthType"] != "NONE", name


def test_every_topic_is_encrypted(cfn):
    topics = of_type(cfn, "AWS::SNS::Topic")
    assert {"NotificationTopic", "AlarmTopic"} <= set(topics)
    for name, topic in topics.items():
        assert topic["Properties"].get("KmsMasterKeyId"), f"{name} is not encrypted at rest"


def test_every_queue_is_encrypted(cfn):
    for name, queue in of_type(cfn, "AWS::SQS::Queue").items():
        props = queue["Properties"]
        assert props.get("KmsMasterKeyId") or props.get("SqsManagedSseEnabled"), f"{name} is not encrypted"


def test_every_table_is_encrypted_and_recoverable(cfn):
    for name, table in of_type(cfn, "AWS::DynamoDB::Table").items():
        props = table["Properties"]
        assert props["SSESpecification"]["SSEEnabled"] is True, name
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name
        assert table["DeletionPolicy"] == "Retain", name


def test_every_log_group_expires(cfn):
    for name, group in of_type(cfn, "AWS::Logs::LogGroup").items():
        assert group["Properties"].get("RetentionInDays"), f"{name} keeps logs forever"


@pytest.fixture(scope="module")
def buckets(cfn) -> dict[str, dict]:
    return of_type(cfn, "AWS::S3::Bucket")


def test_every_bucket_is_encrypted(buckets):
    for name, bucket in buckets.items():
        rules = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rules and rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms"), name


def test_every_bucket_blocks_public_access(buckets):
    for name, bucket in buckets.items():
        block = bucket["Properties"]["PublicAccessBlockConfiguration"]
        assert block == {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
                         "RestrictPublicBuckets": True}, name


def test_every_bucket_refuses_plain_http(cfn, buckets):
    policies = {
        p["Properties"]["Bucket"].get("Ref"): p["Properties"]["PolicyDocument"]
        for p in of_type(cfn, "AWS::S3::BucketPolicy").values()
    }
    for name in buckets:
        assert name in policies, f"{name} has no bucket policy"
        denies = [
            s for s in policies[name]["Statement"]
            if s["Effect"] == "Deny" and _insecure_transport(s)
        ]
        assert denies, f"{name} accepts requests without TLS"
        assert {"s3:*"} == set(as_list(denies[0]["Action"])) and denies[0]["Principal"] in ("*", {"AWS": "*"}), name


def _insecure_transport(statement: dict) -> bool:
    return statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in (False, "false")
