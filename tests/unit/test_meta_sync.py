"""The Meta sync use case on small fakes: the Graph is local mode's double answered in-process (the
real client over a transport that calls the double), the store an in-memory SyncStore."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace

from numberguard.domain.changes import Change, TemplateOf
from numberguard.domain.health import decode
from numberguard.domain.meta_state import NumberReading, TemplateReading
from numberguard.domain.status import Quality
from numberguard.domain.templates import READ_PAUSE_LABEL, Block, TemplateState, step
from numberguard.domain.tiers import MessagingLimit, Policy
from numberguard.graph.client import GraphClient, RawResponse
from numberguard.usecases.meta_sync import KnownNumber, MetaSync, SyncStatus

from numberguard_ops.meta_double import DEFAULT_TOKEN, InProcessTransport, MetaState
from tests.conftest import FakeClock

WABA, NUMBER = "102290129340398", "106540352242922"


class DoubleTransport(InProcessTransport):
    def __init__(self, state: MetaState):
        super().__init__(state, "http://double")


class MemoryStore:
    """Numbers, scopes, the sync's status and every change and notice, in memory; counts writes."""

    def __init__(self):
        self.numbers: dict[str, dict] = {}
        self.tiers: dict[str, str] = {}
        self.sync = SyncStatus()
        self.changes: list[Change] = []
        self.notices: list[tuple[str, str]] = []
        self.wabas: set[str] = set()
        self.templates: dict[tuple[str, tuple[str, str]], TemplateState] = {}
        self.writes = 0

    def known_wabas(self):
        return sorted(self.wabas)

    def add_waba(self, waba_id):
        if waba_id not in self.wabas:
            self.writes += 1
        self.wabas.add(waba_id)

    def numbers_of(self, waba_id):
        return {p: KnownNumber(p, n["waba_id"], n["scope"], dict(n["facets"]), self.tiers.get(n["scope"]))
                for p, n in self.numbers.items() if n["waba_id"] == waba_id}

    def register(self, reading: NumberReading, scope: str) -> bool:
        if reading.phone_number_id in self.numbers:
            return False
        self.writes += 1
        self.numbers[reading.phone_number_id] = {"waba_id": reading.waba_id, "scope": scope,
                                                 "facets": reading.facets() | {"quality": reading.quality or "UNKNOWN"}}
        self.tiers.setdefault(scope, reading.limit.tier)
        return True

    def apply_facets(self, number: KnownNumber, values: Mapping[str, str], at: int):
        self.writes += 1
        out = []
        for facet, value in values.items():
            before = self.numbers[number.phone_number_id]["facets"].get(facet)
            self.numbers[number.phone_number_id]["facets"][facet] = value
            out.append(Change(number.phone_number_id, {"quality": "QUALITY_CHANGED", "health": "HEALTH_CHANGED",
                                                       "connection": "STATUS_CHANGED"}[facet], at, before, value,
                              "graph"))
        self.changes += out
        return out

    def apply_limit(self, members, limit: MessagingLimit, at: int):
        self.writes += 1
        before, self.tiers[members[0].scope] = self.tiers.get(members[0].scope), limit.tier
        out = [Change(m.phone_number_id, "LIMIT_CHANGED", at, before, limit.tier, "graph") for m in members]
        self.changes += out
        return out

    def templates_of(self, waba_id):
        return {key: t for (waba, key), t in self.templates.items() if waba == waba_id}

    def apply_templates(self, waba_id, readings: list[TemplateReading]):
        out = []
        for read in readings:
            self.writes += 1
            ref = read.naming.ref
            held = self.templates.get((waba_id, ref.key)) or TemplateState(waba_id, ref.name, ref.language)
            new = replace(held, status=step(held.status, read.status, read.at) if read.status else held.status,
                          quality=Quality(read.quality) if read.quality else held.quality,
                          category=read.category or held.category)
            self.templates[(waba_id, ref.key)] = new
            # As the template intake does: the history subject is the store's key, the change names the template
            which = TemplateOf(waba_id, ref.name, ref.language)
            if new.status.label() != held.status.label():
                out.append(Change(f"TPL#{waba_id}#{ref.name}", "TEMPLATE_STATUS_CHANGED", read.at,
                                  held.status.label(), new.status.label(), "graph", template=which))
            if new.quality != held.quality:
                out.append(Change(f"TPL#{waba_id}#{ref.name}", "TEMPLATE_STATUS_CHANGED", read.at,
                                  f"quality {held.quality}", f"quality {new.quality}", "graph", template=which))
        self.changes += out
        return out

    def status(self):
        return self.sync

    def set_resume(self, waba_id):
        self.writes += 1
        self.sync = SyncStatus(waba_id, self.sync.access_failing)

    def set_access_failing(self, failing):
        if self.sync.access_failing == failing:
            return False
        self.writes += 1
        self.sync = SyncStatus(self.sync.resume_from, failing)
        return True

    def notice(self, kind, waba_id, reason, at):
        self.notices.append((kind, waba_id))
        return True


