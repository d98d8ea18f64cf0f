"""Bad input to LimitCheckFunction is answered, names the field, and changes nothing stored (moto).

Every request goes through the real handler (`limit_check.app.lambda_handler`); the four tables
are scanned before and after: not one item may change, whatever was sent.
"""

from __future__ import annotations

import pytest

from tests.conftest import load_event

PNID = "106540352242922"
UNKNOWN = "999999999999999"
CHECK = {"phone_number_id": PNID, "recipient": "16505551234", "message": "template"}
RELEASE = {"action": "release", "phone_number_id": PNID, "recipient": "16505551234", "reference": "send-1"}


def without(payload: dict, field: str) -> dict:
    return {k: v for k, v in payload.items() if k != field}


# (case, payload, decision, what the error must name)
BAD = [
    ("not an object", ["16505551234"], "INVALID_REQUEST", "payload"),
    ("a string", "16505551234", "INVALID_REQUEST", "payload"),
    ("null", None, "INVALID_REQUEST", "payload"),
    ("unknown action", {**CHECK, "action": "delete"}, "INVALID_REQUEST", "'action'"),
    ("missing phone_number_id", without(CHECK, "phone_number_id"), "INVALID_REQUEST", "'phone_number_id'"),
    ("empty phone_number_id", {**CHECK, "phone_number_id": ""}, "INVALID_REQUEST", "'phone_number_id'"),
    ("number as phone_number_id", {**CHECK, "phone_number_id": 106540352242922}, "INVALID_REQUEST",
     "'phone_number_id'"),
    ("letters in phone_number_id", {**CHECK, "phone_number_id": "abc"}, "INVALID_REQUEST", "'phone_number_id'"),
    ("missing recipient", without(CHECK, "recipient"), "INVALID_REQUEST", "'recipient'"),
    ("empty recipient", {**CHECK, "recipient": ""}, "INVALID_REQUEST", "'recipient'"),
    ("number as recipient", {**CHECK, "recipient": 16505551234}, "INVALID_REQUEST", "'recipient'"),
    ("recipient not a phone number", load_event("limit_check.invalid.json"), "INVALID_REQUEST", "'recipient'"),
    ("too short a recipient", {**CHECK, "recipient": "12345"}, "INVALID_REQUEST", "'recipient'"),
    ("recipient and recipients", {**CHECK, "recipients": ["16505551234"]}, "INVALID_REQUEST", "'recipients'"),
    ("recipients not a list", {**without(CHECK, "recipient"), "recipients": "16505551234"}, "INVALID_REQUEST",
     "'recipients'"),
    ("empty recipients", {**without(CHECK, "recipient"), "recipients": []}, "INVALID_REQUEST", "'recipients'"),
    ("1001 recipients", {**without(CHECK, "recipient"), "recipients": [f"1650{i:07d}" for i in range(1001)]},
     "INVALID_REQUEST", "'recipients'"),
    ("one bad recipient in a batch", {**without(CHECK, "recipient"),
                                      "recipients": ["16505551234", "16505551235", "16505551236", "call me"]},
     "INVALID_REQUEST", "'recipients[3]'"),
    ("missing message", without(CHECK, "message"), "INVALID_REQUEST", "'message'"),
    ("unknown message kind", {**CHECK, "message": "marketing"}, "INVALID_REQUEST", "'message'"),
    ("number as message", {**CHECK, "message": 1}, "INVALID_REQUEST", "'message'"),
    ("string dry_run", {**CHECK, "dry_run": "yes"}, "INVALID_REQUEST", "'dry_run'"),
    ("number as reference", {**CHECK, "reference": 42}, "INVALID_REQUEST", "'reference'"),
    ("empty reference", {**CHECK, "reference": "  "}, "INVALID_REQUEST", "'reference'"),
    ("misspelt field", {**CHECK, "dryrun": True}, "INVALID_REQUEST", "'dryrun'"),
    ("release without reference", without(RELEASE, "reference"), "INVALID_REQUEST", "'reference'"),
    ("release without recipient", without(RELEASE, "recipient"), "INVALID_REQUEST", "'recipient'"),
    ("release of a batch", {**without(RELEASE, "recipient"), "recipients": ["16505551234"]}, "INVALID_REQUEST",
     "'recipients'"),
    ("template not an object", {**CHECK, "template": "order_confirmation"}, "INVALID_REQUEST", "'template'"),
    ("template as a list", {**CHECK, "template": ["order_confirmation", "en_US"]}, "INVALID_REQUEST", "'template'"),
    ("template without name", {**CHECK, "template": {"language": "en_US"}}, "INVALID_REQUEST", "'template.name'"),
    ("template without language", {**CHECK, "template": {"name": "t"}}, "INVALID_REQUEST", "'template.language'"),
    ("number as template name", {**CHECK, "template": {"name": 1, "language": "en"}}, "INVALID_REQUEST",
     "'template.name'"),
    ("oversized template name", {**CHECK, "template": {"name": "t" * 10_000, "language": "en"}}, "INVALID_REQUEST",
     "'template.name'"),
    ("oversized language", {**CHECK, "template": {"name": "t", "language": "en" * 500}}, "INVALID_REQUEST",
     "'template.language'"),
    ("Meta's language object", {**CHECK, "template": {"name": "t", "language": {"code": "en_US"}}},
     "INVALID_REQUEST", "'template.language'"),
    ("unknown template field", {**CHECK, "template": {"name": "t", "language": "en", "components": []}},
     "INVALID_REQUEST", "'template.components'"),
    ("template of a session message", {**CHECK, "message": "session", "template": {"name": "t", "language": "en"}},
     "INVALID_REQUEST", "'template'"),
    ("unknown category", {**CHECK, "category": "promotional"}, "INVALID_REQUEST", "'category'"),
    ("number as category", {**CHECK, "category": 3}, "INVALID_REQUEST", "'category'"),
    ("unknown number", {**CHECK, "phone_number_id": UNKNOWN}, "DENIED_UNKNOWN_NUMBER", UNKNOWN),
    ("unknown number, batch", {**without(CHECK, "recipient"), "phone_number_id": UNKNOWN,
                               "recipients": ["16505551234"]}, "DENIED_UNKNOWN_NUMBER", UNKNOWN),
    ("unknown number, release", {**RELEASE, "phone_number_id": UNKNOWN}, "DENIED_UNKNOWN_NUMBER", UNKNOWN),
]


