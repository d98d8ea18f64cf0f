"""Meta's X-Hub-Signature-256: HMAC-SHA256 of the raw body, keyed with the app secret."""

from __future__ import annotations

import hashlib
import hmac
import re

PREFIX = "sha256="
_HEX = re.compile(r"[0-9a-f]{64}")


class SignatureError(ValueError):
    """The request is not from Meta (or was changed on the way): answer 401, store nothing."""


def sign(raw_body: bytes, secret: str) -> str:
    """The header value Meta sends for this body (tests and local tools sign with it)."""
    return PREFIX + hmac.new(secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()


def verify_signature(raw_body: bytes, header: str | None, secret: str) -> None:
    """Raise SignatureError unless `header` is the body's signature; compared in constant time."""
    if not header:
        raise SignatureError("missing X-Hub-Signature-256 header")
    header = header.strip()
    given = header[len(PREFIX):].lower()
    if not header.lower().startswith(PREFIX) or not _HEX.fullmatch(given):
        raise SignatureError("X-Hub-Signature-256 must be 'sha256=' followed by 64 hex digits")
    expected = sign(raw_body, secret)[len(PREFIX):]
    if not hmac.compare_digest(expected, given):
        raise SignatureError("X-Hub-Signature-256 does not match the body")
