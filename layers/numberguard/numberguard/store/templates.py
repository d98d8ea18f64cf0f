"""A WABA's message templates: Meta's status, quality and category of each (DESIGN §2).

Items, in the numbers table beside the WABA items and facet logs (no display number: never listed as
a number), defined in store/models/numbers.py, keys in store/keys.py:
- one per template, TemplateModel `TPL#<waba>#<name>#<language key>` (languages in one spelling,
  domain/templates.py): the state the check reads, Meta's id and spelling of the language, and each
  facet's watermark: `status_version` / `quality_version` (the version of the facet log the value was
  folded from: a slower writer with fewer entries never overwrites a fuller fold) and `category_at`
  (event time). While a timed pause runs, `attention` / `attention_at` (its end) put it in the numbers'
  sparse ByAttention index: the evaluator announces the end (TemplateStore.due, .reschedule).
- one per WABA, WabaTemplatesModel `TPLS#<waba>`: `templates`, the set of its templates'
  `<name>#<language key>`, and `id#<Meta's template id>` → `<name>#<language key>` (an update may name a
  template by id only).
The facet logs (store/facetlogs.py, FacetLogModel) use the subject `TPL#<waba>#<name>#<language key>`.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from numberguard.domain.templates import Category, Naming, StatusFold, TemplateRef, TemplateState, TemplateStatus
from numberguard.store import codec, dynamo, keys
from numberguard.store.guarded import AttentionIndex
from numberguard.store.items import ATTENTION, template_from_item
from numberguard.store.schema_names import TemplateItem, WabaTemplatesItem

T, TS = TemplateItem, WabaTemplatesItem


def subject(waba_id: str, ref: TemplateRef) -> str:
    """The template's name in facet logs and history (one per WABA, name and language)."""
    return keys.template_subject(waba_id, ref.key)


