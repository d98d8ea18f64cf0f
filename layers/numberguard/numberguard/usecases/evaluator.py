"""The scheduled evaluator: Flagged outcomes, Restricted release, usage warnings, upgrade eligibility,
expired WABA restrictions, the end of templates' timed pauses, and the notification outbox. It reads
only what its indexes say is due, so its cost follows the numbers (and templates) that need attention,
never the recipients, all numbers or all templates.

Exactly once: every outcome is first written to a facet log under a deterministic key (two runs at once
write the same entry), then recorded in the history under a stable change id (one run wins), and only
then is the trigger cleared (flagged_at, an expired restriction, the log's `announced` mark). A run
that crashes anywhere leaves the trigger in place, and the next run redoes only what is missing.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable

from numberguard.config import Settings
from numberguard.domain.changes import Change
from numberguard.domain.evaluation import (
    BANDS,
    FLAG_OUTCOME_AFTER,
    WARNING_REPEAT_AFTER,
    FlagOutcome,
    flag_outcome,
    upgrade_eligibility,
    usage_band,
    usage_notices,
)
from numberguard.domain.facetlog import entry_key, entry_time, latest, restriction_kinds, run_start, value_at
from numberguard.domain.number import NumberState
from numberguard.domain.records import ScopeCounter
from numberguard.domain.status import Connection, Quality, parse_quality
from numberguard.domain.templates import TemplateState
from numberguard.domain.tiers import Policy, limit_of_tier
from numberguard.usecases.facets import Facets, change_of
from numberguard.usecases.outbox import Outbox
from numberguard.usecases.ports import PeopleFolds
from numberguard.usecases.templates import TemplateIntake

OWN_LIMIT_ENTRY = "flag-outcome"  # the evaluator's entries in a scope's limit log (Meta's are hashes)
STOP_MARGIN_SECONDS = 15  # stop taking new items this close to the Lambda timeout; the rest stay due


class Evaluator:
    def __init__(self, facets: Facets, settings: Settings, clock: Callable[[], float] | None = None,
                 outbox: Outbox | None = None, people: PeopleFolds | None = None):
        self.facets = facets
        self.stores = facets.stores
        self.people = people  # folds the intake asked for (None: none)
        self.settings = settings
        self.policy = settings.policy
        self.window = settings.window
        self.clock = clock or facets.clock
        self.outbox = outbox or Outbox(facets.stores.history, facets.publisher)
        self.templates = facets.stores.templates
        self.template_intake = TemplateIntake(facets.stores, facets.publisher, self.clock)

    def run(self, time_left: Callable[[], float] | None = None) -> dict:
        """One evaluation pass. `time_left` (seconds) lets a long pass stop early; what it did not reach
        stays due for the next run."""
        now = int(self.clock())
        counts: Counter = Counter()
        changes: list[Change] = []

        def out_of_time() -> bool:
            if time_left is not None and time_left() < STOP_MARGIN_SECONDS:
                counts["stopped_early"] = 1
                return True
            return False

        for pnid in self.stores.numbers.due(now):
            if out_of_time():
                break
            changes += self._number(pnid, now, counts)
        for counter in self.stores.scopes.due(now):
            if out_of_time():
                break
            changes += self._scope(counter, now, counts)
        for template, seen_at in [] if out_of_time() else self.templates.due(now):
            if out_of_time():
                break
            changes += self._pause_end(template, seen_at, now, counts)
        if not out_of_time():
            self.outbox.drain(now, counts)
        return {"counts": dict(sorted(counts.items())), "changes": [c.type for c in changes]}

    # ---- numbers: Flagged outcome and WABA restrictions ----------------------------------------

    def _number(self, pnid: str, now: int, counts: Counter) -> list[Change]:
        counts["numbers_due"] += 1
        number = self.stores.numbers.get(pnid)
        if number is None or number.attention_at is None:
            return []
        changes = self._flag_outcome(number, now, counts) + self._expired_restrictions(number, now, counts)
        number = self.stores.numbers.get(pnid) or number
        self.stores.numbers.reschedule(pnid, number.attention_at, self._next_number_check(number, now))
        return changes

    def _reported_limit(self, limit_entries: dict[str, str], flagged_at: int, tier: str | None,
                        now: int) -> tuple[int, str] | None:
        """Meta's first report of a changed limit after the number was flagged (it settles the flag)."""
        for key in sorted(limit_entries):
            at = entry_time(key)
            own = key.split("#", 1)[1].startswith(OWN_LIMIT_ENTRY)
            if flagged_at < at <= now and not own and limit_entries[key] != tier:
                return at, limit_entries[key]
        return None

    def _flag_outcome(self, number: NumberState, now: int, counts: Counter) -> list[Change]:
        flagged_at = number.flagged_at
        if flagged_at is None or self.policy is Policy.PORTFOLIO:
            return []
        pnid, scope = number.phone_number_id, number.scope
        # The tier when the number was flagged, the same answer in every run, racing or re-run: the
        # counter is read before the log, and a limit is always logged before the counter changes, so
        # a counter already lowered by another run comes with the log that remembers the tier before.
        counter = self.stores.scopes.get(scope)
        limit_log = self.facets.logs.read(scope, "limit")
        tier = value_at(limit_log.entries, limit_log.initial or (counter.tier if counter else None), flagged_at)
        quality_log = self.facets.logs.read(pnid, "quality")
        deadline = flagged_at + FLAG_OUTCOME_AFTER
        quality = parse_quality(value_at(quality_log.entries, quality_log.initial or number.quality.value,
                                         deadline) or "UNKNOWN")
        if tier is None:
            return []
        reported = self._reported_limit(limit_log.entries, flagged_at, tier, now)
        outcome = flag_outcome(self.policy, flagged_at, quality, tier, now, reported)
        if outcome is None:
            return []
        key = entry_key(outcome.at, f"{OWN_LIMIT_ENTRY}-{flagged_at}")
        reason = _outcome_reason(outcome)
        changes: list[Change] = []
        if outcome.downgraded:
            # The lower limit first: applied to limit checks from this instant on.
            changes += self.facets.limit(number, key, limit_of_tier(outcome.tier_after), f"flag outcome: {reason}",
                                         counts, meta_reported=False)
        moves, value, at, entries = self.facets.log(pnid, "flag", key, "CONNECTED", lambda: "FLAGGED")
        changes += [change_of(pnid, "STATUS_CHANGED", t, f"flag outcome: {reason}", "INFO")
                    for t in moves if t.key == key]
        suffix = " (lowered one tier)" if outcome.downgraded else " (tier kept)" if not outcome.settled_by_meta \
            else " (as Meta reported)"
        changes.append(Change(
            pnid, "FLAG_OUTCOME", outcome.at, f"FLAGGED {outcome.tier_before}",
            f"CONNECTED {outcome.tier_after}{suffix}", reason, scope,
            "WARNING" if outcome.downgraded else "INFO", key=key,
        ))
        announced = self.facets.announce(changes, number, counts)
        # Only now is the trigger cleared: a crash before this line leaves the number due again.
        if value == "FLAGGED":  # flagged again after the outcome: a new 7-day evaluation starts
            self.stores.numbers.set_facet(pnid, "flag", {"flagged_at": run_start(entries, "FLAGGED")}, (), at)
        else:
            self.stores.numbers.set_facet(pnid, "flag", {}, ("flagged_at",), at)
        counts["flag_outcome_settled_by_meta" if outcome.settled_by_meta
               else "flag_outcome_downgraded" if outcome.downgraded else "flag_outcome_kept"] += 1
        return announced

    def _expired_restrictions(self, number: NumberState, now: int, counts: Counter) -> list[Change]:
        restrictions = dict(number.restrictions)
        expired = {k: e for k, e in restrictions.items() if e <= now}
        if not expired:
            return []
        active = {k: e for k, e in restrictions.items() if e > now}
        waba = number.waba_id
        lifted_at = max(expired.values())
        key = entry_key(lifted_at, "restrictions-expired")
        moves, value, at, _ = self.facets.log(waba, "restrictions", key, json.dumps(dict(sorted(active.items()))),
                                              lambda: json.dumps(dict(sorted(restrictions.items()))))
        current = json.loads(value or "{}")
        self.stores.wabas.set_waba_facets(waba, "restrictions", {"restrictions": current}, at)
        changes = []
        for item in self.stores.numbers.of_waba(waba):
            pnid = item.phone_number_id
            changes += self.facets.announce([
                dataclasses.replace(change_of(pnid, "ACCOUNT_RESTRICTED", t, "restriction expired", "INFO"),
                                    before=restriction_kinds(t.before), after=restriction_kinds(t.after))
                for t in moves if t.key == key
            ], item, counts)
            # After the announcement: a crash before it leaves this number's restriction to expire again.
            self.stores.numbers.set_facet(pnid, "restrictions", {"restrictions": current}, (), at)
        counts["restrictions_expired"] += 1
        return changes

    def _next_number_check(self, number: NumberState, now: int) -> int | None:
        due = []
        flagged_at = number.flagged_at
        if flagged_at is not None and self.policy is Policy.PER_NUMBER:
            due.append(flagged_at + FLAG_OUTCOME_AFTER)  # or Meta's word first (the intake asks for a look)
        due += [e for e in number.restrictions.values() if e > now]
        return min(due) if due else None

    # ---- templates: a timed pause's end (no webhook says so) ---------------------------------------

    def _pause_end(self, template: TemplateState, seen_at: int, now: int, counts: Counter) -> list[Change]:
        counts["templates_due"] += 1
        changes, next_at = self.template_intake.pause_end(template, now, counts)
        # Only now is the trigger cleared: a crash before this line leaves the template due again.
        self.templates.reschedule(template.waba_id, template.ref, seen_at, next_at)
        return changes

    # ---- scopes: usage warnings, Restricted, upgrade eligibility --------------------------------

    def _scope(self, item: ScopeCounter, now: int, counts: Counter) -> list[Change]:
        counts["scopes_due"] += 1
        if self.people is not None and item.pending_people and self._fold_people(item, now, counts):
            item = self.stores.scopes.get(item.scope) or item  # the counter after the slots came back
        scope, usage, seen_at = item.scope, item.usage, item.attention_at
        limit = usage.limit
        if limit is None:  # unlimited: nothing to watch
            self.stores.scopes.reschedule(scope, seen_at, None)
            return []
        used = self.window.used(usage.buckets, now)
        numbers: list[NumberState] | None = None

        def numbers_of_scope() -> list[NumberState]:
            nonlocal numbers
            if numbers is None:
                numbers = self.stores.numbers.get_many(sorted(item.numbers))
            return numbers

        changes = self._usage(scope, limit, used, numbers_of_scope, now, counts)
        if 2 * used >= limit:
            changes += self._upgrade(item, numbers_of_scope, now, counts)
        next_at: int | None
        if used >= limit:
            next_at = self.window.slots_free_at(usage.buckets, limit, 1, now) or now
        elif 2 * used >= limit:
            next_at = seen_at  # keep watching while at least half is used (still due: no write)
        else:
            next_at = None
        if next_at != seen_at:
            self.stores.scopes.reschedule(scope, seen_at, next_at)
        return changes

    def _fold_people(self, item: ScopeCounter, now: int, counts: Counter) -> int:
        """Fold the people the intake linked or changed (DESIGN §3: at the latest by this run); the slots back.

        A check that was in flight while a link was written may have counted the person under the id it
        had read: this second fold gives that slot back. People still contended stay pending.
        """
        assert self.people is not None
        numbers, done, given = sorted(item.numbers), [], 0
        for entry in sorted(item.pending_people):
            space, _, key = entry.partition("|")
            link = self.people.links(space, [key]).get(key)
            person = link.person if link is not None else None
            folded = self.people.fold(item.scope, person.key, person.ids, now) if person is not None else (0, False)
            if folded is None:
                counts["people_fold_contended"] += 1
                continue
            done.append(entry)
            if folded[1] and person is not None:
                given += folded[0]
                if numbers:
                    self.people.record_merge(numbers[0], item.scope, person, "linked", person.ids, folded[0], now,
                                             now)
        self.people.folded(item.scope, done)
        counts["people_folded"] += len(done)
        counts["slots_given_back"] += given
        return given

    def _usage(self, scope: str, limit: int, used: int, numbers_of_scope: Callable[[], list[NumberState]], now: int,
               counts: Counter) -> list[Change]:
        band = usage_band(used, limit)
        log = self.facets.logs.read(scope, "usage")
        entries = log.entries
        if latest(entries, "below")[0] != band:
            # The band in the key: two runs in the same second that saw different usage both keep theirs.
            key = entry_key(now, f"usage-{BANDS.index(band)}")
            _, _, _, entries = self.facets.log(scope, "usage", key, band, lambda: "below")
        if not entries or max(entries) == log.announced:
            return []  # nothing new since the last announced entry: one read per run
        notices = usage_notices(entries, log.announced, now - WARNING_REPEAT_AFTER)
        changes: list[Change] = []
        for number in numbers_of_scope() if notices else []:
            pnid = number.phone_number_id
            batch = []
            for notice in notices:
                if notice.kind == "WARNING":
                    batch.append(Change(
                        pnid, "USAGE_WARNING", notice.at, None, f"{notice.level}%",
                        f"{used} of {limit} unique recipients used in the moving 24 hours", scope, "WARNING",
                        key=f"{notice.key}#{notice.level}",
                    ))
                else:
                    restricted = notice.kind == "RESTRICTED"
                    batch.append(Change(
                        pnid, "STATUS_CHANGED", notice.at, "CONNECTED" if restricted else "RESTRICTED",
                        "RESTRICTED" if restricted else "CONNECTED",
                        "messaging limit reached" if restricted else "slots freed in the moving 24 hours",
                        scope, "WARNING" if restricted else "INFO", key=notice.key,
                    ))
            changes += self.facets.announce(batch, number, counts)
        counts[f"usage_{band}"] += 1
        # Recorded for every number: later runs skip these entries (a crash before this redoes them).
        self.facets.logs.mark_announced(scope, "usage", max(entries))
        return changes

    def _upgrade(self, item: ScopeCounter, numbers_of_scope: Callable[[], list[NumberState]], now: int,
                 counts: Counter) -> list[Change]:
        # Once per tier stint: the key names the tier and when the scope's limit last changed.
        if item.upgrade_announced == f"upgrade#{item.tier}#{item.limit_at}":
            return []
        counter = self.stores.scopes.get(item.scope) or item  # the index may lag behind a limit change
        scope, tier = counter.scope, counter.tier
        key = f"upgrade#{tier}#{counter.limit_at}"
        if counter.upgrade_announced == key:
            return []
        filled = counter.filled_bucket
        if filled is not None and now < self.window.frees_at(filled):
            counts["upgrade_not_judged_while_filled"] += 1  # the fill is not real usage
            return []
        if tier is None:
            return []  # a counter always has a tier (registration writes it)
        numbers = numbers_of_scope()
        states = numbers
        check = upgrade_eligibility(
            self.policy, tier,
            Connection.CONNECTED if states and all(s.connection is Connection.CONNECTED for s in states)
            else Connection.OFFLINE,
            any(s.banned for s in states), any(s.flagged for s in states),
            [s.quality for s in states] or [Quality.UNKNOWN], now, now,
            self._template_qualities({s.waba_id for s in states}) if self.policy is Policy.PORTFOLIO else (),
        )
        if not check.eligible:
            counts["upgrade_not_eligible"] += 1
            return []
        changes = []
        for number in numbers:
            changes += self.facets.announce([Change(
                number.phone_number_id, "UPGRADE_ELIGIBLE", now, tier, check.next_tier,
                "Connected, quality Medium or High, half the limit reached in the last 7 days", scope, "INFO",
                key=key,
            )], number, counts)
        self.stores.scopes.mark_upgrade_announced(scope, key)
        counts["upgrade_eligible"] += 1
        return changes

    def _template_qualities(self, wabas: set[str]) -> list[Quality]:
        """The quality of every template of the portfolio's WABAs (one read per WABA, plus its templates)."""
        return [t.quality for waba in sorted(w for w in wabas if w) for t in self.templates.of_waba(waba)]


def _outcome_reason(outcome: FlagOutcome) -> str:
    if outcome.settled_by_meta:
        return "Meta reported the limit while the number was flagged; its word settles the flag"
    if outcome.recovered:
        return "quality Medium or High again by day 7"
    return "quality still Low on day 7"
