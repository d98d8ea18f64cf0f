"""How a reported event changes a number's facets, and the history entries a change makes.

Pure: the intake maps each event onto facet values (domain/facetlog.py orders them) and turns the
transitions into Change entries: the history and the notifications.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from numberguard.domain.events import QualityUpdate
from numberguard.domain.tiers import MessagingLimit, Policy

# What each phone_number_quality_update event says about the quality and the Flagged facets.
QUALITY_OF_EVENT = {"FLAGGED": "RED", "UNFLAGGED": "YELLOW"}  # FLAGGED means Low; UNFLAGGED no longer Low
FLAG_OF_EVENT = {
    "FLAGGED": "FLAGGED",
    "UNFLAGGED": "CONNECTED",
    # Meta's day-7 downgrade settles the Flagged outcome. UPGRADE says nothing about the flag (Meta never
    # upgrades a Flagged number): logging it as "not flagged" would be a repeat of the value, and a repeat
    # that arrives before the UNFLAGGED it follows would announce that UNFLAGGED's change a second time.
    "DOWNGRADE": "CONNECTED",
}
# FLAGGED / UNFLAGGED carry the current limit unchanged: only these events report a limit change (a
# repeated limit delivered early would announce the real change twice). Unknown events keep their limit.
NOT_A_LIMIT_CHANGE = frozenset({"FLAGGED", "UNFLAGGED"})


def quality_reading(event: QualityUpdate, policy: Policy) -> tuple[str | None, str | None, MessagingLimit | None]:
    """(quality value, flag value, reported limit) that an update asks for; None where it says nothing."""
    kind = event.event.upper()
    flag = FLAG_OF_EVENT.get(kind) if policy is Policy.PER_NUMBER else None  # no Flagged state since 2025-10
    limit = event.portfolio_limit if policy is Policy.PORTFOLIO else event.current_limit
    if kind in NOT_A_LIMIT_CHANGE:
        limit = None
    return QUALITY_OF_EVENT.get(kind), flag, limit


@dataclass(frozen=True)
class TemplateOf:
    """The template a change is about, as Meta names it: its WABA, its name and its language."""

    waba_id: str
    name: str
    language: str


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
    # The facet-log entry that made the change; with `after` it identifies the change whatever
    # `before` turned out to be when events arrived out of order.
    key: str | None = None
    # Extra words of the source for the notification (e.g. Meta's error and possible_solution).
    detail: tuple[tuple[str, str], ...] = ()
    # A template's change: which template (`phone_number_id` is then only its history subject, a store key).
    template: TemplateOf | None = None

    @property
    def id(self) -> str:
        raw = f"{self.phone_number_id}|{self.type}|{self.key or self.at}|{self.after}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    @property
    def sort_key(self) -> str:
        return f"{self.at:011d}#{self.type}#{self.id[:12]}"


def limit_text(limit: MessagingLimit | None) -> str | None:
    if limit is None:
        return None
    return f"{limit.tier} ({'unlimited' if limit.limit is None else limit.limit})"
