"""How a reported event changes a number's facets, and the history entries a change makes.

Pure: the intake reads the current facets, asks these functions for the new ones, and writes them
guarded by per-facet event-time watermarks (an older event never overwrites a newer one).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from numberguard.domain.events import QualityUpdate
from numberguard.domain.status import Quality
from numberguard.domain.tiers import MessagingLimit, Policy


@dataclass(frozen=True)
class QualityFacet:
    quality: Quality
    flagged_at: int | None


@dataclass(frozen=True)
class QualityPlan:
    """What a phone_number_quality_update asks for: a new quality facet and/or a new limit."""

    quality: QualityFacet | None
    limit: MessagingLimit | None
    reason: str


def plan_quality_update(current: QualityFacet, event: QualityUpdate, policy: Policy) -> QualityPlan:
    kind = event.event.upper()
    limit = event.portfolio_limit if policy is Policy.PORTFOLIO else event.current_limit
    if policy is Policy.PORTFOLIO and limit is None:
        limit = None  # per-number tiers do not set a portfolio's shared limit
    quality: QualityFacet | None = None
    if kind == "FLAGGED":
        # FLAGGED carries no colour: it means Low. The 7-day clock starts at the first flag.
        if policy is Policy.PORTFOLIO:
            quality = QualityFacet(Quality.RED, None)  # no Flagged state since 2025-10-07
        else:
            quality = QualityFacet(Quality.RED, current.flagged_at if current.flagged_at is not None else event.at)
    elif kind == "UNFLAGGED":
        # No longer Low: the lowest colour that is not Low, until a real rating arrives.
        new = current.quality if current.quality is Quality.GREEN else Quality.YELLOW
        quality = QualityFacet(new, None)
    elif kind in ("UPGRADE", "DOWNGRADE") and current.flagged_at is not None:
        # Meta's word on the tier settles a pending Flagged outcome.
        quality = QualityFacet(current.quality, None)
    return QualityPlan(quality=quality, limit=limit, reason=f"phone_number_quality_update {kind}")


@dataclass(frozen=True)
class Change:
    """One history entry (and notification) about a number."""

    phone_number_id: str
    type: str  # STATUS_CHANGED, QUALITY_CHANGED, LIMIT_CHANGED, FLAG_OUTCOME, ACCOUNT_RESTRICTED, …
    at: int
    before: str | None
    after: str | None
    reason: str
    scope: str | None = None
    severity: str = "INFO"

    @property
    def id(self) -> str:
        raw = f"{self.phone_number_id}|{self.type}|{self.at}|{self.before}|{self.after}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    @property
    def sort_key(self) -> str:
        return f"{self.at:011d}#{self.type}#{self.id[:12]}"


def limit_text(limit: MessagingLimit | None) -> str | None:
    if limit is None:
        return None
    return f"{limit.tier} ({'unlimited' if limit.limit is None else limit.limit})"
