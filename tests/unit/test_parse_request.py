"""Given an invocation payload, when it is validated, then a good one becomes a request and every bad
one raises InvalidRequest whose message names the field that is wrong."""

from __future__ import annotations

import pytest
from numberguard.domain.check import (
    MAX_BATCH,
    CheckRequest,
    InvalidRequest,
    MessageKind,
    ReleaseRequest,
    parse_request,
)

PNID, RECIPIENT = "106540352242922", "16505551234"
CHECK = {"phone_number_id": PNID, "recipient": RECIPIENT, "message": "template"}
RELEASE = {"action": "release", "phone_number_id": PNID, "recipient": RECIPIENT, "reference": "send-1"}
MISSING = object()


def with_(base: dict, **changes) -> dict:
    payload = dict(base)
    for name, value in changes.items():
        if value is MISSING:
            payload.pop(name, None)
        else:
            payload[name] = value
    return payload


def rejects(payload, *fragments: str) -> str:
    with pytest.raises(InvalidRequest) as caught:
        parse_request(payload)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


# ---- good requests ------------------------------------------------------------------------------------


def test_a_single_check_with_defaults():
    request = parse_request(CHECK)
    assert request == CheckRequest(PNID, (RECIPIENT,), MessageKind.TEMPLATE, None, False, False)


def test_a_full_single_check_is_normalised():
    # Given spaces, a leading + and mixed case / Then the request holds the canonical values
    request = parse_request(
        {"action": "check", "phone_number_id": f" {PNID} ", "recipient": " +16505551234 ", "message": " Session ",
         "reference": " campaign-42 ", "dry_run": True}
    )
    assert request == CheckRequest(PNID, (RECIPIENT,), MessageKind.SESSION, "campaign-42", True, False)


def test_a_batch_keeps_order_and_duplicates():
    recipients = ["16505551234", "+447700900123", "16505551234"]
    request = parse_request(with_(CHECK, recipient=MISSING, recipients=recipients))
    assert request.recipients == ("16505551234", "447700900123", "16505551234")
    assert request.batch is True


def test_a_batch_of_exactly_the_maximum_is_accepted():
    recipients = [f"1650555{i:04d}" for i in range(MAX_BATCH)]
    assert len(parse_request(with_(CHECK, recipient=MISSING, recipients=recipients)).recipients) == MAX_BATCH


def test_a_release():
    assert parse_request(RELEASE) == ReleaseRequest(PNID, RECIPIENT, "send-1")


@pytest.mark.parametrize("recipient", ["1650555", "165055512345678", "+16505551234", "4915112345678"])
def test_phone_numbers_of_7_to_15_digits_are_recipients(recipient):
    assert parse_request(with_(CHECK, recipient=recipient)).recipients == (recipient.lstrip("+"),)


# ---- bad payloads -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("payload", "kind"), [(None, "null"), ([CHECK], "list"), ("{}", "str"), (42, "int")])
def test_a_payload_that_is_not_an_object(payload, kind):
    rejects(payload, "the payload must be a JSON object", f"got {kind}")


@pytest.mark.parametrize("action", ["delete", "", None, 1, "RELEASE"])
def test_an_unknown_action(action):
    rejects(with_(CHECK, action=action), "'action' must be 'check' or 'release'")


@pytest.mark.parametrize("base", [CHECK, RELEASE], ids=["check", "release"])
@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (MISSING, "'phone_number_id' is required"),
        (None, "'phone_number_id' is required"),
        ("", "'phone_number_id' must not be empty"),
        ("   ", "'phone_number_id' must not be empty"),
        (106540352242922, "'phone_number_id' must be a string, got int"),
        (["106540352242922"], "'phone_number_id' must be a string, got list"),
        (True, "'phone_number_id' must be a string, got bool"),
        ("+15550783881", "'phone_number_id' must be the number's Meta id (digits only)"),
        ("abc", "'phone_number_id' must be the number's Meta id (digits only), got 'abc'"),
        ("1" * 33, "'phone_number_id' must be the number's Meta id"),
        ("1" * 65, "'phone_number_id' is too long (65 characters, at most 64)"),
    ],
)
def test_a_bad_phone_number_id(base, value, fragment):
    rejects(with_(base, phone_number_id=value), fragment)


def test_no_recipient_at_all():
    rejects(with_(CHECK, recipient=MISSING), "'recipient' is required (or 'recipients' for a batch)")


@pytest.mark.parametrize("base", [CHECK, RELEASE], ids=["check", "release"])
@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "'recipient' is not a phone number, a BSUID or a parent BSUID: ''"),
        ("   ", "'recipient' is not a phone number"),
        (None, "'recipient' must be a phone number, a BSUID or a parent BSUID (a string), got null"),
        (16505551234, "'recipient' must be a phone number, a BSUID or a parent BSUID (a string), got int"),
        ({"wa_id": RECIPIENT}, "'recipient' must be a phone number, a BSUID or a parent BSUID (a string), got dict"),
        ("not-a-phone-number", "'recipient' is not a phone number, a BSUID or a parent BSUID: 'not-a-phone-number'"),
        ("+1 650 555 1234", "'recipient' is not a phone number"),
        ("1-650-555-1234", "'recipient' is not a phone number"),
        ("06505551234", "'recipient' is not a phone number"),
        ("123456", "'recipient' is not a phone number"),
        ("1234567890123456", "'recipient' is not a phone number"),
        ("16505551234@s.whatsapp.net", "'recipient' is not a phone number"),
        ("16505551234\n16505551235", "'recipient' is not a phone number"),
    ],
)
def test_a_recipient_that_is_not_a_phone_number(base, value, fragment):
    message = rejects(with_(base, recipient=value), fragment)
    assert "e.g. '16505551234'" in message or "got" in message


