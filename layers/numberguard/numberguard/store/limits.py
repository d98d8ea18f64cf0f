"""The limit check's data access: one read, then conditional writes on the scope's counter and the
counted records, which move together (one aggregate for writing: a transaction spans both). The
counted records' writes (and the transactions spanning both) are in store/counted.py; LimitStore
inherits them, so the check keeps one store.

Items: the scope's counter (LimitModel: `used` always equals the sum of `buckets`, every write changes
both in one UpdateItem), counted records (CountedModel) and service windows (WindowModel, written by the
intake), defined in store/models/; their keys in store/keys.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError

from numberguard.domain.check import RecipientView, Snapshot
from numberguard.domain.number import NumberState
from numberguard.domain.people import IdLink
from numberguard.domain.templates import TemplateRef, TemplateState
from numberguard.domain.window import ReservePlan, ScopeUsage
from numberguard.store import codec, dynamo, keys
from numberguard.store.counted import CountedRecords, _n
from numberguard.store.items import (
    ATTENTION,
    link_from_item,
    number_from_item,
    recipient_view,
    template_from_item,
    usage_from_item,
)
from numberguard.store.pairs import pair_from_item
from numberguard.store.schema_names import CounterItem, NumberItem, TemplateItem, WindowItem

C = CounterItem  # short: the expressions below read almost as DynamoDB sees them


def _views(by_pk: dict, phone_number_id: str, scope: str, ids: Sequence[str],
           cooldown_space: str | None = None) -> dict[str, RecipientView]:
    views = {r: recipient_view(by_pk.get(keys.counted_pk(scope, r), {}),
                               by_pk.get(keys.window_pk(phone_number_id, r), {}),
                               by_pk.get(keys.cooldown_pk(cooldown_space, r)) if cooldown_space else None)
             for r in ids}
    for r in ids:  # the pair item under this id as a person key (store/pairs.py): most ids have none
        pair = by_pk.get(keys.pair_key(phone_number_id, r)[WindowItem.HASH_KEY]["S"])
        if pair is not None:
            views[r] = replace(views[r], pair=pair_from_item(pair))
    return views


def _links(by_pk: dict, space: str | None, ids: Sequence[str]) -> dict[str, IdLink]:
    if space is None:
        return {}
    return {r: link_from_item(item) for r in ids if (item := by_pk.get(keys.link_pk(space, r)))}


class LimitStore(CountedRecords):
    def __init__(self, client: Any, *, numbers_table: str, recipients_table: str, limits_table: str):
        super().__init__(client, recipients_table=recipients_table, limits_table=limits_table)
        self.numbers_table = numbers_table

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
             template: tuple[str, TemplateRef] | None = None, cooldown_space: str | None = None) -> Snapshot:
        """Number, scope counter, every recipient's records, (with `space`) their links, the named
        template (WABA id, name and language) and (with `cooldown_space`) their marketing cooldowns, in as
        few BatchGetItem calls as fit: the template rides in the first one; a link or a cooldown costs no
        extra call for a recipient nobody linked or cooled (the number's hold and block are its item's)."""
        wanted: list[tuple[str, dict]] = [
            (self.numbers_table, keys.number_key(phone_number_id)),
            (self.limits_table, keys.scope_key(scope)),
        ]
        template_pk = None
        if template is not None:
            key = keys.template_key(template[0], template[1].key)
            template_pk = key[TemplateItem.HASH_KEY]["S"]
            wanted.append((self.numbers_table, key))
        found = dynamo.batch_get(self.client, wanted + self._record_keys(phone_number_id, scope, recipients, space,
                                                                         cooldown_space))
        by_number_pk = {codec.s(i, NumberItem.HASH_KEY): i for i in found.get(self.numbers_table, [])}
        number_item = by_number_pk.get(phone_number_id)
        template_item = by_number_pk.get(template_pk) if template_pk else None
        limit_item = next(iter(found.get(self.limits_table, [])), None)
        by_pk = {codec.s(i, WindowItem.HASH_KEY): i for i in found.get(self.recipients_table, [])}
        return Snapshot(
            number=number_from_item(number_item) if number_item else None,
            usage=usage_from_item(limit_item) if limit_item else None,
            tier=codec.s(limit_item, C.tier) if limit_item else None,
            records=_views(by_pk, phone_number_id, scope, recipients, cooldown_space),
            template=template_from_item(template_item) if template_item else None,
            template_read=template is not None,
            links=_links(by_pk, space, recipients),
        )

    def read_ids(self, phone_number_id: str, scope: str, ids: Sequence[str], space: str | None = None,
                 cooldown_space: str | None = None) -> tuple[dict[str, RecipientView], dict[str, IdLink]]:
        """The records (and, with `space`, links; with `cooldown_space`, cooldowns) of more ids: a linked
        person's other ids, one call per 25 to 33."""
        found = dynamo.batch_get(self.client, self._record_keys(phone_number_id, scope, ids, space, cooldown_space))
        by_pk = {codec.s(i, WindowItem.HASH_KEY): i for i in found.get(self.recipients_table, [])}
        return _views(by_pk, phone_number_id, scope, ids, cooldown_space), _links(by_pk, space, ids)

    def _record_keys(self, phone_number_id: str, scope: str, ids: Sequence[str],
                     space: str | None, cooldown_space: str | None = None) -> list[tuple[str, dict]]:
        """Each id's counted record, window and pair item with this number, (with `space`) its link and
        (with `cooldown_space`) its marketing cooldown."""
        wanted = []
        for i in ids:
            wanted.append((self.recipients_table, keys.counted_key(scope, i)))
            wanted.append((self.recipients_table, keys.window_key(phone_number_id, i)))
            wanted.append((self.recipients_table, keys.pair_key(phone_number_id, i)))
            if space is not None:
                wanted.append((self.recipients_table, keys.link_key(space, i)))
            if cooldown_space is not None:
                wanted.append((self.recipients_table, keys.cooldown_key(cooldown_space, i)))
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
