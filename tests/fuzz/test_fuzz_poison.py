"""Oversized and odd values in every position of every field the intake reads, applied on DynamoDB Local
(moto accepts keys DynamoDB refuses, so only the real store shows a value that cannot be stored).

Every reference body (both generations of every field), plus bodies carrying the optional ids the
references leave out, has each of its values in turn replaced by an odd one: 5,000-digit ids, keys
one byte over DynamoDB's bounds, numbers no DynamoDB number holds, non-ASCII digits, BSUID look-alikes,
control characters, the wrong types. Signed and received as Meta delivers them, each body is answered
below 500, nothing raises or logs an error, no stored item ever holds a value that cannot be stored,
and a body whose every update was refused leaves every table exactly as it was.

The default run takes a fixed sample (each position with one odd value, rotating); FUZZ_SWEEP=full
tries every odd value in every position.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator

import pytest
from numberguard.store.archive import archive_key

from tests.logs import captured_logs
from tests.webhooks import LOCAL_APP_SECRET, reference_body, reference_names

FULL = os.environ.get("FUZZ_SWEEP") == "full"
# The full sweep (8,000-odd bodies, twice each) runs for about an hour: no per-test timeout then.
pytestmark = [pytest.mark.dynamodb, pytest.mark.timeout(0 if FULL else 600)]

PNID, WABA, DISPLAY = "106540352242922", "102290129340398", "15550783881"
SAMPLE = 40  # cases of the default run (FUZZ_SWEEP=full: every value in every position)

# Values no id form admits and no DynamoDB key or number could hold: never in a stored item.
UNSTORABLE: list = [
    "1" * 5_000,  # the reported ids
    "A" * 2_049,  # one byte over a partition key
    "a" * 1_025,  # one byte over a sort key
    "wamid." + "A" * 5_000,
    "US.ENT." + "A" * 5_000,
    "x" * 100_000,
    10**40,  # more digits than a DynamoDB number
]
# Odd but small: each must be answered well, stored or not, wherever it lands.
ODD: list = [
    "", " ", "\n", "\x00", "+", "9" * 33, "US." + "A" * 129, "us.1", "١٢٣٤٥٦٧٨", "12 34", "é" * 600,
    "\U0001f4a9" * 300, -1, 0, 1.5, 2**63, True, None, [], {}, ["106540352242922"], {"id": "1"},
]
VALUES = UNSTORABLE + ODD


def _synthetic() -> list[dict]:
    """Bodies with the optional ids the references leave out (references, BSUIDs, template language)."""
    status = {"id": "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI1MDFF", "status": "failed", "timestamp": "1789567431",
              "recipient_id": "16505551234", "recipient_user_id": "US.13491208655302741918",
              "recipient_parent_user_id": "US.ENT.11815799212886844830", "biz_opaque_callback_data": "send-1",
              "errors": [{"code": 131026, "title": "Message undeliverable"}]}
    inbound = {"from": "16505551234", "from_user_id": "US.13491208655302741918",
               "from_parent_user_id": "US.ENT.11815799212886844830", "id": "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQz",
               "timestamp": "1789465272", "type": "text", "text": {"body": "hi"},
               "referral": {"source_type": "ad", "ctwa_clid": "ARAkLkA8"}}
    value = {"messaging_product": "whatsapp", "metadata": {"display_phone_number": DISPLAY, "phone_number_id": PNID},
             "contacts": [{"profile": {"name": "S"}, "wa_id": "16505551234", "user_id": "US.13491208655302741918"}],
             "messages": [inbound], "statuses": [status], "errors": [{"code": 131048}]}
    template = {"message_template_id": 806312974732579, "message_template_name": "welcome_template",
                "message_template_language": "en_US", "previous_quality_score": "GREEN", "new_quality_score": "RED"}
    return [{"object": "whatsapp_business_account", "entry": [{"id": WABA, "time": 1789567431, "changes": [
        {"field": "messages", "value": value}, {"field": "message_template_quality_update", "value": template}]}]}]


BODIES = [json.loads(reference_body(n)) for n in reference_names() if not n.startswith("eum-")] + _synthetic()


def _leaves(value, prefix: tuple = ()) -> Iterator[tuple]:
    """Every position of a body: each scalar, and each list or object as a whole."""
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*prefix, i))


POSITIONS = [(b, path) for b, body in enumerate(BODIES) for path in _leaves(body) if path != ("object",)]


def _cases() -> list[tuple[int, tuple, int]]:
    if FULL:
        return [(b, path, v) for b, path in POSITIONS for v in range(len(VALUES))]
    rotated = [(b, path, n % len(VALUES)) for n, (b, path) in enumerate(POSITIONS)]
    return sorted(random.Random(18).sample(rotated, min(SAMPLE, len(rotated))))


def _with(body: dict, path: tuple, value) -> bytes:
    doc = json.loads(json.dumps(body))
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return json.dumps(doc).encode()


def _state(stack) -> dict[str, list[str]]:
    settings = stack.settings
    out = {}
    for table in (settings.numbers_table, settings.recipients_table, settings.limits_table, settings.history_table):
        items, start = [], None
        while True:
            page = stack.client.scan(TableName=table, ConsistentRead=True, **({"ExclusiveStartKey": start} if start
                                                                               else {}))
            items += [json.dumps(i, sort_keys=True, ensure_ascii=False) for i in page.get("Items", [])]
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        out[table] = sorted(items)
    return out


def _refused_entirely(raw: bytes, now: int) -> bool:
    """True when the parser refuses the body, or makes every update of it Unrecognised."""
    from numberguard.domain.events import Unrecognised
    from numberguard.webhooks import EnvelopeError, events_of, parse_envelope

    try:
        events = [e for entry in parse_envelope(raw) for e in events_of(entry, now)]
    except EnvelopeError:
        return True
    return all(isinstance(e, Unrecognised) for e in events)


def _needle(value) -> str | None:
    if isinstance(value, str):
        return value[:1_025]
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def test_odd_values_in_every_position_are_answered_below_500_and_never_stored(ddb_stack):
    """One stack for every case (tables on DynamoDB Local take seconds to create); each case checked alone."""
    from numberguard.store.archive import MemoryArchive
    from numberguard.wiring import build

    from numberguard_ops.fakes import FakePublisher, StaticSecrets

    ddb_stack.register(tier="TIER_10K")
    receiver = build(ddb_stack.settings, clock=ddb_stack.clock, publisher=FakePublisher(), archive=MemoryArchive(),
                     secrets=StaticSecrets(LOCAL_APP_SECRET, "t")).webhook_receiver
    cases = _cases()
    state = _state(ddb_stack)
    for body_index, path, value_index in cases:
        raw = _with(BODIES[body_index], path, VALUES[value_index])
        state = _one_case(ddb_stack, receiver, raw, path, value_index, state)
        ddb_stack.clock.advance(1)
    print(f"{len(cases)} bodies, each delivered twice")


def _one_case(stack, receiver, raw: bytes, path: tuple, value_index: int, before: dict) -> dict:
    """Deliver one body twice and check it; the tables after it (the next case's `before`)."""
    from numberguard.webhooks import sign

    for _ in range(2):  # a redelivery is answered the same way
        with captured_logs() as logs:
            answer = receiver.receive(raw, sign(raw, LOCAL_APP_SECRET))
        assert answer.status < 500, (path, answer)
        assert "Traceback" not in logs.text, path
        assert not [r for r in logs.records() if r.get("level") in ("ERROR", "CRITICAL")], (path, logs.text[:2_000])
    after = _state(stack)
    if answer.status >= 400 or _refused_entirely(raw, int(stack.clock())):
        assert after == before, f"a refused body changed the tables ({path})"
    needle = _needle(VALUES[value_index]) if value_index < len(UNSTORABLE) else None
    if needle is not None:
        assert not any(needle in item for items in after.values() for item in items), path
    if answer.status == 200:
        assert receiver.archive.objects[archive_key(raw, "meta")] == raw, path
    return after
