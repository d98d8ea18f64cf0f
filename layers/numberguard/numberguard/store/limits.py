"""The limit check's data access: one read, then conditional writes on the scope's counter.

Items (see store/keys.py):
- counter item (limits table), one per scope: `limit` (-1 = unlimited), `tier`, `used`,
  `buckets` {bucket id: recipients whose latest counted send fell in it}. `used` always equals the
  sum of `buckets`: every write changes both in one UpdateItem.
- counted record (recipients table) per (scope, recipient): `counted_bucket`, `counted_until`,
  `slot_reference` (the reference of the send that took the slot), TTL `expires_at`.
- window record per (phone number, recipient): `service_window_until`, written by the intake.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from numberguard.domain.check import RecipientView
from numberguard.domain.number import NumberState
from numberguard.domain.people import IdLink, Person
from numberguard.domain.status import Connection, Quality
from numberguard.domain.window import ReservePlan, ScopeUsage
from numberguard.store import codec, keys

# Records outlive any window they describe (24 h + W counted, 72 h service window); TTL deletion
# lags by days anyway, so every read compares times itself.
RECORD_TTL_SECONDS = 4 * 24 * 3600
BATCH_GET_MAX = 100
BATCH_WRITE_MAX = 25
TRANSACT_MAX = 100  # actions per TransactWriteItems: the counter and up to 99 records
MAX_CONTENTION_RETRIES = 8
ATTENTION = "due"  # hash key of the ByAttention indexes (numbers and limits tables)


class StoreUnavailable(RuntimeError):
    """DynamoDB could not be reached or refused the call for a reason a retry may fix."""


@dataclass
class Snapshot:
    number: NumberState | None
    usage: ScopeUsage | None
    tier: str | None
    records: dict[str, RecipientView] = field(default_factory=dict)
    links: dict[str, IdLink] = field(default_factory=dict)  # the link item of each id read (absent: none)


def number_from_item(item: dict) -> NumberState:
    return NumberState(
        phone_number_id=codec.s(item, "pk"),
        waba_id=codec.s(item, "waba_id", ""),
        display_phone_number=codec.s(item, "display_phone_number", ""),
        scope=codec.s(item, "scope"),
        portfolio_id=codec.s(item, "portfolio_id"),
        connection=Connection(codec.s(item, "connection", Connection.CONNECTED.value)),
        banned=codec.b(item, "banned"),
        quality=Quality(codec.s(item, "quality", Quality.UNKNOWN.value)),
        flagged_at=codec.n(item, "flagged_at"),
        restrictions=codec.int_map(item, "restrictions"),
    )


def usage_from_item(item: dict) -> ScopeUsage:
    limit = codec.n(item, "limit", -1)
    return ScopeUsage(
        limit=None if limit < 0 else limit,
        used=codec.n(item, "used", 0),
        buckets={int(k): v for k, v in codec.int_map(item, "buckets").items()},
    )


def _views(by_pk: dict[str, dict], phone_number_id: str, scope: str, ids: Sequence[str]) -> dict[str, RecipientView]:
    views = {}
    for r in ids:
        counted = by_pk.get(keys.counted_key(scope, r)["pk"]["S"], {})
        window = by_pk.get(keys.window_key(phone_number_id, r)["pk"]["S"], {})
        views[r] = RecipientView(
            counted_bucket=codec.n(counted, "counted_bucket"),
            counted_until=codec.n(counted, "counted_until", 0),
            service_window_until=codec.n(window, "service_window_until", 0),
            slot_reference=codec.s(counted, "slot_reference"),
        )
    return views


def _links(by_pk: dict[str, dict], space: str, ids: Sequence[str]) -> dict[str, IdLink]:
    out = {}
    for r in ids:
        item = by_pk.get(keys.link_key(space, r)["pk"]["S"])
        if item is not None:
            out[r] = link_from_item(item)
    return out


def link_from_item(item: dict) -> IdLink:
    """A link item (store/people.py writes them) → the domain's view of the id."""
    key, members = codec.s(item, "person"), item.get("ids", {}).get("SS") or []
    person = Person(key, frozenset(members), codec.n(item, "at", 0) or 0) if key and members else None
    return IdLink(person, codec.n(item, "retired_at"))


