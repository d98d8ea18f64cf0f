"""The Meta sync (DESIGN §5b): Meta's current word on each WABA's numbers and templates, applied as
facet changes.

Per WABA: the WABA node (its health, its business portfolio), then the numbers list page by page
(every field asked for; a number's own node only for a field its entry lacks), then the templates
list page by page. Nothing of a WABA is applied before all of its reads are in, so a refused token or
a malformed page changes nothing. Numbers not seen before are registered; every difference (a
number's quality, connection, health and limit, a template's status, quality and category) is a facet
entry from the source `graph` at the read time (the facet log lets a newer webhook win), announced
once like a webhook's; what a read repeats is not written at all.

Budget: a page per call; the run stops when Meta throttles (codes 4, 17, 613, 80007, 80008) or the
usage header reaches 90 %, and the WABA it could not finish is the next run's first. Token refused
(190): nothing changes, META_ACCESS_FAILED is announced once per outage, META_ACCESS_RESTORED when a
read works again.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from numberguard.domain.changes import Change
from numberguard.domain.health import CanSend
from numberguard.domain.meta_state import (
    NumberReading,
    TemplateReading,
    access_notice,
    combine,
    differences,
    graph_connection,
    graph_limit,
    graph_quality,
    run_order,
    template_reading,
)
from numberguard.domain.number import scope_key
from numberguard.domain.templates import Naming, TemplateRef, TemplateState
from numberguard.domain.tiers import MessagingLimit, Policy
from numberguard.graph.client import (
    GraphAccessRefused,
    GraphError,
    GraphThrottled,
    Read,
    Usage,
)
from numberguard.graph.nodes import Page, PhoneNumberNode, TemplateNode, WabaNode

MAX_PAGES = 200  # per WABA and run: far more than any WABA's numbers (Meta caps numbers per WABA)
MIN_SECONDS_LEFT = 10.0  # stop before the function's timeout; the next run resumes
PARALLEL_WRITES = 8  # numbers registered or updated side by side (each one's writes are its own items)
T = TypeVar("T")
R = TypeVar("R")


class Graph(Protocol):
    def phone_numbers(self, waba_id: str, after: Page | None = None) -> Read[Page[PhoneNumberNode]]: ...
    def phone_number(self, phone_number_id: str, fields: tuple[str, ...] = ...) -> Read[PhoneNumberNode]: ...
    def waba(self, waba_id: str) -> Read[WabaNode]: ...
    def templates(self, waba_id: str, after: Page | None = None) -> Read[Page[TemplateNode]]: ...


@dataclass(frozen=True)
class KnownNumber:
    phone_number_id: str
    waba_id: str
    scope: str
    facets: Mapping[str, str | None]  # quality, connection, health as held now
    tier: str | None = None  # the scope's current tier
    complete: bool = True  # False: registered by hand, or a registration a failure cut short
    blocked_at: int | None = None  # the WABA's refusal block (131042 / 368 / 131031) as of this time, if any


@dataclass(frozen=True)
class SyncStatus:
    resume_from: str | None = None  # the WABA the last run could not finish
    access_failing: bool = False  # META_ACCESS_FAILED announced, not yet restored


class SyncStore(Protocol):
    def known_wabas(self) -> list[str]: ...
    def add_waba(self, waba_id: str) -> None: ...
    def numbers_of(self, waba_id: str) -> dict[str, KnownNumber]: ...
    def register(self, reading: NumberReading, scope: str) -> bool: ...
    def apply_facets(self, number: KnownNumber, values: Mapping[str, str], at: int) -> list[Change]: ...
    def apply_limit(self, members: list[KnownNumber], limit: MessagingLimit, at: int) -> list[Change]: ...
    def templates_of(self, waba_id: str) -> dict[tuple[str, str], TemplateState]: ...
    def apply_templates(self, waba_id: str, readings: list[TemplateReading]) -> list[Change]: ...
    def status(self) -> SyncStatus: ...
    def set_resume(self, waba_id: str | None) -> None: ...
    def set_access_failing(self, failing: bool) -> bool: ...
    def notice(self, kind: str, waba_id: str, reason: str, at: int) -> bool: ...
    def lift_block(self, waba_id: str, at: int) -> list[Change]: ...


@dataclass
class SyncSummary:
    registered: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    wabas_done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # WABA → why (safe words, no token)
    resume_from: str | None = None
    throttled: bool = False
    access: str | None = None  # "refused", META_ACCESS_RESTORED…
    counts: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "registered": self.registered,
            "changes": [_change(c) for c in self.changes],
            "wabas": self.wabas_done, "failed": self.failed, "resume_from": self.resume_from,
            "throttled": self.throttled, "access": self.access,
            "counts": {k: v for k, v in sorted(self.counts.items()) if v},
        }


def _change(change: Change) -> dict:
    """A change as the summary shows it: a number's by its id, a template's by its WABA, name and language
    (its history subject is the store's business)."""
    if change.template is not None:
        t = change.template
        who: dict = {"template": {"waba_id": t.waba_id, "name": t.name, "language": t.language}}
    else:
        who = {"phone_number_id": change.phone_number_id}
    return {**who, "type": change.type, "from": change.before, "to": change.after}


@dataclass
class WabaRead:
    waba: WabaNode
    numbers: list[PhoneNumberNode]
    complete: bool  # every page read (a throttled run applies what it read and resumes here)
    usage: Usage | None = None
    templates: list[TemplateNode] = field(default_factory=list)


class Stop(Exception):
    """End the run here (throttled, token refused); `resume` is the WABA to start from next time."""

    def __init__(self, reason: str, resume: str | None):
        super().__init__(reason)
        self.resume = resume


class MetaSync:
    def __init__(self, graph: Graph, store: SyncStore, policy: Policy, clock: Callable[[], float]):
        self.graph = graph
        self.store = store
        self.policy = policy
        self.clock = clock

    def handle(self, event: object, time_left: Callable[[], float] | None = None) -> dict:
        """A scheduled run (its input is ignored) or `{"waba_id": "..."}`; bad input is an answer, not a crash."""
        waba_id = event.get("waba_id") if isinstance(event, Mapping) else None
        if isinstance(event, Mapping) and "waba_id" in event and not (
                isinstance(waba_id, str) and waba_id.isdigit() and len(waba_id) <= 32):
            return {"error": "waba_id must be the WhatsApp Business Account's numeric id (digits, as a string)"}
        return self.run(waba_id, time_left).as_dict()

    def run(self, waba_id: str | None = None, time_left: Callable[[], float] | None = None) -> SyncSummary:
        summary = SyncSummary()
        status = self.store.status()
        wabas = [waba_id] if waba_id else run_order(self.store.known_wabas(), status.resume_from)
        refused, read_any = False, False
        resume: str | None = None
        self._refused_waba: str | None = None
        for i, waba in enumerate(wabas):
            if time_left is not None and time_left() < MIN_SECONDS_LEFT:
                resume = waba
                summary.counts["stopped_for_time"] += 1
                break
            try:
                read_any = self._sync_waba(waba, summary) or read_any
                if waba_id:  # imported: every scheduled run reads it from now on (idempotent)
                    self.store.add_waba(waba)
            except GraphAccessRefused:
                refused, self._refused_waba = True, waba
                summary.failed[waba] = "access token refused (Graph code 190)"
                resume = waba
                break
            except GraphThrottled:
                summary.throttled, resume = True, waba
                summary.counts["throttled"] += 1
                break
            except Stop as stop:
                resume = stop.resume if stop.resume is not None else _after(wabas, i)
                break
            except GraphError as err:  # this WABA next run; the others go on
                summary.failed[waba] = str(err)
                summary.counts["waba_failed"] += 1
        summary.resume_from = resume if not waba_id else status.resume_from
        if not waba_id and summary.resume_from != status.resume_from:
            self.store.set_resume(summary.resume_from)
        self._access(status, refused, read_any, wabas, summary)
        return summary

    # ---- one WABA ----

    def _sync_waba(self, waba_id: str, summary: SyncSummary) -> bool:
        at = int(self.clock())
        read = self._read(waba_id, summary)
        self._apply(read, at, summary)
        summary.wabas_done.append(waba_id)
        if not read.complete:
            raise Stop("throttled", waba_id)
        if read.usage is not None and read.usage.back_off:
            summary.throttled = True
            summary.counts["usage_back_off"] += 1
            raise Stop("usage at or over 90 %", None)
        return True

    def _read(self, waba_id: str, summary: SyncSummary) -> WabaRead:
        """Every read of one WABA before anything is applied (a 190 anywhere changes nothing): its node,
        its numbers, its templates, each list page by page."""
        first = self.graph.waba(waba_id)
        summary.counts["graph_calls"] += 1
        read = WabaRead(first.value, [], True, first.usage)
        try:
            self._pages(lambda page: self.graph.phone_numbers(waba_id, after=page), read, summary,
                        lambda page: read.numbers.extend(self._completed(n, summary) for n in page.items))
            self._pages(lambda page: self.graph.templates(waba_id, after=page), read, summary,
                        lambda page: read.templates.extend(page.items))
        except GraphThrottled:
            summary.throttled, read.complete = True, False
            summary.counts["throttled"] += 1
        return read

    def _pages(self, get: Callable[[Page | None], Read[Page[T]]], read: WabaRead, summary: SyncSummary,
               keep: Callable[[Page[T]], None]) -> None:
        """A list, a page per call: `keep` takes each page; stops at 90 % of Meta's usage budget."""
        page: Page | None = None
        for _ in range(MAX_PAGES):
            got = get(page)
            summary.counts["graph_calls"] += 1
            page, read.usage = got.value, got.usage or read.usage
            summary.counts["entries_unreadable"] += page.skipped
            keep(page)
            if page.last:
                return
            if read.usage is not None and read.usage.back_off:
                raise GraphThrottled("usage at or over 90 %")

    def _completed(self, node: PhoneNumberNode, summary: SyncSummary) -> PhoneNumberNode:
        """A list entry lacking a field: the number's own node, for those fields only."""
        missing = node.lacks()
        if not missing:
            return node
        summary.counts["graph_calls"] += 1
        summary.counts["node_reads"] += 1
        own = self.graph.phone_number(node.id, missing).value
        fill = {name: getattr(own, name) for name in _NODE_ATTRS if getattr(node, name) is None}
        return PhoneNumberNode(**{**node.__dict__, **fill, "present": node.present | own.present})

    def _reading(self, node: PhoneNumberNode, waba: WabaNode, at: int) -> NumberReading:
        return NumberReading(
            phone_number_id=node.id, waba_id=waba.id, at=at, display_phone_number=node.display_phone_number,
            verified_name=node.verified_name, quality=graph_quality(node.quality_rating),
            connection=graph_connection(node.status), limit=graph_limit(node.messaging_limit),
            health=combine(node.health, waba.health), business_id=waba.business_id,
        )

    def _apply(self, read: WabaRead, at: int, summary: SyncSummary) -> None:
        known = self.store.numbers_of(read.waba.id)
        readings = [self._reading(n, read.waba, at) for n in read.numbers]
        # New numbers, and numbers whose registration is not complete (finished, announcing nothing)
        new = [r for r in readings if r.phone_number_id not in known or not known[r.phone_number_id].complete]
        if new:
            for registered in _parallel(lambda r: self._register(r, summary, known.get(r.phone_number_id)), new):
                if registered:
                    summary.registered.append(registered)
            known = self.store.numbers_of(read.waba.id)
        scopes: dict[str, list[KnownNumber]] = defaultdict(list)
        limits: dict[str, MessagingLimit] = {}
        work = []
        for reading in readings:
            number = known.get(reading.phone_number_id)
            if number is None:
                continue
            changed = differences(number.facets, reading.facets())
            if changed:
                work.append((number, changed))
            else:
                summary.counts["number_unchanged"] += 1
            scopes[number.scope].append(number)
            if reading.limit is not None:
                limits[number.scope] = reading.limit
        for changes in _parallel(lambda item: self.store.apply_facets(item[0], item[1], at), work):
            summary.changes += changes
        for scope, members in scopes.items():
            limit = limits.get(scope)
            if limit is not None and members[0].tier != limit.tier:
                summary.changes += self.store.apply_limit(members, limit, at)
        self._apply_templates(read, at, summary)
        self._lift_blocks(known, readings, at, summary)

    def _apply_templates(self, read: WabaRead, at: int, summary: SyncSummary) -> None:
        """Each template's status, quality and category as Meta lists them, where they differ from what
        is held (the template facets' logs order them among the webhooks' events)."""
        if not read.templates:
            return
        held = self.store.templates_of(read.waba.id)
        readings = []
        for node in read.templates:
            ref = TemplateRef(node.name, node.language)
            found = template_reading(held.get(ref.key), Naming(node.id, ref), at, node.status, node.quality,
                                     node.category)
            if found is None:
                summary.counts["template_unchanged"] += 1
            else:
                readings.append(found)
        if readings:
            summary.changes += self.store.apply_templates(read.waba.id, readings)

    def _lift_blocks(self, known: dict[str, KnownNumber], readings: list[NumberReading], at: int,
                     summary: SyncSummary) -> None:
        """Meta's health AVAILABLE, read after a refusal blocked the WABA, lifts the block (an older read never)."""
        wabas = set()
        for reading in readings:
            number = known.get(reading.phone_number_id)
            available = reading.health is not None and reading.health.can_send is CanSend.AVAILABLE
            if number is not None and available and number.blocked_at is not None and number.blocked_at < at:
                wabas.add(number.waba_id)
        for waba in sorted(wabas):
            summary.changes += self.store.lift_block(waba, at)
            summary.counts["meta_block_lifted_by_graph"] += 1

    def _register(self, reading: NumberReading, summary: SyncSummary, known: KnownNumber | None) -> str | None:
        """Registers a number not seen before (or completes it); its id when new, else None."""
        why = None
        if reading.limit is None:
            why = "no readable messaging limit"
        elif reading.display_phone_number is None:
            why = "no readable display phone number"
        elif self.policy is Policy.PORTFOLIO and reading.business_id is None:
            why = "no readable business portfolio (the portfolio policy needs it)"
        if why:
            summary.counts["not_registered"] += 1
            summary.failed.setdefault(reading.phone_number_id, f"not registered: {why}")
            return None
        scope = known.scope if known else scope_key(self.policy, reading.phone_number_id, reading.business_id)
        return reading.phone_number_id if self.store.register(reading, scope) else None

    # ---- the token's outage ----

    def _access(self, status: SyncStatus, refused: bool, read_any: bool, wabas: list[str],
                summary: SyncSummary) -> None:
        if refused:
            summary.access = "refused"
        kind = access_notice(status.access_failing, refused, read_any)
        if kind is None:
            return
        # The flag flips once (a conditional write): two overlapping runs announce one outage once.
        if not self.store.set_access_failing(kind == "META_ACCESS_FAILED"):
            return
        waba = self._refused_waba if refused else (summary.wabas_done or wabas or [""])[0]
        reason = ("Meta refused the Graph API access token (code 190): numberguard cannot read Meta's state"
                  if refused else "the Graph API access token works again")
        self.store.notice(kind, waba or "", reason, int(self.clock()))
        summary.access = kind


_NODE_ATTRS = ("display_phone_number", "verified_name", "quality_rating", "status", "name_status",
               "code_verification_status", "throughput_level", "messaging_limit", "health")


def _parallel(fn: Callable[[T], R], items: list[T]) -> list[R]:
    """Independent numbers side by side (their writes touch different items); results in order."""
    if len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(PARALLEL_WRITES, len(items))) as pool:
        return list(pool.map(fn, items))


def _after(wabas: list[str], i: int) -> str | None:
    return wabas[i + 1] if i + 1 < len(wabas) else None
