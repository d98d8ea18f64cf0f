"""The guarded send path: may this number message these recipients now?"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from numberguard.config import FailMode, Settings
from numberguard.domain.check import (
    CheckRequest,
    Classification,
    Decision,
    InvalidRequest,
    RecipientView,
    ReleaseRequest,
    Step,
    classify,
    echoed_number_id,
    iso,
    parse_request,
    person_view,
    slot_holder,
)
from numberguard.domain.number import NumberState
from numberguard.domain.people import link_space
from numberguard.domain.tiers import Policy
from numberguard.domain.window import ScopeUsage, Window, fit, plan_reserve
from numberguard.store.limits import TRANSACT_MAX, LimitStore, Snapshot, StoreUnavailable

MAX_ATTEMPTS = 24  # contention on one counter item: each failed condition returns the item


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    retry_at: int | None = None
    error: str | None = None


class LimitChecker:
    def __init__(self, store: LimitStore, settings: Settings, clock: Callable[[], float] = time.time):
        self.store = store
        self.settings = settings
        self.window: Window = settings.window
        self.clock = clock
        self._scopes: dict[str, str] = {}  # phone_number_id → scope, learnt from reads
        self._spaces: dict[str, str] = {}  # phone_number_id → link space (portfolio or WABA), learnt from reads

    # ---- entry point ------------------------------------------------------------------------

    def handle(self, payload: Any) -> dict:
        now = int(self.clock())
        try:
            request = parse_request(payload)
        except InvalidRequest as err:
            return _invalid(str(err), echoed_number_id(payload), now)
        try:
            if isinstance(request, ReleaseRequest):
                return self.release(request, now)
            return self.check(request, now)
        except (ClientError, BotoCoreError, StoreUnavailable) as err:
            return self._store_unavailable(request, err, now)

    # ---- check ------------------------------------------------------------------------------

    def check(self, request: CheckRequest, now: int) -> dict:
        unique = list(dict.fromkeys(request.recipients))
        snap, error = self._read(request.phone_number_id, unique)
        if error:
            return error_answer(Decision.DENIED_UNKNOWN_NUMBER, error, request.phone_number_id, now)
        number, usage = snap.number, snap.usage
        # Each id asked for → the id the person's count is acted on under, and the person's view
        # (the window of every linked id): one person checked twice in a batch counts once.
        people = {r: self._person(snap, r, now) for r in unique}
        snap = Snapshot(number, usage, snap.tier, {target: view for target, view in people.values()})
        if request.batch:
            targets = list(dict.fromkeys(target for target, _ in people.values()))
            outcomes, usage = self._check_batch(request, snap, targets, now)
            results = []
            for r in request.recipients:
                o = outcomes[people[r][0]]
                results.append(self._answer(number, snap.tier, usage, o, now, recipient=r))
            return self._batch_summary(number, snap.tier, usage, results, now)
        outcome, usage = self._check_one(request, snap, people[unique[0]][0], now)
        return self._answer(number, snap.tier, usage, outcome, now)

    def _person(self, snap: Snapshot, recipient: str, now: int) -> tuple[str, RecipientView]:
        link = snap.links.get(recipient)
        return person_view(recipient, link.person if link else None, snap.records, now)

    def _reread(self, phone_number_id: str, scope: str, recipient: str,
                now: int) -> tuple[Snapshot, str, RecipientView]:
        """Read one recipient again (after a race), resolving its person again: a fold may have moved it."""
        snap = self.store.read(phone_number_id, scope, [recipient], self._spaces.get(phone_number_id))
        self._complete(snap, phone_number_id, scope)
        target, record = self._person(snap, recipient, now)
        return snap, target, record

    def _check_one(self, request: CheckRequest, snap: Snapshot, recipient: str, now: int) -> tuple[Outcome, ScopeUsage]:
        number, usage = snap.number, snap.usage
        record = snap.records[recipient]
        for _ in range(MAX_ATTEMPTS):
            found = classify(number, usage, record, request.message, self.window, now, request.reference)
            if found.step is Step.ANSWER or request.dry_run:
                return self._dry(found, usage, 1, now), usage
            if found.step is Step.KEEP:
                kept = [(recipient, record.counted_bucket, record.slot_reference)]
                if not self.store.keep_counted(number.scope, kept):
                    return Outcome(Decision.ALLOWED_ALREADY_COUNTED), usage
                snap, recipient, record = self._reread(request.phone_number_id, number.scope, recipient, now)
                number, usage = snap.number, snap.usage  # released meanwhile?
                continue
            if found.step is Step.MOVE:
                result = self.store.move_recipient(
                    number.scope, recipient, record.counted_bucket, self.window.bucket_of(now),
                    self.window.counted_until(now), now,
                )
                if result == "moved":
                    moved = _shift(usage, {record.counted_bucket: 1}, self.window.bucket_of(now))
                    return Outcome(Decision.ALLOWED_ALREADY_COUNTED), moved
                if result == "counter":
                    # A batch moved it in the counter but its record write was lost: count it afresh.
                    return self._recount(number, usage, recipient, record.counted_bucket, now)
                if result == "conflict":
                    _pause()
                snap, recipient, record = self._reread(request.phone_number_id, number.scope, recipient, now)
                number, usage = snap.number, snap.usage
                continue
            # A new recipient: take a slot, then mark the recipient counted.
            plan = plan_reserve(self.window, usage, 1, now)
            if plan is None:
                return self._limit_reached(usage, 1, now), usage
            ok, seen = self.store.reserve(number.scope, plan, now)
            if not ok:
                if seen is None:
                    why = f"no messaging limit is registered for {number.scope}"
                    return Outcome(Decision.DENIED_UNKNOWN_NUMBER, error=why), usage
                usage = seen  # the failed condition returned the counter: try again without a read
                continue
            usage = seen
            counted = self.store.record_counted(
                number.scope, number.phone_number_id, recipient, plan.bucket,
                self.window.counted_until(now), request.reference, now, uuid.uuid4().hex,
            )
            if not counted:
                # Another check counted this recipient between our read and now: our slot is spare.
                if self.store.give_back(number.scope, plan.bucket, 1, now):
                    usage = _less(usage, plan.bucket, 1)
                return Outcome(Decision.ALLOWED_ALREADY_COUNTED), usage
            return Outcome(Decision.ALLOWED_NEW_RECIPIENT), usage
        raise StoreUnavailable("the scope's counter stayed too contended to reserve a slot")

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

    def _check_batch(
        self, request: CheckRequest, snap: Snapshot, unique: list[str], now: int
    ) -> tuple[dict[str, Outcome], ScopeUsage]:
        number, usage = snap.number, snap.usage
        found = {
            r: classify(number, usage, snap.records[r], request.message, self.window, now, request.reference)
            for r in unique
        }
        outcomes: dict[str, Outcome] = {}
        new = [r for r in unique if found[r].step is Step.RESERVE]
        moves = [r for r in unique if found[r].step is Step.MOVE]
        keeps = [r for r in unique if found[r].step is Step.KEEP]
        for r in unique:
            if found[r].step is Step.ANSWER:
                outcomes[r] = Outcome(found[r].decision, found[r].retry_at)
        for r in moves + keeps:
            outcomes[r] = Outcome(Decision.ALLOWED_ALREADY_COUNTED)
        bucket = self.window.bucket_of(now)
        counted_until = self.window.counted_until(now)

        one_by_one: list[str] = []
        if moves and not request.dry_run:
            # Counter and records move together, 99 recipients per transaction. Recipients another
            # check moved meanwhile are moved one by one (each re-reads its record on a race).
            for start in range(0, len(moves), TRANSACT_MAX - 1):
                chunk = [(r, snap.records[r].counted_bucket) for r in moves[start : start + TRANSACT_MAX - 1]]
                for _ in range(MAX_ATTEMPTS):
                    result, stale = self.store.move_recipients(number.scope, chunk, bucket, counted_until, now)
                    if result == "stale":
                        one_by_one += [r for r, _ in chunk if r in stale]
                        chunk = [(r, b) for r, b in chunk if r not in stale]
                    elif result == "counter":
                        one_by_one += [r for r, _ in chunk]
                        chunk = []
                    elif result == "conflict":
                        _pause()
                    else:  # moved: later answers report the buckets as they now stand
                        usage = _shift(usage, Counter(b for _, b in chunk), bucket)
                        chunk = []
                    if not chunk:
                        break
                else:
                    raise StoreUnavailable("the scope's counter stayed too contended to move repeats")
        if keeps and not request.dry_run:
            for start in range(0, len(keeps), TRANSACT_MAX):
                chunk = [(r, snap.records[r].counted_bucket, snap.records[r].slot_reference)
                         for r in keeps[start : start + TRANSACT_MAX]]
                one_by_one += sorted(self.store.keep_counted(number.scope, chunk))
        if one_by_one:
            one = CheckRequest(request.phone_number_id, (), request.message, request.reference, False, False)
            for r in one_by_one:
                outcomes[r], usage = self._check_one(one, Snapshot(number, usage, snap.tier, snap.records), r, now)

        granted = 0
        if new:
            if request.dry_run:
                granted = fit(self.window, usage, len(new), now)
            else:
                granted, usage = self._reserve_up_to(number, usage, len(new), now)
        admitted, refused = new[:granted], new[granted:]
        if admitted and not request.dry_run:
            self.store.record_counted_batch(
                number.scope, number.phone_number_id, [(r, request.reference) for r in admitted],
                bucket, counted_until, now,
            )
        for r in admitted:
            outcomes[r] = Outcome(Decision.ALLOWED_NEW_RECIPIENT)
        if refused:
            denied = self._limit_reached(usage, 1, now)
            for r in refused:
                outcomes[r] = denied
        return outcomes, usage

    def _reserve_up_to(self, number: NumberState, usage: ScopeUsage, wanted: int, now: int) -> tuple[int, ScopeUsage]:
        """Reserve as many of `wanted` slots as fit, in one counter update (retried on contention)."""
        for _ in range(MAX_ATTEMPTS):
            slots = fit(self.window, usage, wanted, now)
            if slots == 0:
                return 0, usage
            plan = plan_reserve(self.window, usage, slots, now)
            ok, seen = self.store.reserve(number.scope, plan, now)
            if seen is None:
                raise StoreUnavailable(f"the counter of {number.scope} disappeared")
            usage = seen
            if ok:
                return slots, usage
        raise StoreUnavailable("the scope's counter stayed too contended to reserve slots")

    # ---- release ----------------------------------------------------------------------------

    def release(self, request: ReleaseRequest, now: int) -> dict:
        snap, error = self._read(request.phone_number_id, [request.recipient])
        if error:
            return error_answer(Decision.DENIED_UNKNOWN_NUMBER, error, request.phone_number_id, now)
        number, usage = snap.number, snap.usage
        holder = slot_holder(request.recipient, snap.links.get(request.recipient), snap.records, request.reference)
        record = snap.records[holder]
        if record.slot_reference != request.reference or record.counted_bucket is None:
            why = (
                f"recipient {request.recipient} holds no slot taken by reference {request.reference!r}"
                " (already released, never counted, or counted by a later send)"
            )
            return self._answer(number, snap.tier, usage, Outcome(Decision.NOTHING_TO_RELEASE, error=why), now)
        result = self.store.release_slot(number.scope, holder, request.reference, record.counted_bucket, now)
        if result == "released":
            usage = _less(usage, record.counted_bucket, 1)
        if result in ("released", "folded"):
            return self._answer(number, snap.tier, usage, Outcome(Decision.RELEASED), now)
        why = f"the slot of reference {request.reference!r} changed while releasing it"
        return self._answer(number, snap.tier, usage, Outcome(Decision.NOTHING_TO_RELEASE, error=why), now)

    # ---- helpers ----------------------------------------------------------------------------

    def _scope_guess(self, phone_number_id: str) -> str | None:
        if self.settings.policy is Policy.PER_NUMBER:
            return f"number#{phone_number_id}"
        return self._scopes.get(phone_number_id)

    def _read(self, phone_number_id: str, recipients: list[str]) -> tuple[Snapshot | None, str | None]:
        scope = self._scope_guess(phone_number_id)
        if scope is None:
            number = self.store.get_number(phone_number_id)
            if number is None:
                return None, f"phone_number_id {phone_number_id} is not registered with numberguard"
            scope = number.scope
        space = self._spaces.get(phone_number_id)
        snap = self.store.read(phone_number_id, scope, recipients, space)
        if snap.number is None:
            return None, f"phone_number_id {phone_number_id} is not registered with numberguard"
        if snap.number.scope != scope:  # the number moved scope (e.g. another portfolio)
            snap = self.store.read(phone_number_id, snap.number.scope, recipients, space)
            if snap.number is None:
                return None, f"phone_number_id {phone_number_id} is not registered with numberguard"
        self._scopes[phone_number_id] = snap.number.scope
        if snap.usage is None:
            return None, f"no messaging limit is registered for {snap.number.scope} (register the number with a tier)"
        actual = link_space(snap.number.portfolio_id, snap.number.waba_id)
        self._spaces[phone_number_id] = actual
        if space != actual:
            # The first check of a number in this process: its links are read now (once).
            snap.records, snap.links = self.store.read_ids(phone_number_id, snap.number.scope, recipients, actual)
        self._complete(snap, phone_number_id, snap.number.scope)
        return snap, None

    def _complete(self, snap: Snapshot, phone_number_id: str, scope: str) -> None:
        """Read the other ids of the linked persons found (one more round trip, only for them)."""
        others = sorted({i for link in snap.links.values() if link.person for i in link.person.ids} - set(snap.records))
        if others:
            records, _ = self.store.read_ids(phone_number_id, scope, others)
            snap.records.update(records)

    def _dry(self, found: Classification, usage: ScopeUsage, slots: int, now: int) -> Outcome:
        if found.step is Step.RESERVE and fit(self.window, usage, slots, now) < slots:
            return self._limit_reached(usage, slots, now)
        return Outcome(found.decision, found.retry_at)

    def _limit_reached(self, usage: ScopeUsage, slots: int, now: int) -> Outcome:
        at = self.window.slots_free_at(usage.buckets, usage.limit, slots, now)
        return Outcome(Decision.DENIED_LIMIT_REACHED, at)

    def _answer(
        self, number: NumberState, tier: str | None, usage: ScopeUsage, outcome: Outcome, now: int,
        recipient: str | None = None,
    ) -> dict:
        used = None if usage.unlimited else self.window.used(usage.buckets, now)
        reached = used is not None and used >= usage.limit
        answer: dict[str, Any] = {}
        if recipient is not None:
            answer["recipient"] = recipient
        answer.update({
            "allowed": outcome.decision.allowed,
            "decision": outcome.decision.value,
            "phone_number_id": number.phone_number_id,
            "status": number.status(limit_reached=reached, now=now).value,
            "quality": number.quality.value,
            "tier": tier,
            "limit": usage.limit,
            "used": used,
            "remaining": None if used is None else max(usage.limit - used, 0),
            "retry_after_seconds": None if outcome.retry_at is None else max(outcome.retry_at - now, 0),
            "evaluated_at": iso(now),
        })
        if outcome.error:
            answer["error"] = outcome.error
        return answer

    def _batch_summary(self, number, tier, usage, results: list[dict], now: int) -> dict:
        summary = self._answer(number, tier, usage, Outcome(Decision.ALLOWED_ALREADY_COUNTED), now)
        decisions = {r["decision"] for r in results}
        summary["allowed"] = all(r["allowed"] for r in results)
        summary["decision"] = decisions.pop() if len(decisions) == 1 else "MIXED"
        summary["allowed_count"] = sum(1 for r in results if r["allowed"])
        summary["denied_count"] = len(results) - summary["allowed_count"]
        waits = [r["retry_after_seconds"] for r in results if r["retry_after_seconds"] is not None]
        summary["retry_after_seconds"] = min(waits) if waits else None
        summary["results"] = results
        return summary

    def _store_unavailable(self, request: CheckRequest | ReleaseRequest, err: Exception, now: int) -> dict:
        detail = err.response["Error"].get("Code", "error") if isinstance(err, ClientError) else type(err).__name__
        fail_open = self.settings.fail_mode is FailMode.OPEN and isinstance(request, CheckRequest)
        decision = Decision.ALLOWED_STORE_UNAVAILABLE if fail_open else Decision.DENIED_STORE_UNAVAILABLE
        message = f"the limit store could not be reached ({detail}); failing {'open' if fail_open else 'closed'}"
        answer = error_answer(decision, message, request.phone_number_id, now)
        if isinstance(request, CheckRequest) and request.batch:
            answer["results"] = [
                {"recipient": r, "allowed": fail_open, "decision": decision.value} for r in request.recipients
            ]
        return answer


def error_answer(decision: Decision, error: str, phone_number_id: str | None, now: int) -> dict:
    return {
        "allowed": decision.allowed,
        "decision": decision.value,
        "phone_number_id": phone_number_id,
        "status": None,
        "quality": None,
        "tier": None,
        "limit": None,
        "used": None,
        "remaining": None,
        "retry_after_seconds": None,
        "evaluated_at": iso(now),
        "error": error,
    }


def _invalid(message: str, phone_number_id: str | None, now: int) -> dict:
    return error_answer(Decision.INVALID_REQUEST, message, phone_number_id, now)


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


def _pause() -> None:
    time.sleep(0.002 + random.random() * 0.01)
