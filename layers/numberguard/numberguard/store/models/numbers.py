"""The numbers table's item kinds: numbers, WABAs, updates kept for unregistered display numbers, facet
logs, templates and the Meta sync's own item (keys in store/keys.py)."""

from __future__ import annotations

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
    hold_until = NumberAttribute(null=True)  # Meta's 131048: business-initiated sends held until then
    hold_since = NumberAttribute(null=True)  # the refusal that began the current hold
    hold_key = UnicodeAttribute(null=True)  # that refusal's entry key (its NUMBER_ON_HOLD is announced once)
    meta_block = UnicodeAttribute(null=True)  # the WABA's refusal block: "BLOCKED <code>" or "LIFTED"
    meta_block_at = NumberAttribute(null=True)
    sent_ok_at = NumberAttribute(null=True)  # a recent successful status (to a minute): lifts a later-learnt block
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
    meta_block = UnicodeAttribute(null=True)  # 131042 / 368 / 131031: "BLOCKED <code>" until lifted ("LIFTED")
    meta_block_at = NumberAttribute(null=True)


class PendingUpdatesModel(Model):
    """Updates for a display number nobody registered yet, item `PENDING#<waba_id>#<display>`."""

    class Meta:
        table_name = "numberguard-numbers"

    pk = UnicodeAttribute(hash_key=True)
    events: MapAttribute = MapAttribute(default=dict)  # dedup key -> the event as JSON
    expires_at = TTLAttribute(null=True)  # 30 days after the last update kept, unless registration takes them


class FacetLogModel(Model):
    """A facet's event log (domain/facetlog.py), item `LOG#<subject>#<facet>`."""

    class Meta:
        table_name = "numberguard-numbers"

    pk = UnicodeAttribute(hash_key=True)
    entries: MapAttribute = MapAttribute(default=dict)  # entry key -> value
    initial = UnicodeAttribute(null=True)
    version = NumberAttribute()  # optimistic lock: every write is conditional on the version it read
    announced = UnicodeAttribute(null=True)  # the latest entry whose announcements are all recorded


class TemplateModel(Model):
    """A WABA's message template, item `TPL#<waba_id>#<name>#<language key>` (store/templates.py): the state
    the check reads and each facet's watermark. No display number: never in ByWaba, never listed as a number."""

    class Meta:
        table_name = "numberguard-numbers"

    pk = UnicodeAttribute(hash_key=True)
    waba_id = UnicodeAttribute()
    name = UnicodeAttribute()
    language = UnicodeAttribute()  # Meta's spelling (the key holds the one spelling, domain/templates.py)
    template_id = UnicodeAttribute(null=True)  # Meta's id, once an update named it
    status = UnicodeAttribute(null=True)
    status_at = NumberAttribute(null=True)
    paused_until = NumberAttribute(null=True)
    pacing = BooleanAttribute(null=True)
    pause_count = NumberAttribute(null=True)
    status_reason = UnicodeAttribute(null=True)
    in_appeal = BooleanAttribute(null=True)
    status_version = NumberAttribute(null=True)  # watermark: the version of the facet log the status was folded from
    quality = UnicodeAttribute(null=True)
    quality_at = NumberAttribute(null=True)
    quality_version = NumberAttribute(null=True)  # watermark, as status_version
    category = UnicodeAttribute(null=True)
    category_at = NumberAttribute(null=True)  # watermark: event time
    # While a timed pause (FIRST_PAUSE / SECOND_PAUSE) runs: in the numbers' ByAttention index at its end, so
    # the evaluator announces the end (Meta sends no webhook for it); written with the status, removed after.
    attention = UnicodeAttribute(null=True)
    attention_at = NumberAttribute(null=True)


class WabaTemplatesModel(Model):
    """The templates of a WABA numberguard has heard of, item `TPLS#<waba_id>` (store/templates.py).

    Besides these, one attribute per template Meta named by id: `id#<Meta's template id>` →
    `<name>#<language key>` (an update may name a template by id only). Those names are made of data,
    which no model can list: store/keys.template_id_attribute builds them.
    """

    class Meta:
        table_name = "numberguard-numbers"

    pk = UnicodeAttribute(hash_key=True)
    templates = UnicodeSetAttribute(null=True)  # `<name>#<language key>` of each
    updated_at = NumberAttribute(null=True)


class SyncModel(Model):
    """The Meta sync's own item `SYNC#meta`: the WABAs it reads, where the last run stopped, the token's outage."""

    class Meta:
        table_name = "numberguard-numbers"

    pk = UnicodeAttribute(hash_key=True)
    wabas = UnicodeSetAttribute(null=True)
    resume_from = UnicodeAttribute(null=True)
    access_failing = BooleanAttribute(null=True)
