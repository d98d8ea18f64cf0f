"""The README's walkthrough, end to end: `numberguard local` (what `make run` runs) on free ports, a number
registered, Meta's signed webhooks POSTed to /webhook, the check invoked through boto3, the evaluator on its
timer, a notification read from the mailbox, the operator's commands, and Ctrl-C leaving nothing behind."""

from __future__ import annotations

import email
import email.policy
import json
import signal
import time
import urllib.error
import urllib.request

import boto3
import pytest

from numberguard_ops.embedded_aws import wait_for
from numberguard_ops.local import port_free
from tests.conftest import ROOT
from tests.e2e.test_local_mode import Local, children, numberguard, start_local, wait_gone

pytestmark = pytest.mark.e2e

NUMBER = "106540352242922"
SAMPLES = ROOT / "events" / "webhooks"
EUM_TOPIC = "arn:aws:sns:us-east-1:123456789012:eum-social"


def post(url: str, body: bytes, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def mails(local: Local, kind: str) -> list[email.message.EmailMessage]:
    folder = local.data_dir / "mailbox"
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted(folder.glob(f"*-{kind}-*.eml"))]


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory):
    base = tmp_path_factory.mktemp("walkthrough")
    local = start_local(base / "data", base / "local.out", "--schedule-rate", "1s",
                        "--parameter", f"EumSocialTopicArn={EUM_TOPIC}")
    try:
        yield local
    finally:
        local.stop(signal.SIGINT)  # already stopped by the last test, unless an earlier one failed


def test_1_banner_says_where_everything_is_and_what_to_do_next(walkthrough):
    local = walkthrough
    out = local.output()
    for where in (local.api_endpoint, local.lambda_endpoint, local.dynamodb_endpoint, local.moto_endpoint,
                  str(local.data_dir / "mailbox")):
        assert where in out
    assert "/numberguard/meta-app-secret = 'local-app-secret'" in out
    assert "/numberguard/webhook-verify-token = 'local-verify-token'" in out
    assert "POST /webhook → WebhookFunction" in out and "EvaluatorFunction every 1 s" in out
    [next_line] = [line for line in out.splitlines() if line.startswith("Next:")]
    assert "numbers import --endpoint " in next_line and "--waba-id 102290129340398" in next_line
    assert "send-webhook" in next_line and "boto3" in next_line


def test_2_register_then_meta_verifies_and_posts_signed_webhooks(walkthrough):
    local = walkthrough
    added = local.register(NUMBER, "20", "--quality", "GREEN")
    assert added.returncode == 0, added.stderr

    status, challenge = get(f"{local.api_endpoint}/webhook?hub.mode=subscribe&hub.verify_token=local-verify-token"
                            "&hub.challenge=1158201444")
    assert (status, challenge) == (200, "1158201444")
    assert get(f"{local.api_endpoint}/webhook?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1")[0] == 403

    body = (SAMPLES / "quality-flagged.json").read_bytes()
    status, answer = post(f"{local.api_endpoint}/webhook", body, {"Content-Type": "application/json"})
    assert status == 401, answer  # unsigned: refused, nothing applied
    assert "FLAGGED" not in numberguard("numbers", "show", NUMBER, "--dynamodb-endpoint",
                                        local.dynamodb_endpoint).stdout

    url = f"{local.api_endpoint}/webhook"
    for sample in ("quality-flagged.json", "inbound-text.json"):
        sent = numberguard("send-webhook", "--now", "--url", url, str(SAMPLES / sample))
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert sent.stdout.startswith("200 ")


def test_3_checks_through_boto3_see_the_webhooks(walkthrough):
    local = walkthrough
    client = local.lambda_client()

    def invoke(payload: dict) -> dict:
        response = client.invoke(FunctionName="LimitCheckFunction", Payload=json.dumps(payload))
        assert response.get("FunctionError") is None
        return json.loads(response["Payload"].read())

    reply = invoke({"phone_number_id": NUMBER, "recipient": "16505551234", "message": "session"})
    assert reply["decision"] == "ALLOWED_SERVICE_WINDOW"  # the inbound message opened the window
    assert reply["status"] == "FLAGGED" and reply["quality"] == "RED"  # the quality webhook applied
    decisions = [invoke({"phone_number_id": NUMBER, "recipient": f"1777555{i:04d}", "message": "template"})
                 ["decision"] for i in range(17)]
    assert decisions == ["ALLOWED_NEW_RECIPIENT"] * 17


