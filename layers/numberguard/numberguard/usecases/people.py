"""Recipients are people: applies the links Meta shows and its `system` changes of number or BSUID.

A link is kept per business portfolio (per WABA where the portfolio is unknown) and serves every
number of it. When a link makes one person of ids that were counted apart, the person is folded in
each limit scope of the webhook's WABA at once (one slot back per extra count, a history line), and the
scope is marked for the evaluator, whose next run folds it again: a check that was in flight while the
link was written (and counted the person under the id it read) is healed then, at the latest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from numberguard.domain import events as ev
from numberguard.domain.people import Person, key_of, kind_of, link, link_space
from numberguard.observability import logger
from numberguard.usecases.ports import NumberPort, PeopleFolds, RefusalPort, WindowPort


@dataclass(frozen=True)
class Shown:
    """Ids Meta showed together for one user in one webhook item."""

    phone_number_id: str
    waba_id: str
    ids: tuple[str, ...]
    at: int


class People:
    def __init__(self, store: PeopleFolds, numbers: NumberPort, windows: WindowPort, clock: Callable[[], float],
                 cooldowns: RefusalPort | None = None):
        self.store = store
        self.numbers = numbers  # a number's WABA, portfolio and scope, and its WABA's numbers
        self.windows = windows
        self.clock = clock
        self.cooldowns = cooldowns  # Meta's 131049 cooldowns, moved with the person (None: not kept)

    # ---- links ------------------------------------------------------------------------------

    def link(self, shown: Iterable[Shown], counts: Counter) -> None:
        """Apply a batch's links. Most repeat what is stored (every message names its user's ids):
        one read per 100 ids tells, and only the others are written."""
        now = int(self.clock())
        where: dict[str, tuple[str, list[str]]] = {}
        groups: dict[str, list[Shown]] = {}
        for item in _latest_per_ids(shown):
            if item.phone_number_id not in where:
                where[item.phone_number_id] = self._where(item.phone_number_id, item.waba_id)
            groups.setdefault(item.phone_number_id, []).append(item)
        for pnid, items in groups.items():
            space, scopes = where[pnid]
            known = self.store.links(space, sorted({i for item in items for i in item.ids}))
            for item in items:
                if link(known, item.ids, item.at) is None:
                    counts["link_unchanged"] += 1
                    continue
                person = self.store.link(space, item.ids, item.at, now)
                if person is None:
                    counts["link_unchanged"] += 1
                    continue
                counts["people_linked"] += 1
                known.update(self.store.links(space, person.ids))
                self._fold(pnid, space, scopes, person, person.ids, "linked", item.at, now, counts)

    # ---- user_changed_number / user_changed_user_id ------------------------------------------

    def change(self, events: Iterable[ev.IdentityChange], counts: Counter) -> None:
        now = int(self.clock())
        for event in sorted(events, key=lambda e: (e.at, e.dedup_key)):
            counts[f"system_{event.kind}"] += 1
            space, scopes = self._where(event.phone_number_id, event.waba_id)
            change = self.store.change(space, event.retired, event.current, event.at, now)
            if change is None:
                counts["system_change_outdated"] += 1
                self._cooldowns_again(space, event, now, counts)
                continue
            key = change.person.key if change.person else key_of(change.current)
            moved = set(change.current) | set(change.retired)
            self._fold(event.phone_number_id, space, scopes, change.person or Person(key, frozenset(change.current)),
                       moved, event.kind, event.at, now, counts)
            # The old ids' window (with this number) moves to the new ids; the old ones keep none, and a
            # message from before the change, delivered late, opens none under them.
            self.windows.move(event.phone_number_id, change.retired, change.current, event.at, now)
            # So does a marketing cooldown kept under a retired id (the person's key before the change).
            if self.cooldowns is not None and self.cooldowns.move_cooldowns(space, change.retired, key, event.at, now):
                counts["cooldown_moved"] += 1
            counts["ids_retired"] += len(change.retired)

    def _cooldowns_again(self, space: str, event: ev.IdentityChange, now: int, counts: Counter) -> None:
        """Meta's retry of a change whose links were written before a fault: the cooldown move may not have
        happened. Moving again finds nothing once it has (a retired id keeps no cooldown): one read then."""
        current = [i for i in event.current if kind_of(i) is not None]
        if self.cooldowns is None or not current:
            return
        found = self.store.links(space, current)
        person = next((f.person for f in found.values() if f.person is not None), None)
        key = person.key if person is not None else key_of(current)
        if self.cooldowns.move_cooldowns(space, event.retired, key, event.at, now):
            counts["cooldown_moved"] += 1

    # ---- helpers -------------------------------------------------------------------------------

    def _where(self, phone_number_id: str, waba_id: str) -> tuple[str, list[str]]:
        """The number's link space and the limit scopes to fold in (its WABA's numbers' scopes)."""
        number = self.numbers.get(phone_number_id)
        if number is None:
            return link_space(None, waba_id), []  # not registered: nothing counted yet
        waba = number.waba_id or waba_id
        scopes = {number.scope} | {n.scope for n in self.numbers.of_waba(waba)}
        return link_space(number.portfolio_id, waba), sorted(s for s in scopes if s)

    def _fold(self, phone_number_id: str, space: str, scopes: list[str], person: Person, ids: Iterable[str],
              reason: str, at: int, now: int, counts: Counter) -> None:
        ids = frozenset(ids)
        for scope in scopes:
            folded = self.store.fold(scope, person.key, ids, now)
            if folded is None:
                counts["fold_contended"] += 1
            elif folded[1]:
                counts["slots_given_back"] += folded[0]
                self.store.record_merge(phone_number_id, scope, person, reason, ids, folded[0], at, now)
                logger.info("person counted once", extra={"scope": scope, "slots_given_back": folded[0]})
            # The evaluator folds again on its next run: a check in flight meanwhile may have counted
            # the person under the id it had read.
            self.store.want_fold(scope, space, person.key, now)


def _latest_per_ids(shown: Iterable[Shown]) -> list[Shown]:
    """One link per (number, ids) of a batch: the latest (the others say the same)."""
    latest: dict[tuple[str, tuple[str, ...]], Shown] = {}
    for item in shown:
        key = (item.phone_number_id, tuple(sorted(item.ids)))
        if key not in latest or item.at > latest[key].at:
            latest[key] = item
    return sorted(latest.values(), key=lambda s: (s.at, s.ids))
