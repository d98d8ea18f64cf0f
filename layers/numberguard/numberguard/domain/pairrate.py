"""The pair rate: how fast one business number may message one person (DESIGN §3, `DENIED_PAIR_RATE`).

Meta allows one message per 6 s from a number to the same person, bursts up to 45 that borrow from
later; past that it refuses with 131056 and the sender must back off 4^X s, X growing with repeats.
numberguard keeps one item per (number, person key) with two things:

- **Meta's refusals** (`strikes`: the 131056 failed statuses, message id → event time). The backoff
  is a function of the set, so a duplicate adds nothing and any delivery order gives the same answer:
  in time order, each refusal that comes less than `QUIET_SECONDS` after the previous backoff ended
  raises X by one (capped at `MAX_EXPONENT`), any later one starts again at X = 0; the backoff ends
  4^X s after the latest refusal. Kept whether or not the guard is on.
- **The token bucket** of the `PairRateGuard` parameter, as a GCRA "theoretical arrival time" `tat`:
  a send at `now` is admitted while `max(tat, now) <= now + TOLERANCE`, and each admission moves
  `tat` to `max(tat, now) + INTERVAL`. That is a bucket of `CAPACITY` tokens, one back every
  `INTERVAL` s, in one number, so one conditional UpdateItem takes a token atomically. A 131056 also
  empties the bucket at its time (Meta said the burst was used).

Pure: no I/O, time passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

CAPACITY = 45  # Meta: bursts up to 45 messages to one person
INTERVAL = 6  # seconds per token: one message per 6 s per pair
TOLERANCE = (CAPACITY - 1) * INTERVAL  # how far ahead of now `tat` may be for one more admission
BACKOFF_BASE = 4  # Meta: back off 4^X seconds
MAX_EXPONENT = 6  # 4^6 s = 68 min: Meta names no ceiling; more only stalls a sender Meta may admit already
# X falls back to 0 when a refusal comes 15 min or more after the previous backoff ended: more than
# three times the 270 s in which an unused bucket refills, so a pair quiet that long starts fresh.
QUIET_SECONDS = 15 * 60
MAX_STRIKES = 8  # refusals kept per pair: enough to reach MAX_EXPONENT (7 in a row)
STRIKE_HORIZON = 24 * 3600  # refusals older than this before the latest one are forgotten
PAIR_TTL_SECONDS = 2 * 24 * 3600  # a pair item no write touched for this long is expired by TTL
BURST_USED = "this number has used its burst to this person (45 messages, one back every 6 s)"


@dataclass(frozen=True)
class Backoff:
    until: int  # the time the latest refusal's backoff ends
    exponent: int  # X of the latest refusal
    strikes: int  # refusals in the current run (X + 1 unless capped)


def backoff(strikes: Mapping[str, int]) -> Backoff | None:
    """The backoff Meta's 131056 refusals (message id → event time) ask for; None when there are none."""
    exponent, until, run = 0, None, 0
    for at, _ in sorted((at, wamid) for wamid, at in strikes.items()):
        if until is not None and at < until + QUIET_SECONDS:
            exponent, run = min(exponent + 1, MAX_EXPONENT), run + 1
        else:
            exponent, run = 0, 1
        until = max(until or 0, at + BACKOFF_BASE ** exponent)
    return None if until is None else Backoff(until, exponent, run)


def kept_strikes(strikes: Mapping[str, int]) -> dict[str, int]:
    """The refusals worth storing: the latest MAX_STRIKES within STRIKE_HORIZON of the latest.

    Keeping the top of one total order: pruning before or after a late refusal arrives gives the same.
    """
    ranked = sorted(((at, wamid) for wamid, at in strikes.items()), reverse=True)[:MAX_STRIKES]
    if not ranked:
        return {}
    latest = ranked[0][0]
    return {wamid: at for at, wamid in ranked if at >= latest - STRIKE_HORIZON}


@dataclass(frozen=True)
class PairState:
    """What the store holds for one (number, person key) pair; the empty state when there is no item."""

    tat: int | None = None  # the bucket's theoretical arrival time (None: full)
    strikes: Mapping[str, int] = field(default_factory=dict)
    version: int = 0  # of the strikes (the intake's optimistic lock); the bucket's writes leave it alone

    def backoff(self) -> Backoff | None:
        return backoff(self.strikes)

    def backoff_until(self, now: int) -> int | None:
        """When Meta's backoff for this pair ends, if it has not yet."""
        found = self.backoff()
        return found.until if found is not None and found.until > now else None

    def tokens(self, now: int) -> int:
        """Tokens left at `now` (0 to CAPACITY)."""
        return tokens(self.tat, now)


def tokens(tat: int | None, now: int) -> int:
    ahead = max(tat if tat is not None else now, now) - now
    return max(0, min(CAPACITY, (TOLERANCE - ahead) // INTERVAL + 1))


def next_token_at(tat: int | None, now: int) -> int | None:
    """When the bucket admits again, if it does not at `now`."""
    if tat is None or tat <= now + TOLERANCE:
        return None
    return tat - TOLERANCE


@dataclass(frozen=True)
class Take:
    """How to take one token from a bucket last seen at `seen` (its `tat`), as one conditional write.

    `fresh`: the bucket is full (no tat, or tat at or before now): write `tat = now + INTERVAL` if it is
    still so. Otherwise add INTERVAL to `tat` if it still lies in [now, now + TOLERANCE]. Either
    condition fails only when another write moved the bucket out of that range: plan again from the
    value it returns. `denied_until`: the bucket is empty, no write; the next token comes then.
    """

    now: int
    fresh: bool = False
    denied_until: int | None = None
    claim: str = ""  # this take's id, written with it: the SDK's retry of a write that landed finds its own

    @property
    def ceiling(self) -> int:
        return self.now + TOLERANCE

    @property
    def new_tat(self) -> int:
        """The tat a fresh take writes."""
        return self.now + INTERVAL


def plan_take(seen: int | None, now: int, claim: str = "") -> Take:
    """The write that takes one token at `now` from a bucket whose tat was `seen` (`claim`: the take's id)."""
    retry = next_token_at(seen, now)
    if retry is not None:
        return Take(now, denied_until=retry)
    return Take(now, fresh=seen is None or seen < now, claim=claim)


def after_strike(state: PairState, wamid: str, at: int) -> PairState | None:
    """The pair after Meta refused message `wamid` at `at` with 131056; None when nothing changes
    (a duplicate, or a refusal too old to keep)."""
    if state.strikes.get(wamid) == at:
        return None
    strikes = kept_strikes({**state.strikes, wamid: at})
    if strikes == dict(state.strikes):
        return None
    emptied = at + TOLERANCE + INTERVAL  # Meta said the burst is used up at `at`: no token until at + INTERVAL
    tat = emptied if state.tat is None else max(state.tat, emptied)
    return PairState(tat, strikes, state.version + 1)


def pair_denial(state: PairState, now: int, guard: bool) -> int | None:
    """Precedence row 6 from what was read: the time the pair may send again, None when it may now.

    Meta's backoff applies whatever the guard says; the bucket only with the guard on.
    """
    until = state.backoff_until(now)
    if guard:
        token = next_token_at(state.tat, now)
        if token is not None:
            until = max(until or 0, token)
    return until