def test_3b_end_user_messaging_social_messages_reach_the_intake_through_sns(walkthrough):
    local = walkthrough
    assert f"SNS delivery    {EUM_TOPIC} → WebhookFunction" in local.output()
    message = json.loads((ROOT / "events" / "meta-webhooks" / "eum-social-sns-message.json").read_text())
    entry = json.loads(message["whatsAppWebhookEntry"])
    entry["changes"][0]["value"]["messages"][0]["timestamp"] = str(int(time.time()))
    message["whatsAppWebhookEntry"] = json.dumps(entry)
    sns = boto3.client("sns", endpoint_url=local.moto_endpoint, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    sns.publish(TopicArn=EUM_TOPIC, Message=json.dumps(message))

    def window_open():
        response = local.lambda_client().invoke(FunctionName="LimitCheckFunction", Payload=json.dumps(
            {"phone_number_id": NUMBER, "recipient": "12065550102", "message": "session", "dry_run": True}))
        return json.loads(response["Payload"].read())["decision"] == "ALLOWED_SERVICE_WINDOW"

    assert wait_for(window_open, timeout=30, step=0.5), local.output()[-3000:]


def test_4_the_evaluator_warns_and_the_mailbox_has_the_notifications(walkthrough):
    local = walkthrough
    warnings = wait_for(lambda: mails(local, "USAGE_WARNING"), timeout=60, step=0.5)
    assert warnings, local.output()[-3000:]
    warning = warnings[0]
    assert "80%" in warning["Subject"] and warning["X-Phone-Number-Id"] == NUMBER
    assert "17 of 20 unique recipients" in warning.get_content() or "of 20 unique recipients" in warning.get_content()
    flagged = mails(local, "STATUS_CHANGED")
    assert any("FLAGGED" in m["Subject"] for m in flagged)
    text = next(m for m in flagged if "FLAGGED" in m["Subject"]).get_content()
    assert text.startswith("What happened:") and "day 7" in text
    document = json.loads(next((local.data_dir / "mailbox").glob("*-USAGE_WARNING-*.json")).read_text())
    assert document["type"] == "USAGE_WARNING" and document["phone_number_id"] == NUMBER
    out = local.output()
    assert "notification " in out and "USAGE_WARNING +15550783881" in out  # one readable line each

    # SNS really holds the topic the functions publish to (moto, as the functions see it)
    sns = boto3.client("sns", endpoint_url=local.moto_endpoint, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    topics = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert "arn:aws:sns:us-east-1:123456789012:numberguard-notification" in topics


def test_5_operator_commands_show_usage_history_and_the_report(walkthrough, tmp_path):
    local = walkthrough
    ddb = ("--dynamodb-endpoint", local.dynamodb_endpoint)
    usage = numberguard("usage", NUMBER, *ddb)
    assert usage.returncode == 0, usage.stderr
    assert "17 / 20 unique recipients" in usage.stdout and "FLAGGED" in usage.stdout
    assert usage.stdout.count("\n") >= 24  # the hour-by-hour histogram
    history = numberguard("history", NUMBER, *ddb)
    assert history.returncode == 0 and "STATUS_CHANGED" in history.stdout and "CONNECTED → FLAGGED" in history.stdout
    page = tmp_path / "report.html"
    made = numberguard("report", "--html", str(page), *ddb)
    assert made.returncode == 0, made.stderr
    html = page.read_text()
    assert "+15550783881" in html and 'data-status="FLAGGED"' in html and "TIER_20" in html
    for command in (("usage", "555000111"), ("history", "555000111")):
        failed = numberguard(*command, *ddb)
        assert failed.returncode != 0 and len(failed.stderr.strip().splitlines()) == 1
        assert "555000111 is not registered" in failed.stderr


def test_6_ctrl_c_stops_everything_and_leaves_nothing_behind(walkthrough):
    local = walkthrough
    java = children(local.process.pid)
    assert java, "DynamoDB Local runs as a child of local mode"
    code = local.stop(signal.SIGINT)
    assert code == 0, local.output()[-3000:]
    assert "local mode stopped" in local.output()
    for pid in java:
        assert wait_gone(pid), f"process {pid} was left behind"
    for port in (local.api_port, local.lambda_port, local.dynamodb_port, local.moto_port):
        assert port_free(port), f"port {port} is still taken"
