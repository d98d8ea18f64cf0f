"""What Meta's refusals leave behind (domain/refusals.py): a number's spam-rate hold (numbers table) and a
person's marketing cooldown (recipients table) with its line in the number's history (history table).

Each write is one atomic DynamoDB call (or one transaction), so a fault before or after it leaves the
refusal applied whole or not at all, and Meta's retry applies it (again: a no-op).
- The hold: `hold_until`, `hold_since`, `hold_key` on the number. A refusal at a time no hold covers
  begins a hold (all three written in one conditional update: the refusal's key names the hold, so its
  one NUMBER_ON_HOLD is announced again, under the same id, when Meta retries it after a crash); any
  other refusal only moves `hold_until` later (a conditional update: never earlier).
- The cooldown: CooldownModel `mc#<space>#<person key>` and a history line (never published) in one
  transaction: written only when it moves the cooldown later, so a retry or an older refusal of the same
  person writes and counts nothing. A `system` change of number or BSUID moves it from the retired ids
  to the person's key (move_cooldowns), as the window and the count move.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from numberguard.domain.refusals import CooldownLine, HoldWrite, cooldown_until
from numberguard.store import dynamo, keys
from numberguard.store.items import RECORD_TTL_SECONDS
from numberguard.store.schema_names import CooldownItem, HistoryItem, NumberItem

N, K, H = NumberItem, CooldownItem, HistoryItem
HISTORY_TTL_SECONDS = 400 * 24 * 3600  # as store/history.py keeps history


def _n(value: int) -> dict:
    return {"N": str(value)}


class RefusalStore:
    def __init__(self, client: Any, *, numbers_table: str, recipients_table: str, history_table: str):
        self.client = client
        self.numbers_table = numbers_table
        self.recipients_table = recipients_table
        self.history_table = history_table

    # ---- 131048: the number's hold -------------------------------------------------------------

    def hold(self, phone_number_id: str, at: int, until: int, key: str) -> HoldWrite:
        """Apply a spam-rate refusal at `at` (hold until `until`); whether it began the hold (domain hold_step)."""
        try:
            self.client.update_item(
                TableName=self.numbers_table, Key=keys.number_key(phone_number_id),
                UpdateExpression=f"SET {N.hold_until} = :u, {N.hold_since} = :at, {N.hold_key} = :k",
                ConditionExpression=f"attribute_exists({N.pk}) AND "
                                    f"(attribute_not_exists({N.hold_until}) OR {N.hold_until} <= :at)",
                ExpressionAttributeValues={":u": _n(until), ":at": _n(at), ":k": {"S": key}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return HoldWrite.BEGAN
        except ClientError as err:
            if not dynamo.condition_failed(err):
                raise
            old = err.response.get("Item") or {}
        if not old:
            return HoldWrite.UNKNOWN_NUMBER
        if old.get(N.hold_key, {}).get("S") == key:
            return HoldWrite.BEGAN  # Meta's retry of the refusal that began it: announced again, same id
        try:
            self.client.update_item(
                TableName=self.numbers_table, Key=keys.number_key(phone_number_id),
                UpdateExpression=f"SET {N.hold_until} = :u",
                ConditionExpression=f"attribute_exists({N.pk}) AND {N.hold_until} < :u",
                ExpressionAttributeValues={":u": _n(until)})
        except ClientError as err:
            if not dynamo.condition_failed(err):
                raise
            return HoldWrite.UNCHANGED  # a hold at least as long stands (a retry, an older refusal)
        return HoldWrite.EXTENDED

    # ---- 131049: the person's marketing cooldown -------------------------------------------------

    def cool_down(self, space: str, line: CooldownLine) -> bool:
        """Start (or move later) the person's cooldown and write its history line, in one transaction;
        False when a cooldown at least as long stands (nothing written)."""
        cooldown = {
            "TableName": self.recipients_table, "Key": keys.cooldown_key(space, line.person),
            "UpdateExpression": f"SET {K.cooldown_until} = :u, {K.expires_at} = :exp",
            "ConditionExpression": f"attribute_not_exists({K.cooldown_until}) OR {K.cooldown_until} < :u",
            "ExpressionAttributeValues": {":u": _n(line.until), ":exp": _n(line.until + RECORD_TTL_SECONDS)},
        }
        entry = {
            **keys.history_key(line.phone_number_id, line.sort_key),
            H.id: {"S": line.id}, H.type: {"S": line.type}, H.at: _n(line.at), H.recorded_at: _n(line.at),
            H.document: {"S": json.dumps(line.document(), sort_keys=True)},
            H.published: {"BOOL": True},  # a line of history only: never in the outbox
            H.expires_at: _n(line.at + HISTORY_TTL_SECONDS),
        }
        put = {"TableName": self.history_table, "Item": entry, "ConditionExpression": f"attribute_not_exists({H.sk})"}
        try:
            self.client.transact_write_items(TransactItems=[{"Update": cooldown}, {"Put": put}])
        except ClientError as err:
            reasons = dynamo.cancellation_reasons(err)
            if dynamo.failed_at(reasons, 0) or dynamo.failed_at(reasons, 1):
                return False
            raise
        return True

    def move_cooldowns(self, space: str, retired: Iterable[str], key: str, at: int, now: int) -> int:
        """A `system` change: the retired ids' marketing cooldowns move to the person's key (its current
        ids read it there) and leave the retired ids (whoever has that number next is not cooled). The
        key's cooldown is only moved later; it is written before the old ones are cleared, so a fault
        between leaves the person cooled under both, never under neither. Only a cooldown Meta began at or
        before the change (`at`) moves: a later one is the retired id's next user's. Returns the moved
        cooldown's end (0: none)."""
        retired = sorted(set(retired) - {key})
        if not retired:
            return 0
        found = dynamo.batch_get(self.client, [(self.recipients_table, keys.cooldown_key(space, i)) for i in retired])
        items = [item for item in found.get(self.recipients_table, [])  # cooldown_until is the refusal + 24 h
                 if K.cooldown_until in item and int(item[K.cooldown_until]["N"]) <= cooldown_until(at)]
        until = max((int(item[K.cooldown_until]["N"]) for item in items), default=0)
        if until > now:
            try:
                self.client.update_item(
                    TableName=self.recipients_table, Key=keys.cooldown_key(space, key),
                    UpdateExpression=f"SET {K.cooldown_until} = :u, {K.expires_at} = :exp",
                    ConditionExpression=f"attribute_not_exists({K.cooldown_until}) OR {K.cooldown_until} < :u",
                    ExpressionAttributeValues={":u": _n(until), ":exp": _n(until + RECORD_TTL_SECONDS)})
            except ClientError as err:
                if not dynamo.condition_failed(err):
                    raise  # a cooldown at least as long stands under the key: nothing to move
        for item in items:  # an update, not a delete: the webhook's role updates recipients, never deletes
            self.client.update_item(TableName=self.recipients_table, Key={K.pk: item[K.pk]},
                                    UpdateExpression=f"REMOVE {K.cooldown_until}")
        return until if until > now else 0

    def cooled_since(self, phone_number_id: str, since: int) -> int:
        """How many cooldowns Meta's 131049 started from this number since `since` (its history lines)."""
        found = dynamo.query_all(
            self.client, TableName=self.history_table,
            KeyConditionExpression=f"{H.phone_number_id} = :p AND {H.sk} BETWEEN :from AND :to",
            FilterExpression="#t = :t", ExpressionAttributeNames={"#t": H.type},
            ExpressionAttributeValues={":p": {"S": phone_number_id}, ":from": {"S": f"{since:011d}"},
                                       ":to": {"S": "99999999999~"}, ":t": {"S": CooldownLine.type}})
        return len(found)
