"""WABA-wide facets (kept so numbers registered later inherit them) and the updates kept for display
numbers nobody registered yet (numbers table)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from numberguard.domain.records import WabaFacets
from numberguard.store import dynamo, keys
from numberguard.store.guarded import guarded_set
from numberguard.store.items import waba_from_item
from numberguard.store.schema_names import PendingItem, WabaItem

PENDING_TTL_SECONDS = 30 * 24 * 3600


class WabaStore:
    def __init__(self, client: Any, numbers_table: str):
        self.client = client
        self.table = numbers_table

    def set_waba_facets(self, waba_id: str, facet: str, values: dict, at: int) -> bool:
        """Write a WABA facet's attributes if no newer event has (watermark `<facet>_at`)."""
        return guarded_set(self.client, self.table, WabaItem, keys.waba_key(waba_id), facet, values, (), at,
                           must_exist=False).applied

    def get(self, waba_id: str) -> WabaFacets | None:
        reply = self.client.get_item(TableName=self.table, Key=keys.waba_key(waba_id), ConsistentRead=True)
        item = reply.get("Item")
        return waba_from_item(item) if item else None

    def keep_pending(self, waba_id: str, display_phone_number: str, dedup_key: str, event: dict, now: int) -> None:
        """Keep an update for a display number nobody registered yet (applied at registration)."""
        key = keys.pending_key(waba_id, display_phone_number)
        try:
            self.client.put_item(TableName=self.table, Item={**key, PendingItem.events: {"M": {}}},
                                 ConditionExpression=f"attribute_not_exists({PendingItem.pk})")
        except ClientError as err:
            if not dynamo.condition_failed(err):
                raise
        self.client.update_item(
            TableName=self.table, Key=key,
            UpdateExpression=f"SET {PendingItem.events}.#k = :e, {PendingItem.expires_at} = :exp",
            ExpressionAttributeNames={"#k": dedup_key},
            ExpressionAttributeValues={":e": {"S": json.dumps(event, sort_keys=True)},
                                       ":exp": {"N": str(now + PENDING_TTL_SECONDS)}},
        )

    def take_pending(self, waba_id: str, display_phone_number: str) -> list[dict]:
        reply = self.client.delete_item(TableName=self.table, Key=keys.pending_key(waba_id, display_phone_number),
                                        ReturnValues="ALL_OLD")
        events = reply.get("Attributes", {}).get(PendingItem.events, {}).get("M", {})
        return [json.loads(v["S"]) for v in events.values()]
