"""pynamodb models of the registry's items: the numbers and the scope counters' metadata.

The hot path (store/limits.py) reads and writes the same items with raw conditional calls; the
attribute names here are the ones it uses. Models are bound to one set of tables per Settings by
subclassing (models_for), so two sets of settings in one process never rebind each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

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
    restrictions: MapAttribute = MapAttribute(default=dict)  # restriction_type -> expiration (epoch s)
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
    buckets: MapAttribute = MapAttribute(default=dict)
    updated_at = NumberAttribute()
    numbers = UnicodeSetAttribute(null=True)  # phone_number_ids counted in this scope


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
