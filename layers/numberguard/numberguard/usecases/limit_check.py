"""The guarded send path: may this number message these recipients now?"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, cast

from numberguard.config import FailMode, Settings
from numberguard.domain.answer import Answer, Outcome, batch_summary
from numberguard.domain.check import (
    CheckRequest,
    Classification,
    Decision,
    InvalidRequest,
    RecipientView,
    ReleaseRequest,
    Snapshot,
    Step,
    TemplateVerdict,
    classify,
    echoed_number_id,
    pair_of,
    pair_verdict,
    parse_request,
    person_view,
    slot_holder,
    template_verdict,
)
from numberguard.domain.number import NumberState
from numberguard.domain.pairrate import BURST_USED, PairState, plan_take
from numberguard.domain.people import link_space
from numberguard.domain.results import MoveResult, ReleaseResult
from numberguard.domain.templates import Category, TemplateRef
from numberguard.domain.tiers import Policy
from numberguard.domain.window import ScopeUsage, Window, fit, plan_reserve
from numberguard.store import dynamo
from numberguard.store.dynamo import StoreUnavailable
from numberguard.usecases.ports import CheckStore, PairPort

MAX_ATTEMPTS = 24  # contention on one counter item: each failed condition returns the item
PARALLEL_TAKES = 16  # a batch's pair tokens taken side by side (one UpdateItem per allowed person)


class LimitChecker:
    def __init__(self, store: CheckStore, settings: Settings, clock: Callable[[], float] = time.time,
                 pairs: PairPort | None = None):
        self.store = store
        self.pairs = pairs  # the pair items' token writes (PairRateGuard); None: the guard cannot be on
        self.guard = settings.pair_rate_guard and pairs is not None
        self.settings = settings
        self.window: Window = settings.window
        self.clock = clock
        self._scopes: dict[str, str] = {}  # phone_number_id → scope, learnt from reads
        self._wabas: dict[str, str] = {}  # phone_number_id → WABA id (its templates' keys), learnt from reads
        self._spaces: dict[str, str] = {}  # phone_number_id → link space (portfolio or WABA), learnt from reads

    # ---- entry point ------------------------------------------------------------------------

    def handle(self, payload: Any) -> dict:
        now = int(self.clock())
        try:
            request = parse_request(payload)
        except InvalidRequest as err:
            return Answer.failed(Decision.INVALID_REQUEST, str(err), echoed_number_id(payload), now).as_dict()
        try:
            if isinstance(request, ReleaseRequest):
                return self.release(request, now)
            return self.check(request, now)
        except dynamo.STORE_ERRORS as err:
            return self._store_unavailable(request, err, now)

    # ---- check ----------------------------------------------------------------------------

    def check(self, request: CheckRequest, now: int) -> dict:
        unique = list(dict.fromkeys(request.recipients))
        snap, error = self._read(request.phone_number_id, unique, request.template, _may_be_marketing(request))
        if snap is None:
            return Answer.failed(Decision.DENIED_UNKNOWN_NUMBER, error or "", request.phone_number_id, now).as_dict()
        number = _known(snap)
        verdict = template_verdict(request, snap.template, number.waba_id, now)
        # Each id asked for → the id the person's count is acted on under, and the person's view
        # (the window of every linked id): one person checked twice in a batch counts once.
        people = {r: self._person(snap, r, now) for r in unique}
        pairs = {people[r][0]: self._pair(snap, r) for r in unique}  # the person key's pair, per target
        snap = Snapshot(number, snap.usage, snap.tier, {target: view for target, view in people.values()})
        if request.batch:
            targets = list(dict.fromkeys(target for target, _ in people.values()))
            outcomes, usage = self._check_batch(request, snap, targets, now, verdict.denial, pairs,
                                                verdict.category)
            self._take_tokens(request, outcomes, pairs, now)
            results = [self._answer(snap, usage, outcomes[people[r][0]], verdict, now, recipient=r)
                       for r in request.recipients]
            head = self._answer(snap, usage, Outcome(Decision.ALLOWED_ALREADY_COUNTED), verdict, now)
            return batch_summary(head, results)
        target = people[unique[0]][0]
        outcome, usage = self._check_one(request, snap, target, now, verdict.denial, pairs[target],
                                            verdict.category)
        outcomes = {target: outcome}
        self._take_tokens(request, outcomes, pairs, now)
        return self._answer(snap, usage, outcomes[target], verdict, now).as_dict()

    def _answer(self, snap: Snapshot, usage: ScopeUsage, outcome: Outcome, verdict: TemplateVerdict, now: int,
                recipient: str | None = None) -> Answer:
        """A check's answer, with what the named template adds: its warnings and the category."""
        answer = Answer.of(_known(snap), snap.tier, usage, outcome, self.window, now, recipient=recipient)
        return replace(answer, warnings=answer.warnings + verdict.warnings,
                       category=verdict.category.value if verdict.category else None)

    def _person(self, snap: Snapshot, recipient: str, now: int) -> tuple[str, RecipientView]:
        link = snap.links.get(recipient)
        return person_view(recipient, link.person if link else None, snap.records, now)

    def _pair(self, snap: Snapshot, recipient: str) -> tuple[str, PairState]:
        link = snap.links.get(recipient)
        return pair_of(recipient, link.person if link else None, snap.records)

    def _reread(self, phone_number_id: str, scope: str, recipient: str, now: int,
                cooldowns: bool) -> tuple[Snapshot, str, RecipientView]:
        """Read one recipient again (after a race), resolving its person again: a fold may have moved it."""
        space = self._spaces.get(phone_number_id)
        cooldown_space = space if cooldowns else None
        snap = self.store.read(phone_number_id, scope, [recipient], space, cooldown_space=cooldown_space)
        self._complete(snap, phone_number_id, scope, cooldown_space)
        target, record = self._person(snap, recipient, now)
        return snap, target, record

    def _check_one(self, request: CheckRequest, snap: Snapshot, recipient: str, now: int,
                   template_denial: Classification | None = None,
                   pair: tuple[str, PairState] | None = None,
                   category: Category | None = None) -> tuple[Outcome, ScopeUsage]:
        """One recipient, retried on contention (a failed counter condition hands back the counter)."""
        number, usage, record = _known(snap), _usage(snap), snap.records[recipient]
        pair_denial = pair_verdict(pair[1], now, self.guard) if pair else None
        for _ in range(MAX_ATTEMPTS):
            found = classify(number, usage, record, request.message, self.window, now, request.reference,
                             template_denial, pair_denial, category)
            if found.step is Step.ANSWER or request.dry_run:
                return self._dry(found, usage, 1, now), usage
            if found.step is Step.RESERVE:
                done, usage = self._count_new(request, number, usage, recipient, now)
                if done is not None:
                    return done, usage
                continue  # the failed condition returned the counter: try again without a read
            if found.step is Step.KEEP:
                kept = [(recipient, _bucket(record), record.slot_reference or "")]
                if not self.store.keep_counted(number.scope, kept):
                    return Outcome(Decision.ALLOWED_ALREADY_COUNTED), usage
            else:
                moved = self._move_one(number, usage, recipient, _bucket(record), now)
                if moved is not None:
                    return moved
            snap, recipient, record = self._reread(request.phone_number_id, number.scope, recipient, now,
                                                   category is Category.MARKETING)
            number, usage = _known(snap), _usage(snap)  # changed meanwhile
        raise StoreUnavailable("the scope's counter stayed too contended to reserve a slot")

    def _move_one(self, number: NumberState, usage: ScopeUsage, recipient: str, old_bucket: int,
                  now: int) -> tuple[Outcome, ScopeUsage] | None:
        """A repeat: move its counted stint to the current bucket. None: read again and retry."""
        bucket = self.window.bucket_of(now)
        moved = self.store.move(number.scope, [(recipient, old_bucket)], bucket, self.window.counted_until(now), now)
        if moved.result is MoveResult.MOVED:
            return Outcome(Decision.ALLOWED_ALREADY_COUNTED), _shift(usage, {old_bucket: 1}, bucket)
        if moved.result is MoveResult.COUNTER:
            # A batch moved it in the counter but its record write was lost: count it afresh.
            return self._recount(number, usage, recipient, old_bucket, now)
        if moved.result is MoveResult.CONFLICT:
            dynamo.pause()
        return None

    def _count_new(self, request: CheckRequest, number: NumberState, usage: ScopeUsage, recipient: str,
                   now: int) -> tuple[Outcome | None, ScopeUsage]:
        """A new recipient: take a slot, then mark the recipient counted. (None, the counter as it
        stands) when the counter changed meanwhile: the caller tries again with it."""
        plan = plan_reserve(self.window, usage, 1, now)
        if plan is None:
            return self._limit_reached(usage, 1, now), usage
        ok, seen = self.store.reserve(number.scope, plan, now)
        if seen is None:
            why = f"no messaging limit is registered for {number.scope}"
            return Outcome(Decision.DENIED_UNKNOWN_NUMBER, error=why), usage
        if not ok:
            return None, seen
        counted = self.store.record_counted(
            number.scope, number.phone_number_id, recipient, plan.bucket,
            self.window.counted_until(now), request.reference, now, uuid.uuid4().hex, _tag(request),
        )
        if not counted:
            # Another check counted this recipient between our read and now: our slot is spare.
            if self.store.give_back(number.scope, plan.bucket, 1, now):
                seen = _less(seen, plan.bucket, 1)
            return Outcome(Decision.ALLOWED_ALREADY_COUNTED), seen
        return Outcome(Decision.ALLOWED_NEW_RECIPIENT), seen

    def _recount(self, number: NumberState, usage: ScopeUsage, recipient: str, old_bucket: int,
                 now: int) -> tuple[Outcome, ScopeUsage]:
        """Take a fresh slot for a recipient whose old bucket the counter no longer holds (never fewer)."""
        granted, usage = self._reserve_up_to(number, usage, 1, now)
        if not granted:
            return self._limit_reached(usage, 1, now), usage
        bucket = self.window.bucket_of(now)
        if not self.store.rebucket(number.scope, recipient, old_bucket, bucket, self.window.counted_until(now), now):
            self.store.give_back(number.scope, bucket, 1, now)  # another check moved it meanwhile
        return Outcome(Decision.ALLOWED_ALREADY_COUNTED), usage

    # ---- batch: one step per kind of recipient ---------------------------------------------------

    def _check_batch(self, request: CheckRequest, snap: Snapshot, unique: list[str], now: int,
                     template_denial: Classification | None = None,
                     pairs: Mapping[str, tuple[str, PairState]] | None = None,
                     category: Category | None = None) -> tuple[dict[str, Outcome], ScopeUsage]:
        number, usage = _known(snap), _usage(snap)
        pairs = pairs or {}
        steps = {r: classify(number, usage, snap.records[r], request.message, self.window, now, request.reference,
                             template_denial, pair_verdict(pairs[r][1], now, self.guard) if r in pairs else None,
                             category)
                 for r in unique}
        outcomes = {r: _first_outcome(found) for r, found in steps.items() if found.step is not Step.RESERVE}
        new = [r for r in unique if steps[r].step is Step.RESERVE]
        if not request.dry_run:
            moves = [(r, _bucket(snap.records[r])) for r in unique if steps[r].step is Step.MOVE]
            keeps = [(r, _bucket(snap.records[r]), snap.records[r].slot_reference or "")
                     for r in unique if steps[r].step is Step.KEEP]
            usage, again = self._move_batch(number.scope, moves, usage, now)
            again += self._keep_batch(number.scope, keeps)
            usage = self._one_by_one(request, snap, usage, again, outcomes, now)
        usage = self._admit_new(request, number, usage, new, outcomes, now)
        return outcomes, usage

    def _move_batch(self, scope: str, moves: list[tuple[str, int]], usage: ScopeUsage,
                    now: int) -> tuple[ScopeUsage, list[str]]:
        """Repeats: counter and records move together, 99 recipients per transaction. Returns the usage
        after, and the recipients to check one by one (another check moved them meanwhile)."""
        again: list[str] = []
        for start in range(0, len(moves), dynamo.TRANSACT_MAX - 1):
            usage, stale = self._move_chunk(scope, moves[start:start + dynamo.TRANSACT_MAX - 1], usage, now)
            again += stale
        return usage, again

    def _move_chunk(self, scope: str, chunk: list[tuple[str, int]], usage: ScopeUsage,
                    now: int) -> tuple[ScopeUsage, list[str]]:
        bucket, again = self.window.bucket_of(now), list[str]()
        for _ in range(MAX_ATTEMPTS):
            moved = self.store.move(scope, chunk, bucket, self.window.counted_until(now), now)
            if moved.result is MoveResult.MOVED:  # later answers report the buckets as they now stand
                return _shift(usage, Counter(b for _, b in chunk), bucket), again
            if moved.result is MoveResult.COUNTER:
                return usage, again + [r for r, _ in chunk]
            if moved.result is MoveResult.STALE:
                again += [r for r, _ in chunk if r in moved.stale]
                chunk = [(r, b) for r, b in chunk if r not in moved.stale]
                if not chunk:
                    return usage, again
            else:
                dynamo.pause()
        raise StoreUnavailable("the scope's counter stayed too contended to move repeats")

    def _keep_batch(self, scope: str, keeps: list[tuple[str, int, str]]) -> list[str]:
        """Repeats of a send that took a slot: keep them counted; returns those whose record changed."""
        again: list[str] = []
        for start in range(0, len(keeps), dynamo.TRANSACT_MAX):
            again += sorted(self.store.keep_counted(scope, keeps[start:start + dynamo.TRANSACT_MAX]))
        return again

    def _one_by_one(self, request: CheckRequest, snap: Snapshot, usage: ScopeUsage, recipients: list[str],
                    outcomes: dict[str, Outcome], now: int) -> ScopeUsage:
        one = CheckRequest(request.phone_number_id, (), request.message, request.reference, False, False)
        for r in recipients:
            outcomes[r], usage = self._check_one(one, Snapshot(snap.number, usage, snap.tier, snap.records), r, now)
        return usage

    def _admit_new(self, request: CheckRequest, number: NumberState, usage: ScopeUsage, new: list[str],
                   outcomes: dict[str, Outcome], now: int) -> ScopeUsage:
        """New recipients: as many slots as fit in one counter update, then their records in batches."""
        if not new:
            return usage
        if request.dry_run:
            granted = fit(self.window, usage, len(new), now)
        else:
            granted, usage = self._reserve_up_to(number, usage, len(new), now)
        admitted, refused = new[:granted], new[granted:]
        if admitted and not request.dry_run:
            self.store.record_counted_batch(number.scope, number.phone_number_id,
                                            [(r, request.reference) for r in admitted], self.window.bucket_of(now),
                                            self.window.counted_until(now), now, _tag(request))
        denied = self._limit_reached(usage, 1, now)
        outcomes.update({r: Outcome(Decision.ALLOWED_NEW_RECIPIENT) for r in admitted})
        outcomes.update(dict.fromkeys(refused, denied))
        return usage

    def _reserve_up_to(self, number: NumberState, usage: ScopeUsage, wanted: int, now: int) -> tuple[int, ScopeUsage]:
        """Reserve as many of `wanted` slots as fit, in one counter update (retried on contention)."""
        for _ in range(MAX_ATTEMPTS):
            slots = fit(self.window, usage, wanted, now)
            if slots == 0:
                return 0, usage
            plan = plan_reserve(self.window, usage, slots, now)
            if plan is None:  # fit() said they fit: only a race-free read gets here
                return 0, usage
            ok, seen = self.store.reserve(number.scope, plan, now)
            if seen is None:
                raise StoreUnavailable(f"the counter of {number.scope} disappeared")
            usage = seen
            if ok:
                return slots, usage
        raise StoreUnavailable("the scope's counter stayed too contended to reserve slots")

    # ---- pair rate (PairRateGuard) ----------------------------------------------------------------

    def _take_tokens(self, request: CheckRequest, outcomes: dict[str, Outcome],
                     pairs: Mapping[str, tuple[str, PairState]], now: int) -> None:
        """With the guard on, each allowed recipient spends a token of its (number, person) pair; one whose
        bucket another check emptied meanwhile is denied instead (its slot, if it took one, stays counted:
        never fewer). A dry run spends none: the read already answered row 6."""
        if not self.guard or request.dry_run:
            return
        wanted = [t for t, outcome in outcomes.items() if outcome.decision.allowed and t in pairs]
        if not wanted:
            return
        if len(wanted) == 1:
            denied = [self._take_token(request.phone_number_id, *pairs[wanted[0]], now)]
        else:
            with ThreadPoolExecutor(max_workers=PARALLEL_TAKES) as pool:
                denied = list(pool.map(lambda t: self._take_token(request.phone_number_id, *pairs[t], now), wanted))
        for target, until in zip(wanted, denied, strict=True):
            if until is not None:
                outcomes[target] = Outcome(Decision.DENIED_PAIR_RATE, until, BURST_USED)

    def _take_token(self, phone_number_id: str, key: str, pair: PairState, now: int) -> int | None:
        """Take one token from the pair's bucket: None when taken, else when the next one comes."""
        assert self.pairs is not None  # the guard is on only with a pair store
        seen = pair.tat
        for _ in range(MAX_ATTEMPTS):
            plan = plan_take(seen, now, uuid.uuid4().hex)
            if plan.denied_until is not None:
                return plan.denied_until
            ok, seen = self.pairs.take(phone_number_id, key, plan)
            if ok:
                return None
        raise StoreUnavailable("the pair's bucket stayed too contended to take a token")

    # ---- release ----------------------------------------------------------------------------

    def release(self, request: ReleaseRequest, now: int) -> dict:
        snap, error = self._read(request.phone_number_id, [request.recipient])
        if snap is None:
            return Answer.failed(Decision.DENIED_UNKNOWN_NUMBER, error or "", request.phone_number_id, now).as_dict()
        number, usage = _known(snap), _usage(snap)
        holder = slot_holder(request.recipient, snap.links.get(request.recipient), snap.records, request.reference)
        record = snap.records[holder]
        outcome = Outcome(Decision.RELEASED)
        if record.slot_reference != request.reference or record.counted_bucket is None:
            why = (
                f"recipient {request.recipient} holds no slot taken by reference {request.reference!r}"
                " (already released, never counted, or counted by a later send)"
            )
            outcome = Outcome(Decision.NOTHING_TO_RELEASE, error=why)
        else:
            result = self.store.release_slot(number.scope, holder, request.reference, record.counted_bucket, now)
            if result is ReleaseResult.RELEASED:
                usage = _less(usage, record.counted_bucket, 1)
            elif result is ReleaseResult.NOT_THAT_SLOT:
                why = f"the slot of reference {request.reference!r} changed while releasing it"
                outcome = Outcome(Decision.NOTHING_TO_RELEASE, error=why)
        return Answer.of(number, snap.tier, usage, outcome, self.window, now).as_dict()

    # ---- helpers ----------------------------------------------------------------------------

    def _scope_guess(self, phone_number_id: str) -> str | None:
        if self.settings.policy is Policy.PER_NUMBER:
            return f"number#{phone_number_id}"
        return self._scopes.get(phone_number_id)

    def _read(self, phone_number_id: str, recipients: list[str], template: TemplateRef | None = None,
              cooldowns: bool = False) -> tuple[Snapshot | None, str | None]:
        """The snapshot of a check; `cooldowns`: the persons' marketing cooldowns too (same calls)."""
        scope = self._scope_guess(phone_number_id)
        if scope is None:
            number = self.store.get_number(phone_number_id)
            if number is None:
                return None, f"phone_number_id {phone_number_id} is not registered with numberguard"
            scope = number.scope
            self._wabas[phone_number_id] = number.waba_id
        waba = self._wabas.get(phone_number_id)
        named = (waba, template) if template is not None and waba else None
        space = self._spaces.get(phone_number_id)
        cooldown_space = space if cooldowns else None
        snap = self.store.read(phone_number_id, scope, recipients, space, named, cooldown_space)
        if snap.number is not None and snap.number.scope != scope:  # the number moved scope (another portfolio)
            snap = self.store.read(phone_number_id, snap.number.scope, recipients, space, named, cooldown_space)
        if snap.number is None:
            return None, f"phone_number_id {phone_number_id} is not registered with numberguard"
        self._scopes[phone_number_id] = snap.number.scope
        self._wabas[phone_number_id] = snap.number.waba_id
        if template is not None and (not snap.template_read or waba != snap.number.waba_id):
            # The number's WABA was not known before this read (the first check of it in this process):
            # one more read, once; later checks read the template in the same call as the rest.
            snap.template = self.store.get_template(snap.number.waba_id, template)
        if snap.usage is None:
            return None, f"no messaging limit is registered for {snap.number.scope} (register the number with a tier)"
        actual = link_space(snap.number.portfolio_id, snap.number.waba_id)
        self._spaces[phone_number_id] = actual
        if space != actual:
            # The first check of a number in this process: its links (and cooldowns) are read now (once).
            cooldown_space = actual if cooldowns else None
            snap.records, snap.links = self.store.read_ids(phone_number_id, snap.number.scope, recipients, actual,
                                                           cooldown_space)
        self._complete(snap, phone_number_id, snap.number.scope, cooldown_space)
        return snap, None

    def _complete(self, snap: Snapshot, phone_number_id: str, scope: str, cooldown_space: str | None) -> None:
        """Read the other ids of the linked persons found (one more round trip, only for them; their
        cooldowns in the same call: a cooldown kept under any of a person's ids is the person's)."""
        others = sorted({i for link in snap.links.values() if link.person for i in link.person.ids} - set(snap.records))
        if others:
            records, _ = self.store.read_ids(phone_number_id, scope, others, cooldown_space=cooldown_space)
            snap.records.update(records)

    def _dry(self, found: Classification, usage: ScopeUsage, slots: int, now: int) -> Outcome:
        if found.step is Step.RESERVE and fit(self.window, usage, slots, now) < slots:
            return self._limit_reached(usage, slots, now)
        return Outcome(found.decision, found.retry_at, found.error)

    def _limit_reached(self, usage: ScopeUsage, slots: int, now: int) -> Outcome:
        # An unlimited scope is never full: no time to name.
        at = None if usage.limit is None else self.window.slots_free_at(usage.buckets, usage.limit, slots, now)
        return Outcome(Decision.DENIED_LIMIT_REACHED, at)

    def _store_unavailable(self, request: CheckRequest | ReleaseRequest, err: Exception, now: int) -> dict:
        detail = dynamo.code(err) or type(err).__name__
        fail_open = self.settings.fail_mode is FailMode.OPEN and isinstance(request, CheckRequest)
        decision = Decision.ALLOWED_STORE_UNAVAILABLE if fail_open else Decision.DENIED_STORE_UNAVAILABLE
        message = f"the limit store could not be reached ({detail}); failing {'open' if fail_open else 'closed'}"
        answer = Answer.failed(decision, message, request.phone_number_id, now).as_dict()
        if isinstance(request, CheckRequest) and request.batch:
            answer["results"] = [
                {"recipient": r, "allowed": fail_open, "decision": decision.value, "warnings": []}
                for r in request.recipients
            ]
        return answer


