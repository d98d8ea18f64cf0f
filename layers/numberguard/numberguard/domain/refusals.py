"""Meta's refusals of a send (error codes in failed statuses and value-level `errors[]`), and what
numberguard learns from each (DESIGN §3 precedence rows 3, 5 and 8, §4 "Refusals").

- 131048 (spam rate limit): the number is on hold for `SpamHoldMinutes` after each refusal; while it
  holds, business-initiated sends are denied (DENIED_SPAM_RATE_LIMITED); replies in a window still go.
- 131049 (per-user marketing limit): the person's marketing cooldown, 24 h after the refusal
  (DENIED_RECIPIENT_COOLDOWN for `marketing` checks only).
- 131042 / 368 / 131031 (payment, restricted or disabled, locked): the WABA is blocked
  (DENIED_BLOCKED_BY_META naming the code) until Meta's word lifts it: a `sent` status newer than the
  refusal from one of the WABA's numbers (Meta accepted a new send), an `account_update` reinstatement,
  or a Graph read saying AVAILABLE. A delivered or read status never lifts it: it can belong to a send
  Meta accepted before the block.

Every rule here is a function of event times (Meta's), never of the order deliveries arrive in: a hold
ends at the latest refusal's time + the hold, a cooldown at the latest refusal's time + 24 h, and the
block is the latest of its entries (refusals and lifts) in time order. Pure: no I/O, time passed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from numberguard.domain.window import DAY_SECONDS

SPAM_RATE_LIMIT = 131048
MARKETING_LIMIT = 131049
# WABA-wide refusals, in Meta's words (whatsapp-rules.md "Error codes worth acting on").
BLOCK_CODES = {
    131042: "payment method problem (credit line over limit, account suspended, on-behalf-of pending)",
    368: "the WABA is restricted or disabled for a policy violation",
    131031: "the business account is locked",
}
COOLDOWN_SECONDS = DAY_SECONDS  # Meta: wait at least 24 h; resending earlier only earns the same error
DEFAULT_HOLD_MINUTES = 60  # Meta publishes no duration: docs/decision_log.md gives the reasons
MAX_HOLD_MINUTES = 7 * 24 * 60
# The statuses that prove Meta accepted a NEW send (when newer than a refusal): only `sent`. A delivered or
# read status (often minutes or hours after its send) can belong to a send accepted before the block.
ACCEPTED_NEW = frozenset({"sent"})
LIFTED = "LIFTED"  # a block log's value once Meta's word lifted the block
BLOCKED_PREFIX = "BLOCKED "  # a block log's value: "BLOCKED <code>"


def hold_seconds(minutes: int) -> int:
    """The hold after a 131048, in seconds (a parameter: 1 minute to 7 days)."""
    if not 1 <= minutes <= MAX_HOLD_MINUTES:
        raise ValueError(f"SpamHoldMinutes must be 1 to {MAX_HOLD_MINUTES}, got {minutes}")
    return minutes * 60


def block_code(codes: Iterable[int]) -> int | None:
    """The first WABA-blocking code among a refusal's codes (None: none blocks the WABA)."""
    return next((c for c in codes if c in BLOCK_CODES), None)


def block_value(code: int) -> str:
    return f"{BLOCKED_PREFIX}{code}"


def code_of_block(value: str | None) -> int | None:
    """The code a block log's value names; None for LIFTED, nothing, or a value this version cannot read."""
    if not value or not value.startswith(BLOCKED_PREFIX):
        return None
    digits = value[len(BLOCKED_PREFIX):]
    return int(digits) if digits.isdigit() else None


@dataclass(frozen=True)
class Hold:
    """A number's spam-rate hold: from the refusal that began it to the latest refusal + the hold."""

    since: int
    until: int

    def active(self, now: int) -> bool:
        return self.until > now


@dataclass(frozen=True)
class HoldStep:
    """What a 131048 at `at` does to the hold as stored (`held`): a new hold starts, or it extends one."""

    until: int  # the hold's end after this refusal
    starts: bool  # this refusal begins a hold (the one NUMBER_ON_HOLD of that hold is due)


def hold_step(held: Hold | None, at: int, hold: int) -> HoldStep:
    """A refusal at `at` begins a hold when none holds at that time; else it extends the one that does.

    A refusal older than the stored hold's start but overlapping it belongs to the same hold (no second
    notice); one that ended before it began is a past hold nobody needs told about (nothing changes).
    """
    until = at + hold
    if held is None or held.until <= at:
        return HoldStep(until, True)
    return HoldStep(max(until, held.until), False)


def fold_holds(refused: Iterable[tuple[int, str]], hold: int) -> list[tuple[int, int, str]]:
    """A batch's spam-rate refusals (time, dedup key) as the holds they make: (since, until, the key of the
    refusal that began it). Refusals inside a hold extend it; one after its end begins another."""
    holds: list[tuple[int, int, str]] = []
    current: Hold | None = None
    for at, key in sorted(refused):
        step = hold_step(current, at, hold)
        if step.starts:
            holds.append((at, step.until, key))
            current = Hold(at, step.until)
        else:
            since, _, first = holds[-1]
            holds[-1] = (since, step.until, first)
            current = Hold(since, step.until)
    return holds


@dataclass(frozen=True)
class MetaBlock:
    """A WABA blocked after Meta refused a send with `code` at `at` (until Meta's word lifts it)."""

    code: int
    at: int

    def error_text(self) -> str:
        meaning = BLOCK_CODES.get(self.code, "Meta refused the WABA's sends")
        return f"Meta refused a send from this WABA with error {self.code} ({meaning}); blocked until Meta lifts it"


def hold_error() -> str:
    return (f"Meta refused a send from this number with error {SPAM_RATE_LIMIT} (spam rate limit): "
            "business-initiated sends are held until the hold ends; replies in a service window still go")


def cooldown_error() -> str:
    return (f"Meta refused a marketing message to this person with error {MARKETING_LIMIT} (per-user marketing "
            "limit): no marketing message to them for 24 h; other categories are not affected")


def cooldown_until(at: int) -> int:
    return at + COOLDOWN_SECONDS


class HoldWrite(StrEnum):
    """What a spam-rate refusal did to the number's hold as stored."""

    BEGAN = "BEGAN"  # it began a hold (or is Meta's retry of the refusal that did): NUMBER_ON_HOLD is due
    EXTENDED = "EXTENDED"  # the hold now ends later
    UNCHANGED = "UNCHANGED"  # a hold at least as long stands
    UNKNOWN_NUMBER = "UNKNOWN_NUMBER"  # not registered: nothing to hold


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class CooldownLine:
    """A person's marketing cooldown as the number's history keeps it (a line, never a notification)."""

    phone_number_id: str
    person: str  # the person's key (the id the cooldown is kept under)
    ids: tuple[str, ...]  # every id of the person known when it was written
    at: int  # Meta's refusal
    until: int

    type = "RECIPIENT_COOLDOWN"

    @property
    def id(self) -> str:
        raw = f"{self.phone_number_id}|{self.type}|{self.person}|{self.at}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    @property
    def sort_key(self) -> str:
        return f"{self.at:011d}#{self.type}#{self.id[:12]}"

    def document(self) -> dict:
        return {"person": self.person, "ids": list(self.ids), "from": None, "to": f"cooldown until {_iso(self.until)}",
                "reason": f"Meta refused a marketing message with error {MARKETING_LIMIT} (per-user marketing limit)",
                "until": _iso(self.until)}
