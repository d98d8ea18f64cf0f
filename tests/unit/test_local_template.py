"""Given template.yaml (and the resources the webhook and evaluator issues add), when local mode reads it,
then every function's environment, route, schedule, topic and secret parameter comes from it, by type."""

from __future__ import annotations

import pytest

from numberguard_ops import template
from numberguard_ops.local import parse_rate
from tests.local_template import preview_template


@pytest.fixture(scope="module")
def preview(tmp_path_factory):
    path = preview_template(tmp_path_factory.mktemp("template"))
    return template.Resolver(template.load(path))


def test_ref_answers_what_cloudformation_answers_per_resource_type(preview):
    env = template.function_environment("LimitCheckFunction", preview.template)
    assert env["NUMBERS_TABLE"] == "numberguard-numbers"  # a table's Ref is its name
    assert env["NOTIFICATION_TOPIC_ARN"] == "arn:aws:sns:us-east-1:123456789012:numberguard-notification"
    assert env["LIMIT_POLICY"] == "per-number" and env["BUCKET_MINUTES"] == "10"
    assert preview.ref("ArchiveBucket") == "numberguard-archive"  # a bucket's Ref is its name
    assert preview.ref("EvaluatorDeadLetterQueue").endswith("/123456789012/numberguard-evaluatordeadletter")
    assert preview.resolve({"Fn::GetAtt": ["NumbersTable", "Arn"]}) == \
        "arn:aws:dynamodb:us-east-1:123456789012:table/numberguard-numbers"
    assert preview.resolve({"Fn::Sub": "/aws/lambda/${AWS::StackName}/${LimitPolicy}"}) == \
        "/aws/lambda/numberguard/per-number"


def test_parameters_overrides_and_conditions():
    doc = {"Parameters": {"Email": {"Type": "String", "Default": ""}},
           "Conditions": {"HasEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Email"}, ""]}]}},
           "Resources": {"Sub": {"Type": "AWS::SNS::Subscription", "Condition": "HasEmail", "Properties": {}},
                         "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alerts"}}}}
    assert template.Resolver(doc).active("Sub") is False
    assert template.Resolver(doc, {"Email": "ops@example.com"}).active("Sub") is True
    assert template.Resolver(doc).ref("Topic") == "arn:aws:sns:us-east-1:123456789012:alerts"  # the name it gives
    with pytest.raises(template.TemplateError, match="Nowhere"):
        template.Resolver(doc).ref("Nowhere")


def test_routes_schedules_and_secret_parameters_come_from_the_functions(preview):
    routes = {(r.method, r.path, r.function) for r in template.api_routes(preview)}
    assert ("GET", "/webhook", "WebhookFunction") in routes
    assert ("POST", "/webhook", "WebhookFunction") in routes
    assert ("ANY", "/echo/{proxy+}", "EchoFunction") in routes
    [schedule] = [s for s in template.schedules(preview) if s.function == "EvaluatorFunction"]
    assert template.rate_seconds(schedule.expression) == 300
    assert template.secure_parameters(preview) == {
        "APP_SECRET_PARAMETER": "/numberguard/meta-app-secret",
        "VERIFY_TOKEN_PARAMETER": "/numberguard/webhook-verify-token",
        "META_ACCESS_TOKEN_PARAMETER": "/numberguard/meta-access-token",
    }


def test_the_repository_template_has_nothing_local_mode_cannot_read():
    resolver = template.Resolver()
    for fn in template.functions():
        template.function_environment(fn)
    template.api_routes(resolver)
    for schedule in template.schedules(resolver):
        template.rate_seconds(schedule.expression)


@pytest.mark.parametrize(("text", "seconds"), [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("30s", 30),
                                               ("5m", 300), ("2", 2), ("1h", 3600)])
def test_schedule_rate_flag(text, seconds):
    assert parse_rate(text) == seconds


@pytest.mark.parametrize("text", ["cron(0 * * * ? *)", "soon", "-5s", "rate(0 minutes)"])
def test_schedule_rate_flag_refuses_what_is_not_a_rate(text):
    with pytest.raises(ValueError, match="rate"):
        parse_rate(text)


def test_eum_social_subscription_delivers_to_the_webhook_function_once_its_parameter_is_set():
    doc = template.load()
    assert [s for s in template.topic_subscriptions(template.Resolver(doc)) if s.function == "WebhookFunction"] == []
    eum = "arn:aws:sns:us-east-1:123456789012:eum-social"
    subs = template.topic_subscriptions(template.Resolver(doc, {"EumSocialTopicArn": eum}))
    assert template.TopicSubscription("WebhookFunction", eum) in subs
