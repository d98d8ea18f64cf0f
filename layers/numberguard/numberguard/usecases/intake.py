"""Applies Meta's webhook events: idempotent, in event-time order, every change recorded and announced.

Facets that Meta reports (quality, Flagged, limit, ban, restrictions) go through a facet log
(domain/facetlog.py): the value written is the latest event's, and the changes announced are the
transitions of the log in time order, each with a stable id. So a retry announces nothing twice and
a late event still announces its own transition, once.

A POST carries up to 1,000 updates, and Meta wants an answer in 250 ms: the events of a batch are
grouped, so each facet log is read and written once per batch (not once per event), each number is
looked up once, and the independent writes (service windows, announcements) run side by side.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from numberguard.config import Settings
from numberguard.domain import events as ev
from numberguard.domain.changes import Change, quality_reading
from numberguard.domain.check import RecipientView, ReleaseRequest
from numberguard.domain.evaluation import FLAG_OUTCOME_AFTER
from numberguard.domain.facetlog import entry_key, restriction_kinds, run_start, touched
from numberguard.domain.number import NumberState
from numberguard.domain.records import WabaFacets
from numberguard.domain.tiers import MessagingLimit, Policy
from numberguard.domain.window import DAY_SECONDS
from numberguard.observability import logger
from numberguard.store.dynamo import refused_for_good
from numberguard.usecases.facets import Facets, change_of
from numberguard.usecases.limit_check import LimitChecker
from numberguard.usecases.pairrate import PairStrikes
from numberguard.usecases.people import People, Shown
from numberguard.usecases.refusals import Refusals
from numberguard.usecases.templates import TemplateIntake

FREE_ENTRY_WINDOW = 3 * DAY_SECONDS  # click-to-WhatsApp ads and other free entry points
PARALLEL_WRITES = 16  # independent conditional writes in flight at once (windows, announcements)
WINDOWS_PER_CALL = 100  # service windows read (BatchGetItem) and written (a transaction) per call
# Events whose time orders what is stored (facet logs, watermarks): without a time of their own they
# take their first arrival's. The others (logged, counted) keep this delivery's arrival.
ORDERED_BY_TIME = (ev.QualityUpdate, ev.CapabilityUpdate, ev.AccountBan, ev.AccountRestriction,
                   ev.AccountNotice, ev.AccountAlert, ev.SendErrors)
ARRIVAL_NOTE = "(time of arrival: Meta sent no time)"


@dataclass(frozen=True)
class Refusal:
    """An update the store refused for good (a retry cannot fix it): recorded, the rest applied."""

    update: str  # the event's kind
    dedup_key: str
    code: str  # DynamoDB's error code
    message: str


@dataclass
class IntakeSummary:
    counts: Counter = field(default_factory=Counter)
    changes: list[Change] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"counts": {k: v for k, v in sorted(self.counts.items()) if v}, "changes": len(self.changes)}

    def merge(self, other: IntakeSummary) -> None:
        self.counts.update(other.counts)
        self.changes.extend(other.changes)
        self.refused.extend(other.refused)

    def refuse(self, event: ev.Event, err: BaseException) -> None:
        self.counts["refused_by_store"] += 1
        self.refused.append(Refusal(type(event).__name__, event.dedup_key,
                                    refused_for_good(err) or type(err).__name__, str(err)[:300]))


def labelled_key(event: ev.Event, label: str) -> str:
    """The facet-log key of an event: time-ordered, stable across deliveries, naming what reported it.

    The label makes the reason of a change a property of the entry, so a transition announced in a
    later batch (a late event arrived before it) gives the same reason as in time-order delivery;
    an event timed by its arrival says so in that reason (and so in the history).
    """
    note = f"#{ARRIVAL_NOTE}" if event.arrival else ""
    return f"{entry_key(event.at, event.dedup_key)}#{label}{note}"


def reason_of(key: str, default: str) -> str:
    parts = key.split("#", 2)
    return parts[2].replace("#", " ") if len(parts) == 3 and parts[2] else default


class Intake:
    def __init__(self, facets: Facets, checker: LimitChecker, settings: Settings, people: People | None = None,
                 templates: TemplateIntake | None = None, pairs: PairStrikes | None = None,
                 refusals: Refusals | None = None):
        self.facets = facets
        self.stores = facets.stores
        self.checker = checker
        self.people = people  # links and system changes of recipients (None: ids are never linked)
        self.policy = settings.policy
        self.clock = facets.clock
        self.templates = templates or TemplateIntake(facets.stores, facets.publisher, facets.clock)
        self.pairs = pairs  # Meta's 131056 refusals → the pair's backoff (None: not recorded)
        self.refusals = refusals  # what Meta's refusals teach (None: codes are only counted)

    def apply(self, events: Iterable[ev.Event]) -> IntakeSummary:
        summary = IntakeSummary()
        events = self._first_arrivals(list(events))
        kinds: dict[type, list] = defaultdict(list)
        seen: set[tuple[str, str]] = set()
        for event in events:
            identity = (type(event).__name__, event.dedup_key)
            if identity in seen:  # the same event twice in one batch: once is enough
                summary.counts["duplicate_in_batch"] += 1
                continue
            seen.add(identity)
            kinds[type(event)].append(event)
        for kind, handler in self._handlers():
            if kinds.get(kind):
                self._apply_group(handler, kinds.pop(kind), summary)
        for leftover in kinds.values():
            summary.counts["ignored"] += len(leftover)
        return summary

    def _apply_group(self, handler: Callable[[list, IntakeSummary], None], events: list,
                     summary: IntakeSummary) -> None:
        """One kind's events together; a write the store refuses for good is one update's, not the body's.

        Transient failures propagate (the body answers 503, Meta retries). A refusal a retry can never
        fix (a key or item DynamoDB will not hold) sends each event of the group through alone (every
        write is idempotent), so only the updates refused are recorded and every other is applied.
        """
        if self._attempt(handler, events, summary) is None:
            return
        for event in events:
            refusal = self._attempt(handler, [event], summary)
            if refusal is not None:
                summary.refuse(event, refusal)

    @staticmethod
    def _attempt(handler: Callable[[list, IntakeSummary], None], events: list,
                 summary: IntakeSummary) -> BaseException | None:
        part = IntakeSummary()
        try:
            handler(events, part)
        except Exception as err:
            if refused_for_good(err) is None:
                raise
            return err
        summary.merge(part)
        return None

    def _first_arrivals(self, events: list[ev.Event]) -> list[ev.Event]:
        """Events Meta sent without a time, timed by their first arrival (a redelivery finds it by its dedup key)."""
        wanted = sorted({e.dedup_key for e in events if e.arrival and isinstance(e, ORDERED_BY_TIME)})
        if not wanted:
            return events
        now = int(self.clock())
        first = dict(zip(wanted, self._parallel(lambda key: self.stores.arrivals.first_arrival(key, now), wanted),
                         strict=True))
        return [dataclasses.replace(e, at=first[e.dedup_key]) if e.arrival and e.dedup_key in first else e
                for e in events]

    def _handlers(self) -> list[tuple[type, Callable[[list, IntakeSummary], None]]]:
        return [
            (ev.QualityUpdate, self._quality_updates),
            (ev.CapabilityUpdate, self._capability_updates),
            (ev.AccountBan, self._bans),
            (ev.AccountRestriction, self._restrictions),
            (ev.AccountNotice, self._notices),
            (ev.AccountAlert, self._alerts),
            (ev.TemplateQuality, self._template_quality),
            (ev.TemplateStatusUpdate, self._template_status),
            (ev.NameUpdate, self._name_updates),
            (ev.InboundMessage, self._inbound),
            (ev.MessageStatus, self._statuses),
            (ev.IdentityChange, self._identity_changes),
            (ev.SendErrors, self._send_errors),
            (ev.Unrecognised, self._unrecognised),
        ]

    # ---- phone_number_quality_update --------------------------------------------------------

    def _quality_updates(self, events: list[ev.QualityUpdate], summary: IntakeSummary) -> None:
        by_display: dict[tuple[str, str], list[ev.QualityUpdate]] = defaultdict(list)
        for event in events:
            by_display[(event.waba_id, event.display_phone_number)].append(event)
        for (waba, display), group in by_display.items():
            found = self.stores.numbers.by_display(waba, display)
            if found is None:
                for event in group:
                    self.stores.wabas.keep_pending(waba, display, event.dedup_key, serialise(event), int(self.clock()))
                summary.counts["kept_for_unregistered_number"] += len(group)
                continue
            self.apply_quality(found, group, summary)

    def apply_quality(self, found: NumberState, group: list[ev.QualityUpdate], summary: IntakeSummary) -> None:
        """One number's quality updates of a batch (or those kept until it was registered)."""
        pnid = found.phone_number_id
        number = self.stores.numbers.get(pnid) or found  # the index may lag: use the item itself
        qualities, flags, limits = [], [], []
        for event in group:
            quality, flag, limit = quality_reading(event, self.policy)
            key = labelled_key(event, f"phone_number_quality_update#{event.event.upper()}")
            if quality is not None:
                qualities.append((key, quality))
            if flag is not None:
                flags.append((key, flag))
            if limit is not None:
                limits.append((key, limit))
            summary.counts[f"quality_update_{event.event.lower()}"] += 1
        changes: list[Change] = []
        if qualities:
            moves, value, at, entries = self.facets.log_all(pnid, "quality", qualities,
                                                            lambda: number.quality.value)
            moves = touched(moves, entries, {k for k, _ in qualities})
            self.stores.numbers.set_facet(pnid, "quality", {"quality": value}, (), at)
            changes += [change_of(pnid, "QUALITY_CHANGED", t, reason_of(t.key, "phone_number_quality_update"),
                                  "WARNING" if t.after == "RED" else "INFO") for t in moves]
        if flags:
            moves, value, at, entries = self.facets.log_all(
                pnid, "flag", flags, lambda: "FLAGGED" if number.flagged_at else "CONNECTED")
            moves = touched(moves, entries, {k for k, _ in flags})
            flagged_at = run_start(entries, "FLAGGED") if value == "FLAGGED" else None
            if value == "FLAGGED" and flagged_at is None:
                flagged_at = number.flagged_at  # flagged before the log began
            if flagged_at is None:
                self.stores.numbers.set_facet(pnid, "flag", {}, ("flagged_at",), at)
            else:
                self.stores.numbers.set_facet(pnid, "flag", {"flagged_at": flagged_at}, (), at)
                # The evaluator decides the outcome on day 7.
                self.stores.numbers.want_attention(pnid, flagged_at + FLAG_OUTCOME_AFTER)
            changes += [change_of(pnid, "STATUS_CHANGED", t, reason_of(t.key, "phone_number_quality_update"),
                                  "WARNING" if t.after == "FLAGGED" else "INFO") for t in moves]
        if limits:
            changes += self.facets.limits(number, limits, lambda k: reason_of(k, "phone_number_quality_update"),
                                          summary.counts, only_touched=True)
        self._announce([(changes, number)], summary)

    # ---- business_capability_update ---------------------------------------------------------

    def _capability_updates(self, events: list[ev.CapabilityUpdate], summary: IntakeSummary) -> None:
        by_waba: dict[str, list[tuple[str, MessagingLimit]]] = defaultdict(list)
        for event in events:
            limit = event.portfolio_limit if self.policy is Policy.PORTFOLIO else event.per_phone_limit
            if limit is None:
                summary.counts["capability_without_limit_for_policy"] += 1
                continue
            by_waba[event.waba_id].append((labelled_key(event, "business_capability_update"), limit))
        for waba, pairs in by_waba.items():
            numbers = self.stores.numbers.of_waba(waba)
            if not numbers:
                summary.counts["capability_for_unregistered_waba"] += len(pairs)
                continue
            by_scope: dict[str, list[NumberState]] = defaultdict(list)
            for number in numbers:
                by_scope[number.scope].append(number)
            batches = []
            for members in by_scope.values():
                changes = self.facets.limits(members[0], pairs, lambda k: reason_of(k, "business_capability_update"),
                                             summary.counts, only_touched=True)
                # Every number sharing the scope (a portfolio) hears of its limit.
                for number in members:
                    pnid = number.phone_number_id
                    batches.append(([dataclasses.replace(c, phone_number_id=pnid) for c in changes], number))
            self._announce(batches, summary)

    # ---- account_update (WABA-wide; kept on the WABA item for numbers registered later) -------

    def _bans(self, events: list[ev.AccountBan], summary: IntakeSummary) -> None:
        by_waba: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for event in events:
            summary.counts[f"ban_{event.state.lower()}"] += 1
            if event.state not in ("DISABLE", "REINSTATE"):
                # SCHEDULE_FOR_DISABLE: remembered on the WABA; sending is not stopped yet.
                self.stores.wabas.set_waba_facets(event.waba_id, "ban_notice",
                                           {"ban_notice": event.state, "ban_date": event.ban_date or ""}, event.at)
                continue
            key = labelled_key(event, f"account_update#DISABLED_UPDATE#{event.state}")
            by_waba[event.waba_id].append((key, "BANNED" if event.state == "DISABLE" else "ACTIVE"))
            if event.state == "REINSTATE" and self.refusals is not None:  # Meta's word lifts a refusal block too
                summary.changes.extend(self.refusals.reinstated(event.waba_id, key, summary.counts))
        for waba, pairs in by_waba.items():
            moves, value, at, entries = self.facets.log_all(waba, "ban", pairs, lambda: "ACTIVE")
            moves = touched(moves, entries, {k for k, _ in pairs})
            self.stores.wabas.set_waba_facets(waba, "ban", {"banned": value == "BANNED"}, at)
            batches = []
            for number in self.stores.numbers.of_waba(waba):
                pnid = number.phone_number_id
                self.stores.numbers.set_facet(pnid, "ban", {"banned": value == "BANNED"}, (), at)
                changes = [
                    dataclasses.replace(
                        change_of(pnid, "STATUS_CHANGED", t, reason_of(t.key, "account_update DISABLED_UPDATE"),
                                  "CRITICAL" if t.after == "BANNED" else "INFO"),
                        before="BANNED" if t.before == "BANNED" else "CONNECTED",
                        after="BANNED" if t.after == "BANNED" else "CONNECTED",
                    )
                    for t in moves
                ]
                batches.append((changes, number))
            self._announce(batches, summary)

    def _restrictions(self, events: list[ev.AccountRestriction], summary: IntakeSummary) -> None:
        by_waba: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for event in events:
            key = labelled_key(event, "account_update#ACCOUNT_RESTRICTION")
            by_waba[event.waba_id].append((key, json.dumps(dict(sorted(event.restrictions.items())))))
            summary.counts["account_restriction"] += 1
        for waba, pairs in by_waba.items():
            moves, latest_value, at, entries = self.facets.log_all(waba, "restrictions", pairs, lambda: "{}")
            moves = touched(moves, entries, {k for k, _ in pairs})
            restrictions = json.loads(latest_value or "{}")
            self.stores.wabas.set_waba_facets(waba, "restrictions", {"restrictions": restrictions}, at)
            batches = []
            for number in self.stores.numbers.of_waba(waba):
                pnid = number.phone_number_id
                self.stores.numbers.set_facet(pnid, "restrictions", {"restrictions": restrictions}, (), at)
                if restrictions:  # lifted by the evaluator at expiry
                    self.stores.numbers.want_attention(pnid, min(restrictions.values()))
                changes = [
                    dataclasses.replace(
                        change_of(pnid, "ACCOUNT_RESTRICTED", t, reason_of(t.key, "account_update ACCOUNT_RESTRICTION"),
                                  "CRITICAL"),
                        before=restriction_kinds(t.before), after=restriction_kinds(t.after),
                    )
                    for t in moves
                ]
                batches.append((changes, number))
            self._announce(batches, summary)

    def _notices(self, events: list[ev.AccountNotice], summary: IntakeSummary) -> None:
        for event in _latest_per_waba(events):
            self.stores.wabas.set_waba_facets(event.waba_id, "notice", {"last_notice": event.event}, event.at)
        for event in events:
            summary.counts[f"account_{event.event.lower()}"] += 1
            logger.info("account notice", extra={"waba_id": event.waba_id, "event": event.event,
                                                  "detail": dict(event.detail)})

    def _alerts(self, events: list[ev.AccountAlert], summary: IntakeSummary) -> None:
        for event in _latest_per_waba(events):
            self.stores.wabas.set_waba_facets(event.waba_id, "alert", {"last_alert": event.alert_type or "",
                                       "last_alert_severity": event.severity or ""}, event.at)
        summary.counts["account_alert"] += len(events)

    def _template_quality(self, events: list[ev.TemplateQuality], summary: IntakeSummary) -> None:
        summary.changes.extend(self.templates.quality_updates(events, summary.counts))

    def _template_status(self, events: list[ev.TemplateStatusUpdate], summary: IntakeSummary) -> None:
        summary.changes.extend(self.templates.status_updates(events, summary.counts))

    def _name_updates(self, events: list[ev.NameUpdate], summary: IntakeSummary) -> None:
        for event in events:
            logger.info("display name decision", extra={"display": event.display_phone_number,
                                                         "decision": event.decision})
        summary.counts["name_update"] += len(events)

    # ---- messages ---------------------------------------------------------------------------

    def _inbound(self, events: list[ev.InboundMessage], summary: IntakeSummary) -> None:
        # One write per (number, user): the message of the batch that opens it furthest sets the window,
        # under its time (a message from before a `system` change opens none under the ids it retired).
        until: dict[tuple[str, str], tuple[int, int]] = {}
        for event in events:
            span = FREE_ENTRY_WINDOW if event.free_entry_point else DAY_SECONDS
            for user in event.ids:  # the window opens under every id the message carries
                pair = (event.phone_number_id, user)
                until[pair] = max(until.get(pair, (0, 0)), (event.at + span, event.at))
        now = int(self.clock())
        windows = [(pnid, sender, end, at) for (pnid, sender), (end, at) in until.items()]
        # One read per 100 windows, then one transaction per 100 that grow; chunks side by side.
        chunks = [windows[i:i + WINDOWS_PER_CALL] for i in range(0, len(windows), WINDOWS_PER_CALL)]
        opened = [grew for part in self._parallel(lambda chunk: self.stores.windows.open_windows(chunk, now), chunks)
                  for grew in part]
        summary.counts["window_opened"] += sum(opened)
        summary.counts["window_unchanged"] += sum(len(e.ids) for e in events) - sum(opened)
        self._link(events, summary)

    def _link(self, events: list[ev.InboundMessage] | list[ev.MessageStatus], summary: IntakeSummary) -> None:
        """Ids Meta showed together for one user become one person (DESIGN §4)."""
        shown = [Shown(e.phone_number_id, e.waba_id, e.linked, e.at) for e in events if e.linked]
        if shown and self.people is not None:
            self.people.link(shown, summary.counts)

    def _identity_changes(self, events: list[ev.IdentityChange], summary: IntakeSummary) -> None:
        if self.people is None:
            summary.counts["ignored"] += len(events)
            return
        self.people.change(events, summary.counts)

    def _statuses(self, events: list[ev.MessageStatus], summary: IntakeSummary) -> None:
        refused = [e for e in events if e.status.lower() == "failed" and e.reference
                   and {132015, 132016} & set(e.error_codes)]
        if refused:  # before the releases: the counted record names the template its check named
            summary.changes.extend(self.templates.refused_sends(refused, self._counted_record, summary.counts))
        releases: dict[str, list[ev.MessageStatus]] = defaultdict(list)
        for event in events:
            summary.counts[f"status_{event.status.lower()}"] += 1
            for code in event.error_codes:
                summary.counts[f"error_{code}"] += 1
            if event.unreadable_codes:
                summary.counts["error_unreadable"] += event.unreadable_codes
            if event.status.lower() == "failed" and event.reference:
                releases[event.phone_number_id].append(event)
        now = int(self.clock())

        def release_all(group: list[ev.MessageStatus]) -> list[str]:
            # One number's releases one after another (they share its counter item); numbers side by side.
            return [self.checker.release(ReleaseRequest(e.phone_number_id, e.recipient, e.reference or ""),
                                         now)["decision"] for e in group]

        for decisions in self._parallel(release_all, list(releases.values())):
            for decision in decisions:
                summary.counts["slot_released" if decision == "RELEASED" else "slot_not_released"] += 1
        self._link(events, summary)
        if self.pairs is not None:  # after the links: the pair is the person's, under its key
            self.pairs.apply(events, summary.counts)
        if self.refusals is not None:  # after the links: a cooldown is kept under the person's key
            summary.changes.extend(self.refusals.statuses(events, summary.counts))

    def _counted_record(self, phone_number_id: str, recipient: str) -> RecipientView | None:
        number = self.checker.store.get_number(phone_number_id)
        if number is None:
            return None
        return self.checker.store.read(phone_number_id, number.scope, [recipient]).records.get(recipient)

    def _send_errors(self, events: list[ev.SendErrors], summary: IntakeSummary) -> None:
        by_number: dict[str, Counter] = defaultdict(Counter)
        for event in events:
            by_number[event.phone_number_id].update(event.error_codes)
            if event.unreadable_codes:
                summary.counts["error_unreadable"] += event.unreadable_codes
        for pnid, codes in by_number.items():
            for code, count in codes.items():
                summary.counts[f"error_{code}"] += count
            logger.warning("send errors reported", extra={"phone_number_id": pnid, "codes": dict(codes)})
        if self.refusals is not None:
            summary.changes.extend(self.refusals.send_errors(events, summary.counts))

    def _unrecognised(self, events: list[ev.Unrecognised], summary: IntakeSummary) -> None:
        reasons = Counter((e.field_name, e.reason) for e in events)
        summary.counts["unrecognised"] += len(events)
        for (field_name, reason), count in reasons.items():
            logger.warning("unrecognised webhook content (kept in the archive)",
                           extra={"field": field_name, "reason": reason, "count": count})

    # ---- registration: what was kept for a number before it was known ----------------------------

    def adopt(self, number: NumberState, kept: list[dict]) -> IntakeSummary:
        """Apply, to a number just registered, the WABA-wide facets and the quality updates kept for it."""
        summary = IntakeSummary()
        pnid = number.phone_number_id
        waba = self.stores.wabas.get(number.waba_id) or WabaFacets()
        if waba.ban_at is not None:
            self.stores.numbers.set_facet(pnid, "ban", {"banned": waba.banned}, (), waba.ban_at)
            summary.counts["ban_inherited"] += 1
        if waba.restrictions_at is not None:
            restrictions = dict(waba.restrictions)
            self.stores.numbers.set_facet(pnid, "restrictions", {"restrictions": restrictions}, (),
                                          waba.restrictions_at)
            if restrictions:
                self.stores.numbers.want_attention(pnid, min(restrictions.values()))
            summary.counts["restrictions_inherited"] += 1
        if self.refusals is not None:
            self.refusals.adopt(number, summary.counts)
        events = [e for e in (deserialise(k) for k in kept) if isinstance(e, ev.QualityUpdate)]
        if events:
            self.apply_quality(number, events, summary)
        return summary

    # ---- helpers ------------------------------------------------------------------------------

    def _announce(self, batches: list[tuple[list[Change], NumberState]], summary: IntakeSummary) -> None:
        """Record and publish each number's changes; independent numbers side by side."""
        work = [(change, number) for changes, number in batches for change in changes]
        if not work:
            return

        def one(item: tuple[Change, NumberState]) -> tuple[list[Change], Counter]:
            counts: Counter = Counter()
            return self.facets.announce([item[0]], item[1], counts), counts

        for announced, counts in self._parallel(one, work):
            summary.changes.extend(announced)
            summary.counts.update(counts)

    @staticmethod
    def _parallel(fn, items: list) -> list:
        if len(items) <= 1 or PARALLEL_WRITES <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(PARALLEL_WRITES, len(items))) as pool:
            return list(pool.map(fn, items))


def _latest_per_waba(events: list) -> list:
    latest: dict[str, ev.Event] = {}
    for event in events:
        if event.waba_id not in latest or (event.at, event.dedup_key) > (latest[event.waba_id].at,
                                                                          latest[event.waba_id].dedup_key):
            latest[event.waba_id] = event
    return list(latest.values())


def serialise(event: ev.Event) -> dict:
    data = dataclasses.asdict(event)
    data["__type__"] = type(event).__name__
    return data


def deserialise(data: dict) -> ev.Event | None:
    """A kept event back (see serialise); None for a kind this version does not keep."""
    data = dict(data)
    kind = getattr(ev, str(data.pop("__type__", "")), None)
    if kind is not ev.QualityUpdate:
        return None
    for name in ("current_limit", "old_limit", "portfolio_limit"):
        if isinstance(data.get(name), dict):
            data[name] = MessagingLimit(**data[name])
    return ev.QualityUpdate(**data)
