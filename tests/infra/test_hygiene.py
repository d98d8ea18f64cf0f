"""Template and SAM configuration hygiene: alarms a person can act on, failures kept, parameters
checked, configuration where SAM reads it, and `sam local invoke` finding real resource names."""

from __future__ import annotations

import json
import re
import tomllib

import pytest

from numberguard_ops.runtime import specs_from_template
from tests.infra.conftest import of_type, project_path


def test_one_alarm_sums_every_tables_throttles(cfn):
    tables = set(of_type(cfn, "AWS::DynamoDB::Table"))
    [alarm] = [a["Properties"] for a in of_type(cfn, "AWS::CloudWatch::Alarm").values()
               if any(q.get("MetricStat", {}).get("Metric", {}).get("MetricName") == "ReadThrottleEvents"
                      for q in a["Properties"].get("Metrics", []))]
    queried = {q["Id"]: q["MetricStat"]["Metric"] for q in alarm["Metrics"] if "MetricStat" in q}
    [expression] = [q["Expression"] for q in alarm["Metrics"] if q.get("ReturnData", True)]
    summed = set(re.findall(r"[a-z][A-Za-z0-9_]*", expression.replace("SUM", "")))
    assert summed == set(queried), "the alarm's expression must add up every metric it queries"
    for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
        watched = {m["Dimensions"][0]["Value"]["Ref"] for m in queried.values() if m["MetricName"] == metric}
        assert watched == tables, metric


def test_the_checks_duration_alarms_well_inside_its_timeout(sam, cfn):
    timeout_ms = sam["Resources"]["LimitCheckFunction"]["Properties"]["Timeout"] * 1000
    [alarm] = [a["Properties"] for a in of_type(cfn, "AWS::CloudWatch::Alarm").values()
               if a["Properties"].get("MetricName") == "Duration"
               and a["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "LimitCheckFunction"}}]]
    assert alarm["ExtendedStatistic"] == "p99"
    assert alarm["Threshold"] <= timeout_ms / 2


@pytest.mark.parametrize("parameter", ["AlarmEmail", "NotificationEmail"])
@pytest.mark.parametrize(("value", "accepted"), [
    ("", True), ("ops@example.com", True), ("ops", False), ("ops@example", False), ("a@b.c d@e.f", False),
])
def test_email_parameters_take_one_address_or_nothing(sam, parameter, value, accepted):
    pattern = sam["Parameters"][parameter]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) is accepted  # CloudFormation matches the whole value


def test_a_receipt_sns_cannot_deliver_is_kept_in_a_queue_the_topic_may_write(cfn):
    subscription = cfn["Resources"]["NotificationReceiptSubscription"]["Properties"]
    dlq = subscription["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert cfn["Resources"][dlq]["Type"] == "AWS::SQS::Queue"
    [policy] = [p["Properties"] for p in of_type(cfn, "AWS::SQS::QueuePolicy").values()
                if p["Properties"]["Queues"] == [{"Ref": dlq}]]
    [allow] = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "sns.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "NotificationTopic"}}}


def test_an_eum_social_update_the_webhook_fails_lands_in_its_dead_letter_queue_with_the_error(cfn):
    [config] = [c["Properties"] for c in of_type(cfn, "AWS::Lambda::EventInvokeConfig").values()
                if c["Properties"]["FunctionName"] == {"Ref": "WebhookFunction"}]
    assert config["MaximumRetryAttempts"] == 2
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["WebhookDeadLetterQueue", "Arn"]}


def test_the_stack_tags_its_resources_on_deploy():
    deploy = tomllib.loads(project_path("samconfig.toml").read_text())["default"]["deploy"]["parameters"]
    assert 'project="numberguard"' in deploy["tags"]


def test_no_section_header_of_the_template_is_empty():
    lines = project_path("template.yaml").read_text().splitlines()
    header = re.compile(r"^\s*# ---- .+ ----$")
    for number, line in enumerate(lines[:-1]):
        if header.match(line):
            following = lines[number + 1]
            indent = len(line) - len(line.lstrip())
            assert following.strip() and not header.match(following) and \
                len(following) - len(following.lstrip()) >= indent, f"empty header at line {number + 1}: {line}"


def test_sam_local_invoke_gets_local_modes_resource_names_for_every_reference(sam):
    """SAM CLI gives a `!Ref` to a resource as its logical id (a table called NumbersTable): events/env.json
    overrides each with the name local mode serves, for every function."""
    overrides = json.loads(project_path("events/env.json").read_text())["Parameters"]
    local: dict[str, str] = {}
    for spec in specs_from_template():
        local.update(spec.environment)
    declared = dict(sam["Globals"]["Function"]["Environment"]["Variables"])
    for fn in of_type(sam, "AWS::Serverless::Function").values():
        declared.update(fn["Properties"].get("Environment", {}).get("Variables", {}))
    referenced = {name for name, value in declared.items()
                  if isinstance(value, dict) and value.get("Ref") in sam["Resources"]}
    assert referenced <= set(overrides), f"not overridden: {sorted(referenced - set(overrides))}"
    assert set(overrides) <= set(declared), "SAM only overrides variables the template declares"
    assert {k: v for k, v in overrides.items() if k in referenced} == {k: local[k] for k in referenced}
    assert overrides["DYNAMODB_ENDPOINT"] == "http://127.0.0.1:8000"  # local mode's default port
