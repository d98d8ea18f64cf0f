"""Numbers and their facets (numbers table): lookups, watermark-guarded facet writes, attention."""

from __future__ import annotations

from typing import Any

from numberguard.domain.number import NumberState
from numberguard.store import codec, dynamo, keys
from numberguard.store.guarded import Applied, AttentionIndex, guarded_set
from numberguard.store.items import number_from_item
from numberguard.store.schema_names import ByWabaIndex, NumberItem


class NumberStore:
    def __init__(self, client: Any, numbers_table: str):
        self.client = client
        self.table = numbers_table
        self.attention = AttentionIndex(client, numbers_table)

    def get(self, phone_number_id: str) -> NumberState | None:
        reply = self.client.get_item(TableName=self.table, Key=keys.number_key(phone_number_id), ConsistentRead=True)
        item = reply.get("Item")
        return number_from_item(item) if item else None

    def get_many(self, phone_number_ids: list[str]) -> list[NumberState]:
        ids = list(dict.fromkeys(phone_number_ids))
        found = dynamo.batch_get(self.client, [(self.table, keys.number_key(i)) for i in ids])
        return sorted((number_from_item(i) for i in found.get(self.table, [])), key=lambda n: n.phone_number_id)

    def by_display(self, waba_id: str, display_phone_number: str) -> NumberState | None:
        reply = self.client.query(
            TableName=self.table, IndexName=ByWabaIndex.NAME,
            KeyConditionExpression=f"{ByWabaIndex.HASH_KEY} = :w AND {ByWabaIndex.RANGE_KEY} = :d",
            ExpressionAttributeValues={":w": {"S": waba_id}, ":d": {"S": display_phone_number}},
        )
        items = reply.get("Items", [])
        return number_from_item(items[0]) if items else None

    def of_waba(self, waba_id: str) -> list[NumberState]:
        return [number_from_item(i) for i in dynamo.query_all(
            self.client, TableName=self.table, IndexName=ByWabaIndex.NAME,
            KeyConditionExpression=f"{ByWabaIndex.HASH_KEY} = :w",
            ExpressionAttributeValues={":w": {"S": waba_id}})]

    def set_facet(self, phone_number_id: str, facet: str, sets: dict, removes: tuple[str, ...], at: int) -> Applied:
        """Write a number facet's attributes if no newer event has (watermark `<facet>_at`)."""
        return guarded_set(self.client, self.table, NumberItem, keys.number_key(phone_number_id), facet, sets, removes,
                           at, must_exist=True)

    def due(self, now: int) -> list[str]:
        """The phone_number_ids due for evaluation at `now`."""
        pks = [codec.s(i, NumberItem.pk) or "" for i in self.attention.due(now)]
        return [pk for pk in pks if not keys.is_template_subject(pk)]  # templates: TemplateStore.due

    def want_attention(self, phone_number_id: str, at: int) -> None:
        self.attention.want(keys.number_key(phone_number_id), at)

    def reschedule(self, phone_number_id: str, seen_at: int | None, next_at: int | None) -> bool:
        return self.attention.reschedule(keys.number_key(phone_number_id), seen_at, next_at)
