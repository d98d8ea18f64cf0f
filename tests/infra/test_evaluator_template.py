"""Given template.yaml, when SAM expands it, then the evaluator is scheduled, retried, dead-lettered,
logged and allowed exactly what it uses; notifications can reach an email address."""

from __future__ import annotations

import re

from tests.infra.conftest import of_type


def evaluator_statements(sam: dict) -> list[dict]:
    return sam["Resources"]["EvaluatorFunction"]["Properties"]["Policies"][0]["Statement"]


def schedule_of(cfn: dict, function: str) -> dict:
    [schedule] = [s for s in of_type(cfn, "AWS::Scheduler::Schedule").values()
                  if s["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [function, "Arn"]}]
    return schedule


def invoke_config_of(cfn: dict, function: str) -> dict:
    [config] = [c for c in of_type(cfn, "AWS::Lambda::EventInvokeConfig").values()
                if c["Properties"]["FunctionName"] == {"Ref": function}]
    return config


def test_the_schedule_runs_the_evaluator_at_the_parameters_rate_in_an_explicit_time_zone(cfn, sam):
    schedule = schedule_of(cfn, "EvaluatorFunction")
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == {"Ref": "EvaluatorSchedule"}
    assert sam["Parameters"]["EvaluatorSchedule"]["Default"] == "rate(5 minutes)"
    assert props["ScheduleExpressionTimezone"] == {"Ref": "EvaluatorTimeZone"}
    assert sam["Parameters"]["EvaluatorTimeZone"]["Default"] == "UTC"
    assert "Name" not in props  # generated: two stacks in one account never collide
    target = props["Target"]
    assert target["Arn"] == {"Fn::GetAtt": ["EvaluatorFunction", "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 300}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["EvaluatorDeadLetterQueue", "Arn"]}}


def test_the_schedule_parameter_accepts_rates_and_crons_only(sam):
    pattern = re.compile(sam["Parameters"]["EvaluatorSchedule"]["AllowedPattern"])
    for good in ("rate(5 minutes)", "rate(1 minute)", "rate(2 hours)", "cron(0/5 * * * ? *)"):
        assert pattern.fullmatch(good), good
    for bad in ("5 minutes", "rate(0 minutes)", "rate(5 fortnights)", "every 5 minutes", ""):
        assert not pattern.fullmatch(bad), bad


def test_the_scheduler_and_the_function_have_roles_of_their_own(cfn):
    roles = of_type(cfn, "AWS::IAM::Role")
    scheduler = roles["EvaluatorFunctionEvaluationRole"]
    principals = scheduler["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
    assert principals == ["scheduler.amazonaws.com"]
    actions = sorted(s["Action"] for p in scheduler["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"])
    assert actions == ["lambda:InvokeFunction", "sqs:SendMessage"]
    assert cfn["Resources"]["EvaluatorFunction"]["Properties"]["Role"] == {
        "Fn::GetAtt": ["EvaluatorFunctionRole", "Arn"]}
    assert "EvaluatorFunctionRole" in roles and "LimitCheckFunctionRole" in roles


def test_failed_runs_go_to_an_encrypted_dead_letter_queue_without_lambda_retries(cfn):
    queue = cfn["Resources"]["EvaluatorDeadLetterQueue"]
    assert queue["Type"] == "AWS::SQS::Queue" and queue["Properties"]["SqsManagedSseEnabled"] is True
    function = cfn["Resources"]["EvaluatorFunction"]["Properties"]
    assert function["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": ["EvaluatorDeadLetterQueue", "Arn"]}}
    invoke_config = invoke_config_of(cfn, "EvaluatorFunction")
    assert invoke_config["Properties"]["MaximumRetryAttempts"] == 0  # the next scheduled run is the retry


def test_the_evaluator_logs_to_its_own_group_with_retention(cfn):
    function = cfn["Resources"]["EvaluatorFunction"]["Properties"]
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "EvaluatorLogGroup"}
    group = cfn["Resources"]["EvaluatorLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert group["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${AWS::StackName}/EvaluatorFunction"}


def test_the_evaluator_policy_names_its_tables_indexes_and_topic_only(sam):
    for statement in evaluator_statements(sam):
        assert statement["Effect"] == "Allow"
        assert "*" not in str(statement["Action"]) and statement["Resource"] != "*"
    notify = [s for s in evaluator_statements(sam) if any(a.startswith("sns:") for a in s["Action"])]
    assert notify == [{"Sid": "Notify", "Effect": "Allow", "Action": ["sns:Publish"],
                       "Resource": {"Ref": "NotificationTopic"}}]
    # Recipients only by key, for the people the intake asked it to fold: never a Scan or a Query of them.
    recipients = [s for s in evaluator_statements(sam) if "RecipientsTable" in str(s["Resource"])]
    assert [s["Sid"] for s in recipients] == ["FoldPeople"]
    assert set(recipients[0]["Action"]) == {"dynamodb:BatchGetItem", "dynamodb:UpdateItem"}


def test_an_email_address_is_subscribed_only_when_given(cfn, sam):
    subscription = cfn["Resources"]["NotificationEmailSubscription"]
    assert subscription["Condition"] == "HasNotificationEmail"
    assert subscription["Properties"] == {"TopicArn": {"Ref": "NotificationTopic"}, "Protocol": "email",
                                          "Endpoint": {"Ref": "NotificationEmail"}}
    assert sam["Parameters"]["NotificationEmail"]["Default"] == ""
    pattern = re.compile(sam["Parameters"]["NotificationEmail"]["AllowedPattern"])
    assert pattern.fullmatch("") and pattern.fullmatch("ops@example.com")
    assert not pattern.fullmatch("not an address")


def test_the_history_table_has_a_sparse_outbox_index(sam):
    table = sam["Resources"]["HistoryTable"]["Properties"]
    [index] = [i for i in table["GlobalSecondaryIndexes"] if i["IndexName"] == "Outbox"]
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["outbox", "outbox_at"]


def test_the_evaluator_outputs(sam):
    for name in ("EvaluatorFunctionName", "EvaluatorLogGroupName", "EvaluatorDeadLetterQueueUrl",
                 "NotificationTopicArn"):
        assert name in sam["Outputs"]
