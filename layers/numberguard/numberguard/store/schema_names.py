"""Every item kind's attribute names, key attributes, DynamoDB types, TTL and index names, for the
stores that call DynamoDB directly (they must not import pynamodb: cold start).

Generated from store/models/ by `make schema` (python -m numberguard_ops.schema); do not edit.
"""

from __future__ import annotations

from typing import ClassVar, Final


class ItemKind:
    """What every item kind below has: its key attributes and each attribute's DynamoDB type."""

    HASH_KEY: ClassVar[str]
    RANGE_KEY: ClassVar[str | None] = None
    TYPES: ClassVar[dict[str, str]]


class NumberItem(ItemKind):
    """NumberModel (table numberguard-numbers)."""

    HASH_KEY = "pk"
    BY_ATTENTION: Final = "ByAttention"
    BY_WABA: Final = "ByWaba"
    TYPES = {
        "attention": "S", "attention_at": "N", "ban_at": "N", "banned": "BOOL", "connection": "S",
        "connection_at": "N", "display_phone_number": "S", "flag_at": "N", "flagged_at": "N",
        "graph_registered": "BOOL", "health": "S", "health_at": "N", "hold_key": "S", "hold_since": "N",
        "hold_until": "N", "meta_block": "S", "meta_block_at": "N", "pk": "S", "portfolio_id": "S", "quality": "S",
        "quality_at": "N", "registered_at": "N", "registration_at": "N", "restrictions": "M",
        "restrictions_at": "N", "scope": "S", "sent_ok_at": "N", "updated_at": "N", "waba_id": "S",
    }
    attention: Final = "attention"
    attention_at: Final = "attention_at"
    ban_at: Final = "ban_at"
    banned: Final = "banned"
    connection: Final = "connection"
    connection_at: Final = "connection_at"
    display_phone_number: Final = "display_phone_number"
    flag_at: Final = "flag_at"
    flagged_at: Final = "flagged_at"
    graph_registered: Final = "graph_registered"
    health: Final = "health"
    health_at: Final = "health_at"
    hold_key: Final = "hold_key"
    hold_since: Final = "hold_since"
    hold_until: Final = "hold_until"
    meta_block: Final = "meta_block"
    meta_block_at: Final = "meta_block_at"
    pk: Final = "pk"
    portfolio_id: Final = "portfolio_id"
    quality: Final = "quality"
    quality_at: Final = "quality_at"
    registered_at: Final = "registered_at"
    registration_at: Final = "registration_at"
    restrictions: Final = "restrictions"
    restrictions_at: Final = "restrictions_at"
    scope: Final = "scope"
    sent_ok_at: Final = "sent_ok_at"
    updated_at: Final = "updated_at"
    waba_id: Final = "waba_id"


class WabaItem(ItemKind):
    """WabaModel (table numberguard-numbers)."""

    HASH_KEY = "pk"
    TYPES = {
        "alert_at": "N", "ban_at": "N", "ban_date": "S", "ban_notice": "S", "ban_notice_at": "N", "banned": "BOOL",
        "last_alert": "S", "last_alert_severity": "S", "last_notice": "S", "meta_block": "S", "meta_block_at": "N",
        "notice_at": "N", "pk": "S", "restrictions": "M", "restrictions_at": "N",
    }
    alert_at: Final = "alert_at"
    ban_at: Final = "ban_at"
    ban_date: Final = "ban_date"
    ban_notice: Final = "ban_notice"
    ban_notice_at: Final = "ban_notice_at"
    banned: Final = "banned"
    last_alert: Final = "last_alert"
    last_alert_severity: Final = "last_alert_severity"
    last_notice: Final = "last_notice"
    meta_block: Final = "meta_block"
    meta_block_at: Final = "meta_block_at"
    notice_at: Final = "notice_at"
    pk: Final = "pk"
    restrictions: Final = "restrictions"
    restrictions_at: Final = "restrictions_at"


class PendingItem(ItemKind):
    """PendingUpdatesModel (table numberguard-numbers)."""

    HASH_KEY = "pk"
    TTL: Final = "expires_at"
    TYPES = {
        "events": "M", "expires_at": "N", "pk": "S",
    }
    events: Final = "events"
    expires_at: Final = "expires_at"
    pk: Final = "pk"


