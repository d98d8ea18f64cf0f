"""One validated entry → domain events, for both generations of every field Meta sends.

Never raises: a field we do not handle, an event value we do not know, or a value we cannot read
becomes an `Unrecognised` event (counted and logged by the intake; the body is in the archive).
Every id and string the intake keys or stores is checked here against its form (domain/ids.py):
a value the platform cannot produce, or DynamoDB could not key, never reaches the store.
Dedup keys follow Meta's advice: management fields have no event id, so a hash of WABA id + time +
field + value; inbound messages the wamid; statuses the wamid + status.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, overload

from numberguard.domain import events as ev
from numberguard.domain import ids
from numberguard.domain.events import usable_time
from numberguard.domain.people import kind_of
from numberguard.domain.status import Quality
from numberguard.domain.templates import KNOWN_EVENTS, MAX_REASON, Category, StatusReading, pause_end
from numberguard.domain.tiers import LimitSpellingError, MessagingLimit, parse_limit

QUALITY_EVENTS = frozenset({
    "ONBOARDING", "THROUGHPUT_UPGRADE",  # since 2025-10
    "FLAGGED", "UNFLAGGED", "UPGRADE", "DOWNGRADE",  # the per-number generation
})
BAN_STATES = frozenset({"DISABLE", "REINSTATE", "SCHEDULE_FOR_DISABLE"})
ACCOUNT_NOTICES = frozenset({
    "ACCOUNT_VIOLATION", "PARTNER_REMOVED", "PARTNER_ADDED", "PARTNER_APP_INSTALLED",
    "PARTNER_APP_UNINSTALLED", "ACCOUNT_OFFBOARDED", "ACCOUNT_RECONNECTED", "ACCOUNT_DELETED",
    "VERIFIED_ACCOUNT", "AUTH_INTL_PRICE_ELIGIBILITY_UPDATE", "BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE",
    "MM_LITE_TERMS_SIGNED",
})
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
# Meta's event, state and type names (UPPER_SNAKE); bounded, since they label facet-log keys.
MAX_NAME = 64
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}", re.ASCII)
_STATUS = re.compile(r"[A-Za-z_]{1,32}", re.ASCII)
MAX_TEXT = 1_024  # free text kept on an item (ban date, alert type and severity)
MAX_ERROR_CODE = 2**31 - 1
MAX_ERRORS = 16  # errors[] entries read per status or change (Meta sends one); the rest are counted
MAX_NUMBERS_PER_WABA = 1_000_000


class Unreadable(ValueError):
    """A known field whose value cannot be read (becomes Unrecognised with this reason)."""


@dataclass(frozen=True)
class Stamp:
    """What every event of one change shares: WABA id, time (the entry's, else the arrival) and dedup key."""

    waba: str
    at: int
    key: str
    arrival: bool

    @property
    def head(self) -> tuple[str, int, str]:
        return self.waba, self.at, self.key


def management_key(waba_id: str, at: int | None, field: str, value: dict) -> str:
    raw = json.dumps([waba_id, at, field, value], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def events_of(entry: dict, received_at: int) -> list[ev.Event]:
    """The domain events of one entry (validated by parse_envelope / parse_eum_social).

    `received_at`: when this delivery arrived; the time of every update of an entry without a usable
    `time` (the intake replaces it with the update's first arrival, found by its dedup key).
    """
    waba, time = entry["id"], entry.get("time")
    bad_waba = ids.META_ID.problem(waba, "entry.id")
    out: list[ev.Event] = []
    for j, change in enumerate(entry["changes"]):
        field, value = change["field"], change["value"]
        stamp = Stamp("" if bad_waba else waba, received_at if time is None else time,
                      management_key(waba, time, field, value), time is None)
        reader = READERS.get(field)
        if "__object__" in entry:
            out.append(_unrecognised(stamp, field, f"object {ids.shown(entry['__object__'])} is not ours"))
        elif bad_waba:  # nothing keyed by an id DynamoDB may refuse, or that no WABA can have
            out.append(_unrecognised(stamp, field, bad_waba))
        elif reader is None:
            out.append(_unrecognised(stamp, field, "field not handled"))
        else:
            try:
                out.extend(list(reader(stamp, value)))
            except Unreadable as err:
                out.append(_unrecognised(stamp, field, f"changes[{j}].value: {err}"))
    return out


def _unrecognised(stamp: Stamp, field: str, reason: str) -> ev.Unrecognised:
    return ev.Unrecognised(*stamp.head, field[:64], reason, arrival=stamp.arrival)  # a field name only logged


# ---- value readers ---------------------------------------------------------------------------


def _limit(value: dict, name: str) -> MessagingLimit | None:
    try:
        return parse_limit(value.get(name))
    except LimitSpellingError as err:
        raise Unreadable(f"{name}: {err}") from None


@overload
def _text(value: dict, name: str, required: Literal[True], max_len: int = ...) -> str: ...
@overload
def _text(value: dict, name: str, required: bool = False, max_len: int = ...) -> str | None: ...


def _text(value: dict, name: str, required: bool = False, max_len: int = MAX_TEXT) -> str | None:
    raw = value.get(name)
    if raw is None:
        if required:
            raise Unreadable(f"{name} is missing")
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise Unreadable(f"{name} must be a string, got {type(raw).__name__}")
    text = str(raw)
    if len(text) > max_len:
        raise Unreadable(f"{name} is {len(text):,} characters long; at most {max_len:,} are kept")
    return text


def _id(value: dict, name: str, form: ids.IdForm) -> str:
    """A required id field checked against its form (an integer Meta id is read as its digits)."""
    raw = _maybe_id(value, name, form)
    if raw is None:
        raise Unreadable(f"{name} is missing")
    return raw


def _maybe_id(value: dict, name: str, form: ids.IdForm) -> str | None:
    """An optional id field: None when absent, Unreadable when outside its form."""
    raw = value.get(name)
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        raw = str(raw)
    problem = form.problem(raw, name)
    if problem or not isinstance(raw, str):
        raise Unreadable(problem or f"{name} must be a string")
    return raw


def _name(value: dict, name: str, pattern: re.Pattern[str] = _NAME) -> str:
    """An event / state / type name, or "" when absent; Unreadable when not a name at all."""
    raw = value.get(name)
    if raw is None:
        return ""
    if isinstance(raw, str) and len(raw) > MAX_NAME:
        raise Unreadable(f"{name} is {len(raw):,} characters long; Meta's names have at most {MAX_NAME}")
    if not isinstance(raw, str) or not pattern.fullmatch(raw.strip()):
        raise Unreadable(f"{name} {ids.shown(raw)} is not a name Meta uses")
    return raw.strip()


def _display(value: dict) -> str:
    raw = value.get("display_phone_number")
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if raw is None:
        raise Unreadable("display_phone_number is missing")
    problem = ids.display_problem(raw)
    if problem or not isinstance(raw, str):
        raise Unreadable(problem or "display_phone_number must be a string")
    return ids.display_digits(raw)  # registration keeps digits only ("+1 555…" and "1555…" agree)


def _seconds(raw: object, name: str) -> int:
    at = usable_time(raw)
    if at is None or (isinstance(raw, str) and not _DIGITS.fullmatch(raw.strip())):
        raise Unreadable(f"{name} must be Unix seconds, got {ids.shown(raw)}")
    return at


def _quality(stamp: Stamp, value: dict) -> Iterator[ev.Event]:
    display = _display(value)
    event = _name(value, "event").upper()
    current, old = _limit(value, "current_limit"), _limit(value, "old_limit")
    portfolio = _limit(value, "max_daily_conversations_per_business")
    if event not in QUALITY_EVENTS:
        yield _unrecognised(stamp, "phone_number_quality_update", f"event {event or '(none)'!r} not known")
        if current is None and portfolio is None:
            return
        # Meta's word on the limit stands whatever the event is called.
    yield ev.QualityUpdate(*stamp.head, display, event or "UNKNOWN", current, old, portfolio, arrival=stamp.arrival)


def _capability(stamp: Stamp, value: dict) -> Iterator[ev.Event]:
    count = value.get("max_phone_numbers_per_waba")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                              or not 0 <= count <= MAX_NUMBERS_PER_WABA):
        raise Unreadable(f"max_phone_numbers_per_waba must be a whole number up to {MAX_NUMBERS_PER_WABA:,}")
    yield ev.CapabilityUpdate(
        *stamp.head,
        portfolio_limit=_limit(value, "max_daily_conversations_per_business"),
        per_phone_limit=_limit(value, "max_daily_conversation_per_phone"),
        max_phone_numbers_per_waba=count,
        arrival=stamp.arrival,
    )


def _ban(stamp: Stamp, value: dict) -> ev.Event:
    info = value.get("ban_info")
    if not isinstance(info, dict):
        raise Unreadable("DISABLED_UPDATE without ban_info")
    state = info.get("waba_ban_state")
    if isinstance(state, list):  # older bodies send the state as a one-item list
        state = state[-1] if state else None
    if not isinstance(state, str) or state.strip().upper() not in BAN_STATES:
        raise Unreadable(f"ban_info.waba_ban_state {ids.shown(state)} not known")
    date = info.get("waba_ban_date")
    date = _text(info, "waba_ban_date") if isinstance(date, str) else None
    return ev.AccountBan(*stamp.head, state.strip().upper(), date, arrival=stamp.arrival)


def _restriction(stamp: Stamp, value: dict) -> ev.Event:
    infos = value.get("restriction_info")
    if not isinstance(infos, list):
        raise Unreadable("ACCOUNT_RESTRICTION without a restriction_info list")
    restrictions: dict[str, int] = {}
    for i, info in enumerate(infos):
        if not isinstance(info, dict) or not isinstance(info.get("restriction_type"), str):
            raise Unreadable(f"restriction_info[{i}] has no restriction_type")
        kind = _name(info, "restriction_type").upper()
        restrictions[kind] = max(restrictions.get(kind, 0), _seconds(info.get("expiration"),
                                                                     f"restriction_info[{i}].expiration"))
    return ev.AccountRestriction(*stamp.head, restrictions, arrival=stamp.arrival)


def _account(stamp: Stamp, value: dict) -> Iterator[ev.Event]:
    event = _name(value, "event").upper()
    if event == "DISABLED_UPDATE":
        yield _ban(stamp, value)
    elif event == "ACCOUNT_RESTRICTION":
        yield _restriction(stamp, value)
    elif event in ACCOUNT_NOTICES:
        detail = {k: v for k, v in value.items() if k != "event"}
        yield ev.AccountNotice(*stamp.head, event, detail, arrival=stamp.arrival)
    else:
        yield _unrecognised(stamp, "account_update", f"event {event or '(none)'!r} not known")


def _messages(stamp: Stamp, value: dict) -> Iterator[ev.Event]:
    metadata = value.get("metadata")
    if not isinstance(metadata, dict):
        raise Unreadable("metadata.phone_number_id is missing")
    try:
        pnid = _id(metadata, "phone_number_id", ids.META_ID)
    except Unreadable as err:
        raise Unreadable(f"metadata.{err}") from None
    for name in ("messages", "statuses", "errors"):
        if value.get(name) is not None and not isinstance(value[name], list):
            raise Unreadable(f"{name} must be a list")
    contacts = _contact_ids(value.get("contacts"))
    for i, message in enumerate(value.get("messages") or []):
        yield _inbound(stamp, pnid, message, i, contacts)
    for i, status in enumerate(value.get("statuses") or []):
        yield _status(stamp, pnid, status, i, contacts)
    codes, unreadable = _codes(value.get("errors") or [])
    if codes or unreadable:
        yield ev.SendErrors(*stamp.head, pnid, codes, unreadable, arrival=stamp.arrival)


Contacts = tuple[tuple[str, ...], ...]  # the well-formed ids of each contacts[] entry of a change


def _guarded(read: Callable[[str, str, dict, Contacts], ev.Event]) -> Callable[[Stamp, str, object, int, Contacts],
                                                                                ev.Event]:
    """One unreadable message or status does not hide its neighbours."""

    def wrapper(stamp: Stamp, pnid: str, item: object, i: int, contacts: Contacts) -> ev.Event:
        try:
            if not isinstance(item, dict):
                raise Unreadable("must be an object")
            return read(stamp.waba, pnid, item, contacts)
        except Unreadable as err:
            name = "messages" if read is _inbound_of else "statuses"
            return ev.Unrecognised(stamp.waba, stamp.at, f"{stamp.key}#{name}{i}", "messages", f"{name}[{i}]: {err}",
                                   arrival=stamp.arrival)

    return wrapper


def _inbound_of(waba: str, pnid: str, message: dict, contacts: Contacts = ()) -> ev.Event:
    wamid = _id(message, "id", ids.WAMID)
    phone = _phone(message, "from")  # the check keys people by digits
    user_id = _maybe_id(message, "from_user_id", ids.BSUID)
    parent = _maybe_id(message, "from_parent_user_id", ids.PARENT_BSUID)
    at = _seconds(message.get("timestamp"), "timestamp")
    if message.get("type") == "system":
        return _system_of(waba, pnid, message, wamid, at, phone, user_id)
    sender = phone or user_id or parent
    if not sender:
        raise Unreadable("names no user: from, from_user_id and from_parent_user_id are all missing")
    referral = message.get("referral")
    # Click-to-WhatsApp ads and other free entry points open a 72-hour window.
    free = isinstance(referral, dict) and bool(referral.get("ctwa_clid") or referral.get("source_type") == "ad")
    linked = _linked((phone, user_id, parent), contacts, _shared_contact(message))
    return ev.InboundMessage(waba, at, wamid, pnid, sender, wamid, free, user_id, parent, linked)


def _recipient_id(status: dict) -> str:
    """A status's recipient_id: the user's phone number, or a group's id; "" when absent."""
    raw = status.get("recipient_id")
    if raw is None:
        return ""
    if ids.is_phone_number(raw):
        return raw.lstrip("+")
    if status.get("recipient_type") == "group" and ids.GROUP_ID.matches(raw):
        return raw
    raise Unreadable(ids.PHONE_NUMBER.problem(raw, "recipient_id") or "recipient_id is not a phone number")


def _status_of(waba: str, pnid: str, status: dict, contacts: Contacts = ()) -> ev.Event:
    wamid = _id(status, "id", ids.WAMID)
    state = _name(status, "status", _STATUS).lower()
    if not state:
        raise Unreadable("status is missing")
    at = _seconds(status.get("timestamp"), "timestamp")
    phone = _recipient_id(status)
    user_id = _maybe_id(status, "recipient_user_id", ids.BSUID)
    parent = _maybe_id(status, "recipient_parent_user_id", ids.PARENT_BSUID)
    recipient = phone or user_id or parent or ""
    codes, unreadable = _codes(status.get("errors") or [])
    return ev.MessageStatus(waba, at, f"{wamid}#{state}", pnid, recipient, wamid, state,
                            _reference(status), codes, user_id, parent,
                            _linked((phone, user_id, parent), contacts), unreadable)


def _reference(status: dict) -> str | None:
    raw = status.get("biz_opaque_callback_data")
    if isinstance(raw, str) and len(raw) > ids.MAX_REFERENCE:  # more than Meta carries
        raise Unreadable(ids.REFERENCE.problem(raw, "biz_opaque_callback_data") or "")
    # One the check cannot have been given (longer than it takes, not text) is the sender's own: no slot's.
    return raw if ids.is_check_reference(raw) else None


_inbound = _guarded(_inbound_of)
_status = _guarded(_status_of)


# ---- who the user is (2026: BSUIDs, usernames, linked ids) -----------------------------------------

SYSTEM_CHANGES = frozenset({"user_changed_number", "user_changed_user_id"})
MAX_CONTACTS = 100  # contacts[] entries read per change (Meta sends one per user of the change)


def _ids(values: tuple[object, ...] | list[object]) -> tuple[str, ...]:
    """The values that are recipient ids (a phone number, a BSUID, a parent BSUID); the rest dropped."""
    return tuple(v for v in values if isinstance(v, str) and kind_of(v) is not None)


def _phone(obj: dict, name: str) -> str | None:
    """An optional WhatsApp id: a phone number, kept without '+' (the check keys people by digits)."""
    raw = _maybe_id(obj, name, ids.PHONE_NUMBER)
    return raw.lstrip("+") if raw is not None else None


def _contact_ids(raw: object) -> Contacts:
    """The well-formed ids of each value-level `contacts[]` entry (wa_id, user_id, parent_user_id).

    Every field is optional and a username is never an id. An entry or field that cannot be read
    links nothing; it does not spoil the messages and statuses beside it.
    """
    if not isinstance(raw, list):
        return ()
    out = []
    for entry in raw[:MAX_CONTACTS]:
        if isinstance(entry, dict):
            found = _ids((entry.get("wa_id"), entry.get("user_id"), entry.get("parent_user_id")))
            if found:
                out.append(found)
    return tuple(out)


def _shared_contact(message: dict) -> tuple[str, ...]:
    """The user's own phone numbers from a `contacts` message shared on request (`origin: contact_request`).

    A contact card of any other origin may be someone else's: it links nothing.
    """
    cards = message.get("contacts") if message.get("type") == "contacts" else None
    if not isinstance(cards, list):
        return ()
    phones: list[object] = []
    for card in cards[:10]:
        if not isinstance(card, dict) or card.get("origin") != "contact_request":
            continue
        listed = card.get("phones")
        phones += [p.get("wa_id") for p in listed[:10] if isinstance(p, dict)] if isinstance(listed, list) else []
    return _ids(phones)


def _linked(shown: tuple[str | None, ...], contacts: Contacts,
            extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The ids Meta shows for one user here: the item's own, the contacts[] entries sharing one of them."""
    own = set(_ids(shown))
    linked = set(own) | set(extra) if own else set()
    for entry in contacts:
        if own & set(entry):
            linked |= set(entry)
    return tuple(sorted(linked)) if len(linked) >= 2 else ()


def _system_of(waba: str, pnid: str, message: dict, wamid: str, at: int, phone: str | None,
               user_id: str | None) -> ev.Event:
    system = message.get("system")
    if not isinstance(system, dict):
        raise Unreadable("a system message without system")
    kind = system.get("type")
    if not isinstance(kind, str) or kind not in SYSTEM_CHANGES:
        raise Unreadable(f"system type {ids.shown(kind)} not handled")
    previous = _maybe_id(system, "previous_user_id", ids.BSUID) or user_id
    new_user_id = _maybe_id(system, "user_id", ids.BSUID)
    if kind == "user_changed_number":
        new_phone = system.get("wa_id")
        if new_phone is not None and kind_of(new_phone) is None:
            raise Unreadable(ids.PHONE_NUMBER.problem(new_phone, "system.wa_id") or "system.wa_id")
        retired_ids, current = _ids((phone, previous)), (new_phone, new_user_id)
    else:
        retired_ids, current = _ids((previous,)), (new_user_id, phone)
    current_ids = tuple(i for i in _ids(current) if i not in retired_ids)
    if not retired_ids or not current_ids:
        raise Unreadable(f"{kind} names no previous or no new id")
    return ev.IdentityChange(waba, at, wamid, pnid, kind, retired_ids, current_ids, wamid)


def _codes(errors: object) -> tuple[tuple[int, ...], int]:
    """Meta's error codes (an int, or digits in a string), and how many entries carried none readable:
    those are counted by the intake, never fatal, and never taken for a refusal."""
    if not isinstance(errors, list):
        return (), 1
    codes, unreadable = [], 0
    for error in errors[:MAX_ERRORS]:
        code = error.get("code") if isinstance(error, dict) else None
        if isinstance(code, str) and _DIGITS.fullmatch(code) and len(code) <= 10:
            code = int(code)
        if isinstance(code, int) and not isinstance(code, bool) and 0 <= code <= MAX_ERROR_CODE:
            codes.append(code)
        else:
            unreadable += 1
    return tuple(codes), unreadable + max(len(errors) - MAX_ERRORS, 0)


# ---- message templates (optional fields of another type are left out; an id outside its form is not) ---------

_TEMPLATE_TEXT_MAX = 512  # Meta's longest template name
_TEMPLATE_NAMES = (("message_template_id", ids.META_ID), ("message_template_name", ids.TEMPLATE_NAME),
                   ("message_template_language", ids.TEMPLATE_LANGUAGE))


def _loose(value: object, name: str) -> str | None:
    """An optional text of Meta's: None when missing, of another type, empty or oversized."""
    raw = value.get(name) if isinstance(value, dict) else None
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.strip() or len(raw) > _TEMPLATE_TEXT_MAX:
        return None
    return raw.strip()


def _template_name(value: dict, name: str, form: ids.IdForm) -> tuple[str | None, str | None]:
    """(the value, what is wrong with it): (None, None) when absent or of another type (left out)."""
    raw = value.get(name)
    if form is ids.META_ID and isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        raw = str(raw)
    if not isinstance(raw, str):
        return None, None
    text = raw.strip()
    # Languages match in any case (`en-US`, `EN`): only the form is checked in lower case; the key normalises.
    problem = form.problem(text.lower() if form is ids.TEMPLATE_LANGUAGE else text, name)
    return (None, problem) if problem else (text, None)


def _template_names(value: dict) -> tuple[str | None, str | None, str | None]:
    """(Meta's template id, name, language); a template must be named by its id or by name and language.

    A name present but outside its form (oversized, empty, not Meta's characters) is never stored or keyed:
    the update is unreadable, as for every id the intake reads.
    """
    read = [_template_name(value, name, form) for name, form in _TEMPLATE_NAMES]
    (template_id, _), (name, _), (language, _) = read
    problems = [problem for _, problem in read if problem]
    if template_id is None and (name is None or language is None):
        raise Unreadable("names no template (message_template_id, or message_template_name and _language)"
                         + "".join(f"; {p}" for p in problems))
    if problems:
        raise Unreadable(problems[0])
    return template_id, name, language


def _template_reason(value: dict) -> str | None:
    rejection = value.get("rejection_info")
    reason = _loose(rejection, "reason") or _loose(value, "reason")
    if reason is None or reason.upper() == "NONE":
        return None
    return reason[:MAX_REASON]


def _template_status(stamp: Stamp, value: dict) -> Iterator[ev.Event]:
    event = _name(value, "event").upper()
    if event not in KNOWN_EVENTS:
        yield _unrecognised(stamp, "message_template_status_update", f"event {event or '(none)'!r} not known")
        return
    template_id, name, language = _template_names(value)
    info = value.get("other_info")
    title = (_loose(info, "title") or "").upper() or None
    until = pause_end(info.get("description"), stamp.at) if event == "PAUSED" and isinstance(info, dict) else None
    reading = StatusReading(event, title, until, _template_reason(value))
    yield ev.TemplateStatusUpdate(*stamp.head, template_id, name, language, reading,
                                  Category.read(value.get("message_template_category")), arrival=stamp.arrival)


def _template_quality(stamp: Stamp, value: dict) -> Iterator[ev.Event]:
    template_id, name, language = _template_names(value)
    new = (_loose(value, "new_quality_score") or "").upper()
    if new not in Quality.__members__:
        raise Unreadable(f"new_quality_score {ids.shown(new) if new else '(none)'} is not GREEN, YELLOW, RED or "
                         "UNKNOWN")
    yield ev.TemplateQuality(*stamp.head, template_id=template_id or "", template_name=name,
                             previous=(_loose(value, "previous_quality_score") or "").upper() or None, new=new,
                             template_language=language, arrival=stamp.arrival)


def _name_update(stamp: Stamp, value: dict) -> Iterator[ev.Event]:
    yield ev.NameUpdate(*stamp.head, _display(value), _name(value, "decision").upper(),
                        _text(value, "requested_verified_name"), arrival=stamp.arrival)


def _alerts(stamp: Stamp, value: dict) -> Iterator[ev.Event]:
    info = value.get("alert_info")
    if not isinstance(info, dict):
        raise Unreadable("alert_info is missing")
    yield ev.AccountAlert(*stamp.head, _text(info, "alert_severity"), _text(info, "alert_type"),
                          _text(info, "alert_status"), _text(info, "alert_description", max_len=8 * MAX_TEXT),
                          arrival=stamp.arrival)


READERS: dict[str, Callable[[Stamp, dict], Iterator[ev.Event]]] = {
    "phone_number_quality_update": _quality,
    "business_capability_update": _capability,
    "account_update": _account,
    "messages": _messages,
    "message_template_quality_update": _template_quality,
    "message_template_status_update": _template_status,
    "phone_number_name_update": _name_update,
    "account_alerts": _alerts,
}
