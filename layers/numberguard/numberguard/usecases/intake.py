"""Applies Meta's webhook events: idempotent, in event-time order, every change recorded and announced.

Facets that Meta reports (quality, Flagged, limit, ban, restrictions) go through a facet log
(domain/facetlog.py): the value written is the latest event's, and the changes announced are the
transitions of the log in time order, each with a stable id. So a retry announces nothing twice and
a late event still announces its own transition, once.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from numberguard.config import Settings
from numberguard.domain import events as ev
from numberguard.domain.changes import Change, limit_text, quality_reading
from numberguard.domain.check import ReleaseRequest
from numberguard.domain.facetlog import Transition, entry_key, insert, latest, run_start, transitions
from numberguard.domain.tiers import MessagingLimit, Policy, parse_limit
from numberguard.domain.window import DAY_SECONDS
from numberguard.notify.messages import notification_for
from numberguard.notify.publisher import Publisher
from numberguard.observability import logger
from numberguard.store import codec
from numberguard.store.state import FacetLogStore, LogConflict, StateStore
from numberguard.usecases.limit_check import LimitChecker

FREE_ENTRY_WINDOW = 3 * DAY_SECONDS  # click-to-WhatsApp ads and other free entry points
LOG_RETRIES = 16


@dataclass
class IntakeSummary:
    counts: Counter = field(default_factory=Counter)
    changes: list[Change] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"counts": dict(sorted(self.counts.items())), "changes": len(self.changes)}


class Intake:
    def __init__(self, state: StateStore, logs: FacetLogStore, checker: LimitChecker, publisher: Publisher,
                 settings: Settings, clock: Callable[[], float]):
        self.state = state
        self.logs = logs
        self.checker = checker
        self.publisher = publisher
        self.policy = settings.policy
        self.clock = clock

    def apply(self, events: Iterable[ev.Event]) -> IntakeSummary:
        summary = IntakeSummary()
        for event in events:
            handler = getattr(self, f"_on_{type(event).__name__}", None)
            if handler is None:
                summary.counts["ignored"] += 1
                continue
            handler(event, summary)
        return summary

    # ---- the facet log ----------------------------------------------------------------------

    def _log(self, subject: str, facet: str, key: str, value: str, initial: Callable[[], str | None]):
        """Add one entry to a facet log → (all transitions, latest value, latest time, entries)."""
        for _ in range(LOG_RETRIES):
            log = self.logs.read(subject, facet)
            first = initial() if log.version == 0 else log.initial
            entries, changed = insert(log.entries, key, value)
            if changed:
                try:
                    self.logs.write(log, entries, first)
                except LogConflict:
                    continue
            value_now, at_now = latest(entries, first)
            return transitions(entries, first), value_now, at_now, entries
        raise LogConflict(f"{subject}/{facet} stayed contended")

    # ---- management fields ------------------------------------------------------------------

    def _on_QualityUpdate(self, event: ev.QualityUpdate, summary: IntakeSummary) -> None:
        found = self.state.number_by_display(event.waba_id, event.display_phone_number)
        if found is None:
            self.state.keep_pending(event.waba_id, event.display_phone_number, event.dedup_key,
                                    _serialise(event), int(self.clock()))
            summary.counts["kept_for_unregistered_number"] += 1
            return
        pnid = codec.s(found, "pk")
        number = self.state.get_number_item(pnid) or found  # the index may lag: use the item itself
        quality, flag, limit = quality_reading(event, self.policy)
        key = entry_key(event.at, event.dedup_key)
        reason = f"phone_number_quality_update {event.event.upper()}"
        changes: list[Change] = []
        if quality is not None:
            moves, value, at, _ = self._log(pnid, "quality", key, quality,
                                            lambda: codec.s(number, "quality", "UNKNOWN"))
            self.state.set_facet(pnid, "quality", {"quality": value}, (), at)
            changes += [_change(pnid, "QUALITY_CHANGED", t, reason, "WARNING" if t.after == "RED" else "INFO")
                        for t in moves]
        if flag is not None:
            moves, value, at, entries = self._log(
                pnid, "flag", key, flag, lambda: "FLAGGED" if codec.n(number, "flagged_at") else "CONNECTED")
            flagged_at = run_start(entries, "FLAGGED") if value == "FLAGGED" else None
            if value == "FLAGGED" and flagged_at is None:
                flagged_at = codec.n(number, "flagged_at")  # flagged before the log began
            if flagged_at is None:
                self.state.set_facet(pnid, "flag", {}, ("flagged_at",), at)
            else:
                self.state.set_facet(pnid, "flag", {"flagged_at": flagged_at}, (), at)
            changes += [_change(pnid, "STATUS_CHANGED", t, reason, "WARNING" if t.after == "FLAGGED" else "INFO")
                        for t in moves]
        if limit is not None:
            changes += self._limit(number, key, limit, reason, summary)
        summary.counts[f"quality_update_{event.event.lower()}"] += 1
        self._announce(changes, number, summary)

    def _on_CapabilityUpdate(self, event: ev.CapabilityUpdate, summary: IntakeSummary) -> None:
        limit = event.portfolio_limit if self.policy is Policy.PORTFOLIO else event.per_phone_limit
        if limit is None:
            summary.counts["capability_without_limit_for_policy"] += 1
            return
        key = entry_key(event.at, event.dedup_key)
        scopes: set[str] = set()
        for number in self.state.numbers_of_waba(event.waba_id):
            scope = codec.s(number, "scope")
            if scope in scopes:
                continue
            scopes.add(scope)
            self._announce(self._limit(number, key, limit, "business_capability_update", summary), number, summary)
        if not scopes:
            summary.counts["capability_for_unregistered_waba"] += 1

    def _on_AccountBan(self, event: ev.AccountBan, summary: IntakeSummary) -> None:
        state = event.state.upper()
        summary.counts[f"ban_{state.lower()}"] += 1
        if state not in ("DISABLE", "REINSTATE"):
            # SCHEDULE_FOR_DISABLE and others: remembered on the WABA; sending is not stopped yet.
            self.state.set_waba_facets(event.waba_id, "ban_notice",
                                       {"ban_notice": state, "ban_date": event.ban_date or ""}, event.at)
            return
        key = entry_key(event.at, event.dedup_key)
        moves, value, at, _ = self._log(event.waba_id, "ban", key, "BANNED" if state == "DISABLE" else "ACTIVE",
                                        lambda: "ACTIVE")
        self.state.set_waba_facets(event.waba_id, "ban", {"banned": value == "BANNED"}, at)
        for number in self.state.numbers_of_waba(event.waba_id):
            pnid = codec.s(number, "pk")
            self.state.set_facet(pnid, "ban", {"banned": value == "BANNED"}, (), at)
            changes = [
                dataclasses.replace(
                    _change(pnid, "STATUS_CHANGED", t, f"account_update DISABLED_UPDATE {state}",
                            "CRITICAL" if t.after == "BANNED" else "INFO"),
                    before="BANNED" if t.before == "BANNED" else "CONNECTED",
                    after="BANNED" if t.after == "BANNED" else "CONNECTED",
                )
                for t in moves
            ]
            self._announce(changes, number, summary)

    def _on_AccountRestriction(self, event: ev.AccountRestriction, summary: IntakeSummary) -> None:
        key = entry_key(event.at, event.dedup_key)
        value = json.dumps(dict(sorted(event.restrictions.items())))
        moves, latest_value, at, _ = self._log(event.waba_id, "restrictions", key, value, lambda: "{}")
        restrictions = json.loads(latest_value or "{}")
        self.state.set_waba_facets(event.waba_id, "restrictions", {"restrictions": restrictions}, at)
        summary.counts["account_restriction"] += 1
        for number in self.state.numbers_of_waba(event.waba_id):
            pnid = codec.s(number, "pk")
            self.state.set_facet(pnid, "restrictions", {"restrictions": restrictions}, (), at)
            changes = [
                dataclasses.replace(
                    _change(pnid, "ACCOUNT_RESTRICTED", t, "account_update ACCOUNT_RESTRICTION", "CRITICAL"),
                    before=_kinds(t.before), after=_kinds(t.after),
                )
                for t in moves
            ]
            self._announce(changes, number, summary)

    def _on_AccountNotice(self, event: ev.AccountNotice, summary: IntakeSummary) -> None:
        self.state.set_waba_facets(event.waba_id, "notice", {"last_notice": event.event}, event.at)
        summary.counts[f"account_{event.event.lower()}"] += 1

    def _on_AccountAlert(self, event: ev.AccountAlert, summary: IntakeSummary) -> None:
        self.state.set_waba_facets(event.waba_id, "alert", {"last_alert": event.alert_type or "",
                                   "last_alert_severity": event.severity or ""}, event.at)
        summary.counts["account_alert"] += 1

    def _on_TemplateQuality(self, event: ev.TemplateQuality, summary: IntakeSummary) -> None:
        logger.info("template quality", extra={"template": event.template_name, "from": event.previous,
                                                "to": event.new, "waba_id": event.waba_id})
        summary.counts["template_quality"] += 1

    def _on_NameUpdate(self, event: ev.NameUpdate, summary: IntakeSummary) -> None:
        logger.info("display name decision", extra={"display": event.display_phone_number,
                                                     "decision": event.decision})
        summary.counts["name_update"] += 1

    # ---- messages ---------------------------------------------------------------------------

    def _on_InboundMessage(self, event: ev.InboundMessage, summary: IntakeSummary) -> None:
        span = FREE_ENTRY_WINDOW if event.free_entry_point else DAY_SECONDS
        opened = self.state.open_window(event.phone_number_id, event.sender, event.at + span, int(self.clock()))
        summary.counts["window_opened" if opened else "window_unchanged"] += 1

    def _on_MessageStatus(self, event: ev.MessageStatus, summary: IntakeSummary) -> None:
        summary.counts[f"status_{event.status.lower()}"] += 1
        if event.status.lower() != "failed" or not event.reference:
            return
        answer = self.checker.release(
            ReleaseRequest(event.phone_number_id, event.recipient, event.reference), int(self.clock())
        )
        summary.counts["slot_released" if answer["decision"] == "RELEASED" else "slot_not_released"] += 1

    def _on_SendErrors(self, event: ev.SendErrors, summary: IntakeSummary) -> None:
        for code in event.error_codes:
            summary.counts[f"error_{code}"] += 1
        logger.warning("send errors reported", extra={"phone_number_id": event.phone_number_id,
                                                       "codes": list(event.error_codes)})

    def _on_Unrecognised(self, event: ev.Unrecognised, summary: IntakeSummary) -> None:
        summary.counts["unrecognised"] += 1
        logger.warning("unrecognised webhook content", extra={"field": event.field_name, "reason": event.reason,
                                                               "waba_id": event.waba_id})

    # ---- helpers ----------------------------------------------------------------------------

    def _limit(self, number: dict, key: str, limit: MessagingLimit, reason: str,
               summary: IntakeSummary) -> list[Change]:
        """Meta's reported limit always wins: logged on the scope, applied to the counter."""
        scope = codec.s(number, "scope")
        pnid = codec.s(number, "pk")

        def current() -> str | None:
            item = self.state.get_limit_item(scope)
            return codec.s(item, "tier") if item else None

        moves, tier, at, _ = self._log(scope, "limit", key, limit.tier, current)
        applied = parse_limit(tier)
        if applied is not None:
            done = self.state.set_limit(scope, applied, at)
            summary.counts["limit_applied" if done.applied else "limit_stale"] += 1
        changes = []
        for t in moves:
            before, after = parse_limit(t.before) if t.before else None, parse_limit(t.after)
            lower = before is not None and after is not None and after.limit is not None and (
                before.limit is None or after.limit < before.limit)
            changes.append(dataclasses.replace(
                _change(pnid, "LIMIT_CHANGED", t, reason, "WARNING" if lower else "INFO"),
                before=limit_text(before), after=limit_text(after), scope=scope,
            ))
        return changes

    def _announce(self, changes: list[Change], number: dict, summary: IntakeSummary) -> None:
        info = {k: codec.s(number, k) for k in ("display_phone_number", "waba_id", "scope")}
        now = int(self.clock())
        for change in changes:
            notification = notification_for(change, info)
            if not self.state.record_change(change, notification.document, now):
                summary.counts["change_already_recorded"] += 1
                continue
            summary.changes.append(change)
            try:
                self.publisher.publish(notification)
            except Exception:  # the outbox keeps it unpublished; the evaluator publishes it later
                logger.exception("publish failed; kept in the outbox", extra={"notification_id": change.id})
                summary.counts["publish_deferred"] += 1
                continue
            self.state.mark_published(change)


def _change(pnid: str, kind: str, t: Transition, reason: str, severity: str) -> Change:
    return Change(pnid, kind, t.at, t.before, t.after, reason, severity=severity, key=t.key)


def _kinds(value: str | None) -> str | None:
    if value is None:
        return None
    kinds = sorted(json.loads(value))
    return ", ".join(kinds) if kinds else "none"


def _serialise(event: ev.Event) -> dict:
    data = dataclasses.asdict(event)
    data["__type__"] = type(event).__name__
    return data
