"""The limit check's data access: one read, then conditional writes on the scope's counter and the
counted records, which move together (one aggregate for writing: a transaction spans both).

Items: the scope's counter (LimitModel: `used` always equals the sum of `buckets`, every write changes
both in one UpdateItem), counted records (CountedModel) and service windows (WindowModel, written by the
intake), defined in store/models.py; their keys in store/keys.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError

from numberguard.domain.check import RecipientView, Snapshot
from numberguard.domain.number import NumberState
from numberguard.domain.people import IdLink
from numberguard.domain.results import Moved, MoveResult, ReleaseResult
from numberguard.domain.templates import TemplateRef, TemplateState
from numberguard.domain.window import ReservePlan, ScopeUsage
from numberguard.store import codec, dynamo, keys
from numberguard.store.dynamo import StoreUnavailable
from numberguard.store.items import (
    ATTENTION,
    RECORD_TTL_SECONDS,
    link_from_item,
    number_from_item,
    recipient_view,
    template_from_item,
    usage_from_item,
)
from numberguard.store.pairs import pair_from_item
from numberguard.store.schema_names import CountedItem, CounterItem, WindowItem

C, R = CounterItem, CountedItem  # short: the expressions below read almost as DynamoDB sees them


def _views(by_pk: dict, phone_number_id: str, scope: str, ids: Sequence[str]) -> dict[str, RecipientView]:
    views = {r: recipient_view(by_pk.get(keys.counted_pk(scope, r), {}),
                               by_pk.get(keys.window_pk(phone_number_id, r), {})) for r in ids}
    for r in ids:  # the pair item under this id as a person key (store/pairs.py): most ids have none
        pair = by_pk.get(keys.pair_key(phone_number_id, r)[WindowItem.HASH_KEY]["S"])
        if pair is not None:
            views[r] = replace(views[r], pair=pair_from_item(pair))
    return views


def _links(by_pk: dict, space: str | None, ids: Sequence[str]) -> dict[str, IdLink]:
    if space is None:
        return {}
    pk = WindowItem.HASH_KEY  # the recipients table's key, shared by every item kind there
    return {r: link_from_item(item) for r in ids if (item := by_pk.get(keys.link_key(space, r)[pk]["S"]))}


def _n(value: int) -> dict:
    return {"N": str(value)}


class LimitStore:
    def __init__(self, client: Any, *, numbers_table: str, recipients_table: str, limits_table: str):
        self.client = client
        self.numbers_table = numbers_table
        self.recipients_table = recipients_table
        self.limits_table = limits_table

    def _update_item(self, **kwargs: Any) -> dict:
        """UpdateItem, retried while another check's transaction holds the item."""
        return dynamo.retry_conflicts(lambda: self.client.update_item(**kwargs),
                                      "an item stayed locked by other checks' transactions")

    # ---- read -------------------------------------------------------------------------------

    def get_number(self, phone_number_id: str) -> NumberState | None:
        reply = self.client.get_item(
            TableName=self.numbers_table, Key=keys.number_key(phone_number_id), ConsistentRead=True
        )
        item = reply.get("Item")
        return number_from_item(item) if item else None

    def get_template(self, waba_id: str, template: TemplateRef) -> TemplateState | None:
        reply = self.client.get_item(TableName=self.numbers_table, Key=keys.template_key(waba_id, template.key),
                                     ConsistentRead=True)
        item = reply.get("Item")
        return template_from_item(item) if item else None

    def read(self, phone_number_id: str, scope: str, recipients: Sequence[str], space: str | None = None,
             template: tuple[str, TemplateRef] | None = None) -> Snapshot:
        """Number, scope counter, every recipient's records, (with `space`) their links and the named
        template (WABA id, name and language), in as few BatchGetItem calls as fit: the template rides in
        the first one; a link costs no extra call for a recipient nobody linked."""
        wanted: list[tuple[str, dict]] = [
            (self.numbers_table, keys.number_key(phone_number_id)),
            (self.limits_table, keys.scope_key(scope)),
        ]
        template_pk = None
        if template is not None:
            key = keys.template_key(template[0], template[1].key)
            template_pk = key["pk"]["S"]
            wanted.append((self.numbers_table, key))
        found = dynamo.batch_get(self.client, wanted + self._record_keys(phone_number_id, scope, recipients, space))
        by_number_pk = {codec.s(i, "pk"): i for i in found.get(self.numbers_table, [])}
        number_item = by_number_pk.get(phone_number_id)
        template_item = by_number_pk.get(template_pk) if template_pk else None
        limit_item = next(iter(found.get(self.limits_table, [])), None)
        by_pk = {codec.s(i, WindowItem.HASH_KEY): i for i in found.get(self.recipients_table, [])}
        return Snapshot(
            number=number_from_item(number_item) if number_item else None,
            usage=usage_from_item(limit_item) if limit_item else None,
            tier=codec.s(limit_item, C.tier) if limit_item else None,
            records=_views(by_pk, phone_number_id, scope, recipients),
            template=template_from_item(template_item) if template_item else None,
            template_read=template is not None,
            links=_links(by_pk, space, recipients),
        )

    def read_ids(self, phone_number_id: str, scope: str, ids: Sequence[str],
                 space: str | None = None) -> tuple[dict[str, RecipientView], dict[str, IdLink]]:
        """The records (and, with `space`, links) of more ids: a linked person's other ids, one call per 33."""
        found = dynamo.batch_get(self.client, self._record_keys(phone_number_id, scope, ids, space))
        by_pk = {codec.s(i, WindowItem.HASH_KEY): i for i in found.get(self.recipients_table, [])}
        return _views(by_pk, phone_number_id, scope, ids), _links(by_pk, space, ids)

    def _record_keys(self, phone_number_id: str, scope: str, ids: Sequence[str],
                     space: str | None) -> list[tuple[str, dict]]:
        """Each id's counted record, window and pair item with this number, and (with `space`) its link."""
        wanted = []
        for i in ids:
            wanted.append((self.recipients_table, keys.counted_key(scope, i)))
            wanted.append((self.recipients_table, keys.window_key(phone_number_id, i)))
            wanted.append((self.recipients_table, keys.pair_key(phone_number_id, i)))
            if space is not None:
                wanted.append((self.recipients_table, keys.link_key(space, i)))
        return wanted

    # ---- counter writes ---------------------------------------------------------------------

    def reserve(self, scope: str, plan: ReservePlan, now: int) -> tuple[bool, ScopeUsage | None]:
        """Take `plan.slots` slots; (True, usage after) or (False, usage as it stood)."""
        names = {"#limit": C.limit, "#cur": str(plan.bucket)}
        values = {":limit": _n(plan.limit), ":max_used": _n(plan.max_used), ":slots": _n(plan.slots),
                  ":delta": _n(plan.slots - sum(plan.expired.values())), ":zero": _n(0), ":now": _n(now)}
        conditions = ["#limit = :limit", f"{C.used} <= :max_used"]
        removes = []
        for i, (bucket, count) in enumerate(sorted(plan.expired.items())):
            names[f"#x{i}"] = str(bucket)
            values[f":x{i}"] = _n(count)
            conditions.append(f"{C.buckets}.#x{i} = :x{i}")
            removes.append(f"{C.buckets}.#x{i}")
        update = (f"SET {C.used} = {C.used} + :delta, "
                  f"{C.buckets}.#cur = if_not_exists({C.buckets}.#cur, :zero) + :slots, {C.updated_at} = :now")
        if plan.attention:
            # Sparse index of scopes the evaluator must look at; set once, cleared by the evaluator.
            update += f", {C.attention} = :due, {C.attention_at} = if_not_exists({C.attention_at}, :now)"
            values[":due"] = {"S": ATTENTION}
        if removes:
            update += " REMOVE " + ", ".join(removes)
        try:
            reply = self._update_item(
                TableName=self.limits_table, Key=keys.scope_key(scope), UpdateExpression=update,
                ConditionExpression=" AND ".join(conditions), ExpressionAttributeNames=names,
                ExpressionAttributeValues=values, ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as err:
            if dynamo.condition_failed(err):
                item = err.response.get("Item")
                return False, usage_from_item(item) if item else None
            raise
        return True, usage_from_item(reply["Attributes"])

    def give_back(self, scope: str, bucket: int, slots: int, now: int) -> bool:
        """Return slots taken in `bucket` (a reservation that turned out not to be needed). A one-item
        transaction: the SDK retries it with the same ClientRequestToken, so a reply lost after the
        write cannot return the slots twice."""
        try:
            self.client.transact_write_items(TransactItems=[{"Update": self._counter_less(scope, bucket, slots, now)}])
        except ClientError as err:
            if dynamo.code(err) in (dynamo.TRANSACTION_CANCELED, dynamo.TRANSACTION_CONFLICT):
                return False  # already folded (the slot freed by itself) or contended: a leak heals
            raise
        return True

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

    # ---- counter and records together ---------------------------------------------------------

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
