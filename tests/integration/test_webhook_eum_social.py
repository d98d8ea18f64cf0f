"""Given the AWS End User Messaging Social SNS message (no Meta signature), when it reaches the
function through its SNS subscription, then the state is exactly what the same entry gives through
/webhook, signed."""

from __future__ import annotations

import json

from tests.webhooks import envelope, reference_body, signed_post, sns_event

VOLATILE = {"expires_at"}  # TTL computed from the wall clock at write time


def snapshot(world) -> dict:
    settings = world.stack.settings
    out = {}
    for table in (settings.numbers_table, settings.recipients_table, settings.limits_table, settings.history_table):
        items = world.stack.client.scan(TableName=table)["Items"]
        out[table] = sorted(json.dumps({k: v for k, v in i.items() if k not in VOLATILE}, sort_keys=True)
                            for i in items)
    return out


def clear(world) -> None:
    settings = world.stack.settings
    for table, key in ((settings.numbers_table, "pk"), (settings.recipients_table, "pk"),
                       (settings.limits_table, "scope")):
        for item in world.stack.client.scan(TableName=table)["Items"]:
            world.stack.client.delete_item(TableName=table, Key={key: item[key]})


def test_eum_social_sns_message_gives_the_same_state_as_the_signed_webhook(webhook_world):
    message = reference_body("eum-social-sns-message.json").decode()
    entry = json.loads(json.loads(message)["whatsAppWebhookEntry"])

    # Given a registered number, when EUM Social's SNS message arrives
    webhook_world.stack.register(tier="TIER_1K")
    result = webhook_world.invoke(sns_event(message))
    assert result == {"applied": [200]}
    through_sns = snapshot(webhook_world)
    archived = webhook_world.archived()
    assert len(archived) == 1 and archived[0].startswith("eum-social/")

    # And, from the same registration, the same entry comes through /webhook, signed by Meta
    clear(webhook_world)
    webhook_world.stack.register(tier="TIER_1K")
    answer = webhook_world.invoke(signed_post(envelope(entry["id"], entry["changes"])))
    assert answer["statusCode"] == 200
    # Then the two paths leave exactly the same state (a window opened for the user)
    assert snapshot(webhook_world) == through_sns
    assert any("12065550102" in item for item in through_sns[webhook_world.stack.settings.recipients_table])


def test_the_sample_sns_event_is_applied(webhook_world):
    from tests.conftest import load_event

    webhook_world.stack.register(tier="TIER_1K")
    assert webhook_world.invoke(load_event("webhook.eum-social.sns.json")) == {"applied": [200]}


def test_an_sns_message_that_is_not_eum_social_is_dropped_with_a_reason(webhook_world):
    assert webhook_world.invoke(sns_event(json.dumps({"hello": "world"}))) == {"applied": [400]}
    assert webhook_world.archived() == []
