"""Facets of a number's state and the status shown to people."""

from __future__ import annotations

from enum import StrEnum


class Connection(StrEnum):
    PENDING = "PENDING"
    CONNECTED = "CONNECTED"
    OFFLINE = "OFFLINE"


class Quality(StrEnum):
    GREEN = "GREEN"
    YELLOW = "YELLOW"
    RED = "RED"
    UNKNOWN = "UNKNOWN"


class DisplayStatus(StrEnum):
    BANNED = "BANNED"
    BLOCKED = "BLOCKED"  # Meta's health status: the number, its WABA or business cannot send
    PENDING = "PENDING"
    OFFLINE = "OFFLINE"
    RESTRICTED = "RESTRICTED"
    FLAGGED = "FLAGGED"
    CONNECTED = "CONNECTED"


# Status strings from the Graph API and providers are an open set: every known spelling is
# mapped here, anything else is treated as "not reachable" (nothing can be sent) so an
# unexpected value never lets a send through.
_CONNECTION_SPELLINGS = {
    "CONNECTED": Connection.CONNECTED,
    "PENDING": Connection.PENDING,
    "UNVERIFIED": Connection.PENDING,
    "NOT_VERIFIED": Connection.PENDING,
    "OFFLINE": Connection.OFFLINE,
    "DISCONNECTED": Connection.OFFLINE,
    "MIGRATED": Connection.OFFLINE,
    "DELETED": Connection.OFFLINE,
    "RATE_LIMITED": Connection.CONNECTED,
    "FLAGGED": Connection.CONNECTED,
    "RESTRICTED": Connection.CONNECTED,
}


def parse_connection(raw: str) -> Connection:
    """Map an outside status string to the connection facet (unknown → OFFLINE)."""
    return _CONNECTION_SPELLINGS.get(str(raw).strip().upper(), Connection.OFFLINE)


_QUALITY_SPELLINGS = {
    "GREEN": Quality.GREEN,
    "HIGH": Quality.GREEN,
    "YELLOW": Quality.YELLOW,
    "MEDIUM": Quality.YELLOW,
    "RED": Quality.RED,
    "LOW": Quality.RED,
    "UNKNOWN": Quality.UNKNOWN,
    "NA": Quality.UNKNOWN,
}


def quality_spellings() -> tuple[str, ...]:
    """Every spelling parse_quality knows (what a person may type for a quality)."""
    return tuple(_QUALITY_SPELLINGS)


def parse_quality(raw: str) -> Quality:
    """Map GREEN/YELLOW/RED and High/Medium/Low spellings; anything else is UNKNOWN."""
    return _QUALITY_SPELLINGS.get(str(raw).strip().upper(), Quality.UNKNOWN)


def quality_recovered(quality: Quality) -> bool:
    """Medium or High again: what the Flagged rule asks for by day 7."""
    return quality in (Quality.GREEN, Quality.YELLOW)


def display_status(
    *,
    banned: bool,
    connection: Connection,
    restricted: bool,
    flagged: bool,
    blocked: bool = False,
) -> DisplayStatus:
    """Precedence: BANNED > BLOCKED (health) > PENDING > OFFLINE > RESTRICTED > FLAGGED > CONNECTED."""
    if banned:
        return DisplayStatus.BANNED
    if blocked:
        return DisplayStatus.BLOCKED
    if connection is Connection.PENDING:
        return DisplayStatus.PENDING
    if connection is Connection.OFFLINE:
        return DisplayStatus.OFFLINE
    if restricted:
        return DisplayStatus.RESTRICTED
    if flagged:
        return DisplayStatus.FLAGGED
    return DisplayStatus.CONNECTED