class FacetLogItem(ItemKind):
    """FacetLogModel (table numberguard-numbers)."""

    HASH_KEY = "pk"
    TYPES = {
        "announced": "S", "entries": "M", "initial": "S", "pk": "S", "version": "N",
    }
    announced: Final = "announced"
    entries: Final = "entries"
    initial: Final = "initial"
    pk: Final = "pk"
    version: Final = "version"


class TemplateItem(ItemKind):
    """TemplateModel (table numberguard-numbers)."""

    HASH_KEY = "pk"
    TYPES = {
        "attention": "S", "attention_at": "N", "category": "S", "category_at": "N", "in_appeal": "BOOL",
        "language": "S", "name": "S", "pacing": "BOOL", "pause_count": "N", "paused_until": "N", "pk": "S",
        "quality": "S", "quality_at": "N", "quality_version": "N", "status": "S", "status_at": "N",
        "status_reason": "S", "status_version": "N", "template_id": "S", "waba_id": "S",
    }
    attention: Final = "attention"
    attention_at: Final = "attention_at"
    category: Final = "category"
    category_at: Final = "category_at"
    in_appeal: Final = "in_appeal"
    language: Final = "language"
    name: Final = "name"
    pacing: Final = "pacing"
    pause_count: Final = "pause_count"
    paused_until: Final = "paused_until"
    pk: Final = "pk"
    quality: Final = "quality"
    quality_at: Final = "quality_at"
    quality_version: Final = "quality_version"
    status: Final = "status"
    status_at: Final = "status_at"
    status_reason: Final = "status_reason"
    status_version: Final = "status_version"
    template_id: Final = "template_id"
    waba_id: Final = "waba_id"


class WabaTemplatesItem(ItemKind):
    """WabaTemplatesModel (table numberguard-numbers)."""

    HASH_KEY = "pk"
    TYPES = {
        "pk": "S", "templates": "SS", "updated_at": "N",
    }
    pk: Final = "pk"
    templates: Final = "templates"
    updated_at: Final = "updated_at"


class SyncStatusItem(ItemKind):
    """SyncModel (table numberguard-numbers)."""

    HASH_KEY = "pk"
    TYPES = {
        "access_failing": "BOOL", "pk": "S", "resume_from": "S", "wabas": "SS",
    }
    access_failing: Final = "access_failing"
    pk: Final = "pk"
    resume_from: Final = "resume_from"
    wabas: Final = "wabas"


class CounterItem(ItemKind):
    """LimitModel (table numberguard-limits)."""

    HASH_KEY = "scope"
    BY_ATTENTION: Final = "ByAttention"
    TYPES = {
        "attention": "S", "attention_at": "N", "buckets": "M", "filled_bucket": "N", "limit": "N", "limit_at": "N",
        "numbers": "SS", "pending_people": "SS", "scope": "S", "tier": "S", "updated_at": "N",
        "upgrade_announced": "S", "used": "N",
    }
    attention: Final = "attention"
    attention_at: Final = "attention_at"
    buckets: Final = "buckets"
    filled_bucket: Final = "filled_bucket"
    limit: Final = "limit"
    limit_at: Final = "limit_at"
    numbers: Final = "numbers"
    pending_people: Final = "pending_people"
    scope: Final = "scope"
    tier: Final = "tier"
    updated_at: Final = "updated_at"
    upgrade_announced: Final = "upgrade_announced"
    used: Final = "used"


class CountedItem(ItemKind):
    """CountedModel (table numberguard-recipients)."""

    HASH_KEY = "pk"
    TTL: Final = "expires_at"
    TYPES = {
        "claim": "S", "counted_bucket": "N", "counted_until": "N", "expires_at": "N", "phone_number_id": "S",
        "pk": "S", "sent_template": "S", "slot_reference": "S",
    }
    claim: Final = "claim"
    counted_bucket: Final = "counted_bucket"
    counted_until: Final = "counted_until"
    expires_at: Final = "expires_at"
    phone_number_id: Final = "phone_number_id"
    pk: Final = "pk"
    sent_template: Final = "sent_template"
    slot_reference: Final = "slot_reference"


