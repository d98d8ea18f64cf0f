"""What Meta's webhooks tell us, as plain domain events (parsed in webhooks/, applied in usecases/).

Every event carries `at` (epoch seconds, the event's own time: the entry's `time` for management
fields, the message's `timestamp` for messages) and `dedup_key` (stable across Meta's retries:
a hash of WABA id + time + field + value for management fields, the wamid for inbound messages,
wamid + status for statuses). An entry without a usable `time` gives its events the time
numberguard first received them instead, and `arrival` says so (the intake finds the first
arrival of a redelivery by its dedup key, which does not depend on the arrival).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from numberguard.domain.templates import Category, StatusReading
from numberguard.domain.tiers import MessagingLimit

# Keys sort by event time written as 11 digits (facet logs, history): a later time cannot be ordered.
MAX_EVENT_TIME = 99_999_999_999


def usable_time(raw: object) -> int | None:
    """Unix seconds when `raw` is a time numberguard can order by (a whole number 1..MAX_EVENT_TIME), else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, float) and math.isfinite(raw):
        raw = int(raw)
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit() and len(raw.strip()) <= 11:
        raw = int(raw.strip())
    if isinstance(raw, int) and 0 < raw <= MAX_EVENT_TIME:
        return raw
    return None


@dataclass(frozen=True)
class Event:
    waba_id: str
    at: int
    dedup_key: str
    # True when Meta sent no usable time: `at` is when numberguard first received the update.
    arrival: bool = field(default=False, kw_only=True)


@dataclass(frozen=True)
class QualityUpdate(Event):
    """phone_number_quality_update: names the number by display number only."""

    display_phone_number: str
    event: str  # ONBOARDING, THROUGHPUT_UPGRADE, FLAGGED, UNFLAGGED, UPGRADE, DOWNGRADE, or unknown
    current_limit: MessagingLimit | None = None
    old_limit: MessagingLimit | None = None
    portfolio_limit: MessagingLimit | None = None  # max_daily_conversations_per_business


@dataclass(frozen=True)
class CapabilityUpdate(Event):
    """business_capability_update: portfolio-wide (and older per-phone) limits."""

    portfolio_limit: MessagingLimit | None = None  # max_daily_conversations_per_business
    per_phone_limit: MessagingLimit | None = None  # max_daily_conversation_per_phone (-1 = unlimited)
    max_phone_numbers_per_waba: int | None = None


@dataclass(frozen=True)
class AccountBan(Event):
    """account_update DISABLED_UPDATE: ban_info.waba_ban_state DISABLE / REINSTATE / SCHEDULE_FOR_DISABLE."""

    state: str
    ban_date: str | None = None  # free text, e.g. "April 17, 2025"


@dataclass(frozen=True)
class AccountRestriction(Event):
    """account_update ACCOUNT_RESTRICTION: restriction_type → Unix expiration."""

    restrictions: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AccountNotice(Event):
    """Other account_update events: ACCOUNT_VIOLATION, PARTNER_REMOVED, ACCOUNT_OFFBOARDED, ACCOUNT_RECONNECTED…"""

    event: str
    detail: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class InboundMessage(Event):
    """A user's message: opens or refreshes the service window with that user."""

    phone_number_id: str
    sender: str  # the user's first id: the phone number (`from`), else the BSUID, else the parent BSUID
    wamid: str
    free_entry_point: bool = False  # click-to-WhatsApp ad referral: 72 h window
    user_id: str | None = None  # from_user_id (BSUID): since 2026 on every message
    parent_user_id: str | None = None  # from_parent_user_id (parent BSUID), when enabled
    linked: tuple[str, ...] = ()  # every id Meta showed for this user here (message, contacts[], shared contact)

    @property
    def ids(self) -> tuple[str, ...]:
        """The ids the message carries: its service window opens under each."""
        return tuple(dict.fromkeys(i for i in (self.sender, self.user_id, self.parent_user_id) if i))


@dataclass(frozen=True)
class MessageStatus(Event):
    """A status of one of our sends (sent, delivered, read, failed, played…)."""

    phone_number_id: str
    recipient: str  # recipient_id (phone), else recipient_user_id (BSUID), else the parent BSUID
    wamid: str
    status: str
    reference: str | None = None  # biz_opaque_callback_data: the reference the check was given
    error_codes: tuple[int, ...] = ()
    recipient_user_id: str | None = None  # the BSUID (absent on failed sends to a phone)
    recipient_parent_user_id: str | None = None
    linked: tuple[str, ...] = ()  # every id Meta showed for the recipient here (status and contacts[])
    unreadable_codes: int = 0  # errors[] entries without a code numberguard can read (counted, never fatal)

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass(frozen=True)
class IdentityChange(Event):
    """A `system` message: the user changed phone number (`user_changed_number`) or only their BSUID
    (`user_changed_user_id`). The retired ids leave the person; count and window move to the new ids.
    Opens no service window."""

    phone_number_id: str
    kind: str  # user_changed_number, user_changed_user_id
    retired: tuple[str, ...]  # the old phone (`from`, on a number change) and `previous_user_id`
    current: tuple[str, ...]  # `system.wa_id` (a number change) and `system.user_id`
    wamid: str = ""


@dataclass(frozen=True)
class SendErrors(Event):
    """Value-level `errors[]` of a messages change (e.g. 130429 throughput, 131048 spam rate limit)."""

    phone_number_id: str
    error_codes: tuple[int, ...] = ()
    unreadable_codes: int = 0  # errors[] entries without a code numberguard can read (counted, never fatal)


@dataclass(frozen=True)
class TemplateQuality(Event):
    """message_template_quality_update: a template's quality score (GREEN, YELLOW, RED, UNKNOWN)."""

    template_id: str
    template_name: str | None
    previous: str | None
    new: str | None
    template_language: str | None = None


@dataclass(frozen=True)
class TemplateStatusUpdate(Event):
    """message_template_status_update: Meta's event about one template (APPROVED, PAUSED, DISABLED, …)."""

    template_id: str | None
    template_name: str | None
    template_language: str | None
    reading: StatusReading
    category: Category | None = None


@dataclass(frozen=True)
class NameUpdate(Event):
    display_phone_number: str
    decision: str
    requested_verified_name: str | None = None


@dataclass(frozen=True)
class AccountAlert(Event):
    severity: str | None
    alert_type: str | None
    status: str | None
    description: str | None = None


@dataclass(frozen=True)
class Unrecognised(Event):
    """A field or event value we do not handle: counted, logged, kept in the archive, never fatal."""

    field_name: str
    reason: str
