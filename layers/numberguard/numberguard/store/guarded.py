"""Writes shared by the numbers and the scope counters: facets guarded by their event-time watermark,
and the evaluator's sparse attention index (ByAttention on both tables).

Every facet write is conditional on `<facet>_at <= :at`: a retry of the same event rewrites the same
values (no change, no history), and an older event arriving late is refused by DynamoDB itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from numberguard.store import codec, dynamo
from numberguard.store.items import ATTENTION
from numberguard.store.schema_names import ByAttentionIndex, ItemKind

A = ByAttentionIndex  # `attention` (always ATTENTION while due) and `attention_at`


@dataclass(frozen=True)
class Applied:
    applied: bool  # False: an event at least as new had already set this facet
    old: dict = field(default_factory=dict)  # the item's attributes before the write (empty if none)
    filled: bool = False  # a lowered unlimited scope starts full (see ScopeStore.set_limit)


def guarded_set(client: Any, table: str, kind: type[ItemKind], key: dict, facet: str, sets: dict,
                removes: tuple[str, ...], at: int, *, must_exist: bool) -> Applied:
    """SET `sets` (and REMOVE `removes`) if no event newer than `at` set this facet (watermark `<facet>_at`).
    Every name must be an attribute of `kind` (store/models/): a use case cannot invent one."""
    unknown = sorted({*sets, *removes, f"{facet}_at"} - kind.TYPES.keys())
    if unknown:
        raise ValueError(f"{kind.__name__} has no attribute {', '.join(unknown)} (add it to store/models/)")
    names = {f"#{i}": name for i, name in enumerate(sets)}
    values = {f":{i}": codec.av(value) for i, value in enumerate(sets.values())}
    names["#w"] = f"{facet}_at"
    values[":at"] = {"N": str(at)}
    update = "SET " + ", ".join([*(f"#{i} = :{i}" for i in range(len(sets))), "#w = :at"])
    if removes:
        for j, name in enumerate(removes):
            names[f"#r{j}"] = name
        update += " REMOVE " + ", ".join(f"#r{j}" for j in range(len(removes)))
    condition = "attribute_not_exists(#w) OR #w <= :at"
    if must_exist:
        names["#k"] = kind.HASH_KEY
        condition = f"attribute_exists(#k) AND ({condition})"
    try:
        reply = client.update_item(TableName=table, Key=key, UpdateExpression=update, ConditionExpression=condition,
                                   ExpressionAttributeNames=names, ExpressionAttributeValues=values,
                                   ReturnValues="ALL_OLD")
    except ClientError as err:
        if dynamo.condition_failed(err):
            return Applied(False)
        raise
    return Applied(True, reply.get("Attributes", {}))


class AttentionIndex:
    """Items of one table due for evaluation (sparse GSI ByAttention: `attention`, `attention_at`)."""

    def __init__(self, client: Any, table: str):
        self.client = client
        self.table = table

    def due(self, now: int, page: int = 100) -> list[dict]:
        """Items due for evaluation at `now` (their attention_at has come)."""
        return dynamo.query_all(
            self.client, TableName=self.table, IndexName=A.NAME,
            KeyConditionExpression=f"{A.HASH_KEY} = :due AND {A.RANGE_KEY} <= :now",
            ExpressionAttributeValues={":due": {"S": ATTENTION}, ":now": {"N": str(now)}}, Limit=page,
        )

    def want(self, key: dict, at: int) -> None:
        """Be evaluated at `at` at the latest (an earlier wish stands)."""
        try:
            self.client.update_item(
                TableName=self.table, Key=key, UpdateExpression=f"SET {A.HASH_KEY} = :due, {A.RANGE_KEY} = :at",
                ConditionExpression=(f"attribute_exists(#k) AND "
                                     f"(attribute_not_exists({A.RANGE_KEY}) OR {A.RANGE_KEY} > :at)"),
                ExpressionAttributeNames={"#k": next(iter(key))},
                ExpressionAttributeValues={":due": {"S": ATTENTION}, ":at": {"N": str(at)}},
            )
        except ClientError as err:
            if not dynamo.condition_failed(err):
                raise

    def reschedule(self, key: dict, seen_at: int | None, next_at: int | None) -> bool:
        """Move (or, with None, drop) an item's attention, unless someone changed it since we read it
        (`seen_at` None: another run already dropped it)."""
        if seen_at is None:
            return False
        if next_at is None:
            update, values = f"REMOVE {A.HASH_KEY}, {A.RANGE_KEY}", {":seen": {"N": str(seen_at)}}
        else:
            update = f"SET {A.RANGE_KEY} = :next"
            values = {":seen": {"N": str(seen_at)}, ":next": {"N": str(next_at)}}
        try:
            self.client.update_item(TableName=self.table, Key=key, UpdateExpression=update,
                                    ConditionExpression=f"{A.RANGE_KEY} = :seen", ExpressionAttributeValues=values)
        except ClientError as err:
            if dynamo.condition_failed(err):
                return False
            raise
        return True
