"""Given template.yaml, when SAM expands it, then the Meta sync is scheduled at MetaSyncRate, dead-lettered,
alarmed, logged and allowed exactly what it uses: its own role, the token parameter only."""

from __future__ import annotations

import re

from tests.infra.conftest import of_type
from tests.infra.test_evaluator_template import invoke_config_of, schedule_of


def test_the_meta_sync_runs_on_its_own_schedule_and_role(cfn, sam):
    props = schedule_of(cfn, "MetaSyncFunction")["Properties"]
    assert props["ScheduleExpression"] == {"Ref": "MetaSyncRate"}
    assert sam["Parameters"]["MetaSyncRate"]["Default"] == "rate(15 minutes)"
    assert props["Target"]["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["MetaSyncDeadLetterQueue", "Arn"]}}
    assert cfn["Resources"]["MetaSyncFunction"]["Properties"]["Role"] == {"Fn::GetAtt": ["MetaSyncFunctionRole", "Arn"]}
    assert invoke_config_of(cfn, "MetaSyncFunction")["Properties"]["MaximumRetryAttempts"] == 0


def test_the_meta_sync_parameters_and_their_defaults(sam):
    params = sam["Parameters"]
    assert params["MetaGraphUrl"]["Default"] == "https://graph.facebook.com"
    assert params["MetaGraphVersion"]["Default"] == "v24.0"
    assert params["MetaAccessTokenParameter"]["Default"] == "/numberguard/meta-access-token"
    url = re.compile(params["MetaGraphUrl"]["AllowedPattern"])
    assert url.fullmatch("http://127.0.0.1:3002") and not url.fullmatch("file:///etc/passwd")
    env = sam["Resources"]["MetaSyncFunction"]["Properties"]["Environment"]["Variables"]
    assert env == {"META_GRAPH_URL": {"Ref": "MetaGraphUrl"}, "META_GRAPH_VERSION": {"Ref": "MetaGraphVersion"},
                   "META_ACCESS_TOKEN_PARAMETER": {"Ref": "MetaAccessTokenParameter"}}


def test_the_token_is_the_only_parameter_it_may_read(sam):
    statements = sam["Resources"]["MetaSyncFunction"]["Properties"]["Policies"][0]["Statement"]
    ssm = [s for s in statements if isinstance(s, dict) and any(a.startswith("ssm:") for a in s.get("Action", []))]
    assert [s["Action"] for s in ssm] == [["ssm:GetParameter"]]
    assert "MetaAccessTokenParameter" in str(ssm[0]["Resource"]) and "AppSecret" not in str(ssm[0]["Resource"])
    assert all("RecipientsTable" not in str(s) for s in statements)


def test_the_meta_sync_is_alarmed_like_the_evaluator_and_on_a_refused_token(cfn):
    alarms = of_type(cfn, "AWS::CloudWatch::Alarm")
    for name in ("MetaSyncErrorsAlarm", "MetaSyncThrottlesAlarm", "MetaSyncDeadLetterQueueDepthAlarm",
                 "MetaAccessRefusedAlarm"):
        assert alarms[name]["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    refused = alarms["MetaAccessRefusedAlarm"]["Properties"]
    assert (refused["Namespace"], refused["MetricName"]) == ("numberguard", "MetaAccessRefused")
    group = cfn["Resources"]["MetaSyncLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
