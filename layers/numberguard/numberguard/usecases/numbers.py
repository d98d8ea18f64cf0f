"""Registering and describing numbers (operator commands; the intake and evaluator build on it)."""

from __future__ import annotations

from dataclasses import dataclass

from numberguard.config import Settings
from numberguard.domain import ids
from numberguard.domain.number import scope_key
from numberguard.domain.status import Connection, Quality, parse_connection, parse_quality
from numberguard.domain.tiers import LimitSpellingError, parse_limit
from numberguard.store import registry
from numberguard.store.registry import AlreadyRegistered


class RegistrationError(ValueError):
    """Bad operator input; the message names the option."""


@dataclass(frozen=True)
class NumberRegistration:
    phone_number_id: str
    waba_id: str
    display_phone_number: str
    tier: str
    portfolio_id: str | None = None
    connection: str = "CONNECTED"
    quality: str = "UNKNOWN"


def _validate(reg: NumberRegistration, settings: Settings) -> tuple[str, object, Connection, Quality, str]:
    if not ids.is_meta_id(reg.phone_number_id):
        raise RegistrationError(f"--phone-number-id must be Meta's numeric id, got {reg.phone_number_id!r}")
    if not ids.is_meta_id(reg.waba_id):
        raise RegistrationError(f"--waba-id must be the WhatsApp Business Account's numeric id, got {reg.waba_id!r}")
    if not ids.is_display_phone_number(reg.display_phone_number):
        raise RegistrationError(
            f"--display-phone-number must be a phone number, got {reg.display_phone_number!r}"
        )
    display = ids.display_digits(reg.display_phone_number)
    if reg.portfolio_id is not None and not ids.is_meta_id(reg.portfolio_id):
        raise RegistrationError(f"--portfolio-id must be the business portfolio's numeric id, got {reg.portfolio_id!r}")
    try:
        limit = parse_limit(reg.tier)
    except LimitSpellingError as err:
        raise RegistrationError(f"--tier: {err}") from None
    if limit is None:
        raise RegistrationError("--tier: TIER_NOT_SET sets no limit; give the number's current tier")
    connection = parse_connection(reg.connection)
    if connection.value != reg.connection.strip().upper() and reg.connection.strip().upper() not in (
        "DISCONNECTED", "UNVERIFIED"
    ):
        raise RegistrationError(f"--status must be CONNECTED, PENDING or OFFLINE, got {reg.connection!r}")
    quality = parse_quality(reg.quality)
    try:
        scope = scope_key(settings.policy, reg.phone_number_id, reg.portfolio_id)
    except ValueError:
        raise RegistrationError("--portfolio-id is required with the portfolio limit policy") from None
    return display, limit, connection, quality, scope


def register(reg: NumberRegistration, settings: Settings, now: int) -> dict:
    display, limit, connection, quality, scope = _validate(reg, settings)
    try:
        done = registry.register_number(
            phone_number_id=reg.phone_number_id,
            waba_id=reg.waba_id,
            display_phone_number=display,
            portfolio_id=reg.portfolio_id,
            scope=scope,
            limit=limit,
            connection=connection.value,
            quality=quality.value,
            now=now,
        )
    except AlreadyRegistered as err:
        raise RegistrationError(str(err)) from None
    adopted = adopt_kept(reg.phone_number_id, reg.waba_id, display, settings)
    number = registry.get_number(reg.phone_number_id) if adopted else done.number
    out = describe(number, registry.get_limit(number.scope) if adopted else done.limit)
    out["limit_was_shared"] = done.limit_was_shared
    if adopted:
        out["applied_at_registration"] = adopted
    return out


class _KeepInOutbox:
    """No notification topic configured (the CLI without a stack): changes wait in the outbox."""

    def publish(self, notification) -> None:
        from numberguard.usecases.facets import PublishDeferred

        raise PublishDeferred(notification.id)


def adopt_kept(phone_number_id: str, waba_id: str, display: str, settings: Settings, publisher=None,
               clock=None) -> dict[str, int]:
    """What Meta reported before the number was registered: the WABA's ban and restrictions, and the
    quality updates kept for its display number. Returns what was applied (empty: nothing was kept)."""
    import time

    from numberguard import wiring
    from numberguard.usecases.intake import Intake
    from numberguard.usecases.limit_check import LimitChecker

    state = wiring.state_store(settings)
    kept = state.take_pending(waba_id, display)
    if not kept and state.waba_item(waba_id) is None:
        return {}
    if publisher is None:
        publisher = wiring.publisher(settings) if settings.notification_topic_arn else _KeepInOutbox()
    facets = wiring.facets(settings, publisher, clock or time.time)
    intake = Intake(facets, LimitChecker(wiring.limit_store(settings), settings), settings)
    number = state.get_number_item(phone_number_id)
    try:
        summary = intake.adopt(number, kept)
    except Exception:
        # Nothing kept may be lost: put the updates back for the next attempt (applying is idempotent).
        now = int((clock or time.time)())
        for event in kept:
            state.keep_pending(waba_id, display, event["dedup_key"], event, now)
        raise
    applied = {k: v for k, v in summary.counts.items() if v}
    if summary.changes:
        applied["changes"] = len(summary.changes)
    return applied


def describe(number, counter) -> dict:
    return {
        "phone_number_id": number.pk,
        "waba_id": number.waba_id,
        "display_phone_number": number.display_phone_number,
        "portfolio_id": number.portfolio_id,
        "scope": number.scope,
        "connection": number.connection,
        "banned": bool(number.banned),
        "quality": number.quality,
        "flagged_at": int(number.flagged_at) if number.flagged_at is not None else None,
        "tier": counter.tier if counter else None,
        "limit": (None if counter.limit < 0 else int(counter.limit)) if counter else None,
    }


def show(phone_number_id: str) -> dict | None:
    number = registry.get_number(phone_number_id)
    if number is None:
        return None
    return describe(number, registry.get_limit(number.scope))


def list_all() -> list[dict]:
    return [describe(n, registry.get_limit(n.scope)) for n in registry.list_numbers()]
