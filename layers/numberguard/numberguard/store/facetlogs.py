"""Per-facet event logs (domain/facetlog.py), items `LOG#<subject>#<facet>` in the numbers table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from numberguard.store import codec, dynamo, keys
from numberguard.store.schema_names import FacetLogItem

L = FacetLogItem


class LogConflict(RuntimeError):
    """Another writer changed the facet log between our read and our write: read again."""


@dataclass(frozen=True)
class FacetLog:
    subject: str  # phone_number_id, scope or WABA id
    facet: str
    entries: dict[str, str]
    initial: str | None
    version: int  # 0: no log item yet
    announced: str | None = None  # the latest entry whose announcements are all recorded (evaluator logs)


class FacetLogStore:
    """Per-facet event logs (domain/facetlog.py), items `LOG#<subject>#<facet>` in the numbers table."""

    def __init__(self, client: Any, numbers_table: str):
        self.client = client
        self.table = numbers_table

    @staticmethod
    def _key(subject: str, facet: str) -> dict:
        return keys.log_key(subject, facet)

    def read(self, subject: str, facet: str) -> FacetLog:
        reply = self.client.get_item(TableName=self.table, Key=self._key(subject, facet), ConsistentRead=True)
        item = reply.get("Item")
        if not item:
            return FacetLog(subject, facet, {}, None, 0)
        entries = {k: v["S"] for k, v in item.get(L.entries, {}).get("M", {}).items()}
        return FacetLog(subject, facet, entries, codec.s(item, L.initial), codec.n(item, L.version, 0) or 0,
                        codec.s(item, L.announced))

    def write(self, log: FacetLog, entries: dict[str, str], initial: str | None) -> None:
        item = {
            **self._key(log.subject, log.facet),
            L.entries: {"M": {k: {"S": v} for k, v in entries.items()}},
            L.version: {"N": str(log.version + 1)},
        }
        if initial is not None:
            item[L.initial] = {"S": initial}
        if log.announced is not None:
            item[L.announced] = {"S": log.announced}
        try:
            if log.version == 0:
                self.client.put_item(TableName=self.table, Item=item,
                                     ConditionExpression=f"attribute_not_exists({L.pk})")
            else:
                self.client.put_item(
                    TableName=self.table, Item=item, ConditionExpression=f"{L.version} = :v",
                    ExpressionAttributeValues={":v": {"N": str(log.version)}},
                )
        except ClientError as err:
            if dynamo.condition_failed(err):
                raise LogConflict(f"{log.subject}/{log.facet}") from None
            raise

    def mark_announced(self, subject: str, facet: str, key: str) -> None:
        """Every announcement up to entry `key` is recorded (never moves back)."""
        try:
            self.client.update_item(
                TableName=self.table, Key=self._key(subject, facet),
                UpdateExpression=f"SET {L.announced} = :k",
                ConditionExpression=(f"attribute_exists({L.pk}) AND "
                                     f"(attribute_not_exists({L.announced}) OR {L.announced} < :k)"),
                ExpressionAttributeValues={":k": {"S": key}},
            )
        except ClientError as err:
            if not dynamo.condition_failed(err):
                raise