class TemplateStore:
    def __init__(self, client: Any, numbers_table: str):
        self.client = client
        self.table = numbers_table
        self.attention = AttentionIndex(client, numbers_table)

    @staticmethod
    def subject(waba_id: str, ref: TemplateRef) -> str:
        return subject(waba_id, ref)

    # ---- reads ------------------------------------------------------------------------------------

    def get(self, waba_id: str, ref: TemplateRef) -> TemplateState | None:
        reply = self.client.get_item(TableName=self.table, Key=keys.template_key(waba_id, ref.key),
                                     ConsistentRead=True)
        item = reply.get("Item")
        return template_from_item(item) if item else None

    def ref_of_id(self, waba_id: str, template_id: str) -> TemplateRef | None:
        """The name and language Meta's id stands for, when an event named them before."""
        name = keys.template_id_attribute(template_id)
        reply = self.client.get_item(TableName=self.table, Key=keys.templates_of_waba_key(waba_id),
                                     ConsistentRead=True, ProjectionExpression="#id",
                                     ExpressionAttributeNames={"#id": name})
        value = codec.s(reply.get("Item", {}), name)
        if not value:
            return None
        name, _, language = value.rpartition("#")
        return TemplateRef(name, language)

    def of_waba(self, waba_id: str) -> list[TemplateState]:
        """Every template of a WABA that numberguard has heard of, by name and language."""
        reply = self.client.get_item(TableName=self.table, Key=keys.templates_of_waba_key(waba_id),
                                     ConsistentRead=True)
        names = sorted(reply.get("Item", {}).get(TS.templates, {}).get("SS", []))
        wanted = [(self.table, keys.template_key(waba_id, (n.rpartition("#")[0], n.rpartition("#")[2])))
                  for n in names]
        found = dynamo.batch_get(self.client, wanted).get(self.table, []) if wanted else []
        return sorted((template_from_item(i) for i in found), key=lambda t: t.ref.key)

    def due(self, now: int) -> list[tuple[TemplateState, int]]:
        """Templates whose timed pause ended by `now` and whose end is not yet announced, each with the time
        it was due at (one Query of the index, one BatchGetItem of the templates it names)."""
        due = {codec.s(i, T.pk) or "": codec.n(i, T.attention_at) or 0 for i in self.attention.due(now)}
        wanted = [(self.table, {T.HASH_KEY: {"S": pk}}) for pk in sorted(due) if keys.is_template_subject(pk)]
        found = dynamo.batch_get(self.client, wanted).get(self.table, []) if wanted else []
        return [(template_from_item(i), due[codec.s(i, T.pk) or ""]) for i in found]

    def reschedule(self, waba_id: str, ref: TemplateRef, seen_at: int | None, next_at: int | None) -> bool:
        """Move (None: drop) the template's attention unless a status write changed it since `seen_at`."""
        return self.attention.reschedule(keys.template_key(waba_id, ref.key), seen_at, next_at)

    # ---- writes (the intake) ----------------------------------------------------------------------

    def remember(self, waba_id: str, naming: Naming, now: int) -> None:
        """The WABA knows this template (and Meta's id for it): one write, idempotent."""
        name, language = naming.ref.key
        names = {"#k": TS.templates, "#u": TS.updated_at}
        values = {":k": {"SS": [f"{name}#{language}"]}, ":now": {"N": str(now)}}
        update = "ADD #k :k SET #u = :now"
        if naming.template_id:
            names["#id"] = keys.template_id_attribute(naming.template_id)
            values[":ref"] = {"S": f"{name}#{language}"}
            update += ", #id = :ref"
        self.client.update_item(TableName=self.table, Key=keys.templates_of_waba_key(waba_id), UpdateExpression=update,
                                ExpressionAttributeNames=names, ExpressionAttributeValues=values)

    def _write(self, waba_id: str, naming: Naming, sets: dict, guard: str, guard_value: int, op: str = "<") -> bool:
        """SET the attributes unless a fuller fold (or a newer event) already wrote this facet. Every name
        must be an attribute of TemplateModel (store/models/numbers.py)."""
        sets = {**sets, T.waba_id: waba_id, T.name: naming.ref.name, T.language: naming.ref.language}
        if naming.template_id:
            sets[T.template_id] = naming.template_id
        unknown = sorted({*sets, guard} - T.TYPES.keys())
        if unknown:
            raise ValueError(f"TemplateItem has no attribute {', '.join(unknown)} (add it to store/models/)")
        names, values, assigns, removes = {"#g": guard}, {":g": {"N": str(guard_value)}}, ["#g = :g"], []
        for i, (name, value) in enumerate(sets.items()):
            names[f"#a{i}"] = name
            if value is None:
                removes.append(f"#a{i}")
            else:
                values[f":a{i}"] = codec.av(value)
                assigns.append(f"#a{i} = :a{i}")
        update = "SET " + ", ".join(assigns) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            self.client.update_item(
                TableName=self.table, Key=keys.template_key(waba_id, naming.ref.key), UpdateExpression=update,
                ConditionExpression=f"attribute_not_exists(#g) OR #g {op} :g",
                ExpressionAttributeNames=names, ExpressionAttributeValues=values,
            )
        except ClientError as err:
            if dynamo.condition_failed(err):
                return False
            raise
        return True

    def write_status(self, waba_id: str, naming: Naming, status: StatusFold, log_version: int) -> bool:
        timed = status.status is TemplateStatus.PAUSED and status.paused_until is not None
        return self._write(waba_id, naming, {
            T.status: status.status.value, T.status_at: status.at, T.paused_until: status.paused_until,
            T.pacing: status.pacing, T.pause_count: status.pause_count, T.status_reason: status.reason,
            T.in_appeal: status.in_appeal,
            # A timed pause is due for the evaluator at its end. Any other status leaves a due entry in place:
            # a pause that ended by itself just before a later event is still announced (the evaluator drops it).
            **({T.attention: ATTENTION, T.attention_at: status.paused_until} if timed else {}),
        }, T.status_version, log_version)

    def write_quality(self, waba_id: str, naming: Naming, quality: str, at: int | None, log_version: int) -> bool:
        return self._write(waba_id, naming, {T.quality: quality, T.quality_at: at}, T.quality_version, log_version)

    def write_category(self, waba_id: str, naming: Naming, category: Category, at: int) -> bool:
        return self._write(waba_id, naming, {T.category: category.value}, T.category_at, at, op="<=")
