"""Meta's `health_status`: whether a number, its WABA and its business may send, in Meta's words.

A node's overall `can_send_message` decides (any BLOCKED entity makes the whole BLOCKED); its
`entities` say which part and carry Meta's codes (BLOCKED) or advice (LIMITED). The facet is kept
as one canonical text (`encode`), so two reads saying the same thing are equal and a repeat is no
change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

MAX_TEXT = 500  # Meta's descriptions are a sentence or two; anything longer is cut, never stored whole
MAX_ITEMS = 10  # entities, errors and advice kept per node


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


def _text(raw: object) -> str | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    return raw.strip()[:MAX_TEXT]


def _can_send(raw: object) -> CanSend | None:
    if not isinstance(raw, str):
        return None
    try:
        return CanSend(raw.strip().upper())
    except ValueError:
        return None


def _code(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw.strip())
    return None


def _errors(raw: object) -> tuple[HealthError, ...]:
    if not isinstance(raw, list):
        return ()
    out = [HealthError(_code(e.get("error_code")), _text(e.get("error_description")), _text(e.get("possible_solution")))
           for e in raw[:MAX_ITEMS] if isinstance(e, Mapping)]
    return tuple(e for e in out if e.error_code is not None or e.error_description)


def _infos(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(t for t in (_text(i) for i in raw[:MAX_ITEMS]) if t)


def _entity(raw: object) -> HealthEntity | None:
    if not isinstance(raw, Mapping):
        return None
    can_send = _can_send(raw.get("can_send_message"))
    kind = _text(raw.get("entity_type"))
    if can_send is None or kind is None:
        return None
    raw_id = raw.get("id")
    entity_id = str(raw_id)[:64] if isinstance(raw_id, (str, int)) and raw_id else None
    return HealthEntity(kind.upper()[:40], entity_id, can_send, _errors(raw.get("errors")),
                        _infos(raw.get("additional_info")))


def parse_health(raw: object) -> Health | None:
    """Meta's `health_status` object → Health; None when it cannot be read (then nothing changes).

    The overall `can_send_message` decides; when it is missing or unknown, the worst entity decides;
    with neither, the node's health is unreadable. An unknown value is never read as AVAILABLE.
    """
    if not isinstance(raw, Mapping):
        return None
    listed = raw.get("entities")
    listed = listed[:MAX_ITEMS] if isinstance(listed, list) else []
    entities = tuple(e for e in (_entity(x) for x in listed) if e is not None)
    overall = _can_send(raw.get("can_send_message"))
    if overall is None and not entities:
        return None
    # "any BLOCKED entity makes the whole BLOCKED": never read less than the worst part says
    return Health(worst([e.can_send for e in entities] + ([overall] if overall else [])), entities)


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
