"""Hostile and valid payloads through LimitCheckFunction's handler on moto (more than 10,000 of them).

Given any JSON an invoker can send, the handler answers (never raises); a rejection is an
INVALID_REQUEST whose `error` names the field, and it reaches no DynamoDB write (so stored state
cannot change); a well-formed request is never rejected; at the end the scope's counter still
equals its counted recipients.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.aws_calls import aws_calls
from tests.fuzz.conftest import FUZZ, PER_EXAMPLE

PN = "106540352242922"
FIELDS = ["action", "phone_number_id", "recipient", "recipients", "message", "reference", "dry_run"]
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
DECISIONS = {
    "ALLOWED_SERVICE_WINDOW", "ALLOWED_ALREADY_COUNTED", "ALLOWED_NEW_RECIPIENT", "ALLOWED_UNLIMITED",
    "DENIED_LIMIT_REACHED", "DENIED_WINDOW_CLOSED", "DENIED_BANNED", "DENIED_PENDING", "DENIED_OFFLINE",
    "DENIED_ACCOUNT_RESTRICTED", "DENIED_UNKNOWN_NUMBER", "INVALID_REQUEST", "DENIED_STORE_UNAVAILABLE",
    "ALLOWED_STORE_UNAVAILABLE", "RELEASED", "NOTHING_TO_RELEASE", "MIXED",
}
NAMES_A_FIELD = re.compile(r"'(action|phone_number_id|recipient|recipients(\[\d+\])?|message|reference|dry_run)'"
                           r"|unknown field|the payload must be a JSON object")

# Hostile JSON values, drawn from a pool (cheap to draw: the tier's budget goes to examples, not to
# generating them) plus free text: wrong types, edge numbers, empty and nested junk, control characters.
JUNK = [
    None, True, False, 0, 1, -1, 2**63, -(2**63), 1.5, -0.0, 1e308, "", " ", "\t\n", "null", "true", "0",
    "\x00", "\u2603", "\U0001f4a9", "\ud7ff", "'; DROP TABLE", "${jndi:x}", "<script>", "%s%n", "../../etc",
    [], [None], [[[]]], ["16505551234"], {}, {"": None}, {"a": {"b": {"c": [1, {"d": []}]}}},
    {"recipient": "16505551234"}, [{"phone_number_id": "1"}], "check", "release", "template", "session",
]
json_values = st.one_of(
    st.sampled_from(JUNK),
    st.text(max_size=12),
    st.lists(st.sampled_from(JUNK), max_size=3),
    st.dictionaries(st.sampled_from(["", "a", "recipient", "\u00fc"]), st.sampled_from(JUNK), max_size=2),
)
huge_text = st.integers(min_value=65, max_value=400_000).map(lambda n: "9" * n)
# Digits of other scripts, invisible characters, spacing: one person must never get two keys.
lookalikes = st.sampled_from([
    "\u0661\u0666\u0665\u0660\u0665\u0665\u0665\u0661\u0662\u0663\u0664",  # Arabic-Indic
    "\uff11\uff16\uff15\uff10\uff15\uff15\uff15\uff11\uff12\uff13\uff14",  # full width
    "\u0967\u096c\u096b\u0966\u096b\u096b\u096b\u0967\u0968\u0969\u096a",  # Devanagari
    "16505551234\u200b", "\ufeff16505551234", "16505551234\x00", "+1 650 555 1234", "0016505551234",
    "1650555123\uff14", "1e10", "-16505551234", "16505551234 16505551235",
])
# Cheap to draw (an integer), valid by construction: country code and number, 7 to 15 digits.
phone = st.tuples(st.booleans(), st.integers(min_value=10**6, max_value=10**15 - 1)).map(
    lambda p: ("+" if p[0] else "") + str(p[1]))
recipient_ish = st.one_of(phone, lookalikes, st.text(max_size=20), huge_text, json_values)
reference = st.text(min_size=1, max_size=256).filter(str.strip)
valid_check = st.fixed_dictionaries(
    {"phone_number_id": st.sampled_from([PN, "999"]), "recipient": phone,
     "message": st.sampled_from(["template", "session", " Template ", "SESSION"])},
    optional={"reference": reference, "dry_run": st.booleans(), "action": st.just("check")},
)
valid_batch = st.fixed_dictionaries(
    {"phone_number_id": st.just(PN), "recipients": st.lists(phone, min_size=1, max_size=10),
     "message": st.sampled_from(["template", "session"])},
    optional={"dry_run": st.booleans(), "reference": reference},
)
valid_release = st.fixed_dictionaries(
    {"action": st.just("release"), "phone_number_id": st.just(PN), "recipient": phone, "reference": reference},
)
bad_batch = st.fixed_dictionaries(
    {"phone_number_id": st.just(PN), "message": st.just("template"),
     "recipients": st.one_of(
         st.lists(recipient_ish, min_size=1, max_size=8),
         st.integers(min_value=1001, max_value=1003).map(lambda n: [f"1650555{i:04d}" for i in range(n)]),
         st.just([]), json_values)},
)


def mutated(base):
    """A valid request with one field replaced, removed or joined by junk."""
    def mutate(pair):
        payload, (how, name, value) = pair
        payload = dict(payload)
        if how == "replace":
            payload[name] = value
        elif how == "drop":
            payload.pop(name, None)
        else:
            payload[name if name not in payload else f"x-{name}"] = value
        return payload

    how = st.sampled_from(["replace", "replace", "replace", "add", "drop"])
    change = st.tuples(how, st.sampled_from([*FIELDS, "Recipient", "\u00fc"]),
                       st.one_of(json_values, huge_text, recipient_ish))
    return st.tuples(base, change).map(mutate)


# Hostile shapes: most are rejected before any DynamoDB call; the mutations that stay valid are answered.
hostile = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(FIELDS), st.one_of(json_values, recipient_ish), max_size=7),
    mutated(valid_check),
    mutated(valid_batch),
    mutated(valid_release),
    bad_batch,
)
well_formed = st.one_of(valid_check, valid_batch, valid_release)


def check_answer(payload, answer, calls, *, valid: bool) -> None:
    text = json.dumps(answer)  # the answer is JSON (Lambda serialises it)
    assert answer["decision"] in DECISIONS, answer["decision"]
    if valid:
        assert answer["decision"] != "INVALID_REQUEST", (payload, answer.get("error"))
    if answer["decision"] == "INVALID_REQUEST":
        # Then the error names the field, stays short, and nothing was written
        assert NAMES_A_FIELD.search(answer["error"]), answer["error"][:300]
        assert len(text) < 2_000, f"the rejection echoes the input ({len(text)} characters)"
        assert not [c.operation for c in calls if c.operation in WRITES]
        assert answer["allowed"] is False


@pytest.fixture(scope="module")
def handler():
    import limit_check.app

    return limit_check.app.lambda_handler


def test_hostile_payloads_get_an_answer_and_rejections_change_nothing(moto_stack, lambda_context, handler):
    moto_stack.register(tier="TIER_1K")
    seen: Counter = Counter()

    @FUZZ
    @given(batch=st.lists(hostile, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    @example(batch=[{"phone_number_id": PN, "message": "template",
                     "recipients": [f"1650555{i:04d}" for i in range(1001)]}])
    @example(batch=[{"phone_number_id": PN, "recipient": "1" * 1_000_000, "message": "template"}])
    @example(batch=[{"phone_number_id": "9" * 1_000_000, "recipient": "16505551234", "message": "template"}])
    @example(batch=[{"phone_number_id": PN, "recipient": "16505551234", "message": "template", "r" * 99_999: 1}])
    @example(batch=[{"action": "x" * 1_000_000, "phone_number_id": PN}])
    def run(batch):
        for payload in batch:
            with aws_calls() as recorder:
                answer = handler(payload, lambda_context)
            seen["examples"] += 1
            seen[answer["decision"]] += 1
            check_answer(payload, answer, recorder.calls, valid=False)

    run()
    assert seen["examples"] >= 10_000, seen
    assert seen["INVALID_REQUEST"] >= 0.8 * seen["examples"], seen
    assert_counter_matches_records(moto_stack)


def test_well_formed_requests_are_answered_never_rejected(moto_stack, lambda_context, handler):
    moto_stack.register(tier="TIER_250")
    seen: Counter = Counter()

    @settings(FUZZ, max_examples=30)
    @given(batch=st.lists(well_formed, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    @example(batch=[{"phone_number_id": PN, "message": "template",
                     "recipients": [f"1650666{i:04d}" for i in range(1000)]}])
    def run(batch):
        for payload in batch:
            with aws_calls() as recorder:
                answer = handler(payload, lambda_context)
            seen[answer["decision"]] += 1
            check_answer(payload, answer, recorder.calls, valid=True)

    run()
    # Then the run reached the limit and the counter still equals the counted recipients
    assert seen["DENIED_LIMIT_REACHED"] or seen["MIXED"], seen
    assert_counter_matches_records(moto_stack)


def assert_counter_matches_records(stack) -> None:
    """After everything, the scope's counter equals its counted recipients: nothing leaked or lost."""
    client, cfg = stack.client, stack.settings
    counter = client.get_item(TableName=cfg.limits_table, Key={"scope": {"S": f"number#{PN}"}})["Item"]
    records = [
        item for page in client.get_paginator("scan").paginate(TableName=cfg.recipients_table)
        for item in page["Items"] if item["pk"]["S"].startswith(f"c#number#{PN}#") and "counted_bucket" in item
    ]
    assert int(counter["used"]["N"]) == len(records)
