"""Given Meta's webhook bodies (both generations) and EUM Social's SNS message, when they are verified
and parsed, then they become the right domain events, with stable dedup keys, and nothing in them
can crash the intake."""

from __future__ import annotations

import json

import pytest
from numberguard.domain import events as ev
from numberguard.domain.tiers import MessagingLimit
from numberguard.webhooks import (
    BodyTooLarge,
    EnvelopeError,
    SignatureError,
    events_of,
    parse_envelope,
    parse_eum_social,
    sign,
    verify_signature,
)

from tests.webhooks import COPIES, SHARED, reference_body, reference_names

WABA = "102290129340398"
RECEIVED_AT = 1_760_000_000  # when the test delivery arrived


def events(doc: dict) -> list[ev.Event]:
    return [e for entry in parse_envelope(json.dumps(doc).encode()) for e in events_of(entry, RECEIVED_AT)]


def one_change(field: str, value: dict, time: int | None = 1750000000) -> dict:
    entry = {"id": WABA, "changes": [{"field": field, "value": value}]}
    if time is not None:
        entry["time"] = time
    return {"object": "whatsapp_business_account", "entry": [entry]}


# ---- the reference bodies -------------------------------------------------------------------


def test_the_copies_in_events_equal_the_shared_reference_bodies():
    if not SHARED.is_dir():
        pytest.skip("the shared reference folder is not next to this checkout; the copies are used")
    shared = {p.name: p.read_bytes() for p in SHARED.glob("*.json")}
    copies = {p.name: p.read_bytes() for p in COPIES.glob("*.json")}
    assert copies == shared


@pytest.mark.parametrize("name", [n for n in reference_names() if not n.startswith("eum-")])
def test_every_reference_body_parses_to_known_events(name):
    parsed = events(json.loads(reference_body(name)))
    assert parsed and not any(isinstance(e, ev.Unrecognised) for e in parsed), parsed


# ---- signature ------------------------------------------------------------------------------


def test_signature_is_the_hmac_of_the_raw_bytes():
    body = reference_body("messages.inbound-text.json")
    verify_signature(body, sign(body, "s3cret"), "s3cret")
    verify_signature(body, sign(body, "s3cret").upper().replace("SHA256=", "sha256="), "s3cret")


@pytest.mark.parametrize(("header", "why"), [
    (None, "missing"), ("", "missing"), ("sha256=abc", "64 hex"), ("md5=" + "0" * 64, "64 hex"),
    ("sha256=" + "0" * 64, "does not match"), ("sha256=" + "g" * 64, "64 hex"),
])
def test_a_bad_signature_names_the_problem(header, why):
    with pytest.raises(SignatureError, match=why):
        verify_signature(b"{}", header, "s3cret")


def test_a_signature_of_another_body_or_secret_fails():
    with pytest.raises(SignatureError):
        verify_signature(b'{"a":1}', sign(b'{"a":2}', "s3cret"), "s3cret")
    with pytest.raises(SignatureError):
        verify_signature(b'{"a":1}', sign(b'{"a":1}', "other"), "s3cret")


# ---- envelope bounds --------------------------------------------------------------------------


def test_bounds_are_checked_before_parsing_the_rest():
    with pytest.raises(BodyTooLarge, match="bytes"):
        parse_envelope(b" " * (3 * 1024 * 1024 + 1))
    doc = {"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": []}] * 2001}
    with pytest.raises(BodyTooLarge, match="'entry' has 2,001 items"):
        parse_envelope(json.dumps(doc).encode())
    doc = {"object": "whatsapp_business_account",
           "entry": [{"id": WABA, "changes": [{"field": "x", "value": {}}] * 1000}] * 3}
    with pytest.raises(BodyTooLarge, match="3,000 changes"):
        parse_envelope(json.dumps(doc).encode())


def test_deeply_nested_json_is_a_clear_error():
    with pytest.raises(EnvelopeError, match=r"nested too deeply|not JSON"):
        parse_envelope(b"[" * 100_000 + b"]" * 100_000)


def test_another_object_is_kept_as_unrecognised_not_refused():
    doc = {"object": "page", "entry": [{"id": "1", "changes": [{"field": "feed", "value": {}}]}]}
    (event,) = events(doc)
    assert isinstance(event, ev.Unrecognised) and "page" in event.reason


