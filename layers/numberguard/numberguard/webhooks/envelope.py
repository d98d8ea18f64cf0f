"""The POST body as a whole: JSON, a `whatsapp_business_account` envelope, bounded; checked before any of
it is applied, so a body is taken entirely or not at all.

Only the envelope's structure is strict (400): inside a change's `value`, whatever cannot be read
becomes an Unrecognised event (fields.py) and the body is still archived, because a 400 makes Meta
retry for 7 days and then drop the body, and there is no API to fetch it again. The entry's `id` and
`time` are values too: an id outside a Meta id's form makes the entry's updates Unrecognised
(fields.py), and a missing or unusable time leaves them to be ordered by their first arrival.
"""

from __future__ import annotations

import json

from numberguard.domain.events import usable_time
from numberguard.domain.ids import kind_of

WABA_OBJECT = "whatsapp_business_account"
MAX_BODY_BYTES = 3 * 1024 * 1024  # Meta sends bodies up to 3 MB
# Meta batches up to 1,000 updates per POST; twice that leaves room for a batching change on Meta's
# side without letting one request carry unbounded work.
MAX_ENTRIES = 2_000
MAX_CHANGES = 2_000
MAX_ITEMS_PER_VALUE = 2_000  # messages[] / statuses[] / errors[] of one messages change


class EnvelopeError(ValueError):
    """Not a Meta webhook envelope (400); the message names what is wrong."""


class BodyTooLarge(EnvelopeError):
    """Over the size or count bounds (413)."""


def _loads(raw: bytes | str, what: str):
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw
        return json.loads(text)
    except UnicodeDecodeError:
        raise EnvelopeError(f"{what} is not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise EnvelopeError(f"{what} is not JSON ({err.msg} at line {err.lineno} column {err.colno})") from None
    except RecursionError:
        raise EnvelopeError(f"{what} is nested too deeply to be a Meta webhook") from None
    except ValueError:  # an integer of thousands of digits (Python refuses to convert it)
        raise EnvelopeError(f"{what} holds a number too long to be a Meta value") from None


def parse_envelope(raw_body: bytes) -> list[dict]:
    """The validated entries of a Meta webhook POST body."""
    if len(raw_body) > MAX_BODY_BYTES:
        raise BodyTooLarge(f"the body has {len(raw_body):,} bytes; Meta sends at most {MAX_BODY_BYTES:,}")
    body = _loads(raw_body, "the body")
    if not isinstance(body, dict):
        raise EnvelopeError(f"the body must be a JSON object (a Meta webhook envelope), got {kind_of(body)}")
    if "object" not in body:
        raise EnvelopeError("'object' is missing: expected \"whatsapp_business_account\"")
    if not isinstance(body["object"], str):
        raise EnvelopeError(f"'object' must be a string, got {kind_of(body['object'])}")
    if "entry" not in body:
        raise EnvelopeError("'entry' is missing: a Meta webhook envelope carries a list of entries")
    entries = body["entry"]
    if not isinstance(entries, list):
        raise EnvelopeError(f"'entry' must be a list, got {kind_of(entries)}")
    if len(entries) > MAX_ENTRIES:
        raise BodyTooLarge(f"'entry' has {len(entries):,} items; at most {MAX_ENTRIES:,} are accepted in one POST")
    checked = [check_entry(entry, f"entry[{i}]") for i, entry in enumerate(entries)]
    changes = sum(len(e["changes"]) for e in checked)
    if changes > MAX_CHANGES:
        raise BodyTooLarge(f"the body has {changes:,} changes; at most {MAX_CHANGES:,} are accepted in one POST")
    if body["object"] != WABA_OBJECT:
        # Signed by Meta but about another kind of object: kept and counted, never applied.
        return [{**e, "__object__": body["object"]} for e in checked]
    return checked


def check_entry(entry: object, where: str) -> dict:
    if not isinstance(entry, dict):
        raise EnvelopeError(f"{where} must be an object, got {kind_of(entry)}")
    waba = entry.get("id")
    if isinstance(waba, bool) or not isinstance(waba, str | int) or not str(waba).strip():
        raise EnvelopeError(f"{where}.id must be the WhatsApp Business Account id (a string), got {kind_of(waba)}")
    if "changes" not in entry:
        raise EnvelopeError(f"{where}.changes is missing")
    changes = entry["changes"]
    if not isinstance(changes, list):
        raise EnvelopeError(f"{where}.changes must be a list, got {kind_of(changes)}")
    if len(changes) > MAX_CHANGES:
        raise BodyTooLarge(f"{where}.changes has {len(changes):,} items; at most {MAX_CHANGES:,} are accepted")
    for j, change in enumerate(changes):
        _check_change(change, f"{where}.changes[{j}]")
    out = dict(entry)
    out["id"] = str(waba).strip()
    # No usable time (missing, not a number, out of range): the intake orders the entry's updates by
    # their first arrival (docs/decision_log.md), never by 0 and never by refusing the body.
    out["time"] = usable_time(entry.get("time"))
    return out


def _check_change(change: object, at: str) -> None:
    if not isinstance(change, dict):
        raise EnvelopeError(f"{at} must be an object, got {kind_of(change)}")
    if not isinstance(change.get("field"), str) or not change["field"]:
        raise EnvelopeError(f"{at}.field must be a field name (a string), got {kind_of(change.get('field'))}")
    if not isinstance(change.get("value"), dict):
        raise EnvelopeError(f"{at}.value must be an object, got {kind_of(change.get('value'))}")
    for name in ("messages", "statuses", "errors"):
        items = change["value"].get(name)
        if isinstance(items, list) and len(items) > MAX_ITEMS_PER_VALUE:
            raise BodyTooLarge(f"{at}.value.{name} has {len(items):,} items; at most {MAX_ITEMS_PER_VALUE:,}")


def parse_eum_social(sns_message: str | bytes) -> list[dict]:
    """The entry relayed by AWS End User Messaging Social: `whatsAppWebhookEntry` is one entry as a JSON string."""
    if len(sns_message) > MAX_BODY_BYTES:
        raise BodyTooLarge(f"the SNS message has {len(sns_message):,} characters; at most {MAX_BODY_BYTES:,}")
    message = _loads(sns_message, "the SNS message")
    if not isinstance(message, dict):
        raise EnvelopeError(f"the SNS message must be a JSON object, got {kind_of(message)}")
    if "whatsAppWebhookEntry" not in message:
        raise EnvelopeError("'whatsAppWebhookEntry' is missing: not an End User Messaging Social message")
    entry = message["whatsAppWebhookEntry"]
    if isinstance(entry, str):
        entry = _loads(entry, "'whatsAppWebhookEntry'")
    return [check_entry(entry, "whatsAppWebhookEntry")]


