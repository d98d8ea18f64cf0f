"""Given a quality update for a display number nobody registered, POSTed through the webhook handler, when
it is kept for a later registration, then it carries an expiry 30 days out on the attribute the numbers
table expires items by (template.yaml's TTL, and local mode's tables, also those of an earlier data
folder): a number that is never registered leaves nothing behind for ever."""

from __future__ import annotations

import json

from tests.webhooks import reference_body, signed_post

WABA = "102290129340398"
DAYS = 24 * 3600


def test_an_update_kept_for_an_unregistered_number_expires_after_30_days(webhook_world, monkeypatch):
    from numberguard import wiring
    from numberguard.store import codec, keys
    from numberguard.store.schema_names import PendingItem

    stack = webhook_world.stack
    monkeypatch.setattr(wiring, "clock", stack.clock)
    answer = webhook_world.invoke(signed_post(reference_body("phone_number_quality_update.onboarding.json")))
    assert json.loads(answer["body"])["counts"] == {"kept_for_unregistered_number": 1}
    item = stack.client.get_item(TableName=stack.settings.numbers_table,
                                 Key=keys.pending_key(WABA, "16505551111"))["Item"]
    assert codec.n(item, PendingItem.expires_at) == int(stack.clock()) + 30 * DAYS
    ttl = stack.client.describe_time_to_live(TableName=stack.settings.numbers_table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", PendingItem.TTL)


def test_local_modes_numbers_table_from_an_earlier_data_folder_gets_the_ttl(moto_stack):
    from numberguard_ops.template import create_tables

    client, table = moto_stack.client, moto_stack.settings.numbers_table
    client.update_time_to_live(TableName=table, TimeToLiveSpecification={"AttributeName": "expires_at",
                                                                         "Enabled": False})
    assert client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"
    assert create_tables(client) == []  # every table is there already
    ttl = client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
