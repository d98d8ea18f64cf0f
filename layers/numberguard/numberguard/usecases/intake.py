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
from collections.abc import Iterable
from dataclasses import dataclass, field

from numberguard.config import Settings
from numberguard.domain import events as ev
from numberguard.domain.changes import Change, quality_reading
from numberguard.domain.check import ReleaseRequest
from numberguard.domain.evaluation import FLAG_OUTCOME_AFTER
from numberguard.domain.facetlog import entry_key, run_start
from numberguard.domain.tiers import Policy
from numberguard.domain.window import DAY_SECONDS
from numberguard.observability import logger
from numberguard.store import codec, keys
from numberguard.usecases.facets import Facets, change_of
from numberguard.usecases.limit_check import LimitChecker

FREE_ENTRY_WINDOW = 3 * DAY_SECONDS  # click-to-WhatsApp ads and other free entry points


@dataclass
class IntakeSummary:
    counts: Counter = field(default_factory=Counter)
    changes: list[Change] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"counts": dict(sorted(self.counts.items())), "changes": len(self.changes)}


class Intake:
    def __init__(self, facets: Facets, checker: LimitChecker, settings: Settings):
        self.facets = facets
        self.state = facets.state
        self.checker = checker
        self.policy = settings.policy
        self.clock = facets.clock

    def apply(self, events: Iterable[ev.Event]) -> IntakeSummary:
        summary = IntakeSummary()
        for event in events:
            handler = getattr(self, f"_on_{type(event).__name__}", None)
            if handler is None:
                summary.counts["ignored"] += 1
                continue
            handler(event, summary)
        return summary

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
            moves, value, at, _ = self.facets.log(pnid, "quality", key, quality,
                                            lambda: codec.s(number, "quality", "UNKNOWN"))
            self.state.set_facet(pnid, "quality", {"quality": value}, (), at)
            changes += [change_of(pnid, "QUALITY_CHANGED", t, reason, "WARNING" if t.after == "RED" else "INFO")
                        for t in moves]
        if flag is not None:
            moves, value, at, entries = self.facets.log(
                pnid, "flag", key, flag, lambda: "FLAGGED" if codec.n(number, "flagged_at") else "CONNECTED")
            flagged_at = run_start(entries, "FLAGGED") if value == "FLAGGED" else None
            if value == "FLAGGED" and flagged_at is None:
                flagged_at = codec.n(number, "flagged_at")  # flagged before the log began
            if flagged_at is None:
                self.state.set_facet(pnid, "flag", {}, ("flagged_at",), at)
            else:
                self.state.set_facet(pnid, "flag", {"flagged_at": flagged_at}, (), at)
                # The evaluator decides the outcome on day 7.
                due = flagged_at + FLAG_OUTCOME_AFTER
                self.state.want_attention(self.state.numbers_table, keys.number_key(pnid), due)
            changes += [change_of(pnid, "STATUS_CHANGED", t, reason, "WARNING" if t.after == "FLAGGED" else "INFO")
                        for t in moves]
        if limit is not None:
            changes += self.facets.limit(number, key, limit, reason, summary.counts)
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
            changes = self.facets.limit(number, key, limit, "business_capability_update", summary.counts)
            self._announce(changes, number, summary)
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
        moves, value, at, _ = self.facets.log(event.waba_id, "ban", key, "BANNED" if state == "DISABLE" else "ACTIVE",
                                        lambda: "ACTIVE")
        self.state.set_waba_facets(event.waba_id, "ban", {"banned": value == "BANNED"}, at)
        for number in self.state.numbers_of_waba(event.waba_id):
            pnid = codec.s(number, "pk")
            self.state.set_facet(pnid, "ban", {"banned": value == "BANNED"}, (), at)
            changes = [
                dataclasses.replace(
                    change_of(pnid, "STATUS_CHANGED", t, f"account_update DISABLED_UPDATE {state}",
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
        moves, latest_value, at, _ = self.facets.log(event.waba_id, "restrictions", key, value, lambda: "{}")
        restrictions = json.loads(latest_value or "{}")
        self.state.set_waba_facets(event.waba_id, "restrictions", {"restrictions": restrictions}, at)
        summary.counts["account_restriction"] += 1
        for number in self.state.numbers_of_waba(event.waba_id):
            pnid = codec.s(number, "pk")
            self.state.set_facet(pnid, "restrictions", {"restrictions": restrictions}, (), at)
            if restrictions:  # lifted by the evaluator at expiry
                self.state.want_attention(self.state.numbers_table, keys.number_key(pnid), min(restrictions.values()))
            changes = [
                dataclasses.replace(
                    change_of(pnid, "ACCOUNT_RESTRICTED", t, "account_update ACCOUNT_RESTRICTION", "CRITICAL"),
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

    def _announce(self, changes: list[Change], number: dict, summary: IntakeSummary) -> None:
        summary.changes.extend(self.facets.announce(changes, number, summary.counts))

    def _on_Unrecognised(self, event: ev.Unrecognised, summary: IntakeSummary) -> None:
        summary.counts["unrecognised"] += 1
        logger.warning("unrecognised webhook content", extra={"field": event.field_name, "reason": event.reason,
                                                               "waba_id": event.waba_id})



def _kinds(value: str | None) -> str | None:
    if value is None:
        return None
    kinds = sorted(json.loads(value))
    return ", ".join(kinds) if kinds else "none"


def _serialise(event: ev.Event) -> dict:
    data = dataclasses.asdict(event)
    data["__type__"] = type(event).__name__
    return data
