"""Given Meta's 2026 identity fields (BSUIDs, parent BSUIDs, contacts[], shared contacts, system changes),
when a messages change is parsed, then every id a message carries is read, the ids Meta shows for one user
are linked, and anything missing, empty, mistyped or oversized is never fatal: the message is either read
without it or kept as Unrecognised."""

from __future__ import annotations

import json

import pytest
from numberguard.domain import events as ev
from numberguard.webhooks import events_of, parse_envelope

from tests.webhooks import reference_body

PNID = "106540352242922"
PHONE = "16505551234"
BSUID = "US.13491208655302741918"
PARENT = "US.ENT.11815799212886844830"


def parsed(doc: dict) -> list[ev.Event]:
    return [e for entry in parse_envelope(json.dumps(doc).encode()) for e in events_of(entry, 1_800_000_000)]


def sample(name: str) -> list[ev.Event]:
    return parsed(json.loads(reference_body(name)))


def change(value: dict) -> dict:
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": PNID}, **value}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]}


def message(**fields) -> dict:
    return {"id": "wamid.A", "timestamp": "1789465272", "type": "text", **fields}


def status(**fields) -> dict:
    return {"id": "wamid.S", "timestamp": "1789465272", "status": "delivered", **fields}


# ---- the samples -----------------------------------------------------------------------------


def test_username_only_inbound_is_a_normal_message_under_its_bsuids():
    (event,) = sample("messages.inbound-username-only.json")
    assert isinstance(event, ev.InboundMessage)
    assert event.sender == BSUID and event.ids == (BSUID, PARENT)
    assert event.linked == (BSUID, PARENT)


def test_inbound_with_phone_and_bsuid_opens_both_and_links_them():
    (event,) = sample("messages.inbound-with-bsuid.json")
    assert event.sender == PHONE and event.ids == (PHONE, BSUID) and event.linked == (PHONE, BSUID)


def test_a_contact_shared_on_request_links_the_users_own_number():
    (event,) = sample("messages.contacts-shared-on-request.json")
    assert isinstance(event, ev.InboundMessage) and event.ids == (BSUID,)
    assert event.linked == (PHONE, BSUID)


def test_a_contact_card_of_another_origin_links_nothing():
    doc = json.loads(reference_body("messages.contacts-shared-on-request.json"))
    doc["entry"][0]["changes"][0]["value"]["messages"][0]["contacts"][0]["origin"] = "other"
    (event,) = parsed(doc)
    assert event.linked == () and event.ids == (BSUID,)


def test_statuses_to_a_bsuid_and_to_both():
    (to_bsuid,) = sample("messages.status-delivered-to-bsuid.json")
    assert (to_bsuid.recipient, to_bsuid.recipient_user_id, to_bsuid.recipient_parent_user_id) == (BSUID, BSUID, PARENT)
    assert to_bsuid.linked == (BSUID, PARENT)
    (both,) = sample("messages.status-sent-phone-and-bsuid.json")
    assert both.recipient == PHONE and both.linked == (PHONE, BSUID)
    (failed,) = sample("messages.status-failed-to-phone.json")
    assert failed.recipient == PHONE and failed.recipient_user_id is None and failed.linked == ()


def test_system_changes_retire_the_old_ids_and_open_no_window():
    (number,) = sample("messages.system-user-changed-number.json")
    assert isinstance(number, ev.IdentityChange) and number.kind == "user_changed_number"
    assert number.retired == (PHONE, BSUID)
    assert number.current == ("16505554321", "US.15098342271160483952")
    (user_id,) = sample("messages.system-user-changed-user-id.json")
    assert user_id.kind == "user_changed_user_id"
    assert user_id.retired == (BSUID,) and user_id.current == ("US.17720436158839205567",)


# ---- contacts[] ------------------------------------------------------------------------------


def test_a_contacts_entry_links_only_when_it_shares_an_id_with_the_message():
    contacts = [{"wa_id": "16505550000", "user_id": "US.999"}, {"wa_id": PHONE, "user_id": BSUID}]
    (event,) = parsed(change({"contacts": contacts, "messages": [message(**{"from": PHONE})]}))
    assert event.linked == (PHONE, BSUID) and event.ids == (PHONE,)


@pytest.mark.parametrize("contacts", [
    None, [], "x", 5, [None], [{}], [{"profile": {"username": "sheena"}}], [{"wa_id": 16505551234}],
    [{"wa_id": "", "user_id": ""}], [{"user_id": "us.123"}], [{"user_id": "US." + "1" * 5000}],
    [{"wa_id": PHONE, "user_id": ["US.1"]}], [{"wa_id": PHONE}] * 500,
])
def test_contacts_absent_partial_or_unreadable_link_nothing_and_spoil_nothing(contacts):
    value = {"messages": [message(from_user_id=BSUID)]}
    if contacts is not None:
        value["contacts"] = contacts
    (event,) = parsed(change(value))
    assert isinstance(event, ev.InboundMessage) and event.ids == (BSUID,) and event.linked == ()


