"""Graph API response bodies → typed nodes. Pure: every field may be missing, of the wrong type,
empty or oversized; what cannot be read is None (and changes nothing), never a guess."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from numberguard.domain.health import CanSend, Health, HealthEntity, HealthError, worst

T = TypeVar("T")

MAX_TEXT = 200
MAX_HEALTH_TEXT = 500  # Meta's health descriptions are a sentence or two; anything longer is cut, never kept whole
MAX_HEALTH_ITEMS = 10  # entities, errors and advice kept per node
MAX_ITEMS_PER_PAGE = 1000  # Meta pages hold at most a few hundred; more is not a page of Meta's
_ID = re.compile(r"^[0-9]{1,32}$")

# The fields §5b asks for on a WABA's numbers (and, for a field an entry lacks, on the number's node).
NUMBER_FIELDS = ("id", "display_phone_number", "verified_name", "quality_rating", "status", "name_status",
                 "code_verification_status", "throughput", "whatsapp_business_manager_messaging_limit",
                 "health_status")
WABA_FIELDS = ("id", "health_status", "owner_business_info")
TEMPLATE_FIELDS = ("id", "name", "language", "status", "category", "quality_score")


class MalformedResponse(ValueError):
    """A 200 whose body is not the node or page it should be: nothing of it is applied."""


def graph_id(raw: object) -> str | None:
    """Ids are strings in Graph responses; a number is accepted, anything else is unreadable."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int) and raw > 0:
        raw = str(raw)
    return raw if isinstance(raw, str) and _ID.match(raw) else None


def text(raw: object, limit: int = MAX_TEXT) -> str | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    return raw.strip()[:limit]


def upper(raw: object) -> str | None:
    value = text(raw, 64)
    return value.upper() if value else None


def digits(raw: object) -> str | None:
    """`+1 555-078-3881` and `15550783881` are the same number: digits only, as webhooks name it."""
    value = text(raw, 40)
    if value is None:
        return None
    only = re.sub(r"[^0-9]", "", value)
    return only if 5 <= len(only) <= 20 else None


# ---- health_status: whether the node may send, in Meta's words (domain/health.py) ------------------


def _can_send(raw: object) -> CanSend | None:
    value = upper(raw)
    return CanSend(value) if value is not None and value in CanSend.__members__ else None


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
    out = [HealthError(_code(e.get("error_code")), text(e.get("error_description"), MAX_HEALTH_TEXT),
                       text(e.get("possible_solution"), MAX_HEALTH_TEXT))
           for e in raw[:MAX_HEALTH_ITEMS] if isinstance(e, Mapping)]
    return tuple(e for e in out if e.error_code is not None or e.error_description)