# ---- phone_number_quality_update, both generations -------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("TIER_1K", MessagingLimit("TIER_1K", 1000)), ("tier_250", MessagingLimit("TIER_250", 250)),
    ("TIER_2K", MessagingLimit("TIER_2K", 2000)), ("TIER_UNLIMITED", MessagingLimit("TIER_UNLIMITED", None)),
    ("TIER_NOT_SET", None), (2000, MessagingLimit("TIER_2K", 2000)), ("1000", MessagingLimit("TIER_1K", 1000)),
    (-1, MessagingLimit("TIER_UNLIMITED", None)), ("TIER_50", MessagingLimit("TIER_50", 50)),
])
def test_every_limit_spelling(raw, expected):
    (event,) = events(one_change("phone_number_quality_update", {
        "display_phone_number": "+1 555-078-3881", "event": "UPGRADE", "current_limit": raw,
        "max_daily_conversations_per_business": raw}))
    assert isinstance(event, ev.QualityUpdate)
    assert (event.current_limit, event.portfolio_limit) == (expected, expected)
    assert event.display_phone_number == "15550783881"  # as registration keeps it


def test_an_unknown_quality_event_is_unrecognised_but_its_limit_still_counts():
    unknown, update = events(one_change("phone_number_quality_update", {
        "display_phone_number": "15550783881", "event": "LIMIT_RESET", "current_limit": "TIER_10K"}))
    assert isinstance(unknown, ev.Unrecognised) and "LIMIT_RESET" in unknown.reason
    assert isinstance(update, ev.QualityUpdate) and update.current_limit.tier == "TIER_10K"
    (only,) = events(one_change("phone_number_quality_update", {"display_phone_number": "1", "event": "NEW"}))
    assert isinstance(only, ev.Unrecognised)


def test_an_unreadable_limit_is_unrecognised_not_fatal():
    (event,) = events(one_change("phone_number_quality_update", {
        "display_phone_number": "15550783881", "event": "UPGRADE", "current_limit": "lots"}))
    assert isinstance(event, ev.Unrecognised) and "current_limit" in event.reason


# ---- business_capability_update ------------------------------------------------------------


def test_capability_both_generations():
    (new,) = events(one_change("business_capability_update", {"max_daily_conversations_per_business": "TIER_10K"}))
    (old,) = events(one_change("business_capability_update", {"max_daily_conversation_per_phone": -1,
                                                               "max_phone_numbers_per_waba": 2}))
    assert new.portfolio_limit == MessagingLimit("TIER_10K", 10000) and new.per_phone_limit is None
    assert old.per_phone_limit == MessagingLimit("TIER_UNLIMITED", None) and old.max_phone_numbers_per_waba == 2


# ---- account_update --------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["DISABLE", "REINSTATE", "SCHEDULE_FOR_DISABLE", ["DISABLE"]])
def test_ban_states_including_the_older_list_form(state):
    (event,) = events(one_change("account_update", {"event": "DISABLED_UPDATE",
                                                    "ban_info": {"waba_ban_state": state, "waba_ban_date": "x"}}))
    assert isinstance(event, ev.AccountBan)
    assert event.state == (state[0] if isinstance(state, list) else state)


def test_restrictions_with_expiry_and_notices():
    (restriction,) = events(json.loads(reference_body("account_update.restriction.json")))
    assert restriction.restrictions == {"RESTRICTED_BIZ_INITIATED_MESSAGING": 1641330498,
                                        "RESTRICTED_ADD_PHONE_NUMBER_ACTION": 1641330498}
    for name in ("ACCOUNT_OFFBOARDED", "ACCOUNT_RECONNECTED", "PARTNER_REMOVED", "ACCOUNT_VIOLATION"):
        (notice,) = events(one_change("account_update", {"event": name}))
        assert isinstance(notice, ev.AccountNotice) and notice.event == name
    (unknown,) = events(one_change("account_update", {"event": "SOMETHING_NEW"}))
    assert isinstance(unknown, ev.Unrecognised)


# ---- messages --------------------------------------------------------------------------------


