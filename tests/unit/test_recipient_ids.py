"""Given a sender's `recipient` (or `recipients[]`, or a release's recipient), when it is a phone number,
a BSUID or a parent BSUID in DESIGN §3's exact forms it is accepted as given, and anything else is
INVALID_REQUEST naming `recipient` and the rule it breaks."""

from __future__ import annotations

import pytest
from numberguard.domain.check import InvalidRequest, parse_request
from numberguard.domain.people import IdKind, kind_of

PNID = "106540352242922"
BSUID = "US.13491208655302741918"
PARENT = "US.ENT.11815799212886844830"


def check(recipient: object) -> tuple[str, ...]:
    return parse_request({"phone_number_id": PNID, "recipient": recipient, "message": "template"}).recipients


def refused(recipient: object, where: str = "recipient") -> str:
    payloads = [
        {"phone_number_id": PNID, "recipient": recipient, "message": "template"},
        {"phone_number_id": PNID, "recipients": ["16505551234", recipient], "message": "template"},
        {"action": "release", "phone_number_id": PNID, "recipient": recipient, "reference": "send-1"},
    ]
    messages = []
    for payload in payloads:
        with pytest.raises(InvalidRequest) as caught:
            parse_request(payload)
        messages.append(str(caught.value))
    assert messages[0].startswith("'recipient' "), messages[0]
    assert messages[1].startswith("'recipients[1]' "), messages[1]
    assert messages[2] == messages[0]
    return messages[0]


@pytest.mark.parametrize(("value", "kind"), [
    ("16505551234", IdKind.PHONE),
    (BSUID, IdKind.BSUID),
    ("BR.a", IdKind.BSUID),
    ("US." + "x" * 128, IdKind.BSUID),
    ("DE.AbC123xyz", IdKind.BSUID),  # letters of both cases after the period
    (PARENT, IdKind.PARENT_BSUID),
    ("US.ENT." + "9" * 128, IdKind.PARENT_BSUID),
])
def test_every_form_is_accepted_and_kept_exactly_as_given(value, kind):
    assert check(value) == (value,)
    assert kind_of(value) is kind
    release = parse_request({"action": "release", "phone_number_id": PNID, "recipient": value, "reference": "r"})
    assert release.recipient == value
    batch = parse_request({"phone_number_id": PNID, "recipients": [value, "16505551234"], "message": "session"})
    assert batch.recipients == (value, "16505551234")


def test_a_bsuid_keeps_its_case_and_a_phone_loses_only_its_plus():
    assert check("US.AbCdEf") == ("US.AbCdEf",)
    assert check("US.abcdef") == ("US.abcdef",)  # another user: BSUIDs are case-sensitive
    assert check("+16505551234") == ("16505551234",)
    assert check(f"  {BSUID}  ") == (BSUID,)


@pytest.mark.parametrize(("value", "why"), [
    ("us.13491208655302741918", "the country code must be in capitals ('US', not 'us')"),
    ("Us.13491208655302741918", "the country code must be in capitals ('US', not 'Us')"),
    ("us.ENT.11815799212886844830", "the country code must be in capitals"),
    ("US13491208655302741918", "a phone number is the WhatsApp id"),  # no period
    ("USA.1349", "a BSUID starts with a two-letter country code, not 'USA'"),
    ("U.1349", "a BSUID starts with a two-letter country code, not 'U'"),
    ("US.", "nothing follows the prefix (1 to 128 letters or digits)"),
    ("US.ENT.", "nothing follows the prefix (1 to 128 letters or digits)"),
    ("US." + "x" * 129, "129 characters follow the prefix (at most 128)"),
    ("US.ENT." + "x" * 129, "129 characters follow the prefix (at most 128)"),
    ("US.1349-1208", "'-' is not a letter or digit (only letters and digits follow the prefix)"),
    ("US.1349_1208", "'_' is not a letter or digit"),
    ("US.1349.1208", "'.' is not a letter or digit"),
    ("US.1349 1208", "' ' is not a letter or digit"),
    ("US.13é4", "'é' is not a letter or digit"),
    ("US.ent.1181", "'.' is not a letter or digit"),  # 'ENT' is capitals only
])
def test_a_malformed_bsuid_is_refused_naming_the_rule(value, why):
    message = refused(value)
    assert message.startswith("'recipient' is not a phone number, a BSUID or a parent BSUID: "), message
    assert why in message, message


@pytest.mark.parametrize(("value", "text"), [
    ("", "'recipient' is not a phone number, a BSUID or a parent BSUID: ''"),
    ("realsheenanelson", "'recipient' is not a phone number, a BSUID or a parent BSUID: 'realsheenanelson'"),
    ("@realsheenanelson", "is not a phone number, a BSUID or a parent BSUID"),  # a username is never an id
    (None, "'recipient' must be a phone number, a BSUID or a parent BSUID (a string), got null"),
    (["US.1"], "'recipient' must be a phone number, a BSUID or a parent BSUID (a string), got list"),
    ("US." + "x" * 200, "'recipient' is 203 characters long; a recipient is a phone number, a BSUID (at most 131) "
                        "or a parent BSUID (at most 135)"),
])
def test_other_values_are_refused_in_words(value, text):
    assert text in refused(value)


def test_an_oversized_value_is_never_echoed():
    message = refused("US." + "1" * 5000)
    assert len(message) < 200 and "5,003 characters long" in message
