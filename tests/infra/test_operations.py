"""Operations: every function, table, API and queue has its alarms, and the alarms reach people."""

from __future__ import annotations

import pytest

from tests.infra.conftest import of_type


def _metrics(alarm: dict) -> list[tuple[str, str, dict]]:
    """(namespace, metric name, dimensions) of an alarm, plain or metric math."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return [(props["Namespace"], props["MetricName"], _dims(props.get("Dimensions", [])))]
    found = []
    for query in props.get("Metrics", []):
        metric = query.get("MetricStat", {}).get("Metric")
        if metric:
            found.append((metric["Namespace"], metric["MetricName"], _dims(metric.get("Dimensions", []))))
    return found


def _dims(dimensions: list[dict]) -> dict:
    return {d["Name"]: d["Value"] for d in dimensions}


def watched(cfn: dict, namespace: str, metric: str, dimension: str) -> set[str]:
    """Logical ids that an alarm watches through `dimension` (a Ref), for this metric."""
    refs = set()
    for alarm in of_type(cfn, "AWS::CloudWatch::Alarm").values():
        for ns, name, dims in _metrics(alarm):
            value = dims.get(dimension)
            if ns == namespace and name == metric and isinstance(value, dict) and "Ref" in value:
                refs.add(value["Ref"])
    return refs


def test_every_alarm_notifies_the_alarm_topic_on_alarm_and_recovery(cfn):
    alarms = of_type(cfn, "AWS::CloudWatch::Alarm")
    assert alarms
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        assert {"Ref": "AlarmTopic"} in props["AlarmActions"], name
        assert {"Ref": "AlarmTopic"} in props["OKActions"], name
        assert props["TreatMissingData"] == "notBreaching", f"{name}: no traffic is not an incident"


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_error_and_throttle_alarms(cfn, metric):
    functions = set(of_type(cfn, "AWS::Lambda::Function"))
    assert "LimitCheckFunction" in functions
    assert functions <= watched(cfn, "AWS/Lambda", metric, "FunctionName")


@pytest.mark.parametrize("metric", ["ReadThrottleEvents", "WriteThrottleEvents"])
def test_every_table_has_a_throttle_alarm(cfn, metric):
    tables = set(of_type(cfn, "AWS::DynamoDB::Table"))
    assert len(tables) >= 4
    assert tables <= watched(cfn, "AWS/DynamoDB", metric, "TableName")


def test_fail_closed_answers_are_watched_since_they_are_not_errors(cfn):
    names = {name for alarm in of_type(cfn, "AWS::CloudWatch::Alarm").values() for _, name, _ in _metrics(alarm)}
    assert {"DENIED_STORE_UNAVAILABLE", "ALLOWED_STORE_UNAVAILABLE"} <= names


def test_every_rest_api_has_a_5xx_alarm(cfn):
    apis = set(of_type(cfn, "AWS::ApiGateway::RestApi"))
    assert apis <= watched(cfn, "AWS/ApiGateway", "5XXError", "ApiName") | _api_by_name(cfn)


def _api_by_name(cfn: dict) -> set[str]:
    """5XXError alarms name the API by ApiName (its Name or title, e.g. the stack name): map them back."""
    found = set()
    apis = of_type(cfn, "AWS::ApiGateway::RestApi")
    for alarm in of_type(cfn, "AWS::CloudWatch::Alarm").values():
        for ns, metric, dims in _metrics(alarm):
            if ns == "AWS/ApiGateway" and metric == "5XXError":
                found.update(api for api, res in apis.items() if _api_name(res) == dims.get("ApiName"))
    return found


def _api_name(api: dict):
    """The name API Gateway reports metrics under: Name, or the title of the OpenAPI body SAM writes."""
    props = api["Properties"]
    return props.get("Name") or props.get("Body", {}).get("info", {}).get("title")


def test_every_queue_has_an_alarm_that_it_is_not_emptied(cfn):
    """A dead-letter queue alarms on any message in it; the receipt queue, emptied by each evaluator
    run, on the age of its oldest message."""
    queues = set(of_type(cfn, "AWS::SQS::Queue"))
    watched = {
        value["Fn::GetAtt"][0]: metric
        for alarm in of_type(cfn, "AWS::CloudWatch::Alarm").values()
        for ns, metric, dims in _metrics(alarm)
        if ns == "AWS/SQS" and metric in ("ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage")
        for value in [dims.get("QueueName")]
        if isinstance(value, dict) and "Fn::GetAtt" in value
    }
    assert queues <= set(watched)
    assert {q for q, metric in watched.items() if metric == "ApproximateNumberOfMessagesVisible"} == \
        {q for q in queues if q.endswith("DeadLetterQueue")}


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(cfn):
    topic = cfn["Resources"]["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    key = cfn["Resources"]["AlarmTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    cloudwatch = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert len(cloudwatch) == 1
    assert set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert "aws:SourceAccount" in cloudwatch[0]["Condition"]["StringEquals"]


def test_alarm_email_is_optional(sam, cfn):
    assert sam["Parameters"]["AlarmEmail"]["Default"] == ""
    subscription = cfn["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Protocol"] == "email"
