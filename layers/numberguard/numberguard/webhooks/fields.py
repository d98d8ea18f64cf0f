"""One validated entry → domain events, for both generations of every field Meta sends.

Never raises: a field we do not handle, an event value we do not know, or a value we cannot read
becomes an `Unrecognised` event (counted and logged by the intake; the body is in the archive).
Dedup keys follow Meta's advice: management fields have no event id, so a hash of WABA id + time +
field + value; inbound messages the wamid; statuses the wamid + status.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from typing import Literal, overload

from numberguard.domain import events as ev
from numberguard.domain import ids as idforms
from numberguard.domain.people import kind_of
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
_DIGITS = re.compile(r"[0-9]+")


class Unreadable(ValueError):
    """A known field whose value cannot be read (becomes Unrecognised with this reason)."""


def management_key(waba_id: str, at: int | None, field: str, value: dict) -> str:
    raw = json.dumps([waba_id, at, field, value], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def events_of(entry: dict) -> list[ev.Event]:
    """The domain events of one entry (validated by parse_envelope / parse_eum_social)."""
    waba = entry["id"]
    time = entry.get("time")
    out: list[ev.Event] = []
    for j, change in enumerate(entry["changes"]):
        field, value = change["field"], change["value"]
        key = management_key(waba, time, field, value)
        if "__object__" in entry:
            out.append(ev.Unrecognised(waba, time or 0, key, field, f"object {entry['__object__']!r} is not ours"))
            continue
        reader = READERS.get(field)
        if reader is None:
            out.append(ev.Unrecognised(waba, time or 0, key, field, "field not handled"))
            continue
        try:
            out.extend(list(reader(waba, time, key, value)))
        except Unreadable as err:
            out.append(ev.Unrecognised(waba, time or 0, key, field, f"changes[{j}].value: {err}"))
    return out


# ---- value readers ---------------------------------------------------------------------------


def _limit(value: dict, name: str) -> MessagingLimit | None:
    try:
        return parse_limit(value.get(name))
    except LimitSpellingError as err:
        raise Unreadable(f"{name}: {err}") from None


@overload
def _text(value: dict, name: str, required: Literal[True]) -> str: ...
@overload
def _text(value: dict, name: str, required: bool = False) -> str | None: ...


def _text(value: dict, name: str, required: bool = False) -> str | None:
    raw = value.get(name)
    if raw is None:
        if required:
            raise Unreadable(f"{name} is missing")
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise Unreadable(f"{name} must be a string, got {type(raw).__name__}")
    return str(raw)


def _display(value: dict) -> str:
    raw = _text(value, "display_phone_number", required=True)
    digits = re.sub(r"[^0-9]", "", raw)  # registration keeps digits only ("+1 555…" and "1555…" agree)
    if not digits:
        raise Unreadable(f"display_phone_number {raw!r} has no digits")
    return digits


def _seconds(raw: object, name: str) -> int:
    if isinstance(raw, bool):
        raise Unreadable(f"{name} must be Unix seconds")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and _DIGITS.fullmatch(raw.strip()):
        return int(raw.strip())
    raise Unreadable(f"{name} must be Unix seconds, got {raw!r}")


def _quality(waba: str, time: int | None, key: str, value: dict) -> Iterator[ev.Event]:
    display = _display(value)
    event = (_text(value, "event") or "").strip().upper()
    current, old = _limit(value, "current_limit"), _limit(value, "old_limit")
    portfolio = _limit(value, "max_daily_conversations_per_business")
    at = time or 0
    if event not in QUALITY_EVENTS:
        yield ev.Unrecognised(waba, at, key, "phone_number_quality_update", f"event {event or '(none)'!r} not known")
        if current is None and portfolio is None:
            return
        # Meta's word on the limit stands whatever the event is called.
    yield ev.QualityUpdate(waba, at, key, display, event or "UNKNOWN", current, old, portfolio)


def _capability(waba: str, time: int | None, key: str, value: dict) -> Iterator[ev.Event]:
    count = value.get("max_phone_numbers_per_waba")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise Unreadable("max_phone_numbers_per_waba must be a whole number")
    yield ev.CapabilityUpdate(
        waba, time or 0, key,
        portfolio_limit=_limit(value, "max_daily_conversations_per_business"),
        per_phone_limit=_limit(value, "max_daily_conversation_per_phone"),
        max_phone_numbers_per_waba=count,
    )


def _account(waba: str, time: int | None, key: str, value: dict) -> Iterator[ev.Event]:
    event = (_text(value, "event") or "").strip().upper()
    at = time or 0
    if event == "DISABLED_UPDATE":
        info = value.get("ban_info")
        if not isinstance(info, dict):
            raise Unreadable("DISABLED_UPDATE without ban_info")
        state = info.get("waba_ban_state")
        if isinstance(state, list):  # older bodies send the state as a one-item list
            state = state[-1] if state else None
        if not isinstance(state, str) or state.strip().upper() not in BAN_STATES:
            raise Unreadable(f"ban_info.waba_ban_state {state!r} not known")
        date = info.get("waba_ban_date")
        yield ev.AccountBan(waba, at, key, state.strip().upper(), date if isinstance(date, str) else None)
    elif event == "ACCOUNT_RESTRICTION":
        infos = value.get("restriction_info")
        if not isinstance(infos, list):
            raise Unreadable("ACCOUNT_RESTRICTION without a restriction_info list")
        restrictions: dict[str, int] = {}
        for i, info in enumerate(infos):
            if not isinstance(info, dict) or not isinstance(info.get("restriction_type"), str):
                raise Unreadable(f"restriction_info[{i}] has no restriction_type")
            kind = info["restriction_type"].strip().upper()
            restrictions[kind] = max(restrictions.get(kind, 0), _seconds(info.get("expiration"),
                                                                         f"restriction_info[{i}].expiration"))
        yield ev.AccountRestriction(waba, at, key, restrictions)
    elif event in ACCOUNT_NOTICES:
        detail = {k: v for k, v in value.items() if k != "event"}
        yield ev.AccountNotice(waba, at, key, event, detail)
    else:
        yield ev.Unrecognised(waba, at, key, "account_update", f"event {event or '(none)'!r} not known")


def _messages(waba: str, time: int | None, key: str, value: dict) -> Iterator[ev.Event]:
    metadata = value.get("metadata")
    pnid = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
    if isinstance(pnid, int) and not isinstance(pnid, bool):
        pnid = str(pnid)
    if not isinstance(pnid, str) or not pnid:
        raise Unreadable("metadata.phone_number_id is missing")
    for name in ("messages", "statuses", "errors"):
        if value.get(name) is not None and not isinstance(value[name], list):
            raise Unreadable(f"{name} must be a list")
    contacts = _contact_ids(value.get("contacts"))
    for i, message in enumerate(value.get("messages") or []):
        yield _inbound(waba, pnid, message, key, i, contacts)
    for i, status in enumerate(value.get("statuses") or []):
        yield _status(waba, pnid, status, key, i, contacts)
    codes = _codes(value.get("errors") or [])
    if codes:
        yield ev.SendErrors(waba, time or 0, key, pnid, codes)


def _guarded(read: Callable[..., ev.Event]) -> Callable[..., ev.Event]:
    """One unreadable message or status does not hide its neighbours."""

    def wrapper(waba: str, pnid: str, item: object, key: str, i: int, *more: object) -> ev.Event:
        try:
            if not isinstance(item, dict):
                raise Unreadable("must be an object")
            return read(waba, pnid, item, *more)
        except Unreadable as err:
            name = "messages" if read is _inbound_of else "statuses"
            return ev.Unrecognised(waba, 0, f"{key}#{name}{i}", "messages", f"{name}[{i}]: {err}")

    return wrapper


def _inbound_of(waba: str, pnid: str, message: dict, contacts: tuple[tuple[str, ...], ...] = ()) -> ev.Event:
    wamid = _text(message, "id", required=True)
    phone = _phone(message, "from")
    user_id = _user_id(message, "from_user_id", idforms.BSUID)
    parent = _user_id(message, "from_parent_user_id", idforms.PARENT_BSUID)
    at = _seconds(message.get("timestamp"), "timestamp")
    if message.get("type") == "system":
        return _system_of(waba, pnid, message, wamid, at, phone, user_id)
    sender = phone or user_id or parent
    if not sender:
        raise Unreadable("names no user: from, from_user_id and from_parent_user_id are all missing")
    referral = message.get("referral")
    # Click-to-WhatsApp ads and other free entry points open a 72-hour window.
    free = isinstance(referral, dict) and bool(referral.get("ctwa_clid") or referral.get("source_type") == "ad")
    shown = (phone, user_id, parent)
    linked = _linked(shown, contacts, _shared_contact(message))
    return ev.InboundMessage(waba, at, wamid, pnid, sender, wamid, free, user_id, parent, linked)


def _status_of(waba: str, pnid: str, status: dict, contacts: tuple[tuple[str, ...], ...] = ()) -> ev.Event:
    wamid = _text(status, "id", required=True)
    state = (_text(status, "status", required=True) or "").strip().lower()
    at = _seconds(status.get("timestamp"), "timestamp")
    phone = _phone(status, "recipient_id", group=True)
    user_id = _user_id(status, "recipient_user_id", idforms.BSUID)
    parent = _user_id(status, "recipient_parent_user_id", idforms.PARENT_BSUID)
    recipient = phone or user_id or parent or ""
    reference = status.get("biz_opaque_callback_data")
    return ev.MessageStatus(waba, at, f"{wamid}#{state}", pnid, recipient, wamid, state,
                            reference if isinstance(reference, str) and reference else None,
                            _codes(status.get("errors") or []), user_id, parent,
                            _linked((phone, user_id, parent), contacts))


_inbound = _guarded(_inbound_of)
_status = _guarded(_status_of)


# ---- who the user is (2026: BSUIDs, usernames, linked ids) -----------------------------------------

SYSTEM_CHANGES = frozenset({"user_changed_number", "user_changed_user_id"})
MAX_CONTACTS = 100  # contacts[] entries read per change (Meta sends one per user of the change)


def _user_id(obj: dict, name: str, form: idforms.IdForm) -> str | None:
    """An optional BSUID field: absent is None; present, it must have the form exactly (never guessed)."""
    raw = obj.get(name)
    if raw is None:
        return None
    problem = form.problem(raw, name)
    if problem:
        raise Unreadable(problem)
    return raw


def _phone(obj: dict, name: str, group: bool = False) -> str | None:
    """An optional WhatsApp id (a phone number, kept without '+'; a status may name a group instead)."""
    raw = obj.get(name)
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)  # a number where Meta writes a string of digits
    if idforms.is_phone_number(raw):
        return raw.lstrip("+")
    if group and idforms.GROUP_ID.matches(raw):
        return raw
    raise Unreadable(idforms.PHONE_NUMBER.problem(raw, name) or f"{name} is not a phone number")


def _contact_ids(raw: object) -> tuple[tuple[str, ...], ...]:
    """The well-formed ids of each value-level `contacts[]` entry (wa_id, user_id, parent_user_id).

    Every field is optional and a username is never an id. An entry or field that cannot be read
    links nothing; it does not spoil the messages and statuses beside it.
    """
    if not isinstance(raw, list):
        return ()
    out = []
    for entry in raw[:MAX_CONTACTS]:
        if isinstance(entry, dict):
            found = tuple(v for v in (entry.get("wa_id"), entry.get("user_id"), entry.get("parent_user_id"))
                          if kind_of(v) is not None)
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
    phones: list[str] = []
    for card in cards[:10]:
        if not isinstance(card, dict) or card.get("origin") != "contact_request":
            continue
        for phone in card.get("phones") if isinstance(card.get("phones"), list) else []:
            wa_id = phone.get("wa_id") if isinstance(phone, dict) else None
            if kind_of(wa_id) is not None:
                phones.append(wa_id)
    return tuple(phones)


def _linked(shown: tuple[str | None, ...], contacts: tuple[tuple[str, ...], ...],
            extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The ids Meta shows for one user here: the item's own, the contacts[] entries sharing one of them."""
    own = {i for i in shown if kind_of(i) is not None}
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
        raise Unreadable(f"system type {idforms.shown(kind)} not handled")
    previous = _user_id(system, "previous_user_id", idforms.BSUID) or user_id
    new_user_id = _user_id(system, "user_id", idforms.BSUID)
    if kind == "user_changed_number":
        new_phone = system.get("wa_id")
        if new_phone is not None and kind_of(new_phone) is None:
            raise Unreadable(idforms.PHONE_NUMBER.problem(new_phone, "system.wa_id") or "system.wa_id")
        retired = (phone, previous)
        current = (new_phone, new_user_id)
    else:
        retired = (previous,)
        current = (new_user_id, phone)
    retired_ids = tuple(i for i in retired if kind_of(i) is not None)
    current_ids = tuple(i for i in current if kind_of(i) is not None and i not in retired_ids)
    if not retired_ids or not current_ids:
        raise Unreadable(f"{kind} names no previous or no new id")
    return ev.IdentityChange(waba, at, wamid, pnid, kind, retired_ids, current_ids, wamid)


