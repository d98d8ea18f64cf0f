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
    for i, message in enumerate(value.get("messages") or []):
        yield _inbound(waba, pnid, message, key, i)
    for i, status in enumerate(value.get("statuses") or []):
        yield _status(waba, pnid, status, key, i)
    codes = _codes(value.get("errors") or [])
    if codes:
        yield ev.SendErrors(waba, time or 0, key, pnid, codes)


def _guarded(read: Callable[..., ev.Event]) -> Callable[..., ev.Event]:
    """One unreadable message or status does not hide its neighbours."""

    def wrapper(waba: str, pnid: str, item: object, key: str, i: int) -> ev.Event:
        try:
            if not isinstance(item, dict):
                raise Unreadable("must be an object")
            return read(waba, pnid, item)
        except Unreadable as err:
            name = "messages" if read is _inbound_of else "statuses"
            return ev.Unrecognised(waba, 0, f"{key}#{name}{i}", "messages", f"{name}[{i}]: {err}")

    return wrapper


def _inbound_of(waba: str, pnid: str, message: dict) -> ev.Event:
    wamid = _text(message, "id", required=True)
    sender = _text(message, "from", required=True)
    at = _seconds(message.get("timestamp"), "timestamp")
    referral = message.get("referral")
    # Click-to-WhatsApp ads and other free entry points open a 72-hour window.
    free = isinstance(referral, dict) and bool(referral.get("ctwa_clid") or referral.get("source_type") == "ad")
    return ev.InboundMessage(waba, at, wamid, pnid, sender, wamid, free)


def _status_of(waba: str, pnid: str, status: dict) -> ev.Event:
    wamid = _text(status, "id", required=True)
    state = (_text(status, "status", required=True) or "").strip().lower()
    at = _seconds(status.get("timestamp"), "timestamp")
    recipient = _text(status, "recipient_id") or ""
    reference = status.get("biz_opaque_callback_data")
    return ev.MessageStatus(waba, at, f"{wamid}#{state}", pnid, recipient, wamid, state,
                            reference if isinstance(reference, str) and reference else None,
                            _codes(status.get("errors") or []))


_inbound = _guarded(_inbound_of)
_status = _guarded(_status_of)


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
