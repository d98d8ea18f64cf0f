"""The limit check's answer: one type for every answer (single, batch summary, error), its fields
written once, in the order of the contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from numberguard.domain.check import Decision, iso
from numberguard.domain.number import NumberState
from numberguard.domain.window import ScopeUsage, Window

MIXED = "MIXED"  # a batch summary's decision when its recipients were answered differently


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    retry_at: int | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()  # never change the decision (DESIGN §3)


@dataclass(frozen=True)
class Answer:
    allowed: bool
    decision: str
    phone_number_id: str | None
    evaluated_at: str
    status: str | None = None
    quality: str | None = None
    tier: str | None = None
    limit: int | None = None
    used: int | None = None
    remaining: int | None = None
    retry_after_seconds: int | None = None
    error: str | None = None
    recipient: str | None = None  # in a batch's per-recipient results
    # Every answer carries the list, empty when there is nothing to say; warnings never change `allowed`
    # (Meta's advice while health is LIMITED, a template Meta rates RED or FLAGGED, a template never heard of).
    warnings: tuple[str, ...] = ()
    category: str | None = None  # the check's: the request's, else its known template's (lower case)

    @classmethod
    def of(cls, number: NumberState, tier: str | None, usage: ScopeUsage, outcome: Outcome, window: Window,
           now: int, recipient: str | None = None) -> Answer:
        used = None if usage.unlimited else window.used(usage.buckets, now)
        limit = usage.limit
        reached = used is not None and limit is not None and used >= limit
        return cls(
            allowed=outcome.decision.allowed, decision=outcome.decision.value,
            phone_number_id=number.phone_number_id, evaluated_at=iso(now),
            status=number.status(limit_reached=reached, now=now).value, quality=number.quality.value, tier=tier,
            limit=limit, used=used,
            remaining=None if used is None or limit is None else max(limit - used, 0),
            retry_after_seconds=None if outcome.retry_at is None else max(outcome.retry_at - now, 0),
            error=outcome.error or _blocked_error(number, outcome), recipient=recipient,
            warnings=tuple(number.warnings()) + outcome.warnings,
        )

    @classmethod
    def failed(cls, decision: Decision, error: str, phone_number_id: str | None, now: int) -> Answer:
        """An answer without a number to describe (bad request, unknown number, store down)."""
        return cls(allowed=decision.allowed, decision=decision.value, phone_number_id=phone_number_id,
                   evaluated_at=iso(now), error=error)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.recipient is None else {"recipient": self.recipient}
        out.update(allowed=self.allowed, decision=self.decision, phone_number_id=self.phone_number_id,
                   status=self.status, quality=self.quality, tier=self.tier, limit=self.limit, used=self.used,
                   remaining=self.remaining, retry_after_seconds=self.retry_after_seconds,
                   evaluated_at=self.evaluated_at, warnings=list(self.warnings), category=self.category)
        if self.error is not None:
            out["error"] = self.error
        return out


def _blocked_error(number: NumberState, outcome: Outcome) -> str | None:
    """DENIED_BLOCKED_BY_META names the part and Meta's code and description."""
    if outcome.decision is not Decision.DENIED_BLOCKED_BY_META:
        return None
    return number.blocked_error()


def batch_summary(head: Answer, results: list[Answer]) -> dict[str, Any]:
    """The batch's answer: the scope's figures (`head`), what all recipients share, and each one's answer."""
    decisions = {r.decision for r in results}
    allowed = sum(1 for r in results if r.allowed)
    waits = [r.retry_after_seconds for r in results if r.retry_after_seconds is not None]
    out = head.as_dict()
    out.update(allowed=allowed == len(results), decision=decisions.pop() if len(decisions) == 1 else MIXED,
               retry_after_seconds=min(waits) if waits else None)
    out.update(allowed_count=allowed, denied_count=len(results) - allowed, results=[r.as_dict() for r in results])
    return out
