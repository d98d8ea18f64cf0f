"""The limits table's item kind: one counter per scope."""

from __future__ import annotations

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


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
    pending_people = UnicodeSetAttribute(null=True)  # `<space>|<key>` of people the evaluator must fold
    by_attention = ScopeAttentionIndex()
