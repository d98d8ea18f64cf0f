"""Stored records the intake and the evaluator read, as the stores hand them back (no item encodings)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from numberguard.domain.window import ScopeUsage


@dataclass(frozen=True)
class ScopeCounter:
    """A scope's counter: its usage and limit, and what the evaluator keeps on it."""

    scope: str
    usage: ScopeUsage
    tier: str | None = None
    limit_at: int = 0  # when the limit last changed (0: never since registration)
    upgrade_announced: str | None = None  # the tier stint whose UPGRADE_ELIGIBLE is recorded
    filled_bucket: int | None = None  # the bucket a scope lowered from unlimited started full in
    attention_at: int | None = None
    numbers: frozenset[str] = frozenset()  # phone_number_ids counted in this scope
    pending_people: frozenset[str] = frozenset()  # `space|key` of people the intake asked to fold again


@dataclass(frozen=True)
class WabaFacets:
    """WABA-wide facets, kept so that numbers registered later inherit them (None: never reported)."""

    banned: bool = False
    ban_at: int | None = None
    restrictions: Mapping[str, int] = field(default_factory=dict)
    restrictions_at: int | None = None
    meta_block: str | None = None  # the refusal block's value ("BLOCKED <code>", "LIFTED"), for numbers added later
    meta_block_at: int | None = None


@dataclass(frozen=True)
class OutboxEntry:
    """A history entry still unpublished (in the outbox)."""

    phone_number_id: str
    sort_key: str
    id: str
    outbox_at: int | None
    document: str  # the notification's JSON document
