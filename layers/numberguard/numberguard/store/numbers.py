"""Numbers and their facets (numbers table): lookups, watermark-guarded facet writes, attention."""

from __future__ import annotations

from typing import Any

from numberguard.store import codec, dynamo, keys
from numberguard.store.guarded import Applied, AttentionIndex, guarded_set


class NumberStore:
    def __init__(self, client: Any, numbers_table: str):
        self.client = client
        self.table = numbers_table
        self.attention = AttentionIndex(client, numbers_table)

    def get_number_item(self, phone_number_id: str) -> dict | None:
        reply = self.client.get_item(TableName=self.table, Key=keys.number_key(phone_number_id), ConsistentRead=True)
        return reply.get("Item")

    def get_numbers(self, phone_number_ids: list[str]) -> list[dict]:
        ids = list(dict.fromkeys(phone_number_ids))
        found = dynamo.batch_get(self.client, [(self.table, keys.number_key(i)) for i in ids])
        return sorted(found.get(self.table, []), key=lambda i: codec.s(i, "pk") or "")

    def number_by_display(self, waba_id: str, display_phone_number: str) -> dict | None:
        reply = self.client.query(
            TableName=self.table, IndexName="ByWaba",
            KeyConditionExpression="waba_id = :w AND display_phone_number = :d",
            ExpressionAttributeValues={":w": {"S": waba_id}, ":d": {"S": display_phone_number}},
        )
        items = reply.get("Items", [])
        return items[0] if items else None

    def numbers_of_waba(self, waba_id: str) -> list[dict]:
        return dynamo.query_all(self.client, TableName=self.table, IndexName="ByWaba",
                                KeyConditionExpression="waba_id = :w",
                                ExpressionAttributeValues={":w": {"S": waba_id}})

    def set_facet(self, phone_number_id: str, facet: str, sets: dict, removes: tuple[str, ...], at: int) -> Applied:
        """Write a number facet's attributes if no newer event has (watermark `<facet>_at`)."""
        return guarded_set(self.client, self.table, keys.number_key(phone_number_id), facet, sets, removes, at, "pk")

    def due(self, now: int) -> list[dict]:
        return self.attention.due(now)

    def want_attention(self, phone_number_id: str, at: int) -> None:
        self.attention.want(keys.number_key(phone_number_id), at)

    def reschedule(self, phone_number_id: str, seen_at: int | None, next_at: int | None) -> bool:
        return self.attention.reschedule(keys.number_key(phone_number_id), seen_at, next_at)