def _known(snap: Snapshot) -> NumberState:
    """The snapshot's number (a snapshot _read hands out always has one)."""
    return cast(NumberState, snap.number)


def _usage(snap: Snapshot) -> ScopeUsage:
    """The snapshot's counter (a snapshot _read hands out always has one)."""
    return cast(ScopeUsage, snap.usage)


def _bucket(record: RecipientView) -> int:
    """The counted bucket of a record that classify found counted (MOVE, KEEP)."""
    return cast(int, record.counted_bucket)


def _first_outcome(found: Classification) -> Outcome:
    """A batch recipient's answer before any write: its own for ANSWER, already counted for repeats."""
    if found.step is Step.ANSWER:
        return Outcome(found.decision, found.retry_at, found.error)
    return Outcome(Decision.ALLOWED_ALREADY_COUNTED)


def _may_be_marketing(request: CheckRequest) -> bool:
    """Whether the check's category may be marketing (said so, or left to a named template's): only then
    does the read carry the persons' cooldowns (row 5 denies marketing sends only)."""
    if request.category is not None:
        return request.category is Category.MARKETING
    return request.template is not None


def _tag(request: CheckRequest) -> str | None:
    """The template a send with a reference names, for its counted record (Meta's 132015 / 132016 name none)."""
    return request.template.tag if request.template and request.reference else None


def _less(usage: ScopeUsage, bucket: int, slots: int) -> ScopeUsage:
    buckets = dict(usage.buckets)
    buckets[bucket] = buckets.get(bucket, 0) - slots
    return ScopeUsage(usage.limit, usage.used - slots, buckets)


def _shift(usage: ScopeUsage, moved: Mapping[int, int], to_bucket: int) -> ScopeUsage:
    """The usage after recipients moved from their buckets to `to_bucket` (used unchanged)."""
    buckets = dict(usage.buckets)
    for bucket, count in moved.items():
        buckets[bucket] = buckets.get(bucket, 0) - count
        buckets[to_bucket] = buckets.get(to_bucket, 0) + count
    return ScopeUsage(usage.limit, usage.used, buckets)