def test_a_release_without_a_recipient():
    rejects(with_(RELEASE, recipient=MISSING), "'recipient' is required")


ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x0660 + d) for d in range(10)))


@pytest.mark.parametrize(
    "payload",
    [
        with_(CHECK, recipient="1\uff16\uff15\uff10\uff15\uff15\uff15\uff11\uff12\uff13\uff14"),
        with_(CHECK, recipient="1\u0666\u0665\u0660\u0665\u0665\u0665\u0661\u0662\u0663\u0664"),
        with_(CHECK, phone_number_id="106540352242922".translate(ARABIC_INDIC)),
    ],
    ids=["fullwidth-recipient", "arabic-indic-recipient", "arabic-indic-number-id"],
)
def test_only_ascii_digits_make_a_phone_number(payload):
    with pytest.raises(InvalidRequest):
        parse_request(payload)


def test_both_recipient_and_recipients():
    rejects(with_(CHECK, recipients=[RECIPIENT]), "give either 'recipient' or 'recipients', not both")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (None, "'recipients' must be a list of recipient ids, got null"),
        (RECIPIENT, "'recipients' must be a list of recipient ids, got str"),
        ({"0": RECIPIENT}, "'recipients' must be a list of recipient ids, got dict"),
        ([], "'recipients' must not be empty"),
        ([f"1650555{i:04d}" for i in range(MAX_BATCH + 1)], "'recipients' has 1001 entries, at most 1000 per request"),
        ([RECIPIENT, 16505551235], "'recipients[1]' must be a phone number, a BSUID or a parent BSUID (a string), "
                                   "got int"),
        ([RECIPIENT, RECIPIENT, None], "'recipients[2]' must be a phone number, a BSUID or a parent "
                                       "BSUID (a string), got null"),
        (["hello", RECIPIENT], "'recipients[0]' is not a phone number, a BSUID or a parent BSUID: 'hello'"),
        ([RECIPIENT, ""], "'recipients[1]' is not a phone number"),
    ],
)
def test_bad_recipients(value, fragment):
    rejects(with_(CHECK, recipient=MISSING, recipients=value), fragment)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (MISSING, "'message' is required: 'template' or 'session'"),
        (None, "'message' is required"),
        ("", "'message' must be 'template' or 'session', got ''"),
        ("sms", "'message' must be 'template' or 'session', got 'sms'"),
        ("marketing", "'message' must be 'template' or 'session', got 'marketing'"),
        (1, "'message' must be 'template' or 'session', got int"),
        (["template"], "'message' must be 'template' or 'session', got list"),
    ],
)
def test_a_bad_message_kind(value, fragment):
    rejects(with_(CHECK, message=value), fragment)


def test_an_unknown_message_kind_is_quoted_but_cut_short():
    message = rejects(with_(CHECK, message="x" * 500), "'message' must be")
    assert len(message) < 200


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("true", "'dry_run' must be true or false, got str"),
        (1, "'dry_run' must be true or false, got int"),
        (0, "'dry_run' must be true or false, got int"),
        (None, "'dry_run' must be true or false, got null"),
    ],
)
def test_a_bad_dry_run(value, fragment):
    rejects(with_(CHECK, dry_run=value), fragment)


@pytest.mark.parametrize("base", [CHECK, RELEASE], ids=["check", "release"])
@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (42, "'reference' must be a string, got int"),
        ("", "'reference' must not be empty"),
        ("  ", "'reference' must not be empty"),
        ("r" * 257, "'reference' is too long (257 characters, at most 256)"),
    ],
)
def test_a_bad_reference(base, value, fragment):
    rejects(with_(base, reference=value), fragment)


def test_a_release_needs_its_reference():
    rejects(with_(RELEASE, reference=MISSING), "'reference' is required")
    rejects(with_(RELEASE, reference=None), "'reference' is required")


@pytest.mark.parametrize(
    ("base", "extra", "fragment"),
    [
        (CHECK, {"recipeint": RECIPIENT}, "unknown field 'recipeint'"),
        (CHECK, {"zz": 1, "limit": 5}, "unknown field 'limit'"),
        (CHECK, {"Message": "template"}, "unknown field 'Message'"),
        (RELEASE, {"message": "template"}, "unknown field 'message'"),
        (RELEASE, {"recipients": [RECIPIENT]}, "unknown field 'recipients'"),
        (RELEASE, {"dry_run": True}, "unknown field 'dry_run'"),
    ],
)
def test_an_unknown_field_is_named_with_the_allowed_ones(base, extra, fragment):
    message = rejects({**base, **extra}, fragment)
    assert "(allowed: " in message and "phone_number_id" in message
