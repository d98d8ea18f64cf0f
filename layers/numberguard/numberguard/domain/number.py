"""A phone number's state as the limit check and the evaluator see it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from numberguard.domain.health import Health
from numberguard.domain.refusals import Hold, MetaBlock
from numberguard.domain.status import Connection, DisplayStatus, Quality, display_status
from numberguard.domain.tiers import Policy

# WABA restriction types (account_update ACCOUNT_RESTRICTION) and what each one stops.
BLOCKS_BUSINESS_INITIATED = frozenset({"RESTRICTED_BIZ_INITIATED_MESSAGING"})
BLOCKS_REPLIES = frozenset({"RESTRICTED_CUSTOMER_INITIATED_MESSAGING"})


def scope_key(policy: Policy, phone_number_id: str, portfolio_id: str | None) -> str:
    """The limit scope a number's sends are counted in."""
    if policy is Policy.PORTFOLIO:
        if not portfolio_id:
            raise ValueError(f"number {phone_number_id} has no portfolio id, required by the portfolio policy")
        return f"portfolio#{portfolio_id}"
    return f"number#{phone_number_id}"


@dataclass(frozen=True)
class NumberState:
    phone_number_id: str
    waba_id: str
    display_phone_number: str
    scope: str
    portfolio_id: str | None = None
    connection: Connection = Connection.CONNECTED
    banned: bool = False
    quality: Quality = Quality.UNKNOWN
    flagged_at: int | None = None
    # restriction_type -> expiration (epoch seconds), WABA-wide, copied onto each number.
    restrictions: Mapping[str, int] = field(default_factory=dict)
    attention_at: int | None = None  # when the evaluator looks at it next (None: not due)
    registered_at: int | None = None
    health: Health | None = None  # Meta's health_status (Graph API); None: never read
    graph_registered: bool = False  # the Meta sync's registration (or adoption) of it is complete
    hold: Hold | None = None  # Meta refused a send with 131048 (domain/refusals.py)
    meta_block: MetaBlock | None = None  # the WABA blocked after a 131042 / 368 / 131031, until lifted
    sent_ok_at: int | None = None  # a recent successful status of its sends (kept to the minute)

    @property
    def blocked_by_meta(self) -> bool:
        """Meta's health says BLOCKED, or a refusal blocked the WABA (one decision, row 3)."""
        return (self.health is not None and self.health.blocked) or self.meta_block is not None

    def blocked_error(self) -> str | None:
        """DENIED_BLOCKED_BY_META's `error`: Meta's health words first, else the refusal's code."""
        if self.health is not None and self.health.blocked:
            return self.health.error_text()
        return self.meta_block.error_text() if self.meta_block is not None else None

    def held_until(self, now: int) -> int | None:
        """When the number's spam-rate hold ends (None: not held at `now`)."""
        return self.hold.until if self.hold is not None and self.hold.active(now) else None

    def warnings(self) -> list[str]:
        """What the check says beside its decision: Meta's advice while the health is LIMITED."""
        return self.health.warnings() if self.health is not None and self.health.limited else []

    @property
    def flagged(self) -> bool:
        return self.flagged_at is not None

    def restricted_until(self, blocking: frozenset[str], now: int) -> int | None:
        """Latest expiry among active restrictions of the given kinds, or None."""
        active = [exp for kind, exp in self.restrictions.items() if kind in blocking and exp > now]
        return max(active) if active else None

    def status(self, *, limit_reached: bool, now: int) -> DisplayStatus:
        account_restricted = self.restricted_until(BLOCKS_BUSINESS_INITIATED, now) is not None
        return display_status(
            banned=self.banned,
            connection=self.connection,
            restricted=limit_reached or account_restricted,
            flagged=self.flagged,
            blocked=self.blocked_by_meta,
        )
