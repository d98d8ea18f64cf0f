"""The Meta sync's own item: the WABAs it reads, where the last run stopped, and the token's outage.

One item in the numbers table (`SYNC#meta`). Every write is conditional or idempotent, so two runs
at once announce one outage once (the flag flips for one of them only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from numberguard.store import codec, dynamo, keys
from numberguard.store.schema_names import CounterItem, SyncStatusItem

S = SyncStatusItem
SYNC_KEY = {S.HASH_KEY: {"S": "SYNC#meta"}}


@dataclass(frozen=True)
class SyncItem:
    wabas: tuple[str, ...] = ()
    resume_from: str | None = None
    access_failing: bool = False


class SyncStatusStore:
    def __init__(self, client: Any, numbers_table: str, limits_table: str):
        self.client = client
        self.numbers_table = numbers_table
        self.limits_table = limits_table

    def read(self) -> SyncItem:
        item = self.client.get_item(TableName=self.numbers_table, Key=SYNC_KEY, ConsistentRead=True).get("Item") or {}
        wabas = tuple(sorted(item.get(S.wabas, {}).get("SS", [])))
        return SyncItem(wabas, codec.s(item, S.resume_from) or None, codec.b(item, S.access_failing))

    def add_waba(self, waba_id: str) -> None:
        self.client.update_item(TableName=self.numbers_table, Key=SYNC_KEY, UpdateExpression=f"ADD {S.wabas} :w",
                                ExpressionAttributeValues={":w": {"SS": [waba_id]}})

    def set_resume(self, waba_id: str | None) -> None:
        if waba_id is None:
            self.client.update_item(TableName=self.numbers_table, Key=SYNC_KEY,
                                    UpdateExpression=f"REMOVE {S.resume_from}")
        else:
            self.client.update_item(TableName=self.numbers_table, Key=SYNC_KEY,
                                    UpdateExpression=f"SET {S.resume_from} = :w",
                                    ExpressionAttributeValues={":w": {"S": waba_id}})

    def set_access_failing(self, failing: bool) -> bool:
        """Flip the outage flag; False when it already had that value (another run flipped it)."""
        # Never failing before counts as "not failing": the first outage flips it, a first success does not.
        condition = (f"attribute_not_exists({S.access_failing}) OR {S.access_failing} = :was" if failing
                     else f"{S.access_failing} = :was")
        try:
            self.client.update_item(
                TableName=self.numbers_table, Key=SYNC_KEY, UpdateExpression=f"SET {S.access_failing} = :f",
                ConditionExpression=condition,
                ExpressionAttributeValues={":f": {"BOOL": failing}, ":was": {"BOOL": not failing}},
            )
        except ClientError as err:
            if dynamo.condition_failed(err):
                return False
            raise
        return True

    def tiers(self, scopes: list[str]) -> dict[str, str]:
        """Each scope's current tier, a hundred scopes per call."""
        found = dynamo.batch_get(self.client, [(self.limits_table, keys.scope_key(s)) for s in sorted(set(scopes))])
        return {codec.s(i, CounterItem.scope) or "": codec.s(i, CounterItem.tier) or ""
                for i in found.get(self.limits_table, [])}