def _codes(errors: object) -> tuple[int, ...]:
    if not isinstance(errors, list):
        return ()
    codes = []
    for error in errors:
        code = error.get("code") if isinstance(error, dict) else None
        if isinstance(code, int) and not isinstance(code, bool):
            codes.append(code)
        elif isinstance(code, str) and _DIGITS.fullmatch(code):
            codes.append(int(code))
    return tuple(codes)


def _template_quality(waba: str, time: int | None, key: str, value: dict) -> Iterator[ev.Event]:
    yield ev.TemplateQuality(
        waba, time or 0, key,
        template_id=_text(value, "message_template_id") or "",
        template_name=_text(value, "message_template_name"),
        previous=_text(value, "previous_quality_score"),
        new=_text(value, "new_quality_score"),
    )


def _name_update(waba: str, time: int | None, key: str, value: dict) -> Iterator[ev.Event]:
    yield ev.NameUpdate(waba, time or 0, key, _display(value), (_text(value, "decision") or "").upper(),
                        _text(value, "requested_verified_name"))


def _alerts(waba: str, time: int | None, key: str, value: dict) -> Iterator[ev.Event]:
    info = value.get("alert_info")
    if not isinstance(info, dict):
        raise Unreadable("alert_info is missing")
    yield ev.AccountAlert(waba, time or 0, key, _text(info, "alert_severity"), _text(info, "alert_type"),
                          _text(info, "alert_status"), _text(info, "alert_description"))


READERS: dict[str, Callable[[str, int | None, str, dict], Iterator[ev.Event]]] = {
    "phone_number_quality_update": _quality,
    "business_capability_update": _capability,
    "account_update": _account,
    "messages": _messages,
    "message_template_quality_update": _template_quality,
    "phone_number_name_update": _name_update,
    "account_alerts": _alerts,
}
