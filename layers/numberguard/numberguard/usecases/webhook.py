"""The webhook endpoint's use case: verify, archive, parse, apply; answer as Meta expects.

Order matters: the signature is checked on the raw bytes before anything else (401, nothing
stored); the whole envelope is validated before any of it is applied (400/413, nothing stored);
the body is archived before it is applied (so nothing Meta sent is lost); a failure that a retry
can fix answers 503 so Meta retries, and the retry redoes only what is missing (every step is
idempotent). A failure no retry can fix is never answered 503 (Meta would retry it for 7 days and
slow every later webhook): an unreadable value makes its update Unrecognised at parse time, and a
write the store refuses for good is recorded against its one update; both are counted and logged
with the archive key, and the rest of the body is applied and answered 200.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from numberguard.meta_secrets import Secrets, SecretUnavailable
from numberguard.observability import logger
from numberguard.store.archive import Archive
from numberguard.store.dynamo import STORE_ERRORS
from numberguard.store.facetlogs import LogConflict
from numberguard.usecases.intake import Intake
from numberguard.webhooks import (
    BodyTooLarge,
    EnvelopeError,
    SignatureError,
    events_of,
    parse_envelope,
    parse_eum_social,
    verify_signature,
)

RETRYABLE: tuple[type[Exception], ...] = (*STORE_ERRORS, LogConflict, SecretUnavailable, ConnectionError)


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: dict | str

    @property
    def is_text(self) -> bool:
        return isinstance(self.body, str)


class WebhookReceiver:
    def __init__(self, intake: Intake, archive: Archive, secrets: Secrets):
        self.intake = intake
        self.archive = archive
        self.secrets = secrets

    def verify(self, query: dict | None) -> HttpAnswer:
        """Meta's subscription handshake: echo hub.challenge when the token matches."""
        query = query or {}
        mode, token, challenge = query.get("hub.mode"), query.get("hub.verify_token"), query.get("hub.challenge")
        if mode != "subscribe" or not challenge:
            return HttpAnswer(400, {"error": "expected hub.mode=subscribe with hub.verify_token and hub.challenge"})
        try:
            expected = self.secrets.verify_token()
        except SecretUnavailable as err:
            logger.error("verify token unavailable", extra={"reason": str(err)})
            return HttpAnswer(503, {"error": "the verify token could not be read; try again"})
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), expected.encode()):
            return HttpAnswer(403, {"error": "hub.verify_token does not match"})
        return HttpAnswer(200, str(challenge))

    def receive(self, raw_body: bytes, signature: str | None) -> HttpAnswer:
        try:
            secret = self.secrets.app_secret()
        except SecretUnavailable as err:
            logger.error("app secret unavailable", extra={"reason": str(err)})
            return HttpAnswer(503, {"error": "the app secret could not be read; try again"})
        try:
            verify_signature(raw_body, signature, secret)
        except SignatureError as err:
            return HttpAnswer(401, {"error": str(err)})
        try:
            entries = parse_envelope(raw_body)
        except BodyTooLarge as err:
            return HttpAnswer(413, {"error": str(err)})
        except EnvelopeError as err:
            return HttpAnswer(400, {"error": str(err)})
        return self._archive_and_apply(raw_body, entries, "meta")

    def receive_eum(self, sns_message: str) -> HttpAnswer:
        """An AWS End User Messaging Social SNS message (no Meta signature: SNS delivered it)."""
        try:
            entries = parse_eum_social(sns_message)
        except EnvelopeError as err:
            return HttpAnswer(400, {"error": str(err)})
        raw = sns_message.encode() if isinstance(sns_message, str) else sns_message
        return self._archive_and_apply(raw, entries, "eum-social")

    def _archive_and_apply(self, raw_body: bytes, entries: list, source: str) -> HttpAnswer:
        try:
            key = self.archive.put(raw_body, source)
        except Exception as err:  # S3 down: Meta retries, nothing is applied without its archive
            logger.error("archive failed", extra={"error": type(err).__name__})
            return HttpAnswer(503, {"error": "the body could not be archived; retry later"})
        try:
            received_at = int(self.intake.clock())
            events = [event for entry in entries for event in events_of(entry, received_at)]
            summary = self.intake.apply(events)
        except RETRYABLE as err:
            logger.error("apply failed; Meta will retry", extra={"archive_key": key, "error": type(err).__name__})
            return HttpAnswer(503, {"error": "the update could not be applied now; retry later"})
        for refusal in summary.refused:  # never retried: the same write would be refused every time
            logger.warning("update refused by the store; kept in the archive, the rest applied",
                           extra={"archive_key": key, "update": refusal.update, "dedup_key": refusal.dedup_key,
                                  "code": refusal.code, "reason": refusal.message})
        logger.info("webhook applied", extra={"archive_key": key, **summary.as_dict()})
        return HttpAnswer(200, {"received": len(events), **summary.as_dict()})
