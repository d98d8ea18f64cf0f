"""Given bodies that are signed but are not a Meta envelope (or exceed its bounds), when they are
POSTed, then each is refused with 400 or 413 and a message naming the problem, nothing is archived
and nothing of it is applied, not even its valid entries."""

from __future__ import annotations

import json

from numberguard.webhooks import MAX_BODY_BYTES

from tests.integration.test_webhook_security import stored_items
from tests.webhooks import signed_post

WABA = "102290129340398"
GOOD_ENTRY = {"id": WABA, "changes": [{"field": "messages", "value": {
    "metadata": {"phone_number_id": "106540352242922"},
    "messages": [{"from": "16505551234", "id": "wamid.A", "timestamp": "1749416383", "type": "text"}]}}]}


def body(doc) -> bytes:
    return json.dumps(doc).encode()


def envelope(*entries) -> bytes:
    return body({"object": "whatsapp_business_account", "entry": list(entries)})


CASES = [
    ("not JSON", b"object=whatsapp_business_account&entry=", 400, "not JSON"),
    ("not UTF-8", b"\xff\xfe{}", 400, "not UTF-8"),
    ("empty body", b"", 400, "not JSON"),
    ("a JSON list", body([GOOD_ENTRY]), 400, "must be a JSON object"),
    ("a JSON string", body("hello"), 400, "must be a JSON object"),
    ("no object", body({"entry": [GOOD_ENTRY]}), 400, "'object' is missing"),
    ("object not a string", body({"object": 7, "entry": [GOOD_ENTRY]}), 400,
     "'object' must be a string, got the number 7"),
    ("missing entry", body({"object": "whatsapp_business_account"}), 400, "'entry' is missing"),
    ("entry not a list", body({"object": "whatsapp_business_account", "entry": GOOD_ENTRY}), 400,
     "'entry' must be a list"),
    ("entry item not an object", envelope(GOOD_ENTRY, "x"), 400, "entry[1] must be an object, got the string 'x'"),
    ("entry without id", envelope(GOOD_ENTRY, {"changes": []}), 400, "entry[1].id"),
    ("id of the wrong type", envelope({**GOOD_ENTRY, "id": [WABA]}), 400,
     "entry[0].id must be the WhatsApp Business Account id (a string), got a list"),
    ("changes missing", envelope({"id": WABA}), 400, "entry[0].changes is missing"),
    ("changes not a list", envelope({"id": WABA, "changes": {"field": "messages"}}), 400,
     "entry[0].changes must be a list, got an object"),
    ("change without field", envelope({"id": WABA, "changes": [{"value": {}}]}), 400, "entry[0].changes[0].field"),
    ("value not an object", envelope(GOOD_ENTRY, {"id": WABA, "changes": [{"field": "messages", "value": "hi"}]}), 400,
     "entry[1].changes[0].value must be an object, got the string 'hi'"),
    ("entry of 10,000 items", envelope(*[GOOD_ENTRY] * 10_000), 413, "'entry' has 10,000 items"),
    ("10,000 statuses in one change", envelope({"id": WABA, "changes": [{"field": "messages", "value": {
        "metadata": {"phone_number_id": "1"}, "statuses": [{}] * 10_000}}]}), 413, "statuses has 10,000 items"),
]


def test_malformed_bodies_are_refused_with_a_message_and_nothing_is_stored(webhook_world):
    webhook_world.stack.register(tier="TIER_1K")
    before = stored_items(webhook_world)
    for case, raw, status, message in CASES:
        answer = webhook_world.invoke(signed_post(raw))
        assert answer["statusCode"] == status, (case, answer)
        error = json.loads(answer["body"])["error"]
        assert message in error, (case, error)
        assert webhook_world.archived() == [], case
        assert stored_items(webhook_world) == before, case


def test_a_body_over_3_mb_is_413_and_one_just_under_is_taken(webhook_world):
    webhook_world.stack.register(tier="TIER_1K")
    padding = {"field": "messages", "value": {"metadata": {"phone_number_id": "106540352242922"}, "pad": ""}}
    doc = {"object": "whatsapp_business_account", "entry": [{**GOOD_ENTRY, "changes": [*GOOD_ENTRY["changes"],
                                                                                      padding]}]}
    base = len(body(doc))
    padding["value"]["pad"] = "x" * (MAX_BODY_BYTES - base + 1)
    too_big = body(doc)
    assert len(too_big) == MAX_BODY_BYTES + 1
    answer = webhook_world.invoke(signed_post(too_big))
    assert answer["statusCode"] == 413 and "3,145,728" in json.loads(answer["body"])["error"]
    assert webhook_world.archived() == []
    padding["value"]["pad"] = "x" * (MAX_BODY_BYTES - base)
    assert webhook_world.invoke(signed_post(body(doc)))["statusCode"] == 200
    assert len(webhook_world.archived()) == 1


def test_unknown_fields_and_values_are_counted_archived_and_never_fatal(webhook_world):
    webhook_world.stack.register(tier="TIER_1K")
    raw = envelope({"id": WABA, "time": 1750000000, "changes": [
        {"field": "smb_app_state_sync", "value": {"state": "x"}},
        {"field": "account_update", "value": {"event": "SOMETHING_NEW"}},
        {"field": "phone_number_quality_update", "value": {"display_phone_number": "15550783881",
                                                           "event": "UPGRADE", "current_limit": "TIER_SOON"}},
        *GOOD_ENTRY["changes"],
    ]})
    answer = webhook_world.invoke(signed_post(raw))
    assert answer["statusCode"] == 200, answer
    counts = json.loads(answer["body"])["counts"]
    assert counts == {"unrecognised": 3, "window_opened": 1}
    assert len(webhook_world.archived()) == 1
    assert webhook_world.number()["tier"] == "TIER_1K"