def make(policy: Policy = Policy.PER_NUMBER, page_size: int = 2):
    state, store, clock = MetaState(), MemoryStore(), FakeClock()
    transport = DoubleTransport(state)
    graph = GraphClient("http://double", "v24.0", lambda: DEFAULT_TOKEN, transport=transport, page_size=page_size)
    return state, store, MetaSync(graph, store, policy, clock), transport, clock


def test_import_registers_every_number_of_the_waba_across_pages():
    _state, store, sync, transport, _ = make()
    summary = sync.run(WABA)
    assert sorted(summary.registered) == ["106540352242922", "110200345501442", "117835072280431"]
    assert store.tiers == {f"number#{p}": "TIER_250" for p in summary.registered}
    assert store.numbers["110200345501442"]["facets"]["connection"] == "OFFLINE"
    assert store.numbers["117835072280431"]["facets"]["connection"] == "PENDING"
    # WABA node + two pages of numbers + two of templates (page size 2): the list carries every field,
    # no per-number read
    assert transport.calls == 5 and summary.counts["node_reads"] == 0


def test_a_second_run_with_nothing_changed_writes_nothing():
    _, store, sync, _, _ = make()
    sync.run(WABA)
    writes = store.writes
    summary = sync.run()
    assert store.writes == writes and summary.changes == [] and summary.registered == []


def test_a_quality_change_in_meta_becomes_a_change_from_the_graph():
    state, _store, sync, _, _ = make()
    sync.run(WABA)
    state.change("number", {"id": NUMBER, "quality": "RED"})
    summary = sync.run()
    assert [(c.phone_number_id, c.type, c.before, c.after) for c in summary.changes] == \
        [(NUMBER, "QUALITY_CHANGED", "GREEN", "RED")]


def test_a_blocked_waba_blocks_each_number_with_metas_code():
    state, store, sync, _, _ = make()
    sync.run(WABA)
    state.change("waba", {"id": WABA, "health": "BLOCKED", "error_code": 141006,
                          "error_description": "There is an error with the payment method.",
                          "possible_solution": "Add a new payment method."})
    summary = sync.run()
    assert {c.type for c in summary.changes} == {"HEALTH_CHANGED"} and len(summary.changes) == 3
    health = decode(store.numbers[NUMBER]["facets"]["health"])
    assert health.blocked and "141006" in health.error_text() and health.solution() == "Add a new payment method."


def test_the_portfolio_limit_is_the_scope_limit_under_the_portfolio_policy():
    state, store, sync, _, _ = make(Policy.PORTFOLIO)
    sync.run(WABA)
    assert {n["scope"] for n in store.numbers.values()} == {"portfolio#506914307656634"}
    state.change("business", {"id": "506914307656634", "limit": "TIER_2K"})
    summary = sync.run()
    assert store.tiers == {"portfolio#506914307656634": "TIER_2K"}
    assert sorted(c.phone_number_id for c in summary.changes if c.type == "LIMIT_CHANGED") == sorted(store.numbers)


def test_a_refused_token_changes_nothing_and_is_announced_once_per_outage():
    state, store, sync, _, _ = make()
    sync.run(WABA)
    before = json.dumps(store.numbers, sort_keys=True), dict(store.tiers)
    state.change("token", {"refused": True})
    state.change("number", {"id": NUMBER, "quality": "RED"})
    for _ in range(3):
        summary = sync.run()
        assert summary.access in ("META_ACCESS_FAILED", "refused") and summary.changes == []
    assert (json.dumps(store.numbers, sort_keys=True), store.tiers) == before
    assert store.notices == [("META_ACCESS_FAILED", WABA)]
    # And once the token works again: restored once, and the missed change applied
    state.change("token", {"refused": False})
    summary = sync.run()
    sync.run()
    assert store.notices == [("META_ACCESS_FAILED", WABA), ("META_ACCESS_RESTORED", WABA)]
    assert [(c.type, c.after) for c in summary.changes] == [("QUALITY_CHANGED", "RED")]


