"""Meta's template webhooks with any field missing, of the wrong type, empty or oversized.

Given a `message_template_status_update` or `message_template_quality_update` value drawn field by
field from real values and junk, the parser never raises (an event it can apply, or one counted as
unrecognised), and through the real handler (moto) every signed body is answered 200, each template
it stored reads back as a state the check can use, and a check naming any template still answers.
"""

from __future__ import annotations

import json
from collections import Counter

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from numberguard.domain import events as ev
from numberguard.webhooks import events_of

from tests.fuzz.conftest import FUZZ, PER_EXAMPLE
from tests.webhooks import signed_post

WABA = "102290129340398"
JUNK = [None, True, 0, -1, 2**64, 1.5, "", " ", "\u0000", "\U0001f4a9", "x" * 600, [], {}, [None], {"a": 1},
        "NONE", "null", "9" * 40]
EVENTS = ["APPROVED", "PAUSED", "UNPAUSE", "DISABLED", "REINSTATED", "FLAGGED", "REJECTED", "PENDING",
          "PENDING_DELETION", "DELETED", "ARCHIVED", "UNARCHIVED", "LOCKED", "LIMIT_EXCEEDED", "IN_APPEAL",
          "approved", "Paused", "SOMETHING_NEW"]
TITLES = ["FIRST_PAUSE", "SECOND_PAUSE", "RATE_LIMITING_PAUSE", "UNPAUSE", "DISABLED", "first_pause"]
DESCRIPTIONS = [
    "Your WhatsApp message template has been paused for 3 hours until Aug 29 at 1:15 PM UTC.",
    "paused for 6 hours until Dec 31 at 11:59 PM UTC", "until Feb 29 at 12:00 AM UTC", "until Aug 99 at 99:99 PM UTC",
    "until " + "Aug 29 at 1:15 PM UTC " * 100,
]


def field(real: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(real, real, st.sampled_from(JUNK), st.text(max_size=20))


other_info = st.one_of(st.sampled_from(JUNK), st.fixed_dictionaries({}, optional={
    "title": field(st.sampled_from(TITLES)), "description": field(st.sampled_from(DESCRIPTIONS))}))
status_value = st.fixed_dictionaries({}, optional={
    "event": field(st.sampled_from(EVENTS)),
    "message_template_id": field(st.sampled_from([1689556908129832, "1689556908129832", "7"])),
    "message_template_name": field(st.sampled_from(["order_confirmation", "spring_sale"])),
    "message_template_language": field(st.sampled_from(["en_US", "en-US", "pt_BR", "EN"])),
    "message_template_category": field(st.sampled_from(["UTILITY", "MARKETING", "AUTHENTICATION", "promo"])),
    "reason": field(st.sampled_from(["NONE", "INVALID_FORMAT"])),
    "other_info": other_info,
    "rejection_info": st.one_of(st.sampled_from(JUNK), st.fixed_dictionaries({"reason": field(st.just("bad"))})),
    "disable_info": st.one_of(st.sampled_from(JUNK), st.fixed_dictionaries({"disable_date": field(st.just("1"))})),
})
quality_value = st.fixed_dictionaries({}, optional={
    "message_template_id": field(st.sampled_from([806312974732579, "806312974732579"])),
    "message_template_name": field(st.sampled_from(["welcome_template", "order_confirmation"])),
    "message_template_language": field(st.sampled_from(["en_US", "en-us"])),
    "previous_quality_score": field(st.sampled_from(["GREEN", "YELLOW", "RED", "UNKNOWN"])),
    "new_quality_score": field(st.sampled_from(["GREEN", "YELLOW", "RED", "UNKNOWN", "green"])),
})
change = st.one_of(st.tuples(st.just("message_template_status_update"), status_value),
                   st.tuples(st.just("message_template_quality_update"), quality_value))
RECEIVED_AT = 1756462600  # the delivery of an entry without a time
entry_time = st.one_of(st.none(), st.integers(0, 2**31), st.just(1756462500))


def test_any_template_value_parses_to_an_event_or_a_counted_unrecognised():
    seen: Counter = Counter()

    # 3,000 values: nested optional fields cost hypothesis more per example than the parser spends
    @hypothesis_settings(FUZZ, max_examples=300)
    @given(batch=st.lists(st.tuples(change, entry_time), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    def run(batch):
        for (name, value), time in batch:
            entry = {"id": WABA, "time": time, "changes": [{"field": name, "value": value}]}
            for found in events_of(entry, RECEIVED_AT):
                seen[type(found).__name__] += 1
                assert isinstance(found, ev.TemplateStatusUpdate | ev.TemplateQuality | ev.Unrecognised)
                if isinstance(found, ev.TemplateStatusUpdate):
                    assert found.template_id or (found.template_name and found.template_language)
                    assert found.reading.until is None or found.reading.until >= found.at

    run()
    assert seen["TemplateStatusUpdate"] and seen["TemplateQuality"] and seen["Unrecognised"], seen


def test_any_template_body_through_the_handler_is_taken_and_leaves_a_usable_state(webhook_world, serial_writes,
                                                                                 lambda_context):
    from numberguard.domain.templates import TemplateRef
    from numberguard.store.templates import TemplateStore
    from webhook.app import lambda_handler

    webhook_world.stack.register()
    checker = webhook_world.stack.checker()
    store = TemplateStore(webhook_world.stack.client, webhook_world.stack.settings.numbers_table)
    seen: Counter = Counter()

    @hypothesis_settings(FUZZ, max_examples=40)
    @given(batch=st.lists(st.tuples(change, entry_time), min_size=1, max_size=PER_EXAMPLE))
    def run(batch):
        body = json.dumps({"object": "whatsapp_business_account", "entry": [
            {"id": WABA, "time": t, "changes": [{"field": n, "value": v}]} for (n, v), t in batch]}).encode()
        answer = lambda_handler(signed_post(body), lambda_context)
        assert answer["statusCode"] == 200, answer["body"][:300]
        seen["bodies"] += 1
        for name in ("order_confirmation", "spring_sale", "welcome_template"):
            for language in ("en_US", "pt_BR"):
                store.get(WABA, TemplateRef(name, language))  # reads back, whatever was stored
                verdict = checker.handle({"phone_number_id": "106540352242922", "recipient": "16505551234",
                                          "message": "template", "dry_run": True,
                                          "template": {"name": name, "language": language}})
                assert verdict["decision"] != "INVALID_REQUEST" and isinstance(verdict["warnings"], list)

    run()
    assert seen["bodies"] >= 40
