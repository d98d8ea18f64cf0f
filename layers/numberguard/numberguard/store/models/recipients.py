"""The recipients table's item kinds: counted records, service windows, links, marketing cooldowns, first
arrivals, pair rates."""

from __future__ import annotations

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.models import Model


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
    service_window_until = NumberAttribute(null=True)  # none on a tombstone
    # Set when a `system` change retired the user id (its window moved to the new ids): a message from
    # before that time opens no window here again (domain/people.predates_retirement).
    retired_at = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class LinkModel(Model):
    """A user's id in a link space (a portfolio or a WABA), item `l#<space>#<id>` (store/people.py). Every id
    of a person holds the same item, so one read of any id tells where the person's count lives."""

    class Meta:
        table_name = "numberguard-recipients"

    pk = UnicodeAttribute(hash_key=True)
    person = UnicodeAttribute(null=True)  # the id the person's count lives under (none once retired)
    ids = UnicodeSetAttribute(null=True)  # every id of the person
    retired_at = NumberAttribute(null=True)  # a `system` change took the id away (event time)
    rev = NumberAttribute()  # revision: every write is conditional on the one read
    updated_at = NumberAttribute()
    # No longer written (its last writer depends on delivery order); items written before keep it and
    # are read as they were.
    at = NumberAttribute(null=True)


class CooldownModel(Model):
    """A person's marketing cooldown after Meta's 131049, item `mc#<link space>#<id>` (under the person's key
    when it was written; a check reads it under every id of the person)."""

    class Meta:
        table_name = "numberguard-recipients"

    pk = UnicodeAttribute(hash_key=True)
    cooldown_until = NumberAttribute()  # no marketing message to the person before then
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
    claim = UnicodeAttribute(null=True)  # the latest take's id (tells the SDK's retry of it apart)
    strikes: MapAttribute = MapAttribute(null=True)  # Meta's 131056 refusals: message id -> event time
    strikes_version = NumberAttribute(null=True)  # the intake's optimistic lock on the strikes
    backoff_until = NumberAttribute(null=True)  # derived from the strikes: for the operator's view
    expires_at = TTLAttribute(null=True)
