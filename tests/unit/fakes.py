"""An in-memory CheckStore (usecases/ports.py): the limit check's use case without DynamoDB (same answers)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from numberguard.domain.check import RecipientView, Snapshot
from numberguard.domain.number import NumberState
from numberguard.domain.pairrate import INTERVAL, PairState, Take, after_strike
from numberguard.domain.people import IdLink, person_of
from numberguard.domain.results import Moved, MoveResult, ReleaseResult
from numberguard.domain.templates import TemplateRef, TemplateState
from numberguard.domain.window import ReservePlan, ScopeUsage
from numberguard.store.dynamo import StoreUnavailable
from numberguard.usecases.ports import CheckStore, PairPort


@dataclass
class Counter:
    limit: int | None
    tier: str
    buckets: dict[int, int] = field(default_factory=dict)

    @property
    def used(self) -> int:
        return sum(self.buckets.values())

    def usage(self) -> ScopeUsage:
        return ScopeUsage(self.limit, self.used, dict(self.buckets))


@dataclass
class Counted:
    bucket: int
    until: int
    reference: str | None


class FakeLimitStore:
    """What the use case sees of the store, kept in dicts; `down` makes every call fail like an outage."""

    def __init__(self):
        self.numbers: dict[str, NumberState] = {}
        self.counters: dict[str, Counter] = {}
        self.counted: dict[tuple[str, str], Counted] = {}
        self.windows: dict[tuple[str, str], int] = {}
        self.templates: dict[tuple[str, tuple[str, str]], TemplateState] = {}  # (WABA, (name, language key))
        self.links: dict[tuple[str, str], IdLink] = {}  # (link space, id) → the id's link
        self.cooldowns: dict[tuple[str, str], int] = {}  # (link space, id) → its marketing cooldown's end
        self.pairs: dict[tuple[str, str], PairState] = {}  # (phone_number_id, person key) → its pair (FakePairStore)
        self.down = False
        self.calls = 0

    def _call(self) -> None:
        self.calls += 1
        if self.down:
            raise StoreUnavailable("injected: DynamoDB cannot be reached")

    # ---- set-up ---------------------------------------------------------------------------------

    def add(self, number: NumberState, limit: int | None, tier: str) -> None:
        self.numbers[number.phone_number_id] = number
        self.counters.setdefault(number.scope, Counter(limit, tier))

    # ---- the CheckStore port (its reads and counter, and CountedPort's record writes) ------------

    def get_number(self, phone_number_id: str) -> NumberState | None:
        self._call()
        return self.numbers.get(phone_number_id)

    def get_template(self, waba_id: str, template: TemplateRef) -> TemplateState | None:
        self._call()
        return self.templates.get((waba_id, template.key))

    def read(self, phone_number_id: str, scope: str, recipients: Sequence[str], space: str | None = None,
             template: tuple[str, TemplateRef] | None = None, cooldown_space: str | None = None) -> Snapshot:
        self._call()
        counter = self.counters.get(scope)
        records, links = self._records(phone_number_id, scope, recipients, space, cooldown_space)
        found = self.templates.get((template[0], template[1].key)) if template else None
        return Snapshot(self.numbers.get(phone_number_id), counter.usage() if counter else None,
                        counter.tier if counter else None, records, found, template is not None, links)

    def read_ids(self, phone_number_id: str, scope: str, ids: Sequence[str], space: str | None = None,
                 cooldown_space: str | None = None):
        self._call()
        return self._records(phone_number_id, scope, ids, space, cooldown_space)

    def _records(self, phone_number_id: str, scope: str, ids: Sequence[str], space: str | None,
                 cooldown_space: str | None = None):
        records = {}
        for r in ids:
            c = self.counted.get((scope, r))
            records[r] = RecipientView(
                counted_bucket=c.bucket if c else None, counted_until=c.until if c else 0,
                service_window_until=self.windows.get((phone_number_id, r), 0),
                slot_reference=c.reference if c else None,
                cooldown_until=self.cooldowns.get((cooldown_space, r), 0) if cooldown_space else 0,
                pair=self.pairs.get((phone_number_id, r), PairState()),
            )
        links = {r: self.links[(space, r)] for r in ids if (space, r) in self.links} if space else {}
        return records, links

    def link(self, space: str, *ids: str) -> None:
        """Set-up: link `ids` as one person of `space` (what the intake does when Meta shows them together)."""
        person = person_of(ids, 0)
        for i in ids:
            self.links[(space, i)] = IdLink(person)

    def reserve(self, scope: str, plan: ReservePlan, now: int) -> tuple[bool, ScopeUsage | None]:
        self._call()
        counter = self.counters.get(scope)
        if counter is None:
            return False, None
        expired_ok = all(counter.buckets.get(b) == n for b, n in plan.expired.items())
        if counter.limit != plan.limit or counter.used > plan.max_used or not expired_ok:
            return False, counter.usage()
        for b in plan.expired:
            del counter.buckets[b]
        counter.buckets[plan.bucket] = counter.buckets.get(plan.bucket, 0) + plan.slots
        return True, counter.usage()

    def record_counted(self, scope: str, phone_number_id: str, recipient: str, bucket: int, counted_until: int,
                       reference: str | None, now: int, claim: str, template: str | None = None) -> bool:
        self._call()
        c = self.counted.get((scope, recipient))
        if c is not None and c.until > now:
            return False
        self.counted[(scope, recipient)] = Counted(bucket, counted_until, reference)
        return True

    def give_back(self, scope: str, bucket: int, slots: int, now: int) -> bool:
        self._call()
        buckets = self.counters[scope].buckets
        if buckets.get(bucket, 0) < slots:
            return False
        buckets[bucket] -= slots
        return True

    def move(self, scope: str, moves: Sequence[tuple[str, int]], new_bucket: int, counted_until: int,
             now: int) -> Moved:
        self._call()
        stale = frozenset(r for r, old in moves if getattr(self.counted.get((scope, r)), "bucket", None) != old)
        if stale:
            return Moved(MoveResult.STALE, stale)
        buckets = self.counters[scope].buckets
        need: dict[int, int] = {}
        for _, old in moves:
            need[old] = need.get(old, 0) + 1
        if any(buckets.get(b, 0) < n for b, n in need.items()):
            return Moved(MoveResult.COUNTER)
        for b, n in need.items():
            buckets[b] -= n
        buckets[new_bucket] = buckets.get(new_bucket, 0) + len(moves)
        for r, _ in moves:
            self.counted[(scope, r)] = Counted(new_bucket, counted_until, None)
        return Moved(MoveResult.MOVED)

    def rebucket(self, scope: str, recipient: str, old_bucket: int, new_bucket: int, counted_until: int,
                 now: int) -> bool:
        self._call()
        c = self.counted.get((scope, recipient))
        if c is None or c.bucket != old_bucket:
            return False
        self.counted[(scope, recipient)] = Counted(new_bucket, counted_until, None)
        return True

    def keep_counted(self, scope: str, entries: Sequence[tuple[str, int, str]]) -> set[str]:
        self._call()
        stale = set()
        for r, bucket, reference in entries:
            c = self.counted.get((scope, r))
            if c is None or c.bucket != bucket or c.reference != reference:
                stale.add(r)
            else:
                c.reference = None
        return stale

    def record_counted_batch(self, scope: str, phone_number_id: str, entries: Sequence[tuple[str, str | None]],
                             bucket: int, counted_until: int, now: int, template: str | None = None) -> None:
        self._call()
        for r, reference in entries:
            self.counted[(scope, r)] = Counted(bucket, counted_until, reference)

    def release_slot(self, scope: str, recipient: str, reference: str, bucket: int, now: int) -> ReleaseResult:
        self._call()
        c = self.counted.get((scope, recipient))
        if c is None or c.reference != reference or c.bucket != bucket:
            return ReleaseResult.NOT_THAT_SLOT
        del self.counted[(scope, recipient)]
        buckets = self.counters[scope].buckets
        if buckets.get(bucket, 0) < 1:
            return ReleaseResult.FOLDED
        buckets[bucket] -= 1
        return ReleaseResult.RELEASED


def _implements_the_port() -> CheckStore:
    """mypy holds the fake to usecases/ports.py's CheckStore, CountedPort included (the DynamoDB LimitStore
    is held in wiring)."""
    return FakeLimitStore()


class FakePairStore:
    """The pair items (store/pairs.py) in the limit fake's dict, so that its reads see them."""

    def __init__(self, limits: FakeLimitStore):
        self.limits = limits

    def get(self, phone_number_id: str, person_key: str) -> PairState:
        self.limits._call()
        return self.limits.pairs.get((phone_number_id, person_key), PairState())

    def get_many(self, phone_number_id: str, person_keys: Iterable[str]) -> dict[str, PairState]:
        self.limits._call()
        return {k: p for k in person_keys if (p := self.limits.pairs.get((phone_number_id, k))) is not None}

    def take(self, phone_number_id: str, person_key: str, plan: Take) -> tuple[bool, int | None]:
        self.limits._call()
        state = self.limits.pairs.get((phone_number_id, person_key), PairState())
        tat = state.tat
        if plan.fresh and (tat is None or tat < plan.now):
            tat = plan.new_tat
        elif not plan.fresh and tat is not None and plan.now <= tat <= plan.ceiling:
            tat += INTERVAL
        else:
            return False, state.tat
        self.limits.pairs[(phone_number_id, person_key)] = PairState(tat, state.strikes, state.version)
        return True, tat

    def strike(self, phone_number_id: str, person_key: str, wamid: str, at: int, now: int) -> bool:
        self.limits._call()
        new = after_strike(self.limits.pairs.get((phone_number_id, person_key), PairState()), wamid, at)
        if new is None:
            return False
        self.limits.pairs[(phone_number_id, person_key)] = new
        return True


def _implements_the_pair_port() -> PairPort:
    return FakePairStore(FakeLimitStore())
