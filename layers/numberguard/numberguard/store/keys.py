"""Every key of the tables, built and parsed here (so the webhook intake, the check and the evaluator agree).

Numbers table: a number `<phone_number_id>`, its WABA `WABA#<waba_id>`, updates for a display number
nobody registered yet `PENDING#<waba_id>#<display>`, facet logs `LOG#<subject>#<facet>`, a WABA's
template `TPL#<waba_id>#<name>#<language key>` and the list of its templates `TPLS#<waba_id>`.
Recipients table: counted records `c#<scope>#<recipient>`, service windows `w#<phone_number_id>#<recipient>`,
first arrivals of updates Meta sent without a time `a#<dedup_key>`, links `l#<space>#<id>`, a (number, person)
pair's send rate `p#<phone_number_id>#<person key>`, marketing cooldowns `mc#<link space>#<id>`.
Limits table: one counter per scope. History table: (phone_number_id, sort key).
"""

from __future__ import annotations

from numberguard.store.schema_names import (
    ArrivalItem,
    CooldownItem,
    CountedItem,
    CounterItem,
    FacetLogItem,
    HistoryItem,
    LinkItem,
    NumberItem,
    PairItem,
    PendingItem,
    TemplateItem,
    WabaItem,
    WabaTemplatesItem,
    WindowItem,
)

MARKER_PREFIX = "id#"  # history sort keys start with digits (the time); markers sort after them


def counted_pk(scope: str, recipient: str) -> str:
    # Hash key per (scope, recipient): spreads a scope's recipients over partitions.
    return f"c#{scope}#{recipient}"


def window_pk(phone_number_id: str, recipient: str) -> str:
    # Service windows belong to a (business number, user) pair, whatever the limit scope.
    return f"w#{phone_number_id}#{recipient}"


def parse_window_pk(pk: str) -> tuple[str, str]:
    """(phone_number_id, recipient) of a service window's key."""
    _, pnid, recipient = pk.split("#", 2)
    return pnid, recipient


def counted_key(scope: str, recipient: str) -> dict:
    return {CountedItem.HASH_KEY: {"S": counted_pk(scope, recipient)}}


def window_key(phone_number_id: str, recipient: str) -> dict:
    return {WindowItem.HASH_KEY: {"S": window_pk(phone_number_id, recipient)}}


def number_key(phone_number_id: str) -> dict:
    return {NumberItem.HASH_KEY: {"S": phone_number_id}}


def waba_key(waba_id: str) -> dict:
    return {WabaItem.HASH_KEY: {"S": f"WABA#{waba_id}"}}


def pending_key(waba_id: str, display_phone_number: str) -> dict:
    return {PendingItem.HASH_KEY: {"S": f"PENDING#{waba_id}#{display_phone_number}"}}


def template_subject(waba_id: str, template_key: tuple[str, str]) -> str:
    """A template's name in its item, its facet logs and its history: (name, language key) of its WABA."""
    name, language = template_key
    return f"TPL#{waba_id}#{name}#{language}"


def is_template_subject(pk: str) -> bool:
    """A numbers-table key that is a template's (in the ByAttention index beside the numbers)."""
    return pk.startswith("TPL#")


def template_key(waba_id: str, template_key: tuple[str, str]) -> dict:
    return {TemplateItem.HASH_KEY: {"S": template_subject(waba_id, template_key)}}


def templates_of_waba_key(waba_id: str) -> dict:
    return {WabaTemplatesItem.HASH_KEY: {"S": f"TPLS#{waba_id}"}}


def template_id_attribute(template_id: str) -> str:
    """The WABA's list item maps Meta's template id to `<name>#<language key>` under this attribute."""
    return f"id#{template_id}"


def log_key(subject: str, facet: str) -> dict:
    return {FacetLogItem.HASH_KEY: {"S": f"LOG#{subject}#{facet}"}}


def scope_key(scope: str) -> dict:
    return {CounterItem.HASH_KEY: {"S": scope}}


def history_key(phone_number_id: str, sort_key: str) -> dict:
    return {HistoryItem.phone_number_id: {"S": phone_number_id}, HistoryItem.sk: {"S": sort_key}}


def marker_sort_key(change_id: str) -> str:
    return f"{MARKER_PREFIX}{change_id}"


def link_pk(space: str, person_id: str) -> str:
    return f"l#{space}#{person_id}"


def link_key(space: str, person_id: str) -> dict:
    # One item per (link space, id): a portfolio's (or WABA's) people, read with the check's records.
    return {LinkItem.HASH_KEY: {"S": link_pk(space, person_id)}}


def cooldown_pk(space: str, person_id: str) -> str:
    # A person's marketing cooldown (Meta's 131049) in a link space, read with the check's records.
    return f"mc#{space}#{person_id}"


def cooldown_key(space: str, person_id: str) -> dict:
    return {CooldownItem.HASH_KEY: {"S": cooldown_pk(space, person_id)}}


def arrival_key(dedup_key: str) -> dict:
    # The first arrival of an update Meta sent without a time (recipients table: keyed by pk, with TTL).
    # The dedup key is a 32-character hash: the key stays far below DynamoDB's 2,048 bytes.
    return {ArrivalItem.HASH_KEY: {"S": f"a#{dedup_key}"}}


def pair_key(phone_number_id: str, person_key: str) -> dict:
    # Pair rates belong to a (business number, person) pair, like service windows; the person by its key.
    return {PairItem.HASH_KEY: {"S": f"p#{phone_number_id}#{person_key}"}}
