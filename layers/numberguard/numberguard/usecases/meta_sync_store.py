"""The Meta sync's store port on the facet logs, the history and the outbox the webhooks use.

A read's value goes into the facet's log at the read time under the label `graph`, so the log's
time order decides between Graph reads and webhooks exactly as it does between two webhooks; the
transitions it makes are recorded and announced once, through the same history and outbox.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Mapping

from numberguard.domain.changes import Change
from numberguard.domain.facetlog import Transition, entry_key, touched
from numberguard.domain.health import decode, encode, summary_of
from numberguard.domain.meta_state import (
    CHANGE_TYPE,
    HEALTH,
    REASON,
    SOURCE,
    NumberReading,
    TemplateReading,
    announce_first,
)
from numberguard.domain.number import NumberState
from numberguard.domain.templates import TemplateState
from numberguard.domain.tiers import MessagingLimit
from numberguard.notify.messages import notice_document, notification_from_document
from numberguard.observability import logger
from numberguard.store.registry import RegistryStore
from numberguard.store.sync import SyncStatusStore
from numberguard.usecases.facets import Facets, PublishDeferred, change_of
from numberguard.usecases.intake import reason_of
from numberguard.usecases.meta_sync import KnownNumber, SyncStatus
from numberguard.usecases.numbers import NumberRegistration, Numbers, RegistrationError
from numberguard.usecases.refusals import BLOCK_FACET, Refusals, refusal_key
from numberguard.usecases.templates import TemplateIntake

REGISTERED_MARK = "graph_registered"  # on the number: the sync's registration (or adoption) is complete
SEVERITY = {"BLOCKED": "CRITICAL", "LIMITED": "WARNING", "RED": "WARNING", "OFFLINE": "WARNING",
            "PENDING": "WARNING"}


def graph_key(at: int, facet: str) -> str:
    """A Graph read's facet-log key: ordered by read time among the webhooks' entries, labelled `graph`."""
    return f"{entry_key(at, f'{SOURCE}-{facet}-{at}')}#{SOURCE}"


class FacetSyncStore:
    def __init__(self, facets: Facets, status: SyncStatusStore, numbers: Numbers, registry: RegistryStore,
                 clock: Callable[[], float], refusals: Refusals | None = None):
        self.facets = facets
        self.stores = facets.stores
        self.status_store = status
        self.numbers = numbers
        self.registry = registry
        self.clock = clock
        self.refusals = refusals  # lifts a WABA's refusal block on a newer AVAILABLE read
        self.templates = TemplateIntake(facets.stores, facets.publisher, clock)
        self.counts: Counter = Counter()
        self._wabas_known: set[str] = set()
        self._lock = threading.Lock()  # added to the sync's item by this process already

    # ---- reads ----

    def known_wabas(self) -> list[str]:
        return list(self.status_store.read().wabas)

    def add_waba(self, waba_id: str) -> None:
        self.status_store.add_waba(waba_id)

    def numbers_of(self, waba_id: str) -> dict[str, KnownNumber]:
        numbers = self.stores.numbers.of_waba(waba_id)
        tiers = self.status_store.tiers([n.scope for n in numbers]) if numbers else {}
        return {n.phone_number_id: _known(n, tiers.get(n.scope)) for n in numbers}

    def templates_of(self, waba_id: str) -> dict[tuple[str, str], TemplateState]:
        return {t.ref.key: t for t in self.stores.templates.of_waba(waba_id)}

    def status(self) -> SyncStatus:
        item = self.status_store.read()
        return SyncStatus(item.resume_from, item.access_failing)

    # ---- writes ----

    def register(self, reading: NumberReading, scope: str) -> bool:
        """Registers a number the sync found, as `numbers add` would, with what Meta said about it.

        Idempotent step by step, the mark written last: a registration cut short by a failure (or a number
        registered by hand) is completed by the next run, and nothing in it is announced.
        """
        assert reading.limit is not None and reading.display_phone_number is not None  # checked by the sync
        registration = NumberRegistration(
            phone_number_id=reading.phone_number_id, waba_id=reading.waba_id,
            display_phone_number=reading.display_phone_number, tier=reading.limit.tier,
            portfolio_id=reading.business_id, connection=reading.connection or "CONNECTED",
            quality=reading.quality or "UNKNOWN",
        )
        new = True
        try:
            self.numbers.register(registration, int(self.clock()))
        except RegistrationError as err:
            if "already registered" not in str(err):
                raise
            new = False
            self.registry.ensure_scope(scope, reading.limit, reading.phone_number_id, int(self.clock()))
            self.numbers.adopt_kept(reading.phone_number_id, reading.waba_id, reading.display_phone_number)
        mark: dict = {REGISTERED_MARK: True}
        # An AVAILABLE first health is set silently with the registration; one Meta blocks or limits is left
        # to the facet's log (the sync applies it next), so that it is announced once like any change.
        if reading.health is not None and not announce_first(HEALTH, encode(reading.health)):
            mark[HEALTH] = encode(reading.health)
        self.stores.numbers.set_facet(reading.phone_number_id, "registration", mark, (), reading.at)
        return new

    def set_resume(self, waba_id: str | None) -> None:
        self.status_store.set_resume(waba_id)

    def set_access_failing(self, failing: bool) -> bool:
        return self.status_store.set_access_failing(failing)

    def apply_facets(self, number: KnownNumber, values: Mapping[str, str], at: int) -> list[Change]:
        """Each facet: its log entry, the changes recorded (history, outbox), then the number's value.

        The value on the number is written last: a run that fails before it finds the difference again and
        completes it (reusing the entry it made, so the change keeps its id and is announced once).
        """
        pnid = number.phone_number_id
        announced: list[Change] = []
        for facet, value in values.items():
            key = self._pending_key(pnid, facet, value) or graph_key(at, facet)
            moves, latest, latest_at, entries = self.facets.log(pnid, facet, key, value,
                                                                _held(number.facets.get(facet)))
            moves = touched(moves, entries, {key})
            # A number's first health is announced unless AVAILABLE (domain/meta_state.py: announce_first)
            changes = [self._change(pnid, facet, t) for t in moves if t.before is not None
                       or announce_first(facet, t.after)]
            announced += self._announce(changes, pnid)
            self.stores.numbers.set_facet(pnid, facet, {facet: latest}, (), latest_at)
        return announced

    def apply_limit(self, members: list[KnownNumber], limit: MessagingLimit, at: int) -> list[Change]:
        first = self.stores.numbers.get(members[0].phone_number_id)
        if first is None:
            return []
        announced: list[Change] = []

        def record(changes: list[Change]) -> None:  # before the counter takes the limit
            for member in members:
                announced.extend(self._announce(
                    [dataclasses.replace(c, phone_number_id=member.phone_number_id) for c in changes],
                    member.phone_number_id))

        key = self._pending_key(members[0].scope, "limit", limit.tier) or graph_key(at, "limit")
        self.facets.limits(first, [(key, limit)], lambda _k: REASON, self.counts, meta_reported=True,
                           only_touched=True, before_apply=record)
        return announced

    def apply_templates(self, waba_id: str, readings: list[TemplateReading]) -> list[Change]:
        """The templates' differences through the template intake (its logs, state, history and notices)."""
        counts: Counter = Counter()
        changes = self.templates.graph_reads(waba_id, readings, counts)
        with self._lock:
            self.counts.update(counts)
        return changes

    def _pending_key(self, subject: str, facet: str, value: str) -> str | None:
        """The entry of an earlier read that did not finish (its value never reached the item), if any."""
        entries = self.facets.logs.read(subject, facet).entries
        if not entries:
            return None
        last = max(entries)
        return last if entries[last] == value and last.endswith(f"#{SOURCE}") else None

    def notice(self, kind: str, waba_id: str, reason: str, at: int) -> bool:
        """A notice about the token (or a WABA): one history entry under the WABA, published once."""
        change = Change(f"WABA#{waba_id}", kind, at, None, None, reason,
                        severity="CRITICAL" if kind == "META_ACCESS_FAILED" else "INFO", key=f"{kind}-{at}")
        document = notice_document(change, waba_id)
        if not self.stores.history.record_change(change, document, at):
            return False
        try:
            self.facets.publisher.publish(notification_from_document(document))
        except PublishDeferred:
            return True
        except Exception:  # kept in the outbox; the evaluator publishes it later
            logger.exception("publish failed; kept in the outbox", extra={"notification_id": change.id})
            return True
        self.stores.history.mark_published(change)
        return True

    def lift_block(self, waba_id: str, at: int) -> list[Change]:
        """A read at `at` says AVAILABLE: the WABA's refusal block (131042 / 368 / 131031) lifts if it is older."""
        if self.refusals is None:
            return []
        key = refusal_key(at, f"{SOURCE}-{BLOCK_FACET}-{at}", f"{SOURCE} (Meta's Graph API read: AVAILABLE)")
        counts: Counter = Counter()
        changes = self.refusals.lift(waba_id, key, counts)
        with self._lock:
            self.counts.update(counts)
        return changes

    # ---- helpers ----

    def _change(self, pnid: str, facet: str, t: Transition) -> Change:
        kind = CHANGE_TYPE.get(facet, "STATUS_CHANGED")
        if facet != HEALTH:
            return change_of(pnid, kind, t, REASON if t.key.endswith(f"#{SOURCE}") else reason_of(t.key, "webhook"),
                             SEVERITY.get(t.after, "INFO"))
        health = decode(t.after)
        detail: tuple[tuple[str, str], ...] = ()
        if health is not None and health.error_text():
            detail += (("error", health.error_text() or ""),)
        if health is not None and health.solution():
            detail += (("possible_solution", health.solution() or ""),)
        if health is not None and health.warnings():
            detail += (("warnings", "; ".join(health.warnings())),)
        after = summary_of(t.after) or "UNKNOWN"
        severity = SEVERITY.get(after.split(" ")[0], "INFO")
        return dataclasses.replace(change_of(pnid, kind, t, REASON, severity),
                                   before=summary_of(t.before), after=after, detail=detail)

    def _announce(self, changes: list[Change], pnid: str) -> list[Change]:
        if not changes:
            return []
        number = self.stores.numbers.get(pnid)
        if number is None:
            return []
        counts: Counter = Counter()  # numbers are announced side by side: merged under the lock
        announced = self.facets.announce(changes, number, counts) or []
        with self._lock:
            self.counts.update(counts)
        return announced


def _known(number: NumberState, tier: str | None) -> KnownNumber:
    return KnownNumber(
        number.phone_number_id, number.waba_id, number.scope,
        {"quality": number.quality.value, "connection": number.connection.value,
         HEALTH: encode(number.health) if number.health else None},
        tier, complete=number.graph_registered, blocked_at=number.meta_block.at if number.meta_block else None,
    )


def _held(value: str | None) -> Callable[[], str | None]:
    """The facet's value before its log began (the number's item as read)."""
    return lambda: value
