"""pynamodb models of the non-hot items: the number registry and the scope counters' metadata.

The hot path (store/limits.py) reads and writes the same items with raw conditional calls; the
attribute names here are the ones it uses.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from numberguard import store as _store
from numberguard.config import Settings


class ByWabaIndex(GlobalSecondaryIndex):
    """WABA id + display number → number (quality updates name the number only by display)."""

    class Meta:
        index_name = "ByWaba"
        projection = AllProjection()

    waba_id = UnicodeAttribute(hash_key=True)
    display_phone_number = UnicodeAttribute(range_key=True)


class NumberModel(Model):
    class Meta:
        table_name = "numberguard-numbers"

    pk = UnicodeAttribute(hash_key=True)  # the phone_number_id
    waba_id = UnicodeAttribute()
    display_phone_number = UnicodeAttribute()
    portfolio_id = UnicodeAttribute(null=True)
    scope = UnicodeAttribute()
    connection = UnicodeAttribute(default="CONNECTED")
    banned = BooleanAttribute(default=False)
    quality = UnicodeAttribute(default="UNKNOWN")
    flagged_at = NumberAttribute(null=True)
    restrictions = MapAttribute(default=dict)  # restriction_type -> expiration (epoch s)
    registered_at = NumberAttribute()
    updated_at = NumberAttribute()
    by_waba = ByWabaIndex()

    @property
    def phone_number_id(self) -> str:
        return self.pk


class LimitModel(Model):
    class Meta:
        table_name = "numberguard-limits"

    scope = UnicodeAttribute(hash_key=True)
    limit = NumberAttribute()  # -1 = unlimited
    tier = UnicodeAttribute()
    used = NumberAttribute(default=0)
    buckets = MapAttribute(default=dict)
    updated_at = NumberAttribute()
    numbers = UnicodeSetAttribute(null=True)  # phone_number_ids counted in this scope


MODELS: dict[type[Model], str] = {NumberModel: "numbers_table", LimitModel: "limits_table"}


def bind(settings: Settings) -> None:
    """Point every model at the configured tables and endpoint (and drop cached connections)."""
    for model, attr in MODELS.items():
        model.Meta.table_name = getattr(settings, attr)
        model.Meta.host = settings.dynamodb_endpoint
        model.Meta.region = settings.region
        model._connection = None
        for index in (getattr(model, name) for name in dir(model)):
            if isinstance(index, GlobalSecondaryIndex):
                index._connection = None


# A bind asked for before this module was imported (wiring binds without importing pynamodb).
_store._models_imported(bind)
