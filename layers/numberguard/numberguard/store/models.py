"""pynamodb models: the one definition of every item kind's attributes (names, types, keys, indexes, TTL).

The registry reads and writes numbers and counters through these models (store/registry.py, the CLI,
registration). The functions' stores use raw botocore calls (no pynamodb import on a cold start; see
docs/decision_log.md) and take every attribute, key and index name from store/schema_names.py, which
`make schema` generates from this module (a unit test fails when the two differ). Add or rename an
attribute here, then run `make schema`.

Models are bound to one set of tables per Settings by subclassing (models_for), so two sets of
settings in one process never rebind each other. Item kinds that share a table share its key
attribute; the key formats (`WABA#...`, `c#...`) live in store/keys.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from numberguard.config import Settings

# ---- numbers table: numbers, WABAs, updates kept for unregistered display numbers, facet logs --------


class ByWabaIndex(GlobalSecondaryIndex):
    """WABA id + display number → number (quality updates name the number only by display)."""

    class Meta:
        index_name = "ByWaba"
        projection = AllProjection()

    waba_id = UnicodeAttribute(hash_key=True)
    display_phone_number = UnicodeAttribute(range_key=True)


class NumberAttentionIndex(GlobalSecondaryIndex):
    """Sparse: numbers the evaluator must look at (`attention` is set only while one is due)."""

    class Meta:
        index_name = "ByAttention"
        projection = KeysOnlyProjection()

    attention = UnicodeAttribute(hash_key=True)  # always "due" (store/items.ATTENTION)
    attention_at = NumberAttribute(range_key=True)


class NumberModel(Model):
    """A registered number, item `<phone_number_id>`. Each facet carries its event-time watermark
    `<facet>_at` (store/guarded.py)."""

    class Meta:
        table_name = "numberguard-numbers"

    pk = UnicodeAttribute(hash_key=True)  # the phone_number_id
    waba_id = UnicodeAttribute()
    display_phone_number = UnicodeAttribute()
    portfolio_id = UnicodeAttribute(null=True)
    scope = UnicodeAttribute()
    connection = UnicodeAttribute(default="CONNECTED")
    connection_at = NumberAttribute(null=True)
    health = UnicodeAttribute(null=True)  # Meta's health status, encoded by domain/health.py
    health_at = NumberAttribute(null=True)
    graph_registered = BooleanAttribute(null=True)  # the Meta sync's registration (or adoption) is complete
    registration_at = NumberAttribute(null=True)
    banned = BooleanAttribute(default=False)
    ban_at = NumberAttribute(null=True)
    quality = UnicodeAttribute(default="UNKNOWN")
    quality_at = NumberAttribute(null=True)
    flagged_at = NumberAttribute(null=True)
    flag_at = NumberAttribute(null=True)
    restrictions: MapAttribute = MapAttribute(default=dict)  # restriction_type -> expiration (epoch s)
    restrictions_at = NumberAttribute(null=True)
    attention = UnicodeAttribute(null=True)
    attention_at = NumberAttribute(null=True)
    registered_at = NumberAttribute()
    updated_at = NumberAttribute()
    by_waba = ByWabaIndex()
    by_attention = NumberAttentionIndex()

    @property
    def phone_number_id(self) -> str:
        return self.pk


class WabaModel(Model):
    """WABA-wide facets, item `WABA#<waba_id>` (numbers registered later inherit them)."""

    class Meta:
        table_name = "numberguard-numbers"

    pk = UnicodeAttribute(hash_key=True)
    banned = BooleanAttribute(null=True)
    ban_at = NumberAttribute(null=True)
    restrictions: MapAttribute = MapAttribute(null=True)  # restriction_type -> expiration (epoch s)
    restrictions_at = NumberAttribute(null=True)
    ban_notice = UnicodeAttribute(null=True)  # SCHEDULE_FOR_DISABLE and the like
    ban_date = UnicodeAttribute(null=True)
    ban_notice_at = NumberAttribute(null=True)
    last_notice = UnicodeAttribute(null=True)
    notice_at = NumberAttribute(null=True)
    last_alert = UnicodeAttribute(null=True)
    last_alert_severity = UnicodeAttribute(null=True)
    alert_at = NumberAttribute(null=True)


class PendingUpdatesModel(Model):
    """Updates for a display number nobody registered yet, item `PENDING#<waba_id>#<display>`."""

    class Meta:
        table_name = "numberguard-numbers"

    pk = UnicodeAttribute(hash_key=True)
    events: MapAttribute = MapAttribute(default=dict)  # dedup key -> the event as JSON
    expires_at = NumberAttribute(null=True)  # the numbers table has no TTL: registration takes them


class FacetLogModel(Model):
    """A facet's event log (domain/facetlog.py), item `LOG#<subject>#<facet>`."""

    class Meta:
        table_name = "numberguard-numbers"

    pk = UnicodeAttribute(hash_key=True)
    entries: MapAttribute = MapAttribute(default=dict)  # entry key -> value
    initial = UnicodeAttribute(null=True)
    version = NumberAttribute()  # optimistic lock: every write is conditional on the version it read
    announced = UnicodeAttribute(null=True)  # the latest entry whose announcements are all recorded


