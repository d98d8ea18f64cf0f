"""Registering and describing numbers (operator commands; the intake and evaluator build on it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from numberguard.config import Settings
from numberguard.domain import ids
from numberguard.domain.number import scope_key
from numberguard.domain.status import Connection, Quality, parse_connection, parse_quality
from numberguard.domain.tiers import LimitSpellingError, MessagingLimit, parse_limit
from numberguard.store.registry import AlreadyRegistered, RegistryStore
from numberguard.usecases.intake import Intake
from numberguard.usecases.ports import Stores


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


def _validate(reg: NumberRegistration, settings: Settings) -> tuple[str, MessagingLimit, Connection, Quality, str]:
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


class Numbers:
    """Registering numbers, adopting what Meta reported before, and describing them."""

    def __init__(self, registry: RegistryStore, stores: Stores, intake: Callable[[], Intake], settings: Settings,
                 clock: Callable[[], float]):
        self.registry = registry
        self.stores = stores
        self._intake = intake  # built on first adoption only (most registrations have nothing kept)
        self.settings = settings
        self.clock = clock

    def register(self, reg: NumberRegistration, now: int) -> dict:
        display, limit, connection, quality, scope = _validate(reg, self.settings)
        try:
            done = self.registry.register_number(
                phone_number_id=reg.phone_number_id, waba_id=reg.waba_id, display_phone_number=display,
                portfolio_id=reg.portfolio_id, scope=scope, limit=limit, connection=connection.value,
                quality=quality.value, now=now,
            )
        except AlreadyRegistered as err:
            raise RegistrationError(str(err)) from None
        adopted = self.adopt_kept(reg.phone_number_id, reg.waba_id, display)
        number = (self.registry.get_number(reg.phone_number_id) if adopted else None) or done.number
        out = describe(number, self.registry.get_limit(number.scope) if adopted else done.limit)
        out["limit_was_shared"] = done.limit_was_shared
        if adopted:
            out["applied_at_registration"] = adopted
        return out

    def adopt_kept(self, phone_number_id: str, waba_id: str, display: str) -> dict[str, int]:
        """What Meta reported before the number was registered: the WABA's ban and restrictions, and the
        quality updates kept for its display number. Returns what was applied (empty: nothing was kept)."""
        kept = self.stores.wabas.take_pending(waba_id, display)
        if not kept and self.stores.wabas.get(waba_id) is None:
            return {}
        try:
            number = self.stores.numbers.get(phone_number_id)
            if number is None:
                raise RegistrationError(f"phone_number_id {phone_number_id} disappeared while registering it")
            summary = self._intake().adopt(number, kept)
        except Exception:
            # Nothing kept may be lost: put the updates back for the next attempt (applying is idempotent).
            now = int(self.clock())
            for event in kept:
                self.stores.wabas.keep_pending(waba_id, display, event["dedup_key"], event, now)
            raise
        applied = {k: v for k, v in summary.counts.items() if v}
        if summary.changes:
            applied["changes"] = len(summary.changes)
        return applied

    def show(self, phone_number_id: str) -> dict | None:
        number = self.registry.get_number(phone_number_id)
        if number is None:
            return None
        return describe(number, self.registry.get_limit(number.scope))

    def list_all(self) -> list[dict]:
        return [describe(n, self.registry.get_limit(n.scope)) for n in self.registry.list_numbers()]


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
        # What Meta's refusals left: the spam-rate hold (131048) and the WABA's refusal block (131042 / 368 / 131031)
        "hold_until": int(number.hold_until) if number.hold_until is not None else None,
        "meta_block": number.meta_block if number.meta_block and number.meta_block != "LIFTED" else None,
        "meta_block_at": int(number.meta_block_at) if number.meta_block_at is not None else None,
    }