def _code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


class LimitStore:
    def __init__(self, client, *, numbers_table: str, recipients_table: str, limits_table: str):
        self.client = client
        self.numbers_table = numbers_table
        self.recipients_table = recipients_table
        self.limits_table = limits_table

    def _update_item(self, **kwargs) -> dict:
        """UpdateItem, retried while the item is locked by another check's transaction.

        DynamoDB rejects a plain write to an item that a transaction is writing with
        TransactionConflictException, which botocore does not retry; it is contention, not an outage.
        """
        for attempt in range(1, MAX_CONTENTION_RETRIES + 1):
            try:
                return self.client.update_item(**kwargs)
            except ClientError as err:
                if _code(err) != "TransactionConflictException":
                    raise
                backoff(attempt)
        raise StoreUnavailable("an item stayed locked by other checks' transactions")

    # ---- read -------------------------------------------------------------------------------

    def get_number(self, phone_number_id: str) -> NumberState | None:
        reply = self.client.get_item(
            TableName=self.numbers_table, Key=keys.number_key(phone_number_id), ConsistentRead=True
        )
        item = reply.get("Item")
        return number_from_item(item) if item else None

    def read(self, phone_number_id: str, scope: str, recipients: Sequence[str], space: str | None = None) -> Snapshot:
        """Number, scope counter, every recipient's records and (with `space`) their links, in as few
        BatchGetItem calls as fit: a link costs no extra call for a recipient nobody linked."""
        wanted: list[tuple[str, dict]] = [
            (self.numbers_table, keys.number_key(phone_number_id)),
            (self.limits_table, keys.scope_key(scope)),
        ]
        found = self._fetch(wanted + self._record_keys(phone_number_id, scope, recipients, space))
        number_item = next(iter(found.get(self.numbers_table, [])), None)
        limit_item = next(iter(found.get(self.limits_table, [])), None)
        by_pk = {codec.s(i, "pk"): i for i in found.get(self.recipients_table, [])}
        return Snapshot(
            number=number_from_item(number_item) if number_item else None,
            usage=usage_from_item(limit_item) if limit_item else None,
            tier=codec.s(limit_item, "tier") if limit_item else None,
            records=_views(by_pk, phone_number_id, scope, recipients),
            links=_links(by_pk, space, recipients) if space is not None else {},
        )

    def read_ids(self, phone_number_id: str, scope: str, ids: Sequence[str],
                 space: str | None = None) -> tuple[dict[str, RecipientView], dict[str, IdLink]]:
        """The records (and, with `space`, links) of more ids: a linked person's other ids, one call per 33."""
        found = self._fetch(self._record_keys(phone_number_id, scope, ids, space))
        by_pk = {codec.s(i, "pk"): i for i in found.get(self.recipients_table, [])}
        return _views(by_pk, phone_number_id, scope, ids), (_links(by_pk, space, ids) if space is not None else {})

    def _record_keys(self, phone_number_id: str, scope: str, ids: Sequence[str],
                     space: str | None) -> list[tuple[str, dict]]:
        """Each id's counted record and window with this number, and (with `space`) its link."""
        wanted = []
        for i in ids:
            wanted.append((self.recipients_table, keys.counted_key(scope, i)))
            wanted.append((self.recipients_table, keys.window_key(phone_number_id, i)))
            if space is not None:
                wanted.append((self.recipients_table, keys.link_key(space, i)))
        return wanted

    def _fetch(self, wanted: list[tuple[str, dict]]) -> dict[str, list[dict]]:
        found: dict[str, list[dict]] = {}
        for start in range(0, len(wanted), BATCH_GET_MAX):
            self._batch_get(wanted[start : start + BATCH_GET_MAX], found)
        return found

    def _batch_get(self, wanted: Iterable[tuple[str, dict]], found: dict[str, list[dict]]) -> None:
        request: dict[str, dict] = {}
        for table, key in wanted:
            request.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(key)
        attempt = 0
        while request:
            reply = self.client.batch_get_item(RequestItems=request)
            for table, items in reply.get("Responses", {}).items():
                found.setdefault(table, []).extend(items)
            request = reply.get("UnprocessedKeys") or {}
            if request:
                attempt += 1
                if attempt > MAX_CONTENTION_RETRIES:
                    raise StoreUnavailable("DynamoDB kept returning unprocessed keys")
                backoff(attempt)

    # ---- counter writes ---------------------------------------------------------------------

    def reserve(self, scope: str, plan: ReservePlan, now: int) -> tuple[bool, ScopeUsage | None]:
        """Take `plan.slots` slots; (True, usage after) or (False, usage as it stood)."""
        names = {"#limit": "limit", "#cur": str(plan.bucket)}
        values = {
            ":limit": {"N": str(plan.limit)},
            ":max_used": {"N": str(plan.max_used)},
            ":slots": {"N": str(plan.slots)},
            ":delta": {"N": str(plan.slots - sum(plan.expired.values()))},
            ":zero": {"N": "0"},
            ":now": {"N": str(now)},
        }
        conditions = ["#limit = :limit", "used <= :max_used"]
        removes = []
        for i, (bucket, count) in enumerate(sorted(plan.expired.items())):
            names[f"#x{i}"] = str(bucket)
            values[f":x{i}"] = {"N": str(count)}
            conditions.append(f"buckets.#x{i} = :x{i}")
            removes.append(f"buckets.#x{i}")
        update = (
            "SET used = used + :delta, buckets.#cur = if_not_exists(buckets.#cur, :zero) + :slots, updated_at = :now"
        )
        if plan.attention:
            # Sparse index of scopes the evaluator must look at; set once, cleared by the evaluator.
            update += ", attention = :due, attention_at = if_not_exists(attention_at, :now)"
            values[":due"] = {"S": ATTENTION}
        if removes:
            update += " REMOVE " + ", ".join(removes)
        try:
            reply = self._update_item(
                TableName=self.limits_table,
                Key=keys.scope_key(scope),
                UpdateExpression=update,
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as err:
            if _code(err) == "ConditionalCheckFailedException":
                item = err.response.get("Item")
                return False, usage_from_item(item) if item else None
            raise
        return True, usage_from_item(reply["Attributes"])

    def give_back(self, scope: str, bucket: int, slots: int, now: int) -> bool:
        """Return slots taken in `bucket` (a reservation that turned out not to be needed).

        A one-item transaction: the SDK retries it with the same ClientRequestToken, so a reply lost
        after the write cannot return the slots twice.
        """
        try:
            self.client.transact_write_items(TransactItems=[{"Update": {
                "TableName": self.limits_table,
                "Key": keys.scope_key(scope),
                "UpdateExpression": "SET used = used - :n, buckets.#b = buckets.#b - :n, updated_at = :now",
                "ConditionExpression": "buckets.#b >= :n",
                "ExpressionAttributeNames": {"#b": str(bucket)},
                "ExpressionAttributeValues": {":n": {"N": str(slots)}, ":now": {"N": str(now)}},
            }}])
        except ClientError as err:
            if _code(err) in ("TransactionCanceledException", "TransactionConflictException"):
                return False  # already folded (the slot freed by itself) or contended: a leak heals
            raise
        return True

    def move_recipients(
        self, scope: str, moves: Sequence[tuple[str, int]], new_bucket: int, counted_until: int, now: int
    ) -> tuple[str, set[str]]:
        """Move counted recipients (recipient, old bucket) to `new_bucket`: counter and records together.

        One TransactWriteItems for at most TRANSACT_MAX - 1 recipients (the batch form of
        move_recipient): the counter's buckets and the records move together or not at all, so a lost
        call can never leave a record pointing at a bucket that no longer holds it. Returns
        ("moved", {}), ("stale", recipients whose record moved meanwhile: nothing was written),
        ("counter", {}) (an old bucket holds fewer than moved from it) or ("conflict", {}) (retry).
        """
        if not 0 < len(moves) < TRANSACT_MAX:
            raise ValueError(f"move 1 to {TRANSACT_MAX - 1} recipients at a time, got {len(moves)}")
        by_bucket: dict[int, int] = {}
        for _, old in moves:
            by_bucket[old] = by_bucket.get(old, 0) + 1
        names = {"#to": str(new_bucket)}
        values = {":total": {"N": str(len(moves))}, ":zero": {"N": "0"}, ":now": {"N": str(now)}}
        sets = ["buckets.#to = if_not_exists(buckets.#to, :zero) + :total", "updated_at = :now"]
        conditions = []
        for i, (bucket, count) in enumerate(sorted(by_bucket.items())):
            names[f"#m{i}"] = str(bucket)
            values[f":m{i}"] = {"N": str(count)}
            sets.append(f"buckets.#m{i} = buckets.#m{i} - :m{i}")
            conditions.append(f"buckets.#m{i} >= :m{i}")
        items = [{"Update": {
            "TableName": self.limits_table,
            "Key": keys.scope_key(scope),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }}]
        items += [{"Update": self._record_move(scope, recipient, old, new_bucket, counted_until, now)}
                  for recipient, old in moves]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as err:
            if _code(err) == "TransactionCanceledException":
                reasons = [r.get("Code", "None") for r in err.response.get("CancellationReasons", [])]
                stale = {r for (r, _), why in zip(moves, reasons[1:], strict=False) if why == "ConditionalCheckFailed"}
                if stale:
                    return "stale", stale
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return "counter", set()
                return "conflict", set()
            if _code(err) == "TransactionConflictException":
                return "conflict", set()
            raise
        return "moved", set()

    def keep_counted(self, scope: str, entries: Sequence[tuple[str, int, str]]) -> set[str]:
        """Take the slot reference away from counted records (recipient, bucket, reference).

        One TransactWriteItems for at most TRANSACT_MAX records, each guarded by its bucket and
        reference: a repeat the sender is told to send must not be un-counted by a later release of
        the send that took the slot. Returns the recipients whose record changed meanwhile (not
        written: read again).
        """
        entries = list(entries)
        stale: set[str] = set()
        for attempt in range(1, MAX_CONTENTION_RETRIES + 1):
            if not entries:
                return stale
            items = [{"Update": {
                "TableName": self.recipients_table,
                "Key": keys.counted_key(scope, recipient),
                "UpdateExpression": "REMOVE slot_reference",
                "ConditionExpression": "counted_bucket = :b AND slot_reference = :ref",
                "ExpressionAttributeValues": {":b": {"N": str(bucket)}, ":ref": {"S": reference}},
            }} for recipient, bucket, reference in entries]
            try:
                self.client.transact_write_items(TransactItems=items)
                return stale
            except ClientError as err:
                if _code(err) not in ("TransactionCanceledException", "TransactionConflictException"):
                    raise
                reasons = [r.get("Code", "None") for r in err.response.get("CancellationReasons", [])]
                failed = {e[0] for e, why in zip(entries, reasons, strict=False) if why == "ConditionalCheckFailed"}
                if failed:  # the transaction wrote nothing: try the others again
                    stale |= failed
                    entries = [e for e in entries if e[0] not in failed]
                else:
                    backoff(attempt)
        raise StoreUnavailable("the recipients' records stayed too contended to keep them counted")

    # ---- recipient records ------------------------------------------------------------------

    def record_counted(
        self,
        scope: str,
        phone_number_id: str,
        recipient: str,
        bucket: int,
        counted_until: int,
        reference: str | None,
        now: int,
        claim: str,
    ) -> bool:
        """Mark a new recipient counted; False if another check counted it meanwhile.

        `claim` identifies this check: when the SDK retries a write that had landed, the condition
        fails on our own record, and the claim tells it apart from another check's.
        """
        values = {
            ":b": {"N": str(bucket)},
            ":cu": {"N": str(counted_until)},
            ":now": {"N": str(now)},
            ":exp": {"N": str(now + RECORD_TTL_SECONDS)},
            ":pn": {"S": phone_number_id},
        }
        update = (
            "SET counted_bucket = :b, counted_until = :cu, expires_at = :exp, phone_number_id = :pn, claim = :claim"
        )
        values[":claim"] = {"S": claim}
        if reference:
            update += ", slot_reference = :ref"
            values[":ref"] = {"S": reference}
        else:
            update += " REMOVE slot_reference"
        try:
            self._update_item(
                TableName=self.recipients_table,
                Key=keys.counted_key(scope, recipient),
                UpdateExpression=update,
                ConditionExpression="attribute_not_exists(counted_until) OR counted_until <= :now",
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as err:
            if _code(err) == "ConditionalCheckFailedException":
                return codec.s(err.response.get("Item") or {}, "claim") == claim
            raise
        return True

    def rebucket(self, scope: str, recipient: str, old_bucket: int, new_bucket: int, counted_until: int,
                 now: int) -> bool:
        """Point a record at a new bucket (after a fresh slot was taken for it there)."""
        try:
            self._update_item(**self._record_move(scope, recipient, old_bucket, new_bucket, counted_until, now))
        except ClientError as err:
            if _code(err) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _record_move(self, scope: str, recipient: str, old_bucket: int, new_bucket: int, counted_until: int,
                     now: int) -> dict:
        """The update that points a counted record at a new bucket, if it still sits in `old_bucket`
        (alone in rebucket, with the counter's move in move_recipient and move_recipients)."""
        return {
            "TableName": self.recipients_table,
            "Key": keys.counted_key(scope, recipient),
            "UpdateExpression": "SET counted_bucket = :new, counted_until = :cu, expires_at = :exp "
                                "REMOVE slot_reference",
            "ConditionExpression": "counted_bucket = :old",
            "ExpressionAttributeValues": {
                ":new": {"N": str(new_bucket)}, ":old": {"N": str(old_bucket)},
                ":cu": {"N": str(counted_until)}, ":exp": {"N": str(now + RECORD_TTL_SECONDS)},
            },
        }

    def move_recipient(
        self, scope: str, recipient: str, old_bucket: int, new_bucket: int, counted_until: int, now: int
    ) -> str:
        """Move a counted recipient to the current bucket, counter and record together.

        One TransactWriteItems, so a repeat costs one write call. Returns "moved", "stale" (the
        record no longer sits in `old_bucket`: re-read), "counter" (the counter's bucket no longer
        holds it) or "conflict" (retry).
        """
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.limits_table,
                            "Key": keys.scope_key(scope),
                            "UpdateExpression": "SET buckets.#new = if_not_exists(buckets.#new, :zero) + :one, "
                            "buckets.#old = buckets.#old - :one, updated_at = :now",
                            "ConditionExpression": "buckets.#old >= :one",
                            "ExpressionAttributeNames": {"#new": str(new_bucket), "#old": str(old_bucket)},
                            "ExpressionAttributeValues": {
                                ":zero": {"N": "0"},
                                ":one": {"N": "1"},
                                ":now": {"N": str(now)},
                            },
                        }
                    },
                    {"Update": self._record_move(scope, recipient, old_bucket, new_bucket, counted_until, now)},
                ]
            )
        except ClientError as err:
            if _code(err) == "TransactionCanceledException":
                reasons = [r.get("Code", "None") for r in err.response.get("CancellationReasons", [])]
                if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                    return "stale"  # the record moved meanwhile: read again
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return "counter"  # the counter no longer holds it in that bucket (a batch moved it)
                return "conflict"
            if _code(err) == "TransactionConflictException":
                return "conflict"
            raise
        return "moved"

    def record_counted_batch(
        self, scope: str, phone_number_id: str, entries: Sequence[tuple[str, str | None]], bucket: int,
        counted_until: int, now: int,
    ) -> None:
        """Write counted records for (recipient, slot reference) pairs, 25 per BatchWriteItem."""
        puts = []
        for recipient, reference in entries:
            item = {
                **keys.counted_key(scope, recipient),
                "counted_bucket": {"N": str(bucket)},
                "counted_until": {"N": str(counted_until)},
                "expires_at": {"N": str(now + RECORD_TTL_SECONDS)},
                "phone_number_id": {"S": phone_number_id},
            }
            if reference:
                item["slot_reference"] = {"S": reference}
            puts.append({"PutRequest": {"Item": item}})
        for start in range(0, len(puts), BATCH_WRITE_MAX):
            pending = {self.recipients_table: puts[start : start + BATCH_WRITE_MAX]}
            attempt = 0
            while pending:
                reply = self.client.batch_write_item(RequestItems=pending)
                pending = reply.get("UnprocessedItems") or {}
                if pending:
                    attempt += 1
                    if attempt > MAX_CONTENTION_RETRIES:
                        raise StoreUnavailable("DynamoDB kept returning unprocessed items")
                    backoff(attempt)

    def release_slot(self, scope: str, recipient: str, reference: str, bucket: int, now: int) -> str:
        """Un-count the recipient whose slot `reference` took and give the slot back, atomically.

        Returns "released", "not_that_slot" (the record is not that reference's slot any more) or
        "folded" (the bucket already freed: only the record was cleared).
        """
        record = {"Update": {
            "TableName": self.recipients_table,
            "Key": keys.counted_key(scope, recipient),
            "UpdateExpression": "REMOVE counted_bucket, counted_until, slot_reference, claim",
            "ConditionExpression": "slot_reference = :ref AND counted_bucket = :b",
            "ExpressionAttributeValues": {":ref": {"S": reference}, ":b": {"N": str(bucket)}},
        }}
        counter = {"Update": {
            "TableName": self.limits_table,
            "Key": keys.scope_key(scope),
            "UpdateExpression": "SET used = used - :one, buckets.#b = buckets.#b - :one, updated_at = :now",
            "ConditionExpression": "buckets.#b >= :one",
            "ExpressionAttributeNames": {"#b": str(bucket)},
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":now": {"N": str(now)}},
        }}
        for _ in range(MAX_CONTENTION_RETRIES):
            try:
                self.client.transact_write_items(TransactItems=[record, counter])
                return "released"
            except ClientError as err:
                if _code(err) == "TransactionConflictException":
                    backoff(2)
                    continue
                if _code(err) != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code", "None") for r in err.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return "not_that_slot"
                if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                    # The bucket folded: the slot is free already; clear the record alone.
                    try:
                        self.client.update_item(TableName=self.recipients_table, Key=record["Update"]["Key"],
                                                UpdateExpression=record["Update"]["UpdateExpression"],
                                                ConditionExpression=record["Update"]["ConditionExpression"],
                                                ExpressionAttributeValues=record["Update"]["ExpressionAttributeValues"])
                    except ClientError as inner:
                        if _code(inner) != "ConditionalCheckFailedException":
                            raise
                    return "folded"
                backoff(2)
        raise StoreUnavailable("the scope's counter stayed too contended to release a slot")

def backoff(attempt: int) -> None:
    """A short jittered pause before retrying a contended write (every writer of store/ uses it)."""
    time.sleep(min(0.2, 0.005 * (2**attempt)) * random.random())
