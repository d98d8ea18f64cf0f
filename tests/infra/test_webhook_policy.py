"""WebhookFunction's role, as CloudFormation receives it, grants exactly the calls its code makes.

The calls themselves are recorded in tests/integration/test_webhook_called_actions.py (on moto);
this file pins the grants: each action on its own resource, nothing broader, and KMS only through SSM.
"""

from __future__ import annotations

from tests.infra.conftest import of_type

# (action, resource reference) pairs the intake needs; see the Sids in template.yaml.
EXPECTED = {
    ("dynamodb:GetItem", "NumbersTable"), ("dynamodb:BatchGetItem", "NumbersTable"),
    ("dynamodb:PutItem", "NumbersTable"), ("dynamodb:UpdateItem", "NumbersTable"),
    ("dynamodb:Query", "NumbersTable/index/ByWaba"),
    ("dynamodb:BatchGetItem", "RecipientsTable"), ("dynamodb:UpdateItem", "RecipientsTable"),
    ("dynamodb:PutItem", "RecipientsTable"),  # people's links
    ("dynamodb:GetItem", "RecipientsTable"),  # a 131056 refusal reads its pair item
    ("dynamodb:GetItem", "LimitsTable"), ("dynamodb:BatchGetItem", "LimitsTable"),
    ("dynamodb:UpdateItem", "LimitsTable"),
    ("dynamodb:PutItem", "HistoryTable"), ("dynamodb:UpdateItem", "HistoryTable"),
    ("s3:PutObject", "ArchiveBucket/*"),
    ("ssm:GetParameter", "parameter:AppSecretParameterName"),
    ("ssm:GetParameter", "parameter:VerifyTokenParameterName"),
    ("sns:Publish", "NotificationTopic"),
    # SAM's grant for the on-failure destination: an EUM Social update that fails Lambda's async retries is kept.
    ("sqs:SendMessage", "WebhookDeadLetterQueue"),
}


def resource_name(resource) -> str:
    """A readable name for a policy resource (GetAtt, Sub or Ref) of this template."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return resource["Fn::GetAtt"][0]
    if isinstance(resource, dict) and "Ref" in resource:
        return resource["Ref"]
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        text = resource["Fn::Sub"] if isinstance(resource["Fn::Sub"], str) else resource["Fn::Sub"][0]
        if text.startswith("${") and ".Arn}" in text:
            return text[2:].replace(".Arn}", "")
        if ":parameter${" in text:
            return "parameter:" + text.split(":parameter${", 1)[1].rstrip("}")
    raise AssertionError(f"unexpected resource form {resource!r}")


def webhook_statements(cfn: dict) -> list[dict]:
    role = of_type(cfn, "AWS::IAM::Role")["WebhookFunctionRole"]
    statements = []
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            statements.append(statement)
    return statements


def test_the_webhook_role_grants_exactly_what_the_intake_calls(cfn):
    granted = set()
    conditional = []
    for statement in webhook_statements(cfn):
        if "Fn::If" in statement:
            conditional.append(statement["Fn::If"])
            continue
        assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            for resource in resources:
                granted.add((action, resource_name(resource)))
    managed = {(a, "*") for a in ("xray:PutTraceSegments", "xray:PutTelemetryRecords")}
    assert granted - managed == EXPECTED


def test_kms_is_granted_only_for_a_customer_key_and_only_through_ssm(cfn):
    (conditional,) = [s["Fn::If"] for s in webhook_statements(cfn) if "Fn::If" in s]
    condition, statement, otherwise = conditional
    assert condition == "HasSecretsKmsKey" and otherwise == {"Ref": "AWS::NoValue"}
    assert statement["Action"] == ["kms:Decrypt"] and statement["Resource"] == {"Ref": "SecretsKmsKeyArn"}
    assert statement["Condition"]["StringEquals"]["kms:ViaService"] == {
        "Fn::Sub": "ssm.${AWS::Region}.${AWS::URLSuffix}"}


def test_the_webhook_is_reachable_only_as_get_and_post_on_webhook(cfn, sam):
    events = sam["Resources"]["WebhookFunction"]["Properties"]["Events"]
    routes = sorted((e["Properties"]["Method"].upper(), e["Properties"]["Path"]) for e in events.values())
    assert routes == [("GET", "/webhook"), ("POST", "/webhook")]
    stage = sam["Resources"]["WebhookApi"]["Properties"]["MethodSettings"][0]
    assert stage["ThrottlingRateLimit"] > 0 and stage["ThrottlingBurstLimit"] > 0


def test_the_eum_social_subscription_exists_only_when_a_topic_is_given(cfn):
    for name in ("EumSocialSubscription", "EumSocialInvokePermission"):
        assert cfn["Resources"][name]["Condition"] == "HasEumSocialTopic"
    permission = cfn["Resources"]["EumSocialInvokePermission"]["Properties"]
    assert permission["Principal"] == "sns.amazonaws.com" and permission["SourceArn"] == {"Ref": "EumSocialTopicArn"}


def test_the_function_reads_its_configuration_from_the_template(sam):
    from numberguard_ops.template import function_environment

    env = function_environment("WebhookFunction")
    assert env["APP_SECRET_PARAMETER"] == "/numberguard/meta-app-secret"
    assert env["VERIFY_TOKEN_PARAMETER"] == "/numberguard/webhook-verify-token"
    assert env["ARCHIVE_BUCKET"] and env["NOTIFICATION_TOPIC_ARN"]
    outputs = sam["Outputs"]
    assert {"WebhookUrl", "ArchiveBucketName", "WebhookFunctionName"} <= set(outputs)
