"""Facet logs, limits and announcements: the writing side shared by the intake and the evaluator."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable

from numberguard.domain.changes import Change, limit_text
from numberguard.domain.facetlog import Transition, insert, latest, touched, transitions
from numberguard.domain.number import NumberState
from numberguard.domain.tiers import MessagingLimit, parse_limit
from numberguard.domain.window import Window
from numberguard.notify.messages import notification_for
from numberguard.notify.publisher import Notification, Publisher
from numberguard.observability import logger
from numberguard.store.facetlogs import LogConflict
from numberguard.usecases.ports import Stores

LOG_RETRIES = 16


class PublishDeferred(RuntimeError):
    """Raised by a publisher that only keeps changes in the outbox (published later by the evaluator)."""


class KeepInOutbox:
    """No notification topic configured (the CLI without a stack): changes wait in the outbox."""

    def publish(self, notification: Notification) -> None:
        raise PublishDeferred(notification.id)


class Facets:
    def __init__(self, stores: Stores, publisher: Publisher, clock: Callable[[], float], window: Window | None = None):
        self.stores = stores
        self.logs = stores.logs
        self.publisher = publisher
        self.clock = clock
        self.window = window or Window()

    # ---- the facet log ----------------------------------------------------------------------

    def log(self, subject: str, facet: str, key: str, value: str, initial: Callable[[], str | None]):
        """Add one entry to a facet log → (all transitions, latest value, latest time, entries)."""
        return self.log_all(subject, facet, [(key, value)], initial)

    def log_all(self, subject: str, facet: str, pairs: list[tuple[str, str]], initial: Callable[[], str | None]):
        """Add entries to a facet log in one read-modify-write (a webhook batch's events for one facet)."""
        for _ in range(LOG_RETRIES):
            log = self.logs.read(subject, facet)
            first = initial() if log.version == 0 else log.initial
            entries, changed = dict(log.entries), False
            for key, value in pairs:
                entries, added = insert(entries, key, value)
                changed = changed or added
            if changed:
                try:
                    self.logs.write(log, entries, first)
                except LogConflict:
                    continue
            value_now, at_now = latest(entries, first)
            return transitions(entries, first), value_now, at_now, entries
        raise LogConflict(f"{subject}/{facet} stayed contended")

    def limit(self, number: NumberState, key: str, limit: MessagingLimit, reason: str,
              counts: Counter, meta_reported: bool = True) -> list[Change]:
        """Meta's reported limit always wins: logged on the scope, applied to the counter."""
        return self.limits(number, [(key, limit)], lambda _key: reason, counts, meta_reported)

    def limits(self, number: NumberState, pairs: list[tuple[str, MessagingLimit]], reason: Callable[[str], str],
               counts: Counter, meta_reported: bool = True,
               only_touched: bool = False,
               before_apply: Callable[[list[Change]], None] | None = None) -> list[Change]:
        """Several reported limits of one scope in one log write; `reason` names the entry that made a change.

        only_touched: just the changes these entries may have made (facetlog.touched), not the whole log's.
        before_apply: records the changes before the counter takes the limit (the Meta sync's order: a run
        that fails in between finds the difference again and announces it then, never loses it).
        """
        scope, pnid = number.scope, number.phone_number_id

        def current() -> str | None:
            counter = self.stores.scopes.get(scope)
            return counter.tier if counter else None

        all_moves, tier, at, entries = self.log_all(scope, "limit", [(k, lim.tier) for k, lim in pairs], current)
        moves = touched(all_moves, entries, {k for k, _ in pairs}) if only_touched else all_moves
        changes = []
        for t in moves:
            before, after = parse_limit(t.before) if t.before else None, parse_limit(t.after)
            lower = before is not None and after is not None and after.limit is not None and (
                before.limit is None or after.limit < before.limit)
            changes.append(dataclasses.replace(
                change_of(pnid, "LIMIT_CHANGED", t, reason(t.key), "WARNING" if lower else "INFO"),
                before=limit_text(before), after=limit_text(after), scope=scope,
            ))
        if before_apply is not None:
            before_apply(changes)
        applied = parse_limit(tier)
        if applied is not None:
            # A scope lowered from unlimited starts full: it was not counted, and Meta counted it.
            fill = self.window.bucket_of(int(self.clock())) if _from_unlimited(all_moves, tier) else None
            done = self.stores.scopes.set_limit(scope, applied, at, fill_bucket=fill)
            counts["limit_applied" if done.applied else "limit_stale"] += 1
            counts["limit_filled_from_unlimited"] += int(done.filled)
        settles = meta_reported and all_moves and all_moves[-1].key in dict(pairs)
        if settles and number.flagged_at is not None:
            # Meta's word on the limit settles a pending Flagged outcome: the evaluator looks now.
            self.stores.numbers.want_attention(pnid, at)
        return changes

    def announce(self, changes: list[Change], number: NumberState, counts: Counter) -> list[Change]:
        """Record each change in the history and publish it; returns the changes recorded by this call
        (those recorded before, by a retry or another run, are left out)."""
        info = {"display_phone_number": number.display_phone_number, "waba_id": number.waba_id,
                "scope": number.scope}
        now = int(self.clock())
        announced: list[Change] = []
        for change in changes:
            notification = notification_for(change, info)
            if not self.stores.history.record_change(change, notification.document, now):
                counts["change_already_recorded"] += 1
                continue
            announced.append(change)
            try:
                self.publisher.publish(notification)
            except PublishDeferred:  # no topic here (e.g. the CLI): the evaluator publishes the outbox
                counts["publish_deferred"] += 1
                continue
            except Exception:  # the outbox keeps it unpublished; the evaluator publishes it later
                logger.exception("publish failed; kept in the outbox", extra={"notification_id": change.id})
                counts["publish_deferred"] += 1
                continue
            self.stores.history.mark_published(change)
        return announced


def _from_unlimited(moves: list[Transition], tier: str | None) -> bool:
    """The latest change of the limit log made this tier, and it came from unlimited."""
    if not moves or moves[-1].after != tier or moves[-1].before is None:
        return False
    before = parse_limit(moves[-1].before)
    return before is not None and before.unlimited


def change_of(pnid: str, kind: str, t: Transition, reason: str, severity: str) -> Change:
    return Change(pnid, kind, t.at, t.before, t.after, reason, severity=severity, key=t.key)