# ---- a message's own ids -----------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value", "why"), [
    ("from_user_id", "", "from_user_id is empty"),
    ("from_user_id", 13491208655302741918, "from_user_id '13491208655302741918' is not a BSUID"),
    ("from_user_id", ["US.1"], "from_user_id must be a BSUID"),
    ("from_user_id", "us.1349", "from_user_id 'us.1349' is not a BSUID"),
    ("from_user_id", "US." + "1" * 5000, "from_user_id is 5,003 characters long"),
    ("from_parent_user_id", "US.1349", "from_parent_user_id 'US.1349' is not a parent BSUID"),
    ("from_parent_user_id", {}, "from_parent_user_id must be a parent BSUID"),
])
def test_a_mistyped_or_malformed_id_makes_the_message_unrecognised(field, value, why):
    (event,) = parsed(change({"messages": [message(**{"from": PHONE, field: value})]}))
    assert isinstance(event, ev.Unrecognised) and why in event.reason, event


def test_a_message_naming_no_user_is_unrecognised():
    (event,) = parsed(change({"messages": [message()]}))
    assert isinstance(event, ev.Unrecognised) and "names no user" in event.reason


@pytest.mark.parametrize(("field", "value"), [
    ("recipient_user_id", 5), ("recipient_user_id", "x"), ("recipient_parent_user_id", "US.1"),
])
def test_a_status_with_an_unreadable_id_is_unrecognised(field, value):
    (event,) = parsed(change({"statuses": [status(recipient_id=PHONE, **{field: value})]}))
    assert isinstance(event, ev.Unrecognised) and field in event.reason


def test_a_status_naming_only_a_parent_bsuid():
    (event,) = parsed(change({"statuses": [status(recipient_parent_user_id=PARENT)]}))
    assert event.recipient == PARENT and event.linked == ()


# ---- system messages -----------------------------------------------------------------------------


def system(**fields) -> dict:
    return message(type="system", **{"from": PHONE, "from_user_id": BSUID}, system=fields)


@pytest.mark.parametrize(("body", "why"), [
    ({"type": "user_changed_number"}, "names no previous or no new id"),
    ({"type": "user_changed_number", "wa_id": "abc", "user_id": "US.2"}, "system.wa_id"),
    ({"type": "user_changed_user_id", "user_id": 7}, "user_id '7' is not a BSUID"),
    ({"type": "user_changed_user_id", "previous_user_id": "x", "user_id": "US.2"}, "previous_user_id"),
    ({"type": "customer_identity_changed"}, "system type 'customer_identity_changed' not handled"),
    ({}, "system type None not handled"),
])
def test_an_unreadable_system_message_is_unrecognised(body, why):
    (event,) = parsed(change({"messages": [system(**body)]}))
    assert isinstance(event, ev.Unrecognised) and why in event.reason, event


def test_a_system_message_without_system_is_unrecognised_and_opens_nothing():
    (event,) = parsed(change({"messages": [message(type="system", **{"from": PHONE})]}))
    assert isinstance(event, ev.Unrecognised)


def test_previous_user_id_defaults_to_the_messages_bsuid():
    (event,) = parsed(change({"messages": [system(type="user_changed_user_id", user_id="US.2")]}))
    assert event.retired == (BSUID,) and event.current == ("US.2", PHONE)


@pytest.mark.parametrize(("value", "why"), [
    ("", "from is empty"), ("abc", "from 'abc' is not a phone number"), ("1" * 5000, "5,000 characters long"),
    (["16505551234"], "from must be a phone number"), (True, "from must be a phone number"),
])
def test_an_unreadable_from_makes_the_message_unrecognised(value, why):
    (event,) = parsed(change({"messages": [message(**{"from": value, "from_user_id": BSUID})]}))
    assert isinstance(event, ev.Unrecognised) and why in event.reason, event


def test_a_phone_written_with_plus_or_as_a_number_is_the_same_id():
    for value in ("+16505551234", 16505551234):
        (event,) = parsed(change({"messages": [message(**{"from": value})]}))
        assert event.sender == PHONE


def test_a_status_to_a_group_keeps_the_group_id_and_links_nothing():
    (event,) = parsed(change({"statuses": [status(recipient_id="120363040000000000", recipient_type="group")]}))
    assert event.recipient == "120363040000000000" and event.linked == ()
