"""The scheduled evaluator: Flagged outcomes, Restricted release, usage warnings, upgrade eligibility,
expired WABA restrictions. It reads only what its attention indexes say is due, so its cost follows the
numbers that need attention, never the recipients. Every outcome goes through a facet log with a
deterministic key, so two runs at once, or a re-run after a crash, apply and announce it once.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable

from numberguard.config import Settings
from numberguard.domain.changes import Change
from numberguard.domain.evaluation import WARNING_LEVELS, flag_outcome, upgrade_eligibility
from numberguard.domain.facetlog import entry_key, value_at
from numberguard.domain.status import Connection, Quality, parse_quality
from numberguard.domain.tiers import Policy, limit_of_tier
from numberguard.store import codec, keys
from numberguard.store.limits import number_from_item, usage_from_item
from numberguard.usecases.facets import Facets, change_of

BANDS = ("below", "80", "95", "full")


def usage_band(used: int, limit: int) -> str:
    if used >= limit:
        return "full"
    percent = 100 * used // limit
    return "95" if percent >= 95 else "80" if percent >= 80 else "below"


class Evaluator:
    def __init__(self, facets: Facets, settings: Settings, clock: Callable[[], float] | None = None):
        self.facets = facets
        self.state = facets.state
        self.settings = settings
        self.policy = settings.policy
        self.window = settings.window
        self.clock = clock or facets.clock

    def run(self) -> dict:
        now = int(self.clock())
        counts: Counter = Counter()
        changes: list[Change] = []
        for item in self.state.attention(self.state.numbers_table, now):
            changes += self._number(item, now, counts)
        for item in self.state.attention(self.state.limits_table, now):
            changes += self._scope(item, now, counts)
        return {"counts": dict(sorted(counts.items())), "changes": [c.type for c in changes]}

    # ---- numbers: Flagged outcome and WABA restrictions ----------------------------------------

    def _number(self, item: dict, now: int, counts: Counter) -> list[Change]:
        counts["numbers_due"] += 1
        pnid = codec.s(item, "pk")
        number = self.state.get_number_item(pnid)
        if number is None or codec.n(number, "attention_at") is None:
            return []
        changes = self._flag_outcome(number, now, counts) + self._expired_restrictions(number, now, counts)
        number = self.state.get_number_item(pnid) or number
        self.state.reschedule(self.state.numbers_table, keys.number_key(pnid), codec.n(number, "attention_at"),
                              self._next_number_check(number, now))
        return changes

    def _flag_outcome(self, number: dict, now: int, counts: Counter) -> list[Change]:
        flagged_at = codec.n(number, "flagged_at")
        if flagged_at is None or self.policy is Policy.PORTFOLIO:
            return []
        pnid, scope = codec.s(number, "pk"), codec.s(number, "scope")
        quality_log = self.facets.logs.read(pnid, "quality")
        limit_log = self.facets.logs.read(scope, "limit")
        deadline = flagged_at + 7 * 86400
        quality = parse_quality(value_at(quality_log.entries, quality_log.initial or codec.s(number, "quality"),
                                         deadline) or "UNKNOWN")
        # The tier just before the outcome: the same answer on every re-run, even after a crash.
        counter = self.state.get_limit_item(scope)
        tier = value_at(limit_log.entries, limit_log.initial or codec.s(counter, "tier"), deadline - 1)
        outcome = flag_outcome(self.policy, flagged_at, quality, tier, now)
        if outcome is None:
            return []
        key = entry_key(outcome.at, f"flag-outcome-{flagged_at}")
        reason = "quality Medium or High again by day 7" if outcome.recovered else "quality still Low on day 7"
        changes: list[Change] = []
        if outcome.downgraded:
            # The lower limit first: the Flagged entry below is what marks the outcome done.
            changes += self.facets.limit(number, key, limit_of_tier(outcome.tier_after), f"flag outcome: {reason}",
                                         counts)
        moves, value, at, _ = self.facets.log(pnid, "flag", key, "CONNECTED", lambda: "FLAGGED")
        if value != "FLAGGED":
            self.state.set_facet(pnid, "flag", {}, ("flagged_at",), at)
        changes += [change_of(pnid, "STATUS_CHANGED", t, f"flag outcome: {reason}", "INFO") for t in moves]
        changes.append(Change(
            pnid, "FLAG_OUTCOME", outcome.at, f"FLAGGED {outcome.tier_before}",
            f"CONNECTED {outcome.tier_after}" + (" (lowered one tier)" if outcome.downgraded else " (tier kept)"),
            reason, scope, "WARNING" if outcome.downgraded else "INFO", key=key,
        ))
        counts["flag_outcome_downgraded" if outcome.downgraded else "flag_outcome_kept"] += 1
        return self.facets.announce(changes, number, counts)

    def _expired_restrictions(self, number: dict, now: int, counts: Counter) -> list[Change]:
        restrictions = codec.int_map(number, "restrictions")
        expired = {k: e for k, e in restrictions.items() if e <= now}
        if not expired:
            return []
        active = {k: e for k, e in restrictions.items() if e > now}
        waba = codec.s(number, "waba_id")
        lifted_at = max(expired.values())
        key = entry_key(lifted_at, "restrictions-expired")
        moves, value, at, _ = self.facets.log(waba, "restrictions", key, json.dumps(dict(sorted(active.items()))),
                                              lambda: json.dumps(dict(sorted(restrictions.items()))))
        current = json.loads(value or "{}")
        self.state.set_waba_facets(waba, "restrictions", {"restrictions": current}, at)
        changes = []
        for item in self.state.numbers_of_waba(waba):
            pnid = codec.s(item, "pk")
            self.state.set_facet(pnid, "restrictions", {"restrictions": current}, (), at)
            changes += self.facets.announce([
                dataclasses.replace(change_of(pnid, "ACCOUNT_RESTRICTED", t, "restriction expired", "INFO"),
                                    before=_kinds(t.before), after=_kinds(t.after))
                for t in moves
            ], item, counts)
        counts["restrictions_expired"] += 1
        return changes

    def _next_number_check(self, number: dict, now: int) -> int | None:
        due = []
        flagged_at = codec.n(number, "flagged_at")
        if flagged_at is not None and self.policy is Policy.PER_NUMBER:
            due.append(flagged_at + 7 * 86400)
        due += [e for e in codec.int_map(number, "restrictions").values() if e > now]
        return min(due) if due else None

    # ---- scopes: usage warnings, Restricted, upgrade eligibility --------------------------------

    def _scope(self, item: dict, now: int, counts: Counter) -> list[Change]:
        counts["scopes_due"] += 1
        scope = codec.s(item, "scope")
        usage = usage_from_item(item)
        seen_at = codec.n(item, "attention_at")
        if usage.unlimited:
            self.state.reschedule(self.state.limits_table, keys.scope_key(scope), seen_at, None)
            return []
        used = self.window.used(usage.buckets, now)
        numbers = self.state.get_numbers(sorted(_string_set(item, "numbers")))
        changes: list[Change] = []
        if numbers:
            changes += self._usage(scope, usage.limit, used, numbers, now, counts)
            if 2 * used >= usage.limit:
                self.state.mark_half_reached(scope, now)
                changes += self._upgrade(item, numbers, now, counts)
        if used >= usage.limit:
            next_at = self.window.slots_free_at(usage.buckets, usage.limit, 1, now) or now
        elif 2 * used >= usage.limit:
            next_at = now  # keep watching while at least half is used
        else:
            next_at = None
        self.state.reschedule(self.state.limits_table, keys.scope_key(scope), seen_at, next_at)
        return changes

    def _usage(self, scope: str, limit: int, used: int, numbers: list[dict], now: int,
               counts: Counter) -> list[Change]:
        band = usage_band(used, limit)
        log = self.facets.logs.read(scope, "usage")
        if (max(log.entries.items())[1] if log.entries else "below") == band:
            return []
        moves, _, _, _ = self.facets.log(scope, "usage", entry_key(now, "evaluator"), band, lambda: "below")
        changes: list[Change] = []
        for number in numbers:
            pnid = codec.s(number, "pk")
            for t in moves:
                before, after = BANDS.index(t.before or "below"), BANDS.index(t.after)
                for level, band_index in zip(WARNING_LEVELS, (1, 2), strict=True):
                    if before < band_index <= after:
                        changes.append(Change(
                            pnid, "USAGE_WARNING", t.at, None, f"{level}%",
                            f"{used} of {limit} unique recipients used in the moving 24 hours", scope, "WARNING",
                            key=f"{t.key}#{level}",
                        ))
                if (t.after == "full") != (t.before == "full"):
                    restricted = t.after == "full"
                    changes.append(Change(
                        pnid, "STATUS_CHANGED", t.at, "CONNECTED" if restricted else "RESTRICTED",
                        "RESTRICTED" if restricted else "CONNECTED",
                        "messaging limit reached" if restricted else "slots freed in the moving 24 hours",
                        scope, "WARNING" if restricted else "INFO", key=t.key,
                    ))
            counts[f"usage_{band}"] += 1
        by_number = {codec.s(n, "pk"): n for n in numbers}
        announced = []
        for change in changes:
            announced += self.facets.announce([change], by_number[change.phone_number_id], counts)
        return announced

    def _upgrade(self, item: dict, numbers: list[dict], now: int, counts: Counter) -> list[Change]:
        tier = codec.s(item, "tier")
        states = [number_from_item(n) for n in numbers]
        check = upgrade_eligibility(
            self.policy, tier,
            Connection.CONNECTED if all(s.connection is Connection.CONNECTED for s in states) else Connection.OFFLINE,
            any(s.banned for s in states), any(s.flagged for s in states),
            [s.quality for s in states] or [Quality.UNKNOWN], now, now,
        )
        if not check.eligible:
            counts["upgrade_not_eligible"] += 1
            return []
        # Once per tier stint: the key names the tier and when the scope's limit last changed.
        key = f"upgrade#{tier}#{codec.n(item, 'limit_at', 0)}"
        changes = [
            Change(codec.s(n, "pk"), "UPGRADE_ELIGIBLE", now, tier, check.next_tier,
                   "Connected, quality Medium or High, half the limit reached in the last 7 days",
                   codec.s(item, "scope"), "INFO", key=key)
            for n in numbers
        ]
        counts["upgrade_eligible"] += 1
        return [c for n, c in zip(numbers, changes, strict=True) for c in self.facets.announce([c], n, counts)]


def _string_set(item: dict, name: str) -> set[str]:
    value = item.get(name)
    return set(value["SS"]) if value and "SS" in value else set()


def _kinds(value: str | None) -> str | None:
    if value is None:
        return None
    kinds = sorted(json.loads(value))
    return ", ".join(kinds) if kinds else "none"