class WindowItem(ItemKind):
    """WindowModel (table numberguard-recipients)."""

    HASH_KEY = "pk"
    TTL: Final = "expires_at"
    TYPES = {
        "expires_at": "N", "pk": "S", "retired_at": "N", "service_window_until": "N",
    }
    expires_at: Final = "expires_at"
    pk: Final = "pk"
    retired_at: Final = "retired_at"
    service_window_until: Final = "service_window_until"


class LinkItem(ItemKind):
    """LinkModel (table numberguard-recipients)."""

    HASH_KEY = "pk"
    TYPES = {
        "at": "N", "ids": "SS", "person": "S", "pk": "S", "retired_at": "N", "rev": "N", "updated_at": "N",
    }
    at: Final = "at"
    ids: Final = "ids"
    person: Final = "person"
    pk: Final = "pk"
    retired_at: Final = "retired_at"
    rev: Final = "rev"
    updated_at: Final = "updated_at"


class CooldownItem(ItemKind):
    """CooldownModel (table numberguard-recipients)."""

    HASH_KEY = "pk"
    TTL: Final = "expires_at"
    TYPES = {
        "cooldown_until": "N", "expires_at": "N", "pk": "S",
    }
    cooldown_until: Final = "cooldown_until"
    expires_at: Final = "expires_at"
    pk: Final = "pk"


class ArrivalItem(ItemKind):
    """ArrivalModel (table numberguard-recipients)."""

    HASH_KEY = "pk"
    TTL: Final = "expires_at"
    TYPES = {
        "expires_at": "N", "first_at": "N", "pk": "S",
    }
    expires_at: Final = "expires_at"
    first_at: Final = "first_at"
    pk: Final = "pk"


class PairItem(ItemKind):
    """PairModel (table numberguard-recipients)."""

    HASH_KEY = "pk"
    TTL: Final = "expires_at"
    TYPES = {
        "backoff_until": "N", "claim": "S", "expires_at": "N", "pk": "S", "strikes": "M", "strikes_version": "N",
        "tat": "N",
    }
    backoff_until: Final = "backoff_until"
    claim: Final = "claim"
    expires_at: Final = "expires_at"
    pk: Final = "pk"
    strikes: Final = "strikes"
    strikes_version: Final = "strikes_version"
    tat: Final = "tat"


class HistoryItem(ItemKind):
    """HistoryEntryModel (table numberguard-history)."""

    HASH_KEY = "phone_number_id"
    RANGE_KEY = "sk"
    TTL: Final = "expires_at"
    OUTBOX: Final = "Outbox"
    TYPES = {
        "at": "N", "document": "S", "expires_at": "N", "id": "S", "outbox": "S", "outbox_at": "N",
        "phone_number_id": "S", "published": "BOOL", "recorded_at": "N", "sk": "S", "type": "S",
    }
    at: Final = "at"
    document: Final = "document"
    expires_at: Final = "expires_at"
    id: Final = "id"
    outbox: Final = "outbox"
    outbox_at: Final = "outbox_at"
    phone_number_id: Final = "phone_number_id"
    published: Final = "published"
    recorded_at: Final = "recorded_at"
    sk: Final = "sk"
    type: Final = "type"


class MarkerItem(ItemKind):
    """HistoryMarkerModel (table numberguard-history)."""

    HASH_KEY = "phone_number_id"
    RANGE_KEY = "sk"
    TTL: Final = "expires_at"
    TYPES = {
        "expires_at": "N", "phone_number_id": "S", "sk": "S",
    }
    expires_at: Final = "expires_at"
    phone_number_id: Final = "phone_number_id"
    sk: Final = "sk"


class ByAttentionIndex:
    """Global secondary index ByAttention."""

    NAME: Final = "ByAttention"
    HASH_KEY: Final = "attention"
    RANGE_KEY: Final = "attention_at"


class ByWabaIndex:
    """Global secondary index ByWaba."""

    NAME: Final = "ByWaba"
    HASH_KEY: Final = "waba_id"
    RANGE_KEY: Final = "display_phone_number"


class OutboxIndex:
    """Global secondary index Outbox."""

    NAME: Final = "Outbox"
    HASH_KEY: Final = "outbox"
    RANGE_KEY: Final = "outbox_at"