def test_throttling_stops_the_run_and_the_waba_not_reached_is_next_runs_first():
    state, store, sync, _, _ = make()
    wabas = state.seed(3, 2)
    for waba in wabas:
        sync.run(waba)
    for waba in wabas:
        state.wabas[waba].numbers[0].quality = "RED"
    # Given Meta's usage header at 95 % after the first WABA
    state.usage_percent = 95
    first = sync.run()
    assert first.throttled and len(first.wabas_done) == 1 and first.resume_from == wabas[1]
    # When Meta throttles outright, nothing more is read and the resume point stays
    state.usage_percent, state.throttle_code = 1, 80008
    second = sync.run()
    assert second.changes == [] and store.sync.resume_from == wabas[1]
    # Then the next free run starts at the WABA it did not reach and finishes every one
    state.throttle_code = None
    third = sync.run()
    assert third.wabas_done[0] == wabas[1] and store.sync.resume_from is None
    changed = {c.phone_number_id for c in first.changes + third.changes if c.type == "QUALITY_CHANGED"}
    assert changed == {state.wabas[w].numbers[0].id for w in wabas}


def test_a_list_entry_lacking_health_is_completed_from_the_numbers_own_node():
    state, store, sync, _transport, _ = make()

    class NoHealthInList(DoubleTransport):
        def get(self, url, headers, connect_timeout, read_timeout):
            if "/phone_numbers" in url:
                url = url.replace("%2Chealth_status", "")
            return super().get(url, headers, connect_timeout, read_timeout)

    sync.graph.transport = NoHealthInList(state)
    summary = sync.run(WABA)
    assert summary.counts["node_reads"] == 3
    assert decode(store.numbers[NUMBER]["facets"]["health"]).can_send.value == "AVAILABLE"


def test_a_malformed_page_changes_nothing_of_that_waba():
    state, store, sync, _, _ = make()
    sync.run(WABA)
    state.change("number", {"id": NUMBER, "quality": "RED"})
    before = json.dumps(store.numbers, sort_keys=True)

    class Broken(DoubleTransport):
        def get(self, url, headers, connect_timeout, read_timeout):
            if "/phone_numbers" in url and "after=" in url:
                return RawResponse(200, {}, b'{"data": "oops"}')
            return super().get(url, headers, connect_timeout, read_timeout)

    sync.graph.transport = Broken(state)
    summary = sync.run()
    assert WABA in summary.failed and json.dumps(store.numbers, sort_keys=True) == before


def test_a_number_without_a_readable_limit_is_not_registered():
    state, _store, sync, _, _ = make()
    state.businesses["506914307656634"].limit = "TIER_NOT_SET"
    summary = sync.run(WABA)
    assert summary.registered == [] and summary.counts["not_registered"] == 3


# ---- templates: Meta's status and quality of each, read with the WABA ------------------------------------

AUTUMN, ORDER = ("autumn_sale", "en_us"), ("order_confirmation", "en_us")


def held(store: MemoryStore, key=AUTUMN) -> TemplateState:
    return store.templates[(WABA, key)]


def meta_changes_template(state: MetaState, clock: FakeClock, **change: str) -> None:
    """Meta changes order_confirmation (no webhook arrives); the next run reads a quarter of an hour later."""
    state.change("template", {"waba_id": WABA, "name": "order_confirmation", "language": "en_US", **change})
    clock.advance(900)


def test_the_import_reads_every_template_with_its_status_quality_and_category():
    _, store, sync, _, _ = make()
    summary = sync.run(WABA)
    states = {key: (t.status.status.value, t.quality.value, t.category and t.category.value)
              for (_, key), t in store.templates.items()}
    assert states == {("order_confirmation", "en_us"): ("APPROVED", "GREEN", "utility"),
                      AUTUMN: ("PAUSED", "RED", "marketing"),
                      ("back_in_stock", "en_us"): ("DISABLED", "RED", "marketing")}
    assert {c.after for c in summary.changes if c.type == "TEMPLATE_STATUS_CHANGED"} >= {
        "APPROVED", "DISABLED", "quality RED"}