def everything_stored(stack) -> dict[str, list]:
    """Every item of every table of the stack, in a stable order."""
    settings = stack.settings
    out = {}
    for table in (settings.numbers_table, settings.recipients_table, settings.limits_table, settings.history_table):
        items, kwargs = [], {"TableName": table, "ConsistentRead": True}
        while True:
            page = stack.client.scan(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        out[table] = sorted(items, key=repr)
    return out


@pytest.fixture
def busy_number(moto_stack, clock):
    """A registered number with counted recipients, a service window and a slot taken by reference."""
    moto_stack.register(tier="TIER_250")
    checker = moto_stack.checker()
    for i in range(3):
        assert checker.handle({**CHECK, "recipient": f"1650555000{i}"})["allowed"]
    assert checker.handle({**CHECK, "reference": "send-1"})["decision"] == "ALLOWED_NEW_RECIPIENT"
    moto_stack.open_window(PNID, "16505559999", int(clock()) + 3600)
    return moto_stack


def test_bad_input_is_answered_naming_the_field_and_changes_nothing_stored(busy_number, lambda_context):
    from limit_check.app import lambda_handler

    # Given a number with recipients counted, a window open and a slot taken by reference
    before = everything_stored(busy_number)
    assert before[busy_number.settings.recipients_table]

    # When every kind of bad request reaches the function
    wrong = []
    for case, payload, decision, named in BAD:
        answer = lambda_handler(payload, lambda_context)
        # Then each is an answer (never an exception): not allowed, its decision, an error naming the field
        if (answer["allowed"], answer["decision"]) != (False, decision) or named not in answer.get("error", ""):
            wrong.append((case, answer.get("decision"), answer.get("error")))
        elif answer.get("warnings") != [] or len(answer["error"]) > 300:
            wrong.append((case, "warnings / error size", answer.get("warnings"), len(answer["error"])))
    assert not wrong, "\n".join(map(str, wrong))

    # and not one stored item changed
    assert everything_stored(busy_number) == before