class SyncModel(Model):
    """The Meta sync's own item `SYNC#meta`: the WABAs it reads, where the last run stopped, the token's outage."""

    class Meta:
        table_name = "numberguard-numbers"

    pk = UnicodeAttribute(hash_key=True)
    wabas = UnicodeSetAttribute(null=True)
    resume_from = UnicodeAttribute(null=True)
    access_failing = BooleanAttribute(null=True)


# ---- limits table: one counter per scope -------------------------------------------------------------


class ScopeAttentionIndex(GlobalSecondaryIndex):
    """Sparse: scope counters the evaluator must look at."""

    class Meta:
        index_name = "ByAttention"
        projection = AllProjection()

    attention = UnicodeAttribute(hash_key=True)
    attention_at = NumberAttribute(range_key=True)


class LimitModel(Model):
    """A scope's counter. Invariant: `used` equals the sum of `buckets` (every write changes both)."""

    class Meta:
        table_name = "numberguard-limits"

    scope = UnicodeAttribute(hash_key=True)
    limit = NumberAttribute()  # -1 = unlimited
    tier = UnicodeAttribute()
    limit_at = NumberAttribute(null=True)  # watermark of the limit facet
    used = NumberAttribute(default=0)
    buckets: MapAttribute = MapAttribute(default=dict)  # bucket id -> recipients whose latest counted send fell in it
    filled_bucket = NumberAttribute(null=True)  # the bucket a scope lowered from unlimited starts full in
    upgrade_announced = UnicodeAttribute(null=True)
    attention = UnicodeAttribute(null=True)
    attention_at = NumberAttribute(null=True)
    updated_at = NumberAttribute()
    numbers = UnicodeSetAttribute(null=True)  # phone_number_ids counted in this scope
    by_attention = ScopeAttentionIndex()


# ---- recipients table: counted records and service windows -------------------------------------------


class CountedModel(Model):
    """A recipient counted in a scope, item `c#<scope>#<recipient>`."""

    class Meta:
        table_name = "numberguard-recipients"

    pk = UnicodeAttribute(hash_key=True)
    counted_bucket = NumberAttribute(null=True)
    counted_until = NumberAttribute(null=True)
    slot_reference = UnicodeAttribute(null=True)  # the reference of the send that took the slot
    sent_template = UnicodeAttribute(null=True)  # the template the check named (for Meta's 132015 / 132016)
    claim = UnicodeAttribute(null=True)  # the check that wrote the record (tells its own retry apart)
    phone_number_id = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class WindowModel(Model):
    """A customer-service window per (business number, user), item `w#<phone_number_id>#<recipient>`."""

    class Meta:
        table_name = "numberguard-recipients"

    pk = UnicodeAttribute(hash_key=True)
    service_window_until = NumberAttribute()
    expires_at = TTLAttribute(null=True)