def test_inbound_statuses_and_errors():
    value = {"metadata": {"phone_number_id": "106540352242922"},
             "messages": [{"from": "16505551234", "id": "wamid.A", "timestamp": "1749416383", "type": "text"},
                          {"from": "16505551235", "id": "wamid.B", "timestamp": "1749416384", "type": "text",
                           "referral": {"source_type": "ad", "ctwa_clid": "x"}}],
             "statuses": [{"id": "wamid.C", "status": "failed", "timestamp": "1749416385",
                           "recipient_id": "16505551236", "biz_opaque_callback_data": "send-42",
                           "errors": [{"code": 131056}]}],
             "errors": [{"code": 130429}, {"code": 131048}]}
    a, b, c, errors = events(one_change("messages", value, time=None))
    assert (a.sender, a.at, a.dedup_key, a.free_entry_point) == ("16505551234", 1749416383, "wamid.A", False)
    assert b.free_entry_point is True
    assert (c.status, c.reference, c.error_codes, c.dedup_key) == ("failed", "send-42", (131056,), "wamid.C#failed")
    assert errors.error_codes == (130429, 131048)


def test_one_unreadable_message_does_not_hide_its_neighbours():
    value = {"metadata": {"phone_number_id": "1"},
             "messages": [{"from": "16505551234", "id": "wamid.A", "timestamp": "soon"},
                          {"from": "16505551235", "id": "wamid.B", "timestamp": "1749416384"}]}
    bad, good = events(one_change("messages", value, time=None))
    assert isinstance(bad, ev.Unrecognised) and "timestamp" in bad.reason
    assert isinstance(good, ev.InboundMessage)


def test_eum_social_message_is_the_entry_it_wraps():
    (event,) = [e for entry in parse_eum_social(reference_body("eum-social-sns-message.json").decode())
                for e in events_of(entry, RECEIVED_AT)]
    assert isinstance(event, ev.InboundMessage)
    assert (event.phone_number_id, event.sender, event.at) == ("106540352242922", "12065550102", 1723506035)
    with pytest.raises(EnvelopeError, match="whatsAppWebhookEntry"):
        parse_eum_social(json.dumps({"context": {}}))
    with pytest.raises(EnvelopeError, match="not JSON"):
        parse_eum_social(json.dumps({"whatsAppWebhookEntry": "{not json"}))


# ---- dedup keys ------------------------------------------------------------------------------


def test_dedup_keys_are_stable_across_retries_and_differ_between_events():
    body = json.loads(reference_body("phone_number_quality_update.legacy-flagged.json"))
    (first,), (again,) = events(body), events(json.loads(json.dumps(body)))
    assert first.dedup_key == again.dedup_key
    body["entry"][0]["time"] += 1
    (later,) = events(body)
    assert later.dedup_key != first.dedup_key


def test_other_fields_are_read():
    (template,) = events(json.loads(reference_body("message_template_quality_update.json")))
    assert (template.template_name, template.previous, template.new) == ("welcome_template", "GREEN", "YELLOW")
    (name,) = events(json.loads(reference_body("phone_number_name_update.json")))
    assert (name.decision, name.requested_verified_name) == ("APPROVED", "Lucky Shrub")
    (alert,) = events(json.loads(reference_body("account_alerts.json")))
    assert (alert.severity, alert.status) == ("WARNING", "ACTIVE")
    (unknown,) = events(one_change("flows", {"event": "FLOW_STATUS_CHANGE"}))
    assert isinstance(unknown, ev.Unrecognised) and unknown.field_name == "flows"


LONG = "1" * 5_000
MESSAGES = {"metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "messages": [{"from": "16505551234", "id": "wamid.A", "timestamp": "1749416383", "type": "text"}],
            "statuses": [{"id": "wamid.B", "status": "failed", "timestamp": "1749416384",
                          "recipient_id": "16505551234", "biz_opaque_callback_data": "send-1"}]}
