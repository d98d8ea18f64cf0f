"""The history of every change, which is also the notification outbox (history table)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from numberguard.domain.changes import Change
from numberguard.domain.records import OutboxEntry
from numberguard.store import codec, dynamo, keys
from numberguard.store.items import outbox_entry_from_item
from numberguard.store.schema_names import HistoryItem, MarkerItem, OutboxIndex

H = HistoryItem

HISTORY_TTL_SECONDS = 400 * 24 * 3600  # kept well past the 90 days people look back
OUTBOX = "unpublished"  # hash key of the history table's sparse Outbox index
# The writer of a history entry publishes it right away; the outbox takes over an entry still
# unpublished this long after it was recorded (longer than a publish with the SDK's bounded retries).
OUTBOX_GRACE_SECONDS = 60


class HistoryStore:
    def __init__(self, client: Any, history_table: str):
        self.client = client
        self.table = history_table

    def record_change(self, change: Change, document: dict, now: int) -> bool:
        """Write a history entry once per change id; False if this very change was already recorded."""
        expires = {"N": str(change.at + HISTORY_TTL_SECONDS)}
        entry = {
            **keys.history_key(change.phone_number_id, change.sort_key),
            H.id: {"S": change.id}, H.type: {"S": change.type}, H.at: {"N": str(change.at)},
            H.recorded_at: {"N": str(now)}, H.document: {"S": json.dumps(document, sort_keys=True)},
            H.published: {"BOOL": False},
            # In the sparse Outbox index until published; due for the outbox after the grace period.
            H.outbox: {"S": OUTBOX}, H.outbox_at: {"N": str(now + OUTBOX_GRACE_SECONDS)},
            H.expires_at: expires,
        }
        # The marker makes the id unique whatever `at` a re-run computes; one transaction, one call.
        marker = {**keys.history_key(change.phone_number_id, keys.marker_sort_key(change.id)),
                  MarkerItem.expires_at: expires}
        exists_not = f"attribute_not_exists({MarkerItem.sk})"
        try:
            self.client.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.table, "Item": marker, "ConditionExpression": exists_not}},
                {"Put": {"TableName": self.table, "Item": entry}},
            ])
        except ClientError as err:
            if dynamo.failed_at(dynamo.cancellation_reasons(err), 0):
                return False
            raise
        return True

    def mark_published(self, change: Change) -> None:
        self.mark_entry_published(change.phone_number_id, change.sort_key)

    def mark_entry_published(self, phone_number_id: str, sk: str, published: bool = True) -> None:
        """Out of the Outbox index: published (or, with False, given up as unreadable)."""
        self.client.update_item(
            TableName=self.table, Key=keys.history_key(phone_number_id, sk),
            UpdateExpression=f"SET {H.published} = :t REMOVE {H.outbox}, {H.outbox_at}",
            ExpressionAttributeValues={":t": {"BOOL": published}},
        )

    def unpublished(self, now: int | None, page: int = 100) -> list[OutboxEntry]:
        """History entries still unpublished whose grace (or another run's lease) is over; with
        `now` None, every unpublished entry."""
        if now is None:
            condition, values = f"{OutboxIndex.HASH_KEY} = :o", {":o": {"S": OUTBOX}}
        else:
            condition = f"{OutboxIndex.HASH_KEY} = :o AND {OutboxIndex.RANGE_KEY} <= :now"
            values = {":o": {"S": OUTBOX}, ":now": {"N": str(now)}}
        items = dynamo.query_all(self.client, TableName=self.table, IndexName=OutboxIndex.NAME,
                                 KeyConditionExpression=condition, ExpressionAttributeValues=values, Limit=page)
        return [outbox_entry_from_item(i) for i in items]

    def claim_unpublished(self, phone_number_id: str, sk: str, seen_at: int, until: int) -> bool:
        """Take an unpublished entry for one publish attempt: moves its outbox time to `until` unless
        another run did first (or it got published). The loser of a race publishes nothing."""
        try:
            self.client.update_item(
                TableName=self.table, Key=keys.history_key(phone_number_id, sk),
                UpdateExpression=f"SET {H.outbox_at} = :until", ConditionExpression=f"{H.outbox_at} = :seen",
                ExpressionAttributeValues={":seen": {"N": str(seen_at)}, ":until": {"N": str(until)}},
            )
        except ClientError as err:
            if dynamo.condition_failed(err):
                return False
            raise
        return True

    def history(self, phone_number_id: str, limit: int = 200) -> list[dict]:
        reply = self.client.query(
            TableName=self.table,
            KeyConditionExpression=f"{H.phone_number_id} = :p AND {H.sk} < :marker",
            ExpressionAttributeValues={":p": {"S": phone_number_id}, ":marker": {"S": keys.MARKER_PREFIX}},
            ScanIndexForward=False, Limit=limit,
        )
        return [
            {"sk": codec.s(i, H.sk), "id": codec.s(i, H.id), "type": codec.s(i, H.type), "at": codec.n(i, H.at),
             "published": codec.b(i, H.published), "document": json.loads(codec.s(i, H.document, "{}") or "{}")}
            for i in reply.get("Items", [])
        ]
