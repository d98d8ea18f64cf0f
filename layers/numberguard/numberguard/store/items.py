"""Items of the tables → domain objects (the one decoding of each item kind the use cases see).

Attribute names come from store/schema_names.py, generated from the pynamodb models (store/models/).
"""

from __future__ import annotations

from numberguard.domain.check import RecipientView
from numberguard.domain.health import decode as decode_health
from numberguard.domain.number import NumberState
from numberguard.domain.people import IdLink, Person
from numberguard.domain.records import OutboxEntry, ScopeCounter, WabaFacets
from numberguard.domain.refusals import Hold, MetaBlock, code_of_block
from numberguard.domain.status import Connection, Quality
from numberguard.domain.templates import Category, StatusFold, TemplateState, TemplateStatus
from numberguard.domain.window import ScopeUsage
from numberguard.store import codec
from numberguard.store.schema_names import (
    CooldownItem,
    CountedItem,
    CounterItem,
    HistoryItem,
    LinkItem,
    NumberItem,
    TemplateItem,
    WabaItem,
    WindowItem,
)

# Records outlive any window they describe (24 h + W counted, 72 h service window); TTL deletion
# lags by days anyway, so every read compares times itself.
RECORD_TTL_SECONDS = 4 * 24 * 3600
ATTENTION = "due"  # hash key of the ByAttention indexes (numbers and limits tables)


def number_from_item(item: dict) -> NumberState:
    n = NumberItem
    return NumberState(
        phone_number_id=codec.s(item, n.pk) or "",
        waba_id=codec.s(item, n.waba_id, "") or "",
        display_phone_number=codec.s(item, n.display_phone_number, "") or "",
        scope=codec.s(item, n.scope) or "",
        portfolio_id=codec.s(item, n.portfolio_id),
        connection=Connection(codec.s(item, n.connection) or Connection.CONNECTED.value),
        banned=codec.b(item, n.banned),
        quality=Quality(codec.s(item, n.quality) or Quality.UNKNOWN.value),
        flagged_at=codec.n(item, n.flagged_at),
        restrictions=codec.int_map(item, n.restrictions),
        attention_at=codec.n(item, n.attention_at),
        registered_at=codec.n(item, n.registered_at),
        health=decode_health(codec.s(item, n.health)),
        graph_registered=codec.b(item, n.graph_registered),
        hold=_hold(item),
        meta_block=_meta_block(codec.s(item, n.meta_block), codec.n(item, n.meta_block_at)),
        sent_ok_at=codec.n(item, n.sent_ok_at),
    )


def _hold(item: dict) -> Hold | None:
    until = codec.n(item, NumberItem.hold_until)
    return None if until is None else Hold(codec.n(item, NumberItem.hold_since, until) or until, until)


def _meta_block(value: str | None, at: int | None) -> MetaBlock | None:
    code = code_of_block(value)
    return None if code is None else MetaBlock(code, at or 0)


def scope_from_item(item: dict) -> ScopeCounter:
    c = CounterItem
    numbers = item.get(c.numbers)
    return ScopeCounter(
        scope=codec.s(item, c.scope) or "", usage=usage_from_item(item), tier=codec.s(item, c.tier),
        limit_at=codec.n(item, c.limit_at, 0) or 0, upgrade_announced=codec.s(item, c.upgrade_announced),
        filled_bucket=codec.n(item, c.filled_bucket), attention_at=codec.n(item, c.attention_at),
        numbers=frozenset(numbers["SS"]) if numbers and "SS" in numbers else frozenset(),
        pending_people=frozenset((item.get(c.pending_people) or {}).get("SS") or ()),
    )


def waba_from_item(item: dict) -> WabaFacets:
    w = WabaItem
    return WabaFacets(banned=codec.b(item, w.banned), ban_at=codec.n(item, w.ban_at),
                      restrictions=codec.int_map(item, w.restrictions),
                      restrictions_at=codec.n(item, w.restrictions_at),
                      meta_block=codec.s(item, w.meta_block), meta_block_at=codec.n(item, w.meta_block_at))


def outbox_entry_from_item(item: dict) -> OutboxEntry:
    h = HistoryItem
    return OutboxEntry(phone_number_id=codec.s(item, h.phone_number_id) or "", sort_key=codec.s(item, h.sk) or "",
                       id=codec.s(item, h.id) or "", outbox_at=codec.n(item, h.outbox_at),
                       document=codec.s(item, h.document, "{}") or "{}")


def usage_from_item(item: dict) -> ScopeUsage:
    limit = codec.n(item, CounterItem.limit, -1)
    return ScopeUsage(
        limit=None if limit is None or limit < 0 else limit,
        used=codec.n(item, CounterItem.used, 0) or 0,
        buckets={int(k): v for k, v in codec.int_map(item, CounterItem.buckets).items()},
    )


def recipient_view(counted: dict, window: dict, cooldown: dict | None = None) -> RecipientView:
    return RecipientView(
        cooldown_until=codec.n(cooldown or {}, CooldownItem.cooldown_until, 0) or 0,
        counted_bucket=codec.n(counted, CountedItem.counted_bucket),
        counted_until=codec.n(counted, CountedItem.counted_until, 0) or 0,
        service_window_until=codec.n(window, WindowItem.service_window_until, 0) or 0,
        slot_reference=codec.s(counted, CountedItem.slot_reference),
        sent_template=codec.s(counted, CountedItem.sent_template),
    )


def template_from_item(item: dict) -> TemplateState:
    t = TemplateItem
    status = StatusFold(
        status=TemplateStatus(codec.s(item, t.status) or TemplateStatus.UNKNOWN.value),
        at=codec.n(item, t.status_at),
        paused_until=codec.n(item, t.paused_until),
        pacing=codec.b(item, t.pacing),
        pause_count=codec.n(item, t.pause_count, 0) or 0,
        reason=codec.s(item, t.status_reason),
        in_appeal=codec.b(item, t.in_appeal),
    )
    return TemplateState(
        waba_id=codec.s(item, t.waba_id, "") or "",
        name=codec.s(item, t.name, "") or "",
        language=codec.s(item, t.language, "") or "",
        template_id=codec.s(item, t.template_id),
        status=status,
        quality=Quality(codec.s(item, t.quality) or Quality.UNKNOWN.value),
        category=Category.read(codec.s(item, t.category)),
        quality_at=codec.n(item, t.quality_at),
        category_at=codec.n(item, t.category_at),
    )


def link_from_item(item: dict) -> IdLink:
    """A link item (store/people.py writes them) → the domain's view of the id."""
    k = LinkItem
    key, members = codec.s(item, k.person), item.get(k.ids, {}).get("SS") or []
    person = Person(key, frozenset(members), codec.n(item, k.at, 0) or 0) if key and members else None
    return IdLink(person, codec.n(item, k.retired_at))