class ArrivalModel(Model):
    """The first arrival of an update Meta sent without a time, item `a#<dedup_key>`."""

    class Meta:
        table_name = "numberguard-recipients"

    pk = UnicodeAttribute(hash_key=True)
    first_at = NumberAttribute()  # written once (if_not_exists): concurrent deliveries agree on it
    expires_at = TTLAttribute(null=True)


class PairModel(Model):
    """A (number, person key) pair's send rate (domain/pairrate.py), item `p#<phone_number_id>#<person key>`."""

    class Meta:
        table_name = "numberguard-recipients"

    pk = UnicodeAttribute(hash_key=True)
    tat = NumberAttribute(null=True)  # the PairRateGuard bucket (GCRA): one conditional UpdateItem per token
    strikes: MapAttribute = MapAttribute(null=True)  # Meta's 131056 refusals: message id -> event time
    strikes_version = NumberAttribute(null=True)  # the intake's optimistic lock on the strikes
    backoff_until = NumberAttribute(null=True)  # derived from the strikes: for the operator's view
    expires_at = TTLAttribute(null=True)


# ---- history table: the history of every change, which is also the outbox ----------------------------


class OutboxIndex(GlobalSecondaryIndex):
    """Sparse: history entries not yet published."""

    class Meta:
        index_name = "Outbox"
        projection = AllProjection()

    outbox = UnicodeAttribute(hash_key=True)  # always "unpublished" (store/history.OUTBOX)
    outbox_at = NumberAttribute(range_key=True)


class HistoryEntryModel(Model):
    """One change, item (phone_number_id, `<at>#...` sort key)."""

    class Meta:
        table_name = "numberguard-history"

    phone_number_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    id = UnicodeAttribute()
    type = UnicodeAttribute()
    at = NumberAttribute()
    recorded_at = NumberAttribute()
    document = UnicodeAttribute()  # the notification, JSON
    published = BooleanAttribute(default=False)
    outbox = UnicodeAttribute(null=True)
    outbox_at = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    by_outbox = OutboxIndex()


class HistoryMarkerModel(Model):
    """Makes a change id unique, item (phone_number_id, `id#<change id>`)."""

    class Meta:
        table_name = "numberguard-history"

    phone_number_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    expires_at = TTLAttribute(null=True)


# Every item kind, by the name store/schema_names.py gives it.
ITEM_KINDS: dict[str, type[Model]] = {
    "NumberItem": NumberModel, "WabaItem": WabaModel, "PendingItem": PendingUpdatesModel,
    "FacetLogItem": FacetLogModel, "SyncStatusItem": SyncModel, "CounterItem": LimitModel, "CountedItem": CountedModel,
    "WindowItem": WindowModel, "ArrivalItem": ArrivalModel, "PairItem": PairModel, "HistoryItem": HistoryEntryModel,
    "MarkerItem": HistoryMarkerModel,
}


@dataclass(frozen=True)
class Models:
    number: type[NumberModel]
    limit: type[LimitModel]


def _bound(model: type[Model], table: str, settings: Settings) -> type:
    meta = type("Meta", (), {"table_name": table, "host": settings.dynamodb_endpoint, "region": settings.region})
    # pynamodb copies the indexes onto the subclass and keeps one connection per class.
    return type(model.__name__, (model,), {"Meta": meta, "_connection": None, "__module__": __name__})


@lru_cache(maxsize=16)
def models_for(settings: Settings) -> Models:
    """The models bound to these settings' tables and endpoint (one pair per Settings, cached)."""
    return Models(_bound(NumberModel, settings.numbers_table, settings),
                  _bound(LimitModel, settings.limits_table, settings))
