"""Learns from Meta's refusals (DESIGN §4 "Refusals"): failed statuses and value-level `errors[]`.

- 131048: the number's hold (store/refusals.py), NUMBER_ON_HOLD (CRITICAL) once per hold through the
  history and outbox (its id is the refusal that began the hold: a retry announces nothing twice).
- 131049: the person's 24 h marketing cooldown, kept under the person's key in its link space.
- 131042 / 368 / 131031: the WABA blocked. Its facet log (subject the WABA, facet `meta_block`) holds the
  refusals ("BLOCKED <code>") and Meta's lifts ("LIFTED": a `sent` status newer than the refusal from one
  of the WABA's numbers, an `account_update` REINSTATE, a Graph read saying AVAILABLE) in event-time
  order; its latest entry is copied onto the WABA item and each number (the check reads it with the
  number). Delivered and read statuses never lift: they can belong to a send Meta accepted before the
  block, so the block would flap off and back. A refusal learnt after a later `sent` (Meta's deliveries
  come in any order) is lifted by it: numbers keep the time of their latest `sent` to the minute
  (`sent_ok_at`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

from numberguard.domain import events as ev
from numberguard.domain.changes import Change
from numberguard.domain.check import iso
from numberguard.domain.facetlog import entry_key, touched
from numberguard.domain.number import NumberState
from numberguard.domain.people import key_of, link_space
from numberguard.domain.refusals import (
    ACCEPTED_NEW,
    LIFTED,
    MARKETING_LIMIT,
    SPAM_RATE_LIMIT,
    CooldownLine,
    HoldWrite,
    MetaBlock,
    block_code,
    block_value,
    code_of_block,
    cooldown_until,
    fold_holds,
    hold_error,
)
from numberguard.usecases.facets import Facets
from numberguard.usecases.ports import PeopleFolds, RefusalPort

SENT_OK_GRAIN = 60  # a number's latest successful status is kept to the minute: at most one write a minute
BLOCK_FACET = "meta_block"


def refusal_key(at: int, dedup_key: str, label: str) -> str:
    """A facet-log key (time-ordered, stable across Meta's retries) naming what reported the entry."""
    return f"{entry_key(at, dedup_key)}#{label}"


def _reason(key: str) -> str:
    parts = key.split("#", 2)
    return parts[2].replace("#", " ") if len(parts) == 3 else "refusal"


class Refusals:
    def __init__(self, facets: Facets, store: RefusalPort, people: PeopleFolds | None, hold_seconds: int,
                 clock: Callable[[], float]):
        self.facets = facets
        self.stores = facets.stores
        self.store = store
        self.people = people  # a person's linked ids (None: every id is its own person)
        self.hold_seconds = hold_seconds
        self.clock = clock

    # ---- entry points (the intake's) ----------------------------------------------------------------

    def statuses(self, events: list[ev.MessageStatus], counts: Counter) -> list[Change]:
        """A batch's statuses: the refusals of the failed ones, and the `sent` ones that lift a block."""
        failed = [e for e in events if e.failed and e.error_codes]
        ok = [e for e in events if e.status in ACCEPTED_NEW]
        if not failed and not ok:
            return []
        numbers = {n.phone_number_id: n for n in self.stores.numbers.get_many(
            sorted({e.phone_number_id for e in failed + ok}))}
        batch_ok: dict[str, tuple[int, str]] = {}  # WABA → its numbers' latest success in this batch
        for event in ok:
            number = numbers.get(event.phone_number_id)
            if number is not None:
                seen = (event.at, number.phone_number_id)
                batch_ok[number.waba_id] = max(batch_ok.get(number.waba_id, seen), seen)
        changes = self._refusals(failed, numbers, counts, batch_ok)
        changes += self._cooldowns([e for e in failed if MARKETING_LIMIT in e.error_codes], numbers, counts)
        return changes + self._successes(ok, numbers, counts)

    def send_errors(self, events: list[ev.SendErrors], counts: Counter) -> list[Change]:
        """Value-level `errors[]`: they name the number, never a person (a 131049 there cools nobody)."""
        counts["cooldown_without_recipient"] += sum(MARKETING_LIMIT in e.error_codes for e in events)
        numbers = {n.phone_number_id: n for n in self.stores.numbers.get_many(
            sorted({e.phone_number_id for e in events}))}
        return self._refusals(events, numbers, counts)

    def lift(self, waba_id: str, key: str, counts: Counter) -> list[Change]:
        """Meta's word lifts the WABA's refusal block at the key's time (an older word changes nothing)."""
        return self._block_log(waba_id, [(key, LIFTED)], counts)

    def reinstated(self, waba_id: str, key: str, counts: Counter) -> list[Change]:
        """`account_update` REINSTATE: lifts a refusal block the WABA holds (nothing to do when none)."""
        waba = self.stores.wabas.get(waba_id)
        if waba is None or code_of_block(waba.meta_block) is None:
            return []
        return self.lift(waba_id, key, counts)

    def cooled_since(self, phone_number_id: str, since: int) -> int:
        """How many cooldowns Meta's 131049 started from this number since `since` (the operator's views)."""
        return self.store.cooled_since(phone_number_id, since)

    def adopt(self, number: NumberState, counts: Counter) -> None:
        """A number registered after its WABA was blocked inherits the block (as bans and restrictions)."""
        waba = self.stores.wabas.get(number.waba_id)
        if waba is not None and waba.meta_block is not None and waba.meta_block_at is not None:
            self.stores.numbers.set_facet(number.phone_number_id, BLOCK_FACET, {BLOCK_FACET: waba.meta_block}, (),
                                          waba.meta_block_at)
            counts["meta_block_inherited"] += 1

    # ---- 131048 and the WABA-blocking codes ----------------------------------------------------------

    def _refusals(self, events: Iterable[ev.MessageStatus | ev.SendErrors], numbers: dict[str, NumberState],
                  counts: Counter, batch_ok: dict[str, tuple[int, str]] | None = None) -> list[Change]:
        holds: dict[str, list[tuple[int, str]]] = defaultdict(list)
        blocks: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for event in events:
            number = numbers.get(event.phone_number_id)
            if number is None:
                counts["refusal_for_unregistered_number"] += 1
                continue
            where = "failed status" if isinstance(event, ev.MessageStatus) else "errors"
            if SPAM_RATE_LIMIT in event.error_codes:
                holds[number.phone_number_id].append((event.at, event.dedup_key))
            code = block_code(event.error_codes)
            if code is not None:
                label = f"messages#{where} {code}"
                blocks[number.waba_id].append((refusal_key(event.at, event.dedup_key, label), block_value(code)))
        changes: list[Change] = []
        for pnid, refused in holds.items():
            changes += self._hold(numbers[pnid], refused, counts)
        for waba, pairs in blocks.items():
            counts["meta_block_refusal"] += len(pairs)
            changes += self._block_log(waba, pairs + self._later_success(waba, pairs, (batch_ok or {}).get(waba)),
                                       counts)
        return changes

    def _hold(self, number: NumberState, refused: list[tuple[int, str]], counts: Counter) -> list[Change]:
        """One write per hold the batch's refusals make (a campaign's hundred refusals: one or two)."""
        now, pnid = int(self.clock()), number.phone_number_id
        changes = []
        for since, until, dedup_key in fold_holds(refused, self.hold_seconds):
            if until <= now:  # a hold already over when Meta's (late) word arrives: nothing to stop
                counts["hold_over_on_arrival"] += 1
                continue
            key = refusal_key(since, dedup_key, f"messages#{SPAM_RATE_LIMIT}")
            written = self.store.hold(pnid, since, until, key)
            counts[f"hold_{written.value.lower()}"] += 1
            if written is HoldWrite.BEGAN:
                changes.append(Change(
                    pnid, "NUMBER_ON_HOLD", since, None, "ON_HOLD",
                    f"Meta refused a send with error {SPAM_RATE_LIMIT} (spam rate limit)", severity="CRITICAL",
                    key=key, detail=(("until", iso(until)), ("error", hold_error()))))
        return self.facets.announce(changes, number, counts) if changes else []

    # ---- the WABA's refusal block --------------------------------------------------------------------

    def _later_success(self, waba_id: str, pairs: list[tuple[str, str]],
                       in_batch: tuple[int, str] | None) -> list[tuple[str, str]]:
        """A `sent` of the WABA's numbers (kept, or in this batch) later than every refusal learnt now lifts
        them: Meta's deliveries come in any order."""
        latest = max(int(key.split("#", 1)[0]) for key, _ in pairs)
        ok = [(n.sent_ok_at, n.phone_number_id) for n in self.stores.numbers.of_waba(waba_id)
              if n.sent_ok_at is not None and n.sent_ok_at > latest]
        ok += [in_batch] if in_batch is not None and in_batch[0] > latest else []
        if not ok:
            return []
        at, pnid = max(ok)
        return [(refusal_key(at, f"ok-{pnid}", "messages#a later successful status"), LIFTED)]

    def _block_log(self, waba_id: str, pairs: list[tuple[str, str]], counts: Counter) -> list[Change]:
        moves, value, at, entries = self.facets.log_all(waba_id, BLOCK_FACET, pairs, lambda: LIFTED)
        moves = touched(moves, entries, {k for k, _ in pairs})
        if value is None or at is None:
            return []
        self.stores.wabas.set_waba_facets(waba_id, BLOCK_FACET, {BLOCK_FACET: value}, at)
        batches = []
        for number in self.stores.numbers.of_waba(waba_id):
            self.stores.numbers.set_facet(number.phone_number_id, BLOCK_FACET, {BLOCK_FACET: value}, (), at)
            batches.append((number, [self._block_change(number.phone_number_id, t.key, t.at, t.after)
                                     for t in moves]))
        counts["meta_block_applied"] += 1
        announced: list[Change] = []
        for number, changes in batches:
            announced += self.facets.announce(changes, number, counts) if changes else []
        return announced

    @staticmethod
    def _block_change(pnid: str, key: str, at: int, after: str) -> Change:
        code = code_of_block(after)
        if code is None:
            return Change(pnid, "STATUS_CHANGED", at, "BLOCKED", "CONNECTED", _reason(key), key=key)
        return Change(pnid, "STATUS_CHANGED", at, "CONNECTED", "BLOCKED", _reason(key), severity="CRITICAL",
                      key=key, detail=(("error", MetaBlock(code, at).error_text()),))

    def _successes(self, ok: list[ev.MessageStatus], numbers: dict[str, NumberState], counts: Counter) -> list[Change]:
        """Meta accepted a new send (`sent`): a block older than it is lifted; the number keeps the time (to the
        minute)."""
        latest: dict[str, ev.MessageStatus] = {}
        for event in ok:
            if event.phone_number_id not in latest or event.at > latest[event.phone_number_id].at:
                latest[event.phone_number_id] = event
        changes: list[Change] = []
        for pnid, event in sorted(latest.items()):
            number = numbers.get(pnid)
            if number is None:
                continue
            if number.meta_block is not None and event.at > number.meta_block.at:
                key = refusal_key(event.at, event.dedup_key, f"messages#{event.status} status (Meta accepted a send)")
                changes += self.lift(number.waba_id, key, counts)
                counts["meta_block_lifted_by_status"] += 1
            if number.sent_ok_at is None or event.at >= number.sent_ok_at + SENT_OK_GRAIN:
                self.stores.numbers.set_facet(pnid, "sent_ok", {}, (), event.at)
        return changes

    # ---- 131049: the person's marketing cooldown ---------------------------------------------------

    def _cooldowns(self, events: list[ev.MessageStatus], numbers: dict[str, NumberState],
                   counts: Counter) -> list[Change]:
        now = int(self.clock())
        for event in events:
            ids = tuple(dict.fromkeys(i for i in (event.recipient, event.recipient_user_id,
                                                  event.recipient_parent_user_id, *event.linked) if i))
            if not ids:
                counts["cooldown_without_recipient"] += 1
                continue
            until = cooldown_until(event.at)
            if until <= now:
                counts["cooldown_over_on_arrival"] += 1
                continue
            number = numbers.get(event.phone_number_id)
            space = link_space(number.portfolio_id if number else None, number.waba_id if number else event.waba_id)
            key, person = self._person(space, ids)
            line = CooldownLine(event.phone_number_id, key, person, event.at, until)
            counts["cooldown_started" if self.store.cool_down(space, line) else "cooldown_unchanged"] += 1
        return []

    def _person(self, space: str, ids: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
        """The key the person's cooldown is kept under (its linked key, else the preferred id) and its ids."""
        if self.people is None:
            return key_of(ids), ids
        for link in self.people.links(space, ids).values():
            if link.person is not None:
                return link.person.key, tuple(sorted(link.person.ids | set(ids)))
        return key_of(ids), tuple(sorted(ids))