def _infos(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(t for t in (text(i, MAX_HEALTH_TEXT) for i in raw[:MAX_HEALTH_ITEMS]) if t)


def _entity(raw: object) -> HealthEntity | None:
    if not isinstance(raw, Mapping):
        return None
    can_send = _can_send(raw.get("can_send_message"))
    kind = text(raw.get("entity_type"), 40)
    if can_send is None or kind is None:
        return None
    raw_id = raw.get("id")
    entity_id = str(raw_id)[:64] if isinstance(raw_id, (str, int)) and raw_id else None
    return HealthEntity(kind.upper(), entity_id, can_send, _errors(raw.get("errors")),
                        _infos(raw.get("additional_info")))


def parse_health(raw: object) -> Health | None:
    """Meta's `health_status` object → Health; None when it cannot be read (then nothing changes).

    The overall `can_send_message` decides; when it is missing or unknown, the worst entity decides;
    with neither, the node's health is unreadable. An unknown value is never read as AVAILABLE.
    """
    if not isinstance(raw, Mapping):
        return None
    listed = raw.get("entities")
    listed = listed[:MAX_HEALTH_ITEMS] if isinstance(listed, list) else []
    entities = tuple(e for e in (_entity(x) for x in listed) if e is not None)
    overall = _can_send(raw.get("can_send_message"))
    if overall is None and not entities:
        return None
    # "any BLOCKED entity makes the whole BLOCKED": never read less than the worst part says
    return Health(worst([e.can_send for e in entities] + ([overall] if overall else [])), entities)


@dataclass(frozen=True)
class PhoneNumberNode:
    id: str
    display_phone_number: str | None = None
    verified_name: str | None = None
    quality_rating: str | None = None
    status: str | None = None
    name_status: str | None = None
    code_verification_status: str | None = None
    throughput_level: str | None = None
    messaging_limit: str | None = None  # whatsapp_business_manager_messaging_limit, as Meta spells it
    health: Health | None = None
    # Fields the body carried (readable or not): a field absent from a list entry is read on the node.
    present: frozenset[str] = frozenset()

    def lacks(self, wanted: tuple[str, ...] = NUMBER_FIELDS) -> tuple[str, ...]:
        return tuple(f for f in wanted if f not in self.present)


@dataclass(frozen=True)
class WabaNode:
    id: str
    health: Health | None = None
    business_id: str | None = None  # owner_business_info.id: the business portfolio
    business_name: str | None = None


@dataclass(frozen=True)
class TemplateNode:
    id: str
    name: str
    language: str
    status: str | None = None
    category: str | None = None
    quality: str | None = None  # quality_score.score
    quality_date: int | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    after: str | None = None  # paging.cursors.after, when there is a next page
    next_url: str | None = None  # paging.next (absolute), when there is a next page
    skipped: int = 0  # entries that could not be read (no id, not an object)

    @property
    def last(self) -> bool:
        return self.next_url is None and self.after is None


def _throughput(raw: object) -> str | None:
    return upper(raw.get("level")) if isinstance(raw, Mapping) else None


def _limit(raw: object) -> str | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return str(raw)
    return upper(raw)


def phone_number(raw: object) -> PhoneNumberNode | None:
    if not isinstance(raw, Mapping):
        return None
    pnid = graph_id(raw.get("id"))
    if pnid is None:
        return None
    return PhoneNumberNode(
        id=pnid,
        display_phone_number=digits(raw.get("display_phone_number")),
        verified_name=text(raw.get("verified_name")),
        quality_rating=upper(raw.get("quality_rating")),
        status=upper(raw.get("status")),
        name_status=upper(raw.get("name_status")),
        code_verification_status=upper(raw.get("code_verification_status")),
        throughput_level=_throughput(raw.get("throughput")),
        messaging_limit=_limit(raw.get("whatsapp_business_manager_messaging_limit")),
        health=parse_health(raw.get("health_status")),
        present=frozenset(k for k in NUMBER_FIELDS if k in raw),
    )


def waba(raw: object) -> WabaNode:
    if not isinstance(raw, Mapping):
        raise MalformedResponse("the WABA node is not a JSON object")
    waba_id = graph_id(raw.get("id"))
    if waba_id is None:
        raise MalformedResponse("the WABA node has no id")
    owner = raw.get("owner_business_info")
    owner = owner if isinstance(owner, Mapping) else {}
    return WabaNode(waba_id, parse_health(raw.get("health_status")), graph_id(owner.get("id")), text(owner.get("name")))


def template(raw: object) -> TemplateNode | None:
    if not isinstance(raw, Mapping):
        return None
    template_id, name, language = graph_id(raw.get("id")), text(raw.get("name"), 512), text(raw.get("language"), 20)
    if template_id is None or name is None or language is None:
        return None
    score = raw.get("quality_score")
    score = score if isinstance(score, Mapping) else {}
    date = score.get("date")
    return TemplateNode(template_id, name, language, upper(raw.get("status")), upper(raw.get("category")),
                        upper(score.get("score")),
                        date if isinstance(date, int) and not isinstance(date, bool) and date > 0 else None)


def page(raw: object, entry) -> Page:
    """A list response: `data` (entries read one by one) and `paging` (cursors, absolute `next`)."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("data"), list):
        raise MalformedResponse("a list response without a `data` array")
    data = raw["data"]
    if len(data) > MAX_ITEMS_PER_PAGE:
        raise MalformedResponse(f"a page of {len(data)} entries")
    items = [entry(x) for x in data]
    kept = tuple(x for x in items if x is not None)
    paging = raw.get("paging")
    paging = paging if isinstance(paging, Mapping) else {}
    cursors = paging.get("cursors")
    cursors = cursors if isinstance(cursors, Mapping) else {}
    next_url = text(paging.get("next"), 4096)
    # A cursor means "more" only beside a `next` link: Meta's last page still carries cursors.
    after = text(cursors.get("after"), 512) if next_url else None
    return Page(kept, after, next_url, len(items) - len(kept))
