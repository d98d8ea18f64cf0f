"""Meta's `health_status`: whether a number, its WABA and its business may send, in Meta's words
(read from the Graph's bodies by graph/nodes.py).

A node's overall `can_send_message` decides (any BLOCKED entity makes the whole BLOCKED); its
`entities` say which part and carry Meta's codes (BLOCKED) or advice (LIMITED). The facet is kept
as one canonical text (`encode`), so two reads saying the same thing are equal and a repeat is no
change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class CanSend(StrEnum):
    AVAILABLE = "AVAILABLE"
    LIMITED = "LIMITED"
    BLOCKED = "BLOCKED"


_RANK = {CanSend.AVAILABLE: 0, CanSend.LIMITED: 1, CanSend.BLOCKED: 2}


def worst(values: Iterable[CanSend]) -> CanSend:
    """The worst of several parts' `can_send_message` (any BLOCKED part makes the whole BLOCKED)."""
    return max(values, key=_RANK.__getitem__)


@dataclass(frozen=True)
class HealthError:
    error_code: int | None
    error_description: str | None
    possible_solution: str | None = None


@dataclass(frozen=True)
class HealthEntity:
    entity_type: str  # PHONE_NUMBER, WABA, BUSINESS, APP, MESSAGE_TEMPLATE, or one Meta adds later
    entity_id: str | None
    can_send: CanSend
    errors: tuple[HealthError, ...] = ()
    additional_info: tuple[str, ...] = ()


@dataclass(frozen=True)
class Health:
    can_send: CanSend
    entities: tuple[HealthEntity, ...] = ()

    @property
    def blocked(self) -> bool:
        return self.can_send is CanSend.BLOCKED

    @property
    def limited(self) -> bool:
        return self.can_send is CanSend.LIMITED

    def blocking(self) -> tuple[HealthEntity, HealthError | None] | None:
        """The first BLOCKED part and its first error (None when nothing is blocked)."""
        if not self.blocked:
            return None
        for entity in self.entities:
            if entity.can_send is CanSend.BLOCKED:
                return entity, entity.errors[0] if entity.errors else None
        return None

    def error_text(self) -> str | None:
        """What the check's `error` says for a BLOCKED node: the part, Meta's code and description."""
        if not self.blocked:
            return None
        found = self.blocking()
        if found is None:
            return "Meta's health status says BLOCKED"
        entity, error = found
        part = f"{entity.entity_type} {entity.entity_id}" if entity.entity_id else entity.entity_type
        if error is None:
            return f"Meta's health status says BLOCKED ({part})"
        code = f" {error.error_code}" if error.error_code is not None else ""
        text = f": {error.error_description}" if error.error_description else ""
        return f"Meta's health status says BLOCKED ({part}){code}{text}"

    def solution(self) -> str | None:
        found = self.blocking()
        return found[1].possible_solution if found and found[1] else None

    def warnings(self) -> list[str]:
        """Meta's advice for each LIMITED part (the check's `warnings`)."""
        out: list[str] = []
        for entity in self.entities:
            if entity.can_send is CanSend.LIMITED:
                out.extend(f"{entity.entity_type}: {info}" for info in entity.additional_info)
                if not entity.additional_info:
                    out.append(f"{entity.entity_type}: Meta's health status says LIMITED")
        if self.limited and not out:
            out.append("Meta's health status says LIMITED")
        return out

    def summary(self) -> str:
        """Short words for history and notifications: `BLOCKED (WABA 141006)`, `LIMITED`, `AVAILABLE`."""
        found = self.blocking()
        if found is None:
            return self.can_send.value
        entity, error = found
        code = f" {error.error_code}" if error and error.error_code is not None else ""
        return f"BLOCKED ({entity.entity_type}{code})"


def encode(health: Health) -> str:
    """Canonical text of the facet (equal reads give equal text)."""
    return json.dumps({
        "can_send": health.can_send.value,
        "entities": [
            {"type": e.entity_type, "id": e.entity_id, "can_send": e.can_send.value,
             "errors": [[x.error_code, x.error_description, x.possible_solution] for x in e.errors],
             "info": list(e.additional_info)}
            for e in health.entities
        ],
    }, sort_keys=True, separators=(",", ":"))


def decode(text: str | None) -> Health | None:
    """The stored facet back; None for nothing stored or for text this version cannot read."""
    if not text:
        return None
    try:
        data = json.loads(text)
        entities = tuple(
            HealthEntity(e["type"], e.get("id"), CanSend(e["can_send"]),
                         tuple(HealthError(*x) for x in e.get("errors", [])), tuple(e.get("info", [])))
            for e in data.get("entities", [])
        )
        return Health(CanSend(data["can_send"]), entities)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def summary_of(text: str | None) -> str | None:
    """The short words of a stored facet (history's from / to)."""
    health = decode(text)
    return health.summary() if health else None
