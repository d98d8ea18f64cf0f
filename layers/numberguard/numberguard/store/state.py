"""Number facets written by the intake (and the evaluator), each guarded by its event-time watermark.

Every write is conditional on `<facet>_at <= :at`: a retry of the same event rewrites the same
values (no change, no history), and an older event arriving late is refused by DynamoDB itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from botocore.exceptions import ClientError

from numberguard.domain.changes import Change
from numberguard.domain.tiers import MessagingLimit
from numberguard.store import codec, keys
from numberguard.store.limits import (
    ATTENTION,
    MAX_CONTENTION_RETRIES,
    RECORD_TTL_SECONDS,
    StoreUnavailable,
    backoff,
)

HISTORY_TTL_SECONDS = 400 * 24 * 3600  # kept well past the 90 days people look back
PENDING_TTL_SECONDS = 30 * 24 * 3600
MARKER_PREFIX = "id#"  # history sort keys start with digits (the time); markers sort after them
OUTBOX = "unpublished"  # hash key of the history table's sparse Outbox index
# The writer of a history entry publishes it right away; the outbox takes over an entry still
# unpublished this long after it was recorded (longer than a publish with the SDK's bounded retries).
OUTBOX_GRACE_SECONDS = 60
# Service windows of a batch: read first (one BatchGetItem per 100) from this many (number, user)
# pairs on, then written up to this many per transaction (1: one conditional UpdateItem each).
BATCH_WINDOWS_FROM = 3
WINDOWS_PER_TRANSACTION = 100


def _code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


@dataclass(frozen=True)
class Applied:
    applied: bool  # False: an event at least as new had already set this facet
    old: dict  # the item's attributes before the write (empty if it did not exist)
    filled: bool = False  # a lowered unlimited scope starts full (see set_limit)


class StateStore:
    def __init__(self, client, *, numbers_table: str, recipients_table: str, limits_table: str, history_table: str):
        self.client = client
        self.numbers_table = numbers_table
        self.recipients_table = recipients_table
        self.limits_table = limits_table
        self.history_table = history_table

    # ---- lookups ----------------------------------------------------------------------------

    def number_by_display(self, waba_id: str, display_phone_number: str) -> dict | None:
        reply = self.client.query(
            TableName=self.numbers_table,
            IndexName="ByWaba",
            KeyConditionExpression="waba_id = :w AND display_phone_number = :d",
            ExpressionAttributeValues={":w": {"S": waba_id}, ":d": {"S": display_phone_number}},
        )
        items = reply.get("Items", [])
        return items[0] if items else None

    def _query_all(self, **query) -> list[dict]:
        """Every item a Query matches, page after page."""
        items, start = [], None
        while True:
            reply = self.client.query(**query, **({"ExclusiveStartKey": start} if start else {}))
            items.extend(reply.get("Items", []))
            start = reply.get("LastEvaluatedKey")
            if not start:
                return items

    def numbers_of_waba(self, waba_id: str) -> list[dict]:
        return self._query_all(
            TableName=self.numbers_table,
            IndexName="ByWaba",
            KeyConditionExpression="waba_id = :w",
            ExpressionAttributeValues={":w": {"S": waba_id}},
        )

    def get_number_item(self, phone_number_id: str) -> dict | None:
        reply = self.client.get_item(TableName=self.numbers_table, Key=keys.number_key(phone_number_id),
                                     ConsistentRead=True)
        return reply.get("Item")

    def get_limit_item(self, scope: str) -> dict | None:
        reply = self.client.get_item(TableName=self.limits_table, Key=keys.scope_key(scope), ConsistentRead=True)
        return reply.get("Item")

    # ---- guarded facet writes ---------------------------------------------------------------

    def _guarded(self, table: str, key: dict, facet: str, sets: dict, removes: tuple[str, ...], at: int,
                 must_exist: str) -> Applied:
        names = {f"#{i}": name for i, name in enumerate(sets)}
        values = {f":{i}": codec.av(value) for i, value in enumerate(sets.values())}
        names["#w"] = f"{facet}_at"
        names["#k"] = must_exist
        values[":at"] = {"N": str(at)}
        update = "SET " + ", ".join([*(f"#{i} = :{i}" for i in range(len(sets))), "#w = :at"])
        if removes:
            for j, name in enumerate(removes):
                names[f"#r{j}"] = name
            update += " REMOVE " + ", ".join(f"#r{j}" for j in range(len(removes)))
        try:
            reply = self.client.update_item(
                TableName=table,
                Key=key,
                UpdateExpression=update,
                ConditionExpression="attribute_exists(#k) AND (attribute_not_exists(#w) OR #w <= :at)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
            )
        except ClientError as err:
            if _code(err) == "ConditionalCheckFailedException":
                return Applied(False, {})
            raise
        return Applied(True, reply.get("Attributes", {}))

    def set_facet(self, phone_number_id: str, facet: str, sets: dict, removes: tuple[str, ...], at: int) -> Applied:
        """Write a number facet's attributes if no newer event has (watermark `<facet>_at`)."""
        return self._guarded(self.numbers_table, keys.number_key(phone_number_id), facet, sets, removes, at, "pk")

    def set_limit(self, scope: str, limit: MessagingLimit, at: int, fill_bucket: int | None = None) -> Applied:
        """Apply a limit if no newer one was. An unlimited scope was never counted, so when it gets a
        limit it starts full in `fill_bucket` (frees 24 h later) and enters the evaluator's index."""
        sets = {"limit": -1 if limit.limit is None else limit.limit, "tier": limit.tier}
        if fill_bucket is not None and limit.limit is not None:
            try:
                reply = self.client.update_item(
                    TableName=self.limits_table,
                    Key=keys.scope_key(scope),
                    UpdateExpression=(
                        "SET #limit = :limit, tier = :tier, used = :limit, buckets = :buckets, limit_at = :at, "
                        "filled_bucket = :bucket, attention = :due, attention_at = :at"
                    ),
                    ConditionExpression=(
                        "attribute_exists(#scope) AND #limit = :unlimited "
                        "AND (attribute_not_exists(limit_at) OR limit_at <= :at)"
                    ),
                    ExpressionAttributeNames={"#limit": "limit", "#scope": "scope"},
                    ExpressionAttributeValues={
                        ":limit": {"N": str(limit.limit)}, ":tier": {"S": limit.tier},
                        ":buckets": {"M": {str(fill_bucket): {"N": str(limit.limit)}}},
                        ":at": {"N": str(at)}, ":unlimited": {"N": "-1"}, ":due": {"S": ATTENTION},
                        ":bucket": {"N": str(fill_bucket)},
                    },
                    ReturnValues="ALL_OLD",
                )
                return Applied(True, reply.get("Attributes", {}), filled=True)
            except ClientError as err:
                if _code(err) != "ConditionalCheckFailedException":
                    raise  # otherwise: not unlimited (or a newer limit stands): the plain guarded write
        return self._guarded(self.limits_table, keys.scope_key(scope), "limit", sets, (), at, "scope")

    # ---- the evaluator's attention index (sparse GSI ByAttention on numbers and limits) -------------

    def attention(self, table: str, now: int, page: int = 100) -> list[dict]:
        """Items due for evaluation at `now` (their attention_at has come)."""
        return self._query_all(
            TableName=table,
            IndexName="ByAttention",
            KeyConditionExpression="attention = :due AND attention_at <= :now",
            ExpressionAttributeValues={":due": {"S": ATTENTION}, ":now": {"N": str(now)}},
            Limit=page,
        )

    def want_attention(self, table: str, key: dict, at: int) -> None:
        """Be evaluated at `at` at the latest (an earlier wish stands)."""
        try:
            self.client.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET attention = :due, attention_at = :at",
                ConditionExpression=(
                    "attribute_exists(#k) AND (attribute_not_exists(attention_at) OR attention_at > :at)"
                ),
                ExpressionAttributeNames={"#k": next(iter(key))},
                ExpressionAttributeValues={":due": {"S": ATTENTION}, ":at": {"N": str(at)}},
            )
        except ClientError as err:
            if _code(err) != "ConditionalCheckFailedException":
                raise

    def reschedule(self, table: str, key: dict, seen_at: int, next_at: int | None) -> bool:
        """Move (or, with None, drop) an item's attention, unless someone changed it since we read it."""
        if seen_at is None:
            return False  # another run already dropped it
        if next_at is None:
            update, values = "REMOVE attention, attention_at", {":seen": {"N": str(seen_at)}}
        else:
            update = "SET attention_at = :next"
            values = {":seen": {"N": str(seen_at)}, ":next": {"N": str(next_at)}}
        try:
            self.client.update_item(
                TableName=table, Key=key, UpdateExpression=update,
                ConditionExpression="attention_at = :seen", ExpressionAttributeValues=values,
            )
        except ClientError as err:
            if _code(err) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def mark_upgrade_announced(self, scope: str, key: str) -> None:
        """Remember that this tier stint's UPGRADE_ELIGIBLE is recorded (later runs skip the work)."""
        self.client.update_item(
            TableName=self.limits_table, Key=keys.scope_key(scope),
            UpdateExpression="SET upgrade_announced = :k", ConditionExpression="attribute_exists(#s)",
            ExpressionAttributeNames={"#s": "scope"}, ExpressionAttributeValues={":k": {"S": key}},
        )

    def get_numbers(self, phone_number_ids: list[str]) -> list[dict]:
        found: list[dict] = []
        ids = list(dict.fromkeys(phone_number_ids))
        for start in range(0, len(ids), 100):
            request = {self.numbers_table: {"Keys": [keys.number_key(i) for i in ids[start:start + 100]],
                                            "ConsistentRead": True}}
            while request:
                reply = self.client.batch_get_item(RequestItems=request)
                found.extend(reply.get("Responses", {}).get(self.numbers_table, []))
                request = reply.get("UnprocessedKeys") or {}
        return sorted(found, key=lambda i: codec.s(i, "pk"))

    # ---- WABA-wide facets, kept so that numbers registered later inherit them -------------------

    def set_waba_facets(self, waba_id: str, facet: str, values: dict, at: int) -> bool:
        names = {f"#{i}": name for i, name in enumerate(values)}
        vals = {f":{i}": codec.av(value) for i, value in enumerate(values.values())}
        names["#w"] = f"{facet}_at"
        vals[":at"] = {"N": str(at)}
        try:
            self.client.update_item(
                TableName=self.numbers_table,
                Key={"pk": {"S": f"WABA#{waba_id}"}},
                UpdateExpression="SET " + ", ".join(f"#{i} = :{i}" for i in range(len(values))) + ", #w = :at",
                ConditionExpression="attribute_not_exists(#w) OR #w <= :at",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=vals,
            )
        except ClientError as err:
            if _code(err) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def waba_item(self, waba_id: str) -> dict | None:
        reply = self.client.get_item(TableName=self.numbers_table, Key={"pk": {"S": f"WABA#{waba_id}"}},
                                     ConsistentRead=True)
        return reply.get("Item")

    # ---- service windows --------------------------------------------------------------------

    def open_window(self, phone_number_id: str, recipient: str, until: int, now: int) -> bool:
        """Extend the (number, user) service window to `until`; never shortens it."""
        for attempt in range(1, MAX_CONTENTION_RETRIES + 1):
            try:
                self.client.update_item(**self._window_update(phone_number_id, recipient, until, now))
                return True
            except ClientError as err:
                if _code(err) == "ConditionalCheckFailedException":
                    return False
                # A batch's transaction holds the item (another delivery of the same user's window).
                if _code(err) != "TransactionConflictException":
                    raise
                backoff(attempt)
        raise StoreUnavailable("a service window stayed locked by other deliveries' transactions")

    def open_windows(self, windows: list[tuple[str, str, int]], now: int) -> list[bool]:
        """open_window for many (number, user, until), distinct pairs; True where the window grew.

        One eventually consistent BatchGetItem per 100 windows drops those already open as far (a
        retried POST writes nothing); the rest are written with the same conditional update,
        WINDOWS_PER_TRANSACTION per TransactWriteItems. A stale read only shows an older, shorter
        window (they never shrink), so it can cost a write, never skip a needed one; the condition
        still decides each write, so a window is never shortened whatever runs meanwhile.
        """
        if len(windows) < BATCH_WINDOWS_FROM:
            return [self.open_window(pnid, recipient, until, now) for pnid, recipient, until in windows]
        stored = self._windows_stored(windows)
        opened = [False] * len(windows)
        todo = [i for i, (pnid, recipient, until) in enumerate(windows) if stored.get((pnid, recipient), 0) < until]
        for start in range(0, len(todo), WINDOWS_PER_TRANSACTION):
            chunk = todo[start:start + WINDOWS_PER_TRANSACTION]
            for i, grew in zip(chunk, self._open_window_chunk([windows[i] for i in chunk], now), strict=True):
                opened[i] = grew
        return opened

    def _windows_stored(self, windows: list[tuple[str, str, int]]) -> dict[tuple[str, str], int]:
        """service_window_until of each (number, user) that has one (eventually consistent)."""
        found: dict[tuple[str, str], int] = {}
        for start in range(0, len(windows), 100):
            request = {self.recipients_table: {
                "Keys": [keys.window_key(pnid, recipient) for pnid, recipient, _ in windows[start:start + 100]],
                "ProjectionExpression": "pk, service_window_until"}}
            while request:
                reply = self.client.batch_get_item(RequestItems=request)
                for item in reply.get("Responses", {}).get(self.recipients_table, []):
                    _, pnid, recipient = codec.s(item, "pk").split("#", 2)
                    found[(pnid, recipient)] = codec.n(item, "service_window_until", 0)
                request = reply.get("UnprocessedKeys") or {}
        return found

    def _open_window_chunk(self, windows: list[tuple[str, str, int]], now: int) -> list[bool]:
        """One transaction of open_window's updates; windows that another write already opened as
        far come back by name in the cancellation reasons, and the rest is tried again."""
        if len(windows) == 1:
            return [self.open_window(*windows[0], now)]
        result: dict[int, bool] = {}
        pending = list(range(len(windows)))
        for attempt in range(1, MAX_CONTENTION_RETRIES + 1):
            if not pending:
                break
            try:
                self.client.transact_write_items(TransactItems=[
                    {"Update": self._window_update(*windows[i], now)} for i in pending])
                result.update(dict.fromkeys(pending, True))
                pending = []
            except ClientError as err:
                if _code(err) not in ("TransactionCanceledException", "TransactionConflictException"):
                    raise
                reasons = [r.get("Code", "None") for r in err.response.get("CancellationReasons", [])]
                failed = {i for i, why in zip(pending, reasons, strict=False) if why == "ConditionalCheckFailed"}
                if failed:  # the transaction wrote nothing: try the others again
                    result.update(dict.fromkeys(failed, False))
                    pending = [i for i in pending if i not in failed]
                else:
                    backoff(attempt)
        for i in pending:  # still contended: one by one, as a single delivery writes them
            result[i] = self.open_window(*windows[i], now)
        return [result[i] for i in range(len(windows))]

    def _window_update(self, phone_number_id: str, recipient: str, until: int, now: int) -> dict:
        return {
            "TableName": self.recipients_table,
            "Key": keys.window_key(phone_number_id, recipient),
            "UpdateExpression": "SET service_window_until = :u, expires_at = :exp",
            "ConditionExpression": "attribute_not_exists(service_window_until) OR service_window_until < :u",
            "ExpressionAttributeValues": {
                ":u": {"N": str(until)},
                ":exp": {"N": str(max(until, now) + RECORD_TTL_SECONDS)},
            },
        }

    # ---- updates for numbers not registered yet ------------------------------------------------

    def keep_pending(self, waba_id: str, display_phone_number: str, dedup_key: str, event: dict, now: int) -> None:
        """Keep an update for a display number nobody registered yet (applied at registration)."""
        key = {"pk": {"S": f"PENDING#{waba_id}#{display_phone_number}"}}
        try:
            self.client.put_item(
                TableName=self.numbers_table,
                Item={**key, "events": {"M": {}}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as err:
            if _code(err) != "ConditionalCheckFailedException":
                raise
        self.client.update_item(
            TableName=self.numbers_table,
            Key=key,
            UpdateExpression="SET events.#k = :e, expires_at = :exp",
            ExpressionAttributeNames={"#k": dedup_key},
            ExpressionAttributeValues={
                ":e": {"S": json.dumps(event, sort_keys=True)},
                ":exp": {"N": str(now + PENDING_TTL_SECONDS)},
            },
        )

    def take_pending(self, waba_id: str, display_phone_number: str) -> list[dict]:
        reply = self.client.delete_item(
            TableName=self.numbers_table,
            Key={"pk": {"S": f"PENDING#{waba_id}#{display_phone_number}"}},
            ReturnValues="ALL_OLD",
        )
        events = reply.get("Attributes", {}).get("events", {}).get("M", {})
        return [json.loads(v["S"]) for v in events.values()]

    # ---- history, which is also the notification outbox ----------------------------------------

    def record_change(self, change: Change, document: dict, now: int) -> bool:
        """Write a history entry once per change id; False if this very change was already recorded."""
        entry = {
            "phone_number_id": {"S": change.phone_number_id},
            "sk": {"S": change.sort_key},
            "id": {"S": change.id},
            "type": {"S": change.type},
            "at": {"N": str(change.at)},
            "recorded_at": {"N": str(now)},
            "document": {"S": json.dumps(document, sort_keys=True)},
            "published": {"BOOL": False},
            # In the sparse Outbox index until published; due for the outbox after the grace period.
            "outbox": {"S": OUTBOX},
            "outbox_at": {"N": str(now + OUTBOX_GRACE_SECONDS)},
            "expires_at": {"N": str(change.at + HISTORY_TTL_SECONDS)},
        }
        # The marker makes the id unique whatever `at` a re-run computes; one transaction, one call.
        marker = {
            "phone_number_id": {"S": change.phone_number_id},
            "sk": {"S": f"{MARKER_PREFIX}{change.id}"},
            "expires_at": {"N": str(change.at + HISTORY_TTL_SECONDS)},
        }
        try:
            self.client.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.history_table, "Item": marker,
                         "ConditionExpression": "attribute_not_exists(sk)"}},
                {"Put": {"TableName": self.history_table, "Item": entry}},
            ])
        except ClientError as err:
            if _code(err) == "TransactionCanceledException":
                reasons = [r.get("Code") for r in err.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return False
            raise
        return True

    def mark_published(self, change: Change) -> None:
        self.mark_entry_published(change.phone_number_id, change.sort_key)

    def mark_entry_published(self, phone_number_id: str, sk: str, published: bool = True) -> None:
        """Out of the Outbox index: published (or, with False, given up as unreadable)."""
        self.client.update_item(
            TableName=self.history_table,
            Key={"phone_number_id": {"S": phone_number_id}, "sk": {"S": sk}},
            UpdateExpression="SET published = :t REMOVE outbox, outbox_at",
            ExpressionAttributeValues={":t": {"BOOL": published}},
        )

    def unpublished(self, now: int | None, page: int = 100) -> list[dict]:
        """History entries still unpublished whose grace (or another run's lease) is over; with
        `now` None, every unpublished entry."""
        if now is None:
            condition, values = "outbox = :o", {":o": {"S": OUTBOX}}
        else:
            condition, values = "outbox = :o AND outbox_at <= :now", {":o": {"S": OUTBOX}, ":now": {"N": str(now)}}
        return self._query_all(TableName=self.history_table, IndexName="Outbox",
                               KeyConditionExpression=condition, ExpressionAttributeValues=values, Limit=page)

    def claim_unpublished(self, phone_number_id: str, sk: str, seen_at: int, until: int) -> bool:
        """Take an unpublished entry for one publish attempt: moves its outbox time to `until` unless
        another run did first (or it got published). The loser of a race publishes nothing."""
        try:
            self.client.update_item(
                TableName=self.history_table,
                Key={"phone_number_id": {"S": phone_number_id}, "sk": {"S": sk}},
                UpdateExpression="SET outbox_at = :until",
                ConditionExpression="outbox_at = :seen",
                ExpressionAttributeValues={":seen": {"N": str(seen_at)}, ":until": {"N": str(until)}},
            )
        except ClientError as err:
            if _code(err) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def history(self, phone_number_id: str, limit: int = 200) -> list[dict]:
        reply = self.client.query(
            TableName=self.history_table,
            KeyConditionExpression="phone_number_id = :p AND sk < :marker",
            ExpressionAttributeValues={":p": {"S": phone_number_id}, ":marker": {"S": MARKER_PREFIX}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [
            {"sk": codec.s(i, "sk"), "id": codec.s(i, "id"), "type": codec.s(i, "type"), "at": codec.n(i, "at"),
             "published": codec.b(i, "published"), "document": json.loads(codec.s(i, "document", "{}"))}
            for i in reply.get("Items", [])
        ]


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

    def __init__(self, client, numbers_table: str):
        self.client = client
        self.table = numbers_table

    @staticmethod
    def _key(subject: str, facet: str) -> dict:
        return {"pk": {"S": f"LOG#{subject}#{facet}"}}

    def read(self, subject: str, facet: str) -> FacetLog:
        reply = self.client.get_item(TableName=self.table, Key=self._key(subject, facet), ConsistentRead=True)
        item = reply.get("Item")
        if not item:
            return FacetLog(subject, facet, {}, None, 0)
        entries = {k: v["S"] for k, v in item.get("entries", {}).get("M", {}).items()}
        return FacetLog(subject, facet, entries, codec.s(item, "initial"), codec.n(item, "version", 0),
                        codec.s(item, "announced"))

    def write(self, log: FacetLog, entries: dict[str, str], initial: str | None) -> None:
        item = {
            **self._key(log.subject, log.facet),
            "entries": {"M": {k: {"S": v} for k, v in entries.items()}},
            "version": {"N": str(log.version + 1)},
        }
        if initial is not None:
            item["initial"] = {"S": initial}
        if log.announced is not None:
            item["announced"] = {"S": log.announced}
        try:
            if log.version == 0:
                self.client.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)")
            else:
                self.client.put_item(
                    TableName=self.table, Item=item, ConditionExpression="version = :v",
                    ExpressionAttributeValues={":v": {"N": str(log.version)}},
                )
        except ClientError as err:
            if _code(err) == "ConditionalCheckFailedException":
                raise LogConflict(f"{log.subject}/{log.facet}") from None
            raise

    def mark_announced(self, subject: str, facet: str, key: str) -> None:
        """Every announcement up to entry `key` is recorded (never moves back)."""
        try:
            self.client.update_item(
                TableName=self.table, Key=self._key(subject, facet),
                UpdateExpression="SET announced = :k",
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(announced) OR announced < :k)",
                ExpressionAttributeValues={":k": {"S": key}},
            )
        except ClientError as err:
            if _code(err) != "ConditionalCheckFailedException":
                raise
