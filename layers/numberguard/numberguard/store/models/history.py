"""The history table's item kinds: the history of every change, which is also the outbox, and the
markers that make a change id unique."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


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
