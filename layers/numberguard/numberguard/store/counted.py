"""Counted records (CountedModel, recipients table): the check's writes on a recipient's record, alone
or in one transaction with the scope's counter (a move, a release), which is why the counter's half of
those transactions is built here too. The read and the counter's own writes are in store/limits.py,
whose LimitStore is one of these: the check keeps a single store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from numberguard.domain.results import Moved, MoveResult, ReleaseResult
from numberguard.store import codec, dynamo, keys
from numberguard.store.dynamo import StoreUnavailable
from numberguard.store.items import RECORD_TTL_SECONDS
from numberguard.store.schema_names import CountedItem, CounterItem

C, R = CounterItem, CountedItem  # short: the expressions below read almost as DynamoDB sees them


def _n(value: int) -> dict:
    return {"N": str(value)}


class CountedRecords:
    """The writes on counted records; `_counter_less` also serves LimitStore.give_back."""

    def __init__(self, client: Any, *, recipients_table: str, limits_table: str):
        self.client = client
        self.recipients_table = recipients_table
        self.limits_table = limits_table

    def _update_item(self, **kwargs: Any) -> dict:
        """UpdateItem, retried while another check's transaction holds the item."""
        return dynamo.retry_conflicts(lambda: self.client.update_item(**kwargs),
                                      "an item stayed locked by other checks' transactions")

    def _counter_less(self, scope: str, bucket: int, slots: int, now: int) -> dict:
        """The counter update that gives `slots` back to `bucket`, if it still holds them."""
        return {
            "TableName": self.limits_table, "Key": keys.scope_key(scope),
            "UpdateExpression": (f"SET {C.used} = {C.used} - :n, {C.buckets}.#b = {C.buckets}.#b - :n, "
                                 f"{C.updated_at} = :now"),
            "ConditionExpression": f"{C.buckets}.#b >= :n",
            "ExpressionAttributeNames": {"#b": str(bucket)},
            "ExpressionAttributeValues": {":n": _n(slots), ":now": _n(now)},
        }

    # ---- counter and records together, in one TransactWriteItems ---------------------------

    def move(self, scope: str, moves: Sequence[tuple[str, int]], new_bucket: int, counted_until: int,
             now: int) -> Moved:
        """Move counted recipients (recipient, old bucket) to `new_bucket`, 1 to TRANSACT_MAX - 1 in one
        TransactWriteItems: counter and records move together or not at all, so a lost call never leaves
        a record pointing at a bucket that no longer holds it."""
        if not 0 < len(moves) < dynamo.TRANSACT_MAX:
            raise ValueError(f"move 1 to {dynamo.TRANSACT_MAX - 1} recipients at a time, got {len(moves)}")
        items = [{"Update": self._counter_move(scope, Counter(old for _, old in moves), new_bucket, now)}]
        items += [{"Update": self._record_move(scope, recipient, old, new_bucket, counted_until, now)}
                  for recipient, old in moves]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as err:
            reasons = dynamo.cancellation_reasons(err)
            if dynamo.code(err) not in (dynamo.TRANSACTION_CANCELED, dynamo.TRANSACTION_CONFLICT):
                raise
            stale = frozenset(r for i, (r, _) in enumerate(moves, start=1) if dynamo.failed_at(reasons, i))
            if stale:
                return Moved(MoveResult.STALE, stale)
            return Moved(MoveResult.COUNTER if dynamo.failed_at(reasons, 0) else MoveResult.CONFLICT)
        return Moved(MoveResult.MOVED)

    def _counter_move(self, scope: str, by_bucket: Counter, new_bucket: int, now: int) -> dict:
        names = {"#to": str(new_bucket)}
        values = {":total": _n(sum(by_bucket.values())), ":zero": _n(0), ":now": _n(now)}
        sets = [f"{C.buckets}.#to = if_not_exists({C.buckets}.#to, :zero) + :total", f"{C.updated_at} = :now"]
        conditions = []
        for i, (bucket, count) in enumerate(sorted(by_bucket.items())):
            names[f"#m{i}"] = str(bucket)
            values[f":m{i}"] = _n(count)
            sets.append(f"{C.buckets}.#m{i} = {C.buckets}.#m{i} - :m{i}")
            conditions.append(f"{C.buckets}.#m{i} >= :m{i}")
        return {"TableName": self.limits_table, "Key": keys.scope_key(scope),
                "UpdateExpression": "SET " + ", ".join(sets), "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}

    def _record_move(self, scope: str, recipient: str, old_bucket: int, new_bucket: int, counted_until: int,
                     now: int) -> dict:
        """The update that points a counted record at a new bucket, if it still sits in `old_bucket`."""
        return {
            "TableName": self.recipients_table, "Key": keys.counted_key(scope, recipient),
            "UpdateExpression": (f"SET {R.counted_bucket} = :new, {R.counted_until} = :cu, {R.expires_at} = :exp "
                                 f"REMOVE {R.slot_reference}"),
            "ConditionExpression": f"{R.counted_bucket} = :old",
            "ExpressionAttributeValues": {":new": _n(new_bucket), ":old": _n(old_bucket), ":cu": _n(counted_until),
                                          ":exp": _n(now + RECORD_TTL_SECONDS)},
        }

    def release_slot(self, scope: str, recipient: str, reference: str, bucket: int, now: int) -> ReleaseResult:
        """Un-count the recipient whose slot `reference` took and give the slot back, atomically."""
        record = {
            "TableName": self.recipients_table, "Key": keys.counted_key(scope, recipient),
            "UpdateExpression": f"REMOVE {R.counted_bucket}, {R.counted_until}, {R.slot_reference}, {R.claim}, "
                                f"{R.sent_template}",
            "ConditionExpression": f"{R.slot_reference} = :ref AND {R.counted_bucket} = :b",
            "ExpressionAttributeValues": {":ref": {"S": reference}, ":b": _n(bucket)},
        }
        for _ in range(dynamo.Budget.TRANSACTION):
            try:
                self.client.transact_write_items(
                    TransactItems=[{"Update": record}, {"Update": self._counter_less(scope, bucket, 1, now)}])
                return ReleaseResult.RELEASED
            except ClientError as err:
                reasons = dynamo.cancellation_reasons(err)
                if dynamo.code(err) not in (dynamo.TRANSACTION_CANCELED, dynamo.TRANSACTION_CONFLICT):
                    raise
                if dynamo.failed_at(reasons, 0):
                    return ReleaseResult.NOT_THAT_SLOT
                if dynamo.failed_at(reasons, 1):
                    # The bucket folded: the slot is free already; clear the record alone.
                    try:
                        self.client.update_item(**record)
                    except ClientError as inner:
                        if not dynamo.condition_failed(inner):
                            raise
                    return ReleaseResult.FOLDED
                dynamo.backoff(2)
        raise StoreUnavailable("the scope's counter stayed too contended to release a slot")

    # ---- records ------------------------------------------------------------------------------

    def keep_counted(self, scope: str, entries: Sequence[tuple[str, int, str]]) -> set[str]:
        """Take the slot reference away from counted records (recipient, bucket, reference), at most
        TRANSACT_MAX in one TransactWriteItems, each guarded by its bucket and reference: a repeat the
        sender is told to send must not be un-counted by a later release of the send that took the slot.
        Returns the recipients whose record changed meanwhile (not written: read again)."""
        entries = list(entries)
        stale: set[str] = set()
        for attempt in range(1, dynamo.Budget.TRANSACTION + 1):
            if not entries:
                return stale
            items = [{"Update": {
                "TableName": self.recipients_table, "Key": keys.counted_key(scope, recipient),
                "UpdateExpression": f"REMOVE {R.slot_reference}",
                "ConditionExpression": f"{R.counted_bucket} = :b AND {R.slot_reference} = :ref",
                "ExpressionAttributeValues": {":b": _n(bucket), ":ref": {"S": reference}},
            }} for recipient, bucket, reference in entries]
            try:
                self.client.transact_write_items(TransactItems=items)
                return stale
            except ClientError as err:
                if dynamo.code(err) not in (dynamo.TRANSACTION_CANCELED, dynamo.TRANSACTION_CONFLICT):
                    raise
                reasons = dynamo.cancellation_reasons(err)
                failed = {e[0] for i, e in enumerate(entries) if dynamo.failed_at(reasons, i)}
                if failed:  # the transaction wrote nothing: try the others again
                    stale |= failed
                    entries = [e for e in entries if e[0] not in failed]
                else:
                    dynamo.backoff(attempt)
        raise StoreUnavailable("the recipients' records stayed too contended to keep them counted")

    def record_counted(self, scope: str, phone_number_id: str, recipient: str, bucket: int, counted_until: int,
                       reference: str | None, now: int, claim: str, template: str | None = None) -> bool:
        """Mark a new recipient counted; False if another check counted it meanwhile.

        `claim` identifies this check: when the SDK retries a write that had landed, the condition
        fails on our own record, and the claim tells it apart from another check's. `template`: the
        template the send names (`sent_template`, in the same write), so that Meta's 132015 / 132016
        for this reference can name it.
        """
        values = {":b": _n(bucket), ":cu": _n(counted_until), ":now": _n(now),
                  ":exp": _n(now + RECORD_TTL_SECONDS), ":pn": {"S": phone_number_id}, ":claim": {"S": claim}}
        update = (f"SET {R.counted_bucket} = :b, {R.counted_until} = :cu, {R.expires_at} = :exp, "
                  f"{R.phone_number_id} = :pn, {R.claim} = :claim")
        removes = []
        if reference:
            update += f", {R.slot_reference} = :ref"
            values[":ref"] = {"S": reference}
        else:
            removes.append(R.slot_reference)
        if template:
            update += f", {R.sent_template} = :tpl"
            values[":tpl"] = {"S": template}
        else:
            removes.append(R.sent_template)
        update += (" REMOVE " + ", ".join(removes)) if removes else ""
        try:
            self._update_item(
                TableName=self.recipients_table, Key=keys.counted_key(scope, recipient), UpdateExpression=update,
                ConditionExpression=f"attribute_not_exists({R.counted_until}) OR {R.counted_until} <= :now",
                ExpressionAttributeValues=values, ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as err:
            if dynamo.condition_failed(err):
                return codec.s(err.response.get("Item") or {}, R.claim) == claim
            raise
        return True

    def rebucket(self, scope: str, recipient: str, old_bucket: int, new_bucket: int, counted_until: int,
                 now: int) -> bool:
        """Point a record at a new bucket (after a fresh slot was taken for it there)."""
        try:
            self._update_item(**self._record_move(scope, recipient, old_bucket, new_bucket, counted_until, now))
        except ClientError as err:
            if dynamo.condition_failed(err):
                return False
            raise
        return True

    def record_counted_batch(self, scope: str, phone_number_id: str, entries: Sequence[tuple[str, str | None]],
                             bucket: int, counted_until: int, now: int, template: str | None = None) -> None:
        """Write counted records for (recipient, slot reference) pairs, 25 per BatchWriteItem."""
        items = []
        for recipient, reference in entries:
            item = {**keys.counted_key(scope, recipient), R.counted_bucket: _n(bucket),
                    R.counted_until: _n(counted_until), R.expires_at: _n(now + RECORD_TTL_SECONDS),
                    R.phone_number_id: {"S": phone_number_id}}
            if reference:
                item[R.slot_reference] = {"S": reference}
            if template:
                item[R.sent_template] = {"S": template}
            items.append(item)
        dynamo.batch_put(self.client, self.recipients_table, items)
