"""pynamodb models: the one definition of every item kind's attributes (names, types, keys, indexes, TTL),
one module per table (numbers.py, limits.py, recipients.py, history.py), every kind registered below.

The registry reads and writes numbers and counters through these models (store/registry.py, the CLI,
registration). The functions' stores use raw botocore calls (no pynamodb import on a cold start; see
docs/decision_log.md) and take every attribute, key and index name from store/schema_names.py, which
`make schema` generates from ITEM_KINDS (a unit test fails when the two differ). Add or rename an
attribute in the models, then run `make schema`.

Models are bound to one set of tables per Settings by subclassing (models_for), so two sets of
settings in one process never rebind each other. Item kinds that share a table share its key
attribute; the key formats (`WABA#...`, `c#...`) live in store/keys.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from pynamodb.models import Model

from numberguard.config import Settings
from numberguard.store.models.history import HistoryEntryModel, HistoryMarkerModel
from numberguard.store.models.limits import LimitModel
from numberguard.store.models.numbers import (
    FacetLogModel,
    NumberModel,
    PendingUpdatesModel,
    SyncModel,
    TemplateModel,
    WabaModel,
    WabaTemplatesModel,
)
from numberguard.store.models.recipients import (
    ArrivalModel,
    CooldownModel,
    CountedModel,
    LinkModel,
    PairModel,
    WindowModel,
)

__all__ = ["ITEM_KINDS", "LimitModel", "Models", "NumberModel", "models_for"]

# Every item kind, by the name store/schema_names.py gives it.
ITEM_KINDS: dict[str, type[Model]] = {
    "NumberItem": NumberModel, "WabaItem": WabaModel, "PendingItem": PendingUpdatesModel,
    "FacetLogItem": FacetLogModel, "TemplateItem": TemplateModel, "WabaTemplatesItem": WabaTemplatesModel,
    "SyncStatusItem": SyncModel, "CounterItem": LimitModel, "CountedItem": CountedModel, "WindowItem": WindowModel,
    "LinkItem": LinkModel, "CooldownItem": CooldownModel, "ArrivalItem": ArrivalModel, "PairItem": PairModel,
    "HistoryItem": HistoryEntryModel, "MarkerItem": HistoryMarkerModel,
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