EVERY_ID = [
    ("messages", ("metadata", "phone_number_id"), "metadata.phone_number_id is 5,000 characters long"),
    ("messages", ("messages", 0, "from"), "from is 5,000 characters long"),
    ("messages", ("messages", 0, "id"), "id is 5,000 characters long"),
    ("messages", ("messages", 0, "timestamp"), "timestamp must be Unix seconds"),
    ("messages", ("statuses", 0, "id"), "id is 5,000 characters long"),
    ("messages", ("statuses", 0, "recipient_id"), "recipient_id is 5,000 characters long"),
    ("messages", ("statuses", 0, "status"), "status is 5,000 characters long"),
    ("messages", ("statuses", 0, "biz_opaque_callback_data"), "biz_opaque_callback_data is 5,000 characters long"),
    ("phone_number_quality_update", ("display_phone_number",), "display_phone_number is 5,000 characters long"),
    ("phone_number_quality_update", ("event",), "event is 5,000 characters long"),
    ("phone_number_quality_update", ("current_limit",), "current_limit: not a messaging limit"),
    ("message_template_quality_update", ("message_template_id",), "message_template_id is 5,000 characters long"),
    ("message_template_quality_update", ("message_template_name",), "message_template_name is 5,000 characters"),
    ("account_update", ("restriction_info", 0, "restriction_type"), "restriction_type is 5,000 characters long"),
    ("account_update", ("ban_info", "waba_ban_date"), "waba_ban_date is 5,000 characters long"),
    ("phone_number_name_update", ("requested_verified_name",), "requested_verified_name is 5,000 characters long"),
]
VALUES = {
    "messages": MESSAGES,
    "phone_number_quality_update": {"display_phone_number": "15550783881", "event": "FLAGGED",
                                    "current_limit": "TIER_1K"},
    "message_template_quality_update": {"message_template_id": 806312974732579,
                                        "message_template_name": "welcome_template", "new_quality_score": "RED"},
    "phone_number_name_update": {"display_phone_number": "15550783881", "decision": "APPROVED",
                                 "requested_verified_name": "Lucky Shrub"},
}


def _account_value(path: tuple) -> dict:
    if path[0] == "ban_info":
        return {"event": "DISABLED_UPDATE", "ban_info": {"waba_ban_state": "DISABLE", "waba_ban_date": "x"}}
    return {"event": "ACCOUNT_RESTRICTION",
            "restriction_info": [{"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": 1}]}


@pytest.mark.parametrize("field,path,reason", EVERY_ID, ids=[" ".join(map(str, p)) for _, p, _ in EVERY_ID])
def test_an_oversized_value_in_any_id_position_makes_its_update_unrecognised(field, path, reason):
    value = json.loads(json.dumps(VALUES.get(field) or _account_value(path)))
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = LONG
    out = events(one_change(field, value))
    refused = [e for e in out if isinstance(e, ev.Unrecognised)]
    assert len(refused) == 1 and reason in refused[0].reason, out
    assert LONG not in refused[0].reason  # named by its length, never echoed
    for event in out:  # nothing else carries the value
        assert LONG not in json.dumps(event.__dict__, default=str)


def test_an_oversized_entry_id_makes_every_update_of_the_entry_unrecognised():
    doc = one_change("messages", MESSAGES)
    doc["entry"][0]["id"] = LONG
    (only,) = events(doc)
    assert isinstance(only, ev.Unrecognised) and only.waba_id == ""
    assert only.reason == "entry.id is 5,000 characters long; a Meta id has at most 32 digits"


@pytest.mark.parametrize("time", [None, "yesterday", -1, 0, 10**12, float("nan"), True])
def test_an_entry_without_a_usable_time_is_stamped_with_its_arrival(time):
    doc = one_change("phone_number_quality_update", VALUES["phone_number_quality_update"], time=None)
    if time is not None:
        doc["entry"][0]["time"] = time
    (update,) = events(doc)
    assert (update.at, update.arrival) == (RECEIVED_AT, True)
    (timed,) = events(one_change("phone_number_quality_update", VALUES["phone_number_quality_update"]))
    assert (timed.at, timed.arrival) == (1750000000, False)


def test_the_dedup_key_of_a_timeless_update_does_not_depend_on_its_arrival():
    doc = one_change("phone_number_quality_update", VALUES["phone_number_quality_update"], time=None)
    entry = parse_envelope(json.dumps(doc).encode())[0]
    assert events_of(entry, 1)[0].dedup_key == events_of(entry, 2)[0].dedup_key


def test_a_reference_longer_than_the_check_takes_is_not_a_slot_reference():
    value = json.loads(json.dumps(MESSAGES))
    value["statuses"][0]["biz_opaque_callback_data"] = "r" * 300  # Meta carries up to 512
    status = [e for e in events(one_change("messages", value)) if isinstance(e, ev.MessageStatus)]
    assert status[0].reference is None


def test_a_group_status_names_the_group_and_nothing_else_passes_for_a_recipient():
    value = json.loads(json.dumps(MESSAGES))
    value["statuses"][0].update(recipient_type="group", recipient_id="Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAz")
    (status,) = [e for e in events(one_change("messages", value)) if isinstance(e, ev.MessageStatus)]
    assert status.recipient == "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAz"
    value["statuses"][0].pop("recipient_type")
    refused = [e for e in events(one_change("messages", value)) if isinstance(e, ev.Unrecognised)]
    assert "recipient_id" in refused[0].reason
