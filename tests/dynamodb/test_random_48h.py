"""48 hours of mixed sends on a fake clock, checked against an exact moving window (DynamoDB Local).

A seeded random workload drives two checkers (two Lambda instances, one DynamoDB client each) for
two days: single template and session messages, batches, service windows opening, dry runs and
releases of sends that failed before Meta. Then, from the log of admitted sends alone (nothing
here reads the store):
- at every instant, the unique recipients admitted in the trailing 24 h never exceed the limit;
- a recipient admitted in the last 24 h is never refused (repeats stay allowed);
- a DENIED_LIMIT_REACHED is never more than W minutes early: the time it says a slot frees
  (`retry_after_seconds`) is at or after the instant an exact 24-hour window would free one, and
  at most W later.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from tests.dynamodb.conftest import DAY, recipient

pytestmark = pytest.mark.dynamodb

LIMIT = 25
BUCKET_MINUTES = 10
W = BUCKET_MINUTES * 60
HOURS = 48
STEPS = 600  # about one check every 5 minutes: the limit is reached and freed many times over
POPULATION = [recipient(7_000 + i) for i in range(200)]  # eight limits' worth
REPEAT_SHARE = 0.4  # sends to someone admitted before (repeats move between buckets)
NUMBERS = ("106540352242922", "106540352242923")
PORTFOLIO = "555000111"
COUNTED = frozenset({"ALLOWED_NEW_RECIPIENT", "ALLOWED_ALREADY_COUNTED"})


@dataclass
class Log:
    """Admitted counted sends per recipient, when a release took one back, and every limit denial."""

    sends: dict[str, list[list[int | None]]] = field(default_factory=dict)  # r -> [[at, released_at]]
    denials: list[tuple[int, str, int | None]] = field(default_factory=list)  # (at, recipient, retry_after)
    refused_repeats: list[tuple[int, str, str]] = field(default_factory=list)
    checks: int = 0

    def latest(self, r: str, at: int, *, meta: bool) -> int | None:
        """`r`'s latest admitted send at or before `at`: as Meta saw them (`meta`: released sends never
        reached it) or as they held slots at `at` (a send released later still held its slot then)."""
        held = [t for t, released in self.sends.get(r, []) if t <= at and (
            released is None or (not meta and released > at))]
        return max(held, default=None)

    def counted_in_last_day(self, r: str, at: int) -> bool:
        t = self.latest(r, at, meta=True)
        return t is not None and t + DAY > at

    def record(self, at: int, r: str, answer: dict, *, dry_run: bool) -> None:
        decision = answer["decision"]
        if decision == "DENIED_LIMIT_REACHED" and self.counted_in_last_day(r, at):
            self.refused_repeats.append((at, r, decision))
        if decision == "DENIED_LIMIT_REACHED":
            self.denials.append((at, r, answer["retry_after_seconds"]))
        if decision in COUNTED and not dry_run:
            self.sends.setdefault(r, []).append([at, None])

    def release(self, r: str, sent_at: int, at: int) -> None:
        """The send to `r` at `sent_at` failed before Meta; its slot was given back at `at`."""
        entry = next(e for e in self.sends[r] if e[0] == sent_at and e[1] is None)
        entry[1] = at

    # ---- the exact moving window, from the log alone ------------------------------------------

    def live(self, at: int, *, meta: bool) -> list[int]:
        """Latest sends (one per recipient) that an exact 24-hour window still counts at `at`."""
        latest = (self.latest(r, at, meta=meta) for r in self.sends)
        return [t for t in latest if t is not None and t + DAY > at]

    def exact_count(self, at: int) -> int:
        return len(self.live(at, meta=True))

    def exact_frees_at(self, at: int) -> int:
        """When an exact window, given the slots held at `at`, first has a slot free (>= at)."""
        live = sorted(self.live(at, meta=False), reverse=True)
        if len(live) < LIMIT:
            return at
        return live[LIMIT - 1] + DAY  # the LIMIT-th most recent send stops counting then


class Workload:
    def __init__(self, stack, policy: str, seed: int):
        self.stack, self.rng = stack, random.Random(seed)
        self.policy = policy
        self.numbers = NUMBERS if policy == "portfolio" else NUMBERS[:1]
        self.checkers = [stack.own_checker(), stack.own_checker()]
        self.log = Log()
        self.releasable: list[tuple[str, str, int, str]] = []  # (number, recipient, at, reference)
        self.decisions: dict[str, int] = {}

    def send(self, body: dict) -> dict:
        at = int(self.stack.clock())
        answer = self.rng.choice(self.checkers).handle(body)
        self.log.checks += 1
        assert answer["decision"] not in ("INVALID_REQUEST", "DENIED_STORE_UNAVAILABLE"), answer
        entries = answer["results"] if "recipients" in body else [answer]
        targets = body["recipients"] if "recipients" in body else [body["recipient"]]
        for r, one in zip(targets, entries, strict=True):
            self.decisions[one["decision"]] = self.decisions.get(one["decision"], 0) + 1
            self.log.record(at, r, one, dry_run=body.get("dry_run", False))
            if one["decision"] == "ALLOWED_NEW_RECIPIENT" and body.get("reference") and not body.get("dry_run"):
                self.releasable.append((body["phone_number_id"], r, at, body["reference"]))
        return answer

    def step(self, n: int) -> None:
        rng, clock = self.rng, self.stack.clock
        clock.advance(rng.expovariate(STEPS / (HOURS * 3600)))
        number = rng.choice(self.numbers)
        admitted = list(self.log.sends)
        who = rng.choice(admitted) if admitted and rng.random() < REPEAT_SHARE else rng.choice(POPULATION)
        roll = rng.random()
        base = {"phone_number_id": number, "message": "template"}
        if roll < 0.50:
            self.send({**base, "recipient": who, "reference": f"send-{n}"})
        elif roll < 0.60:
            self.send({**base, "recipient": who, "message": "session"})
        elif roll < 0.68:  # the user writes in: a service window opens for 24 h (the intake's write)
            self.stack.open_window(number, who, int(clock()) + DAY)
        elif roll < 0.83:
            self.send({**base, "recipients": rng.sample(POPULATION, rng.randint(2, 15)), "reference": f"batch-{n}"})
        elif roll < 0.90:
            self.send({**base, "recipient": who, "dry_run": True})
        elif self.releasable:  # a send that failed before Meta gives its slot back
            number, r, at, reference = self.releasable.pop(rng.randrange(len(self.releasable)))
            answer = self.checkers[0].handle(
                {"action": "release", "phone_number_id": number, "recipient": r, "reference": reference}
            )
            self.decisions[answer["decision"]] = self.decisions.get(answer["decision"], 0) + 1
            if answer["decision"] == "RELEASED":
                self.log.release(r, at, int(clock()))


@pytest.mark.parametrize("policy", ["per-number", "portfolio"])
def test_48_hours_of_mixed_sends_never_exceed_an_exact_window_and_deny_at_most_w_early(ddb_stack, policy):
    # Given a limit of 25 unique recipients (shared by two numbers under the portfolio policy)
    stack = ddb_stack.with_env(LIMIT_POLICY=policy, BUCKET_MINUTES=str(BUCKET_MINUTES))
    for pnid in NUMBERS if policy == "portfolio" else NUMBERS[:1]:
        stack.register(phone_number_id=pnid, tier=str(LIMIT), portfolio_id=PORTFOLIO if policy == "portfolio" else None)
    run = Workload(stack, policy, seed=48 if policy == "per-number" else 2025)

    # When two days of mixed sends go through two checkers
    for n in range(STEPS):
        run.step(n)
    log = run.log
    assert stack.clock() - 1_800_000_000 > (HOURS - 2) * 3600  # the workload covered two days
    assert run.decisions.get("DENIED_LIMIT_REACHED", 0) > 20 and run.decisions.get("ALLOWED_NEW_RECIPIENT", 0) > 30
    assert run.decisions.get("RELEASED", 0) > 0 and run.decisions.get("ALLOWED_SERVICE_WINDOW", 0) > 0

    # Then at every instant the trailing 24 h holds at most LIMIT unique admitted recipients
    # (the count only rises when a send happens, so the instants of sends are the ones to check)
    instants = sorted({t for sends in log.sends.values() for t, _ in sends})
    worst = max(log.exact_count(t) for t in instants)
    assert worst <= LIMIT, f"an exact window counted {worst} unique recipients, limit {LIMIT}"
    assert worst == LIMIT  # and the limit was actually reached

    # and no recipient admitted in the last 24 h was refused
    assert not log.refused_repeats, log.refused_repeats[:5]

    # and every limit denial names a free slot no earlier than an exact window frees one, and at
    # most W later: the send would have been admitted by an exact window at most W minutes sooner
    for at, r, retry_after in log.denials:
        assert retry_after is not None, (at, r)
        exact = log.exact_frees_at(at)
        assert exact <= at + retry_after <= exact + W, (at, r, retry_after, exact)
    print(f"\n{policy}: {log.checks} checks over {HOURS} h; decisions {dict(sorted(run.decisions.items()))}")
