"""Meta's webhook bodies (both generations of every field) and the EUM Social SNS envelope → domain events.

Three steps, in the order the receiver runs them: `verify_signature` on the raw bytes,
`parse_envelope` / `parse_eum_social` (the whole body validated and bounded before anything is
applied), then `events_of(entry, received_at)` (never fails: what it cannot read becomes an `Unrecognised`
event; an entry without a usable time takes `received_at`).
"""

from numberguard.webhooks.envelope import (
    MAX_BODY_BYTES,
    MAX_CHANGES,
    MAX_ENTRIES,
    BodyTooLarge,
    EnvelopeError,
    parse_envelope,
    parse_eum_social,
)
from numberguard.webhooks.fields import events_of
from numberguard.webhooks.signature import SignatureError, sign, verify_signature

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_CHANGES",
    "MAX_ENTRIES",
    "BodyTooLarge",
    "EnvelopeError",
    "SignatureError",
    "events_of",
    "parse_envelope",
    "parse_eum_social",
    "sign",
    "verify_signature",
]
