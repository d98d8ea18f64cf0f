"""The Meta sync use case on small fakes: the Graph is local mode's double answered in-process (the
real client over a transport that calls the double), the store an in-memory SyncStore."""

from __future__ import annotations

import json
from collections.abc import Mapping

from numberguard.domain.changes import Change
from numberguard.domain.health import decode
from numberguard.domain.meta_state import NumberReading
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
    # WABA node + two pages (page size 2): the list carries every field, no per-number read
    assert transport.calls == 3 and summary.counts["node_reads"] == 0


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
