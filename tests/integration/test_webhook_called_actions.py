"""Given the webhook function handling every kind of body (and a failed send giving back its slot),
when every AWS call it makes is recorded, then each call is granted by its role in template.yaml and
each grant is used: the role is exactly what the code needs."""

from __future__ import annotations

import json

import botocore.client

from tests.infra.test_webhook_policy import EXPECTED
from tests.webhooks import envelope, reference_body, reference_names, signed_post, sns_event

PNID, WABA = "106540352242922", "102290129340398"
# TransactWriteItems is authorised as the Put / Update of each item it touches.
TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def test_every_call_is_granted_and_every_grant_is_used(webhook_world, monkeypatch):
    from numberguard_ops.template import local_name, resources

    tables = {local_name(name): name for name in resources("AWS::DynamoDB::Table")}
    env = webhook_world.stack.env
    calls: set[tuple[str, str]] = set()
    real = botocore.client.BaseClient._make_api_call

    def record(client, operation, params):
        service = client.meta.service_model.signing_name
        if service == "dynamodb":
            if operation == "TransactWriteItems":
                for item in params["TransactItems"]:
                    (kind, body), = item.items()
                    calls.add((f"dynamodb:{TRANSACT[kind]}", tables[body["TableName"]]))
            elif operation in ("BatchGetItem", "BatchWriteItem"):
                for table in params["RequestItems"]:
                    calls.add((f"dynamodb:{operation}", tables[table]))
            else:
                suffix = f"/index/{params['IndexName']}" if "IndexName" in params else ""
                calls.add((f"dynamodb:{operation}", tables[params["TableName"]] + suffix))
        elif service == "s3":
            calls.add((f"s3:{operation}", "ArchiveBucket/*" if params.get("Bucket") == env["ARCHIVE_BUCKET"] else "?"))
        elif service == "ssm":
            which = {env["APP_SECRET_PARAMETER"]: "AppSecretParameterName",
                     env["VERIFY_TOKEN_PARAMETER"]: "VerifyTokenParameterName"}
            calls.add((f"ssm:{operation}", "parameter:" + which.get(params.get("Name"), "?")))
        elif service == "sns":
            calls.add((f"sns:{operation}", "NotificationTopic" if params.get("TopicArn") == env[
                "NOTIFICATION_TOPIC_ARN"] else "?"))
        else:
            calls.add((f"{service}:{operation}", "?"))
        return real(client, operation, params)

    # Given a number that took a slot for a send with a reference (to someone the reference bodies never
    # name: their system change moves 16505551234's count to a new number)
    webhook_world.stack.register(tier="TIER_10K", quality="GREEN")
    answer = webhook_world.stack.checker().handle({"phone_number_id": PNID, "recipient": "16505550042",
                                                   "message": "template", "reference": "send-42"})
    assert answer["decision"] == "ALLOWED_NEW_RECIPIENT"
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)

    # When the handshake, every reference body, the EUM Social message and a failed status arrive
    from tests.conftest import load_event

    assert webhook_world.invoke(load_event("webhook.verify.json"))["statusCode"] == 200
    for name in reference_names():
        if name.startswith("eum-"):
            assert webhook_world.invoke(sns_event(reference_body(name).decode())) == {"applied": [200]}
        else:
            assert webhook_world.invoke(signed_post(reference_body(name)))["statusCode"] == 200
    failed = envelope(WABA, [{"field": "messages", "value": {"metadata": {"phone_number_id": PNID}, "statuses": [
        {"id": "wamid.X", "status": "failed", "timestamp": "1750000000", "recipient_id": "16505550042",
         "biz_opaque_callback_data": "send-42", "errors": [{"code": 131026}]}]}}])
    answer = webhook_world.invoke(signed_post(failed))
    assert json.loads(answer["body"])["counts"]["slot_released"] == 1

    # Then every call is granted, and every grant was used (the dead-letter queue is Lambda's own use)
    assert calls - EXPECTED == set()
    assert EXPECTED - calls == {("sqs:SendMessage", "WebhookDeadLetterQueue")}