def test_a_template_paused_and_unpaused_in_meta_is_one_change_each_and_a_repeat_writes_nothing():
    state, store, sync, _, clock = make()
    sync.run(WABA)
    # When Meta pauses order_confirmation (no webhook arrives)
    meta_changes_template(state, clock, status="PAUSED")
    paused = [c for c in sync.run().changes if c.type == "TEMPLATE_STATUS_CHANGED"]
    # Then one change, to a pause held until Meta's word (a read names neither the pause's kind nor its end)
    assert [(c.before, c.after) for c in paused] == [("APPROVED", READ_PAUSE_LABEL)]
    clock.advance(86400)
    assert held(store, ORDER).block(int(clock())) == (Block.PAUSED, None)
    # And the same read again changes and writes nothing: a read during a pause is that pause
    writes = store.writes
    clock.advance(900)
    again = sync.run()
    assert again.changes == [] and store.writes == writes and again.counts["template_unchanged"] == 3
    # When Meta approves it again, one change back to APPROVED
    meta_changes_template(state, clock, status="APPROVED")
    back = [(c.before, c.after) for c in sync.run().changes]
    assert back == [(READ_PAUSE_LABEL, "APPROVED")]


def test_the_summary_names_a_template_change_by_waba_name_and_language_never_by_its_store_key():
    state, _store, sync, _, clock = make()
    sync.run(WABA)
    meta_changes_template(state, clock, status="PAUSED")
    state.change("number", {"id": NUMBER, "quality": "RED"})
    changes = sync.handle({})["changes"]
    assert {"template": {"waba_id": WABA, "name": "order_confirmation", "language": "en_US"},
            "type": "TEMPLATE_STATUS_CHANGED", "from": "APPROVED", "to": READ_PAUSE_LABEL} in changes
    assert {"phone_number_id": NUMBER, "type": "QUALITY_CHANGED", "from": "GREEN", "to": "RED"} in changes
    assert not any("TPL#" in json.dumps(c) for c in changes)


def test_a_graph_read_saying_approved_ends_a_pacing_pause():
    from numberguard.domain.templates import StatusReading

    _, store, sync, _, clock = make()
    sync.run(WABA)
    # Given a pacing pause known from Meta's webhook (it has no end: it lasts until Meta's word)
    pacing = step(held(store, ORDER).status,
                  StatusReading("PAUSED", "RATE_LIMITING_PAUSE"), int(clock()))
    store.templates[(WABA, ORDER)] = replace(
        held(store, ORDER), status=pacing)
    clock.advance(86400)
    assert held(store, ORDER).block(int(clock())) == (Block.PAUSED, None)
    # When the next read lists it APPROVED, the pause ends
    summary = sync.run()
    assert [(c.before, c.after) for c in summary.changes] == [("PAUSED (pacing, until Meta unpauses it)", "APPROVED")]
    assert held(store, ORDER).block(int(clock())) == (None, None)


def test_a_template_quality_change_alone_is_one_change():
    state, store, sync, _, clock = make()
    sync.run(WABA)
    meta_changes_template(state, clock, quality="YELLOW")
    assert [(c.before, c.after) for c in sync.run().changes] == [("quality GREEN", "quality YELLOW")]
    assert held(store, ORDER).quality is Quality.YELLOW


def test_a_throttled_templates_list_applies_the_numbers_and_resumes_the_waba():
    state, _, sync, _, _ = make()

    class ThrottledTemplates(DoubleTransport):
        def get(self, url, headers, connect_timeout, read_timeout):
            if "/message_templates" in url:
                body = {"error": {"message": "(#80008) too many calls", "type": "OAuthException", "code": 80008}}
                return RawResponse(400, {}, json.dumps(body).encode())
            return super().get(url, headers, connect_timeout, read_timeout)

    sync.graph.transport = ThrottledTemplates(state)
    summary = sync.run(WABA)
    assert summary.throttled and len(summary.registered) == 3
    assert [c for c in summary.changes if c.type == "TEMPLATE_STATUS_CHANGED"] == []
