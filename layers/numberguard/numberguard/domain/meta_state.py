"""What a Graph API read says about a number, as facet values (DESIGN §5b). Pure; time passed in.

A read is one more source of facet entries, at the time it was read: a newer webhook still wins and
an older one never overwrites it (the facet log orders both). A read repeating what the facet holds
makes no entry at all, so a sync over unchanged numbers writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from numberguard.domain.health import CanSend, Health, HealthEntity, decode, encode, worst
from numberguard.domain.status import Quality, parse_connection, parse_quality
from numberguard.domain.templates import (
    Category,
    Naming,
    StatusReading,
    TemplateState,
    TemplateStatus,
    read_quality,
    read_status,
)
from numberguard.domain.tiers import LimitSpellingError, MessagingLimit, parse_limit

SOURCE = "graph"
REASON = "graph (Meta's Graph API read)"  # the reason history and notices give for a read's change

# The number facets a read sets (the scope's limit is set through the limit log, per policy).
QUALITY, CONNECTION, HEALTH = "quality", "connection", "health"
CHANGE_TYPE = {QUALITY: "QUALITY_CHANGED", CONNECTION: "STATUS_CHANGED", HEALTH: "HEALTH_CHANGED"}
# A template's facets a read sets (its logs' facet names)
TEMPLATE_STATUS, TEMPLATE_QUALITY = "status", "quality"


@dataclass(frozen=True)
class NumberReading:
    """One number as Meta's Graph API described it at `at`. None: not read (or unreadable)."""

    phone_number_id: str
    waba_id: str
    at: int
    display_phone_number: str | None = None
    verified_name: str | None = None
    quality: str | None = None  # GREEN / YELLOW / RED
    connection: str | None = None  # CONNECTED / PENDING / OFFLINE
    limit: MessagingLimit | None = None  # the portfolio's shared limit
    health: Health | None = None
    business_id: str | None = None

    def facets(self) -> dict[str, str]:
        """The number facets this read sets (only what it could read)."""
        values = {QUALITY: self.quality, CONNECTION: self.connection,
                  HEALTH: encode(self.health) if self.health else None}
        return {k: v for k, v in values.items() if v is not None}


def graph_quality(raw: str | None) -> str | None:
    """GREEN / YELLOW / RED (and High / Medium / Low); UNKNOWN and NA say nothing about a known number."""
    if raw is None:
        return None
    quality = parse_quality(raw).value
    return None if quality == "UNKNOWN" else quality


def graph_connection(raw: str | None) -> str | None:
    """Meta's status → the connection facet (an unknown spelling is OFFLINE: it never lets a send through)."""
    return parse_connection(raw).value if raw is not None else None


def graph_limit(raw: str | None) -> MessagingLimit | None:
    """The portfolio's limit as Meta spells it; TIER_NOT_SET or an unreadable value says nothing."""
    try:
        return parse_limit(raw)
    except LimitSpellingError:
        return None


def combine(number: Health | None, waba: Health | None) -> Health | None:
    """A number's health with its WABA node's: the parts either names, the worst overall value.

    The number's node already names its WABA and business; the WABA's own node is read each run
    anyway, so a WABA blocked after the list was cached still blocks its numbers.
    """
    if number is None or waba is None:
        return number or waba
    seen = {(e.entity_type, e.entity_id) for e in number.entities}
    extra: Sequence[HealthEntity] = [e for e in waba.entities if (e.entity_type, e.entity_id) not in seen]
    return Health(worst((number.can_send, waba.can_send)), number.entities + tuple(extra))


def announce_first(facet: str, value: str) -> bool:
    """Whether a facet's first read value (nothing held before) is announced: one rule for numbers and
    templates. A first value saying all is well is set silently, as registration sets a number's quality
    (health AVAILABLE, a template APPROVED, a template's quality GREEN or not yet rated); any other (a
    number, WABA or business Meta blocks or limits, a template paused, disabled or RED) is announced once."""
    if facet == HEALTH:
        health = decode(value)
        return health is not None and health.can_send is not CanSend.AVAILABLE
    if facet == TEMPLATE_STATUS:
        return value != TemplateStatus.APPROVED.value
    if facet == TEMPLATE_QUALITY:
        return value not in (Quality.GREEN.value, Quality.UNKNOWN.value)
    return True


def differences(current: Mapping[str, str | None], read: Mapping[str, str]) -> dict[str, str]:
    """The facets whose read value differs from what is held (a repeat makes no entry)."""
    return {facet: value for facet, value in read.items() if current.get(facet) != value}


def access_notice(was_failing: bool, refused: bool, read_something: bool) -> str | None:
    """META_ACCESS_FAILED once when an outage starts, META_ACCESS_RESTORED once when a read works again."""
    if refused and not was_failing:
        return "META_ACCESS_FAILED"
    if was_failing and read_something and not refused:
        return "META_ACCESS_RESTORED"
    return None


def run_order(known: Sequence[str], resume_from: str | None) -> list[str]:
    """The WABAs of a run: the one the last run could not reach first, then the others in order."""
    ordered = sorted(set(known))
    if resume_from in ordered:
        i = ordered.index(resume_from)
        return ordered[i:] + ordered[:i]
    return ordered


@dataclass(frozen=True)
class TemplateReading:
    """What a read of one template says that the held state does not (None: nothing new of that facet)."""

    naming: Naming
    at: int
    status: StatusReading | None = None
    quality: str | None = None
    category: Category | None = None
    held: TemplateState | None = None  # the state the read was compared with (None: a template not known)

    def held_at(self, facet: str) -> int | None:
        """When the held value of `facet` ("status" or "quality") was made (its latest entry's time)."""
        if self.held is None:
            return None
        return self.held.status.at if facet == TEMPLATE_STATUS else self.held.quality_at


def template_reading(held: TemplateState | None, naming: Naming, at: int, status: str | None,
                     quality: str | None, category: str | None) -> TemplateReading | None:
    """A template as the Graph lists it against the template as held: None when nothing differs."""
    known = held or TemplateState("", naming.ref.name, naming.ref.language)
    new_category = Category.read(category)
    read = TemplateReading(naming, at, read_status(known.status, status, at, SOURCE),
                           read_quality(known.quality, quality),
                           new_category if new_category != known.category else None, held)
    return read if (read.status, read.quality, read.category) != (None, None, None) else None
