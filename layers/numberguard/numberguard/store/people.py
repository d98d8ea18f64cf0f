"""People and their linked ids (recipients table), and the folds that leave a person counted once.

Items (defined in store/models/, keys in store/keys.py):
- link item per (link space, id), LinkModel: `person` (the key the person's count lives under), `ids`
  (every id of the person: each of them holds the same item, so one read of any id tells where the
  count is), `retired_at` (set when a `system` change took the id away; no `person` then), `rev` (a
  revision: every write is conditional on the one read, so two intakes linking the same user at once
  never leave the person's items disagreeing).
- counted records: as in store/counted.py; a fold moves a person's live counted stints onto its key
  and gives the other slots back, counter and records in one transaction (a changed person's service
  windows move in store/windows.py).
- the scope counter's `pending_people` (people the evaluator must fold) and a history line per merge.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from botocore.exceptions import ClientError

from numberguard.domain.people import IdChange, IdLink, Person, Stint, change_ids, link, plan_fold
from numberguard.store import codec, dynamo, keys
from numberguard.store.dynamo import Budget, backoff
from numberguard.store.history import HISTORY_TTL_SECONDS
from numberguard.store.items import ATTENTION, RECORD_TTL_SECONDS, link_from_item
from numberguard.store.schema_names import CountedItem, CounterItem, HistoryItem, LinkItem, WindowItem

MAX_CONTENTION_RETRIES = int(Budget.TRANSACTION)
C, R, W, K, H = CounterItem, CountedItem, WindowItem, LinkItem, HistoryItem
_CONTENDED = (dynamo.TRANSACTION_CANCELED, dynamo.TRANSACTION_CONFLICT)


@dataclass(frozen=True)
class _Stored:
    link: IdLink
    rev: int | None  # None: no item


class PeopleStore:
    def __init__(self, client, *, recipients_table: str, limits_table: str, history_table: str):
        self.client = client
        self.recipients_table = recipients_table
        self.limits_table = limits_table
        self.history_table = history_table

    # ---- links --------------------------------------------------------------------------------

    def links(self, space: str, ids: Iterable[str]) -> dict[str, IdLink]:
        """The links of `ids` (absent ones too, as IdLink()), 100 per BatchGetItem: a batch's pre-read."""
        return {i: s.link for i, s in self._read_links(space, ids, rounds=1).items()}

    def _read_links(self, space: str, ids: Iterable[str], rounds: int = 2) -> dict[str, _Stored]:
        """Every id's link item, and the other ids of the persons found (consistent reads)."""
        wanted = set(ids)
        found: dict[str, _Stored] = {}
        for _ in range(rounds):  # the ids asked for, then the other ids of their persons
            todo = sorted(wanted - set(found))
            items = self._get(todo, lambda i: keys.link_key(space, i))
            for i in todo:
                item = items.get(keys.link_pk(space, i))
                found[i] = _Stored(link_from_item(item), codec.n(item, K.rev, 0)) if item else _Stored(IdLink(), None)
            for stored in list(found.values()):
                if stored.link.person is not None:
                    wanted |= stored.link.person.ids
        return found

    def link(self, space: str, shown: Iterable[str], at: int, now: int) -> Person | None:
        """Link ids Meta showed together at `at`; the person as it now stands, None when nothing changed."""
        shown = list(shown)
        for attempt in range(1, MAX_CONTENTION_RETRIES + 1):
            stored = self._read_links(space, shown)
            person = link({i: s.link for i, s in stored.items()}, shown, at)
            if person is None:
                return None
            if self._write_links(space, stored, {i: person for i in person.ids}, {}, now):
                return person
            backoff(attempt)
        raise RuntimeError("a person's link items stayed contended")

    def change(self, space: str, retired: Iterable[str], new: Iterable[str], at: int, now: int) -> IdChange | None:
        """A `system` change: the retired ids leave their person (tombstones), the others are relinked."""
        retired, new = list(retired), list(new)
        for attempt in range(1, MAX_CONTENTION_RETRIES + 1):
            stored = self._read_links(space, [*retired, *new])  # and the persons they belong to
            change = change_ids({i: s.link for i, s in stored.items()}, retired, new, at)
            if change is None:
                return None
            people = {**change.detached, **{i: change.person for i in change.current}}
            if self._write_links(space, stored, people, dict.fromkeys(change.retired, at), now):
                return change
            backoff(attempt)
        raise RuntimeError("a person's link items stayed contended")

    def _write_links(self, space: str, stored: Mapping[str, _Stored], people: Mapping[str, Person | None],
                     retired: Mapping[str, int], now: int) -> bool:
        """Every changed link item in one transaction, each conditional on the revision read."""
        items = []
        for i in sorted(set(people) | set(retired)):
            before = stored.get(i, _Stored(IdLink(), None))
            item = {**keys.link_key(space, i), K.rev: {"N": str((before.rev or 0) + 1)},
                    K.updated_at: {"N": str(now)}}
            person = people.get(i)
            if i in retired:
                item[K.retired_at] = {"N": str(retired[i])}
            elif person is not None:
                # No event time is kept on a person: which delivery wrote it last depends on their order.
                item.update({K.person: {"S": person.key}, K.ids: {"SS": sorted(person.ids)}})
            put: dict = {"TableName": self.recipients_table, "Item": item}
            if before.rev is None:
                put["ConditionExpression"] = f"attribute_not_exists({K.HASH_KEY})"
            else:
                put["ConditionExpression"] = f"{K.rev} = :rev"
                put["ExpressionAttributeValues"] = {":rev": {"N": str(before.rev)}}
            items.append({"Put": put})
        if not items:
            return True
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as err:
            if dynamo.code(err) in _CONTENDED:
                return False  # another intake wrote meanwhile: read again
            raise
        return True

    # ---- folds: one person, one count per scope --------------------------------------------------

    def fold(self, scope: str, key: str, ids: Iterable[str], now: int) -> tuple[int, bool] | None:
        """Leave the person counted once in `scope`, under `key`: (slots given back, whether anything
        moved); None when the records stayed contended (the evaluator's next run tries again).

        Every write is conditional on the records as read (a check moving or counting one of them
        meanwhile makes the transaction fail, and the fold reads again), so a fold applied twice, late,
        or beside checks gives back exactly the slots of the stints it cleared.
        """
        ids = sorted(set(ids) | {key})
        for attempt in range(1, MAX_CONTENTION_RETRIES + 1):
            items = self._get(ids, lambda i: keys.counted_key(scope, i))
            stints = {}
            for i in ids:
                item = items.get(keys.counted_pk(scope, i)) or {}
                bucket = codec.n(item, R.counted_bucket)
                if bucket is not None:
                    stints[i] = Stint(bucket, codec.n(item, R.counted_until, 0) or 0, codec.s(item, R.slot_reference))
            plan = plan_fold(key, stints, now)
            if plan is None:
                return 0, False
            try:
                self.client.transact_write_items(TransactItems=self._fold_items(scope, plan, now))
                return plan.slots, True
            except ClientError as err:
                if dynamo.code(err) not in _CONTENDED:
                    raise
                backoff(attempt)
        return None  # still contended: the person stays counted twice (too many, never too few) for now

    def want_fold(self, scope: str, space: str, key: str, now: int) -> None:
        """Ask the evaluator to fold this person in `scope` on its next run (the scope is due now: the
        evaluator reschedules it from its usage as on any run, so an earlier or later wish is not lost)."""
        try:
            self.client.update_item(
                TableName=self.limits_table, Key=keys.scope_key(scope),
                UpdateExpression=f"SET {C.attention} = :due, {C.attention_at} = :now ADD {C.pending_people} :p",
                ConditionExpression="attribute_exists(#s)",
                ExpressionAttributeNames={"#s": C.HASH_KEY},
                ExpressionAttributeValues={":p": {"SS": [f"{space}|{key}"]}, ":due": {"S": ATTENTION},
                                           ":now": {"N": str(now)}})
        except ClientError as err:
            if not dynamo.condition_failed(err):
                raise

    def folded(self, scope: str, entries: Iterable[str]) -> None:
        """The evaluator folded these pending people (`space|key`): off the scope's list."""
        entries = sorted(set(entries))
        if entries:
            self.client.update_item(TableName=self.limits_table, Key=keys.scope_key(scope),
                                    UpdateExpression=f"DELETE {C.pending_people} :p",
                                    ExpressionAttributeValues={":p": {"SS": entries}})

    def _fold_items(self, scope: str, plan, now: int) -> list[dict]:
        items: list[dict] = []
        if plan.given_back:
            names, values, sets, conditions = {}, {":now": {"N": str(now)}, ":n": {"N": str(plan.slots)}}, [], []
            for j, (bucket, count) in enumerate(sorted(plan.given_back.items())):
                names[f"#b{j}"] = str(bucket)
                values[f":b{j}"] = {"N": str(count)}
                sets.append(f"{C.buckets}.#b{j} = {C.buckets}.#b{j} - :b{j}")
                conditions.append(f"{C.buckets}.#b{j} >= :b{j}")
            items.append({"Update": {
                "TableName": self.limits_table, "Key": keys.scope_key(scope),
                "UpdateExpression": f"SET {C.used} = {C.used} - :n, {C.updated_at} = :now, " + ", ".join(sets),
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": names, "ExpressionAttributeValues": values,
            }})
        key_guard, guard_values = _stint_condition(plan.key_was, now)
        if plan.key_stint is not None:
            items.append({"Update": {
                "TableName": self.recipients_table, "Key": keys.counted_key(scope, plan.key),
                "UpdateExpression": (f"SET {R.counted_bucket} = :nb, {R.counted_until} = :nu, {R.expires_at} = :exp "
                                     f"REMOVE {R.slot_reference}, {R.claim}"),
                "ConditionExpression": key_guard,
                "ExpressionAttributeValues": {**guard_values, ":nb": {"N": str(plan.key_stint.bucket)},
                                              ":nu": {"N": str(plan.key_stint.until)},
                                              ":exp": {"N": str(now + RECORD_TTL_SECONDS)}},
            }})
        elif plan.key_was is not None:
            # The key keeps its stint: a guard that it still holds it (an Update of the same value, so the
            # roles need no ConditionCheckItem of their own).
            items.append({"Update": {
                "TableName": self.recipients_table, "Key": keys.counted_key(scope, plan.key),
                "UpdateExpression": f"SET {R.counted_bucket} = :kb", "ConditionExpression": key_guard,
                "ExpressionAttributeValues": guard_values,
            }})
        for other, bucket in plan.cleared:
            items.append({"Update": {
                "TableName": self.recipients_table, "Key": keys.counted_key(scope, other),
                "UpdateExpression": f"REMOVE {R.counted_bucket}, {R.counted_until}, {R.slot_reference}, {R.claim}",
                "ConditionExpression": f"{R.counted_bucket} = :b",
                "ExpressionAttributeValues": {":b": {"N": str(bucket)}},
            }})
        return items

    # ---- history: a line per merge (not a notification) -------------------------------------------

    def record_merge(self, phone_number_id: str, scope: str, person: Person | None, kind: str, ids: Iterable[str],
                     slots: int, at: int, now: int) -> bool:
        """One history line for a merge or a change of ids (kept, never published); once per event."""
        key = person.key if person else None
        others = sorted(set(ids) - {key})
        why = {"linked": "one person by Meta's word", "user_changed_number": "the user changed number",
               "user_changed_user_id": "the user's BSUID changed"}.get(kind, kind)
        # from → to as the history view shows every line: the ids folded into the person's key.
        document = {"scope": scope, "person": key, "ids": sorted(ids), "slots_given_back": slots,
                    "from": ", ".join(others), "to": key,
                    "reason": f"{why}; {slots} slot{'s' if slots != 1 else ''} given back"}
        ident = hashlib.sha256(json.dumps([scope, kind, document["ids"], at]).encode()).hexdigest()[:32]
        item = {
            **keys.history_key(phone_number_id, f"{at:011d}#PERSON_MERGED#{ident[:12]}"),
            H.id: {"S": ident}, H.type: {"S": "PERSON_MERGED"}, H.at: {"N": str(at)},
            H.recorded_at: {"N": str(now)}, H.document: {"S": json.dumps(document, sort_keys=True)},
            H.published: {"BOOL": True},  # a line of history only: never in the outbox
            H.expires_at: {"N": str(at + HISTORY_TTL_SECONDS)},
        }
        try:
            self.client.put_item(TableName=self.history_table, Item=item,
                                 ConditionExpression=f"attribute_not_exists({H.sk})")
        except ClientError as err:
            if dynamo.condition_failed(err):
                return False
            raise
        return True

    # ---- plumbing ---------------------------------------------------------------------------------

    def _get(self, ids: list[str], key_of: Callable[[str], dict]) -> dict[str, dict]:
        """Items of the recipients table by pk (consistent reads)."""
        found = dynamo.batch_get(self.client, [(self.recipients_table, key_of(i)) for i in ids])
        return {codec.s(item, W.HASH_KEY) or "": item for item in found.get(self.recipients_table, [])}


def _stint_condition(stint: Stint | None, now: int) -> tuple[str, dict]:
    """The key's record still as read: holding `stint`, or holding no live stint."""
    if stint is None:
        return f"attribute_not_exists({R.counted_until}) OR {R.counted_until} <= :now", {":now": {"N": str(now)}}
    return f"{R.counted_bucket} = :kb AND {R.counted_until} = :ku", {":kb": {"N": str(stint.bucket)},
                                                                    ":ku": {"N": str(stint.until)}}
