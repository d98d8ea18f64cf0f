"""The scope counters' limits (limits table): the limit Meta reported, the evaluator's marks and
attention. The counter's slots are written by the check (store/limits.py)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from numberguard.domain.records import ScopeCounter
from numberguard.domain.tiers import MessagingLimit
from numberguard.store import dynamo, keys
from numberguard.store.guarded import Applied, AttentionIndex, guarded_set
from numberguard.store.items import ATTENTION, scope_from_item
from numberguard.store.schema_names import CounterItem

C = CounterItem


class ScopeStore:
    def __init__(self, client: Any, limits_table: str):
        self.client = client
        self.table = limits_table
        self.attention = AttentionIndex(client, limits_table)

    def get(self, scope: str) -> ScopeCounter | None:
        reply = self.client.get_item(TableName=self.table, Key=keys.scope_key(scope), ConsistentRead=True)
        item = reply.get("Item")
        return scope_from_item(item) if item else None

    def set_limit(self, scope: str, limit: MessagingLimit, at: int, fill_bucket: int | None = None) -> Applied:
        """Apply a limit if no newer one was. An unlimited scope was never counted, so when it gets a
        limit it starts full in `fill_bucket` (frees 24 h later) and enters the evaluator's index."""
        if fill_bucket is not None and limit.limit is not None:
            filled = self._fill_from_unlimited(scope, limit.limit, limit.tier, at, fill_bucket)
            if filled is not None:
                return filled
        sets = {C.limit: -1 if limit.limit is None else limit.limit, C.tier: limit.tier}
        return guarded_set(self.client, self.table, C, keys.scope_key(scope), "limit", sets, (), at, must_exist=True)

    def _fill_from_unlimited(self, scope: str, limit: int, tier: str, at: int, bucket: int) -> Applied | None:
        """None when the scope is not unlimited (or a newer limit stands): the plain guarded write then."""
        try:
            reply = self.client.update_item(
                TableName=self.table, Key=keys.scope_key(scope),
                UpdateExpression=(f"SET #limit = :limit, {C.tier} = :tier, {C.used} = :limit, {C.buckets} = :buckets, "
                                  f"{C.limit_at} = :at, {C.filled_bucket} = :bucket, {C.attention} = :due, "
                                  f"{C.attention_at} = :at"),
                ConditionExpression=(f"attribute_exists(#scope) AND #limit = :unlimited "
                                     f"AND (attribute_not_exists({C.limit_at}) OR {C.limit_at} <= :at)"),
                ExpressionAttributeNames={"#limit": C.limit, "#scope": C.HASH_KEY},
                ExpressionAttributeValues={
                    ":limit": {"N": str(limit)}, ":tier": {"S": tier},
                    ":buckets": {"M": {str(bucket): {"N": str(limit)}}},
                    ":at": {"N": str(at)}, ":unlimited": {"N": "-1"}, ":due": {"S": ATTENTION},
                    ":bucket": {"N": str(bucket)},
                },
                ReturnValues="ALL_OLD",
            )
        except ClientError as err:
            if dynamo.condition_failed(err):
                return None
            raise
        return Applied(True, reply.get("Attributes", {}), filled=True)

    def mark_upgrade_announced(self, scope: str, key: str) -> None:
        """Remember that this tier stint's UPGRADE_ELIGIBLE is recorded (later runs skip the work)."""
        self.client.update_item(
            TableName=self.table, Key=keys.scope_key(scope),
            UpdateExpression=f"SET {C.upgrade_announced} = :k", ConditionExpression="attribute_exists(#s)",
            ExpressionAttributeNames={"#s": C.HASH_KEY}, ExpressionAttributeValues={":k": {"S": key}},
        )

    def due(self, now: int) -> list[ScopeCounter]:
        """The counters due for evaluation at `now`, as the index holds them (it may lag a write)."""
        return [scope_from_item(i) for i in self.attention.due(now)]

    def reschedule(self, scope: str, seen_at: int | None, next_at: int | None) -> bool:
        return self.attention.reschedule(keys.scope_key(scope), seen_at, next_at)
