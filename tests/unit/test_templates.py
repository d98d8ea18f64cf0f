"""Given Meta's template events in any order, when they are folded, then the template's state is DESIGN
§3's table: what a check naming it is told, until when, and what is announced. Pure, on event times."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime

import pytest
from numberguard.domain import events as ev
from numberguard.domain.changes import Change
from numberguard.domain.facetlog import entry_key
from numberguard.domain.status import Quality
from numberguard.domain.templates import (
    Block,
    StatusFold,
    StatusReading,
    TemplateRef,
    TemplateState,
    TemplateStatus,
    fold,
    pause_end,
    unknown_template_warning,
)
from numberguard.notify.messages import notification_from_document, template_document
from numberguard.webhooks import events_of, parse_envelope

from tests.notifications import validate
from tests.webhooks import reference_body

HOUR = 3600
T0 = 1_756_462_500  # 2025-08-29T10:15:00Z: the first-pause sample's time
WABA = "102290129340398"


def at(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z").timestamp())


def log(*events: tuple[int, StatusReading]) -> dict[str, str]:
    return {entry_key(t, f"k{i:03d}"): r.encode() for i, (t, r) in enumerate(events)}


def state_of(*events: tuple[int, StatusReading], quality: Quality = Quality.UNKNOWN) -> TemplateState:
    status, _ = fold(log(*events))
    return TemplateState(WABA, "order_confirmation", "en_US", "1689556908129832", status, quality)


def R(event: str, title: str | None = None, until: int | None = None, reason: str | None = None) -> StatusReading:
    return StatusReading(event, title, until, reason)


# ---- the pause's end as Meta words it ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("description", "event_at", "expected"),
    [
        ("Your WhatsApp message template has been paused for 3 hours until Aug 29 at 1:15 PM UTC.", T0,
         "2025-08-29T13:15:00+0000"),
        ("Your WhatsApp message template has been paused for 6 hours until Aug 31 at 12:47 AM UTC because it "
         "continued to have issues.", 1_756_579_620, "2025-08-31T00:47:00+0000"),
        ("paused for 6 hours until Aug 31 at 12:05 PM UTC", 1_756_579_620, "2025-08-31T12:05:00+0000"),
        # No year written: the one that puts the end nearest after the event (here across new year).
        ("paused for 3 hours until Jan 1 at 1:30 AM UTC", at("2025-12-31T22:30:00+0000"), "2026-01-01T01:30:00+0000"),
        ("paused until December 31 at 11:00 PM UTC", at("2026-12-31T20:00:00+0000"), "2026-12-31T23:00:00+0000"),
        ("paused until Sep 2, 2025 at 9:30 AM UTC", at("2025-09-02T06:30:00+0000"), "2025-09-02T09:30:00+0000"),
        ("paused until Aug 29 at 13:15 UTC", T0, "2025-08-29T13:15:00+0000"),
    ],
)
def test_the_pause_end_is_read_from_the_description(description, event_at, expected):
    assert pause_end(description, event_at) == at(expected)


@pytest.mark.parametrize(
    "description",
    [None, 42, "", "Your WhatsApp message template has been paused.", "paused until Aug 29 at 1:15 PM PST",
     "paused until Foo 29 at 1:15 PM UTC", "paused until Aug 29 at 13:15 PM UTC", "paused until Aug 32 at 1:15 PM UTC",
     "paused until Aug 29 at 1:75 PM UTC", "until Feb 29 at 1:00 AM UTC",
     # Read, but weeks away from the event: a misreading, never a month-long denial.
     "paused for 3 hours until Sep 29 at 1:15 PM UTC", "x" * 100_000],
)
def test_an_unreadable_pause_end_is_none(description):
    assert pause_end(description, T0) is None


# ---- event → state → decision (DESIGN §3) -------------------------------------------------------------


def test_a_first_pause_denies_until_its_end_then_allows_without_a_webhook():
    end = T0 + 3 * HOUR
    template = state_of((T0 - 10 * HOUR, R("APPROVED")), (T0, R("PAUSED", "FIRST_PAUSE", end)))
    assert template.block(T0 + 1) == (Block.PAUSED, end)
    assert template.block(end - 1) == (Block.PAUSED, end)
    assert template.block(end) == (None, None)
    assert template.status.pause_count == 1


@pytest.mark.parametrize(("title", "hours", "count"), [("FIRST_PAUSE", 3, 1), ("SECOND_PAUSE", 6, 2)])
def test_without_a_readable_end_a_pause_lasts_3_or_6_hours(title, hours, count):
    template = state_of((T0, R("PAUSED", title)))
    assert template.block(T0) == (Block.PAUSED, T0 + hours * HOUR)
    assert template.status.pause_count == count


def test_an_untitled_pause_counts_after_the_pauses_known():
    template = state_of((T0, R("PAUSED", "FIRST_PAUSE")), (T0 + 24 * HOUR, R("PAUSED")))
    assert template.block(T0 + 24 * HOUR) == (Block.PAUSED, T0 + 30 * HOUR)
    assert template.status.pause_count == 2


def test_a_third_pause_never_disables_on_numberguards_count():
    template = state_of((T0, R("PAUSED", "FIRST_PAUSE")), (T0 + 10 * HOUR, R("PAUSED", "SECOND_PAUSE")),
                        (T0 + 30 * HOUR, R("PAUSED")))
    assert template.block(T0 + 30 * HOUR)[0] is Block.PAUSED
    assert template.block(T0 + 40 * HOUR) == (None, None)  # only Meta's DISABLED disables


def test_a_pacing_pause_waits_for_metas_word():
    template = state_of((T0, R("PAUSED", "RATE_LIMITING_PAUSE")))
    for later in (T0, T0 + 6 * HOUR, T0 + 30 * 24 * HOUR):
        assert template.block(later) == (Block.PAUSED, None)
    for word in (R("APPROVED"), R("APPROVED", "UNPAUSE"), R("UNPAUSE")):
        assert state_of((T0, R("PAUSED", "RATE_LIMITING_PAUSE")), (T0 + HOUR, word)).block(T0 + HOUR) == (None, None)


def test_disabled_until_reinstated():
    template = state_of((T0, R("DISABLED", "DISABLED")))
    assert template.block(T0 + 365 * 24 * HOUR) == (Block.DISABLED, None)
    assert state_of((T0, R("DISABLED")), (T0 + HOUR, R("REINSTATED"))).block(T0 + HOUR) == (None, None)


@pytest.mark.parametrize("event", ["REJECTED", "PENDING", "PENDING_DELETION", "DELETED", "ARCHIVED"])
def test_not_approved_states(event):
    assert state_of((T0 - HOUR, R("APPROVED")), (T0, R(event))).block(T0 + 1) == (Block.NOT_APPROVED, None)


def test_unarchived_goes_back_to_the_state_before_archiving():
    paused = state_of((T0, R("PAUSED", "RATE_LIMITING_PAUSE")), (T0 + 1, R("ARCHIVED")), (T0 + 2, R("UNARCHIVED")))
    assert paused.block(T0 + 3) == (Block.PAUSED, None)
    assert state_of((T0, R("APPROVED")), (T0 + 1, R("ARCHIVED")), (T0 + 2, R("UNARCHIVED"))).block(T0 + 3) == (
        None, None)


def test_in_appeal_keeps_the_state_it_had():
    assert state_of((T0, R("REJECTED")), (T0 + 1, R("IN_APPEAL"))).block(T0 + 2) == (Block.NOT_APPROVED, None)
    assert state_of((T0, R("APPROVED")), (T0 + 1, R("IN_APPEAL"))).block(T0 + 2) == (None, None)


@pytest.mark.parametrize("event", ["FLAGGED", "LOCKED", "LIMIT_EXCEEDED"])
def test_at_risk_is_allowed_with_a_warning_and_never_lifts_a_pause(event):
    template = state_of((T0, R("APPROVED")), (T0 + 1, R(event)))
    assert template.block(T0 + 2) == (None, None)
    assert any(w.startswith(f"TEMPLATE_{event}:") for w in template.warnings(T0 + 2))
    paused = state_of((T0, R("PAUSED", "FIRST_PAUSE")), (T0 + 1, R(event)))
    assert paused.block(T0 + 2) == (Block.PAUSED, T0 + 3 * HOUR)


def test_quality_red_is_allowed_with_a_warning():
    template = state_of((T0, R("APPROVED")), quality=Quality.RED)
    assert template.block(T0) == (None, None)
    assert [w.split(":")[0] for w in template.warnings(T0)] == ["TEMPLATE_QUALITY_RED"]
    assert state_of((T0, R("APPROVED")), quality=Quality.YELLOW).warnings(T0) == []


def test_an_unknown_template_gets_a_warning_naming_it():
    text = unknown_template_warning(TemplateRef("spring_sale", "en-US"), WABA)
    assert text.startswith("TEMPLATE_UNKNOWN:") and "spring_sale" in text and WABA in text


def test_an_unknown_event_or_an_unreadable_entry_changes_nothing():
    entries = log((T0, R("DISABLED")), (T0 + 1, R("SOMETHING_NEW")))
    entries[entry_key(T0 + 2, "zzz")] = "not json"
    status, _ = fold(entries)
    assert status.status is TemplateStatus.DISABLED


def test_denials_name_metas_reason_or_code():
    assert "132015" in state_of((T0, R("PAUSED", "FIRST_PAUSE"))).reason(T0)
    assert "RATE_LIMITING_PAUSE" in state_of((T0, R("PAUSED", "RATE_LIMITING_PAUSE"))).reason(T0)
    assert "132016" in state_of((T0, R("DISABLED"))).reason(T0)
    assert "not formatted" in state_of((T0, R("REJECTED", reason="not formatted"))).reason(T0)


# ---- order and duplicates ---------------------------------------------------------------------------------

LIFE = [
    (T0 - 30 * 24 * HOUR, R("PENDING")),
    (T0 - 29 * 24 * HOUR, R("APPROVED")),
    (T0, R("PAUSED", "FIRST_PAUSE", T0 + 3 * HOUR)),
    (T0 + 2 * HOUR, R("APPROVED", "UNPAUSE")),  # unpaused an hour early
    (T0 + 32 * HOUR, R("PAUSED", "SECOND_PAUSE", T0 + 38 * HOUR)),
    (T0 + 90 * HOUR, R("DISABLED", "DISABLED")),
    (T0 + 91 * HOUR, R("IN_APPEAL")),
    (T0 + 200 * HOUR, R("REINSTATED")),
]


def test_any_delivery_order_and_duplicates_give_the_same_state_and_changes():
    entries = log(*LIFE)
    expected = fold(entries)
    rng = random.Random(15)
    for _ in range(50):
        items = list(entries.items())
        items += rng.sample(items, 3)  # Meta's retries
        rng.shuffle(items)
        assert fold(dict(items)) == expected


def test_the_changes_along_a_life_are_the_ones_people_hear_of():
    _, moves = fold(log(*LIFE))
    assert [(m.before, m.after.label()) for m in moves] == [
        ("UNKNOWN", "PENDING"),
        ("PENDING", "APPROVED"),
        ("APPROVED", "PAUSED (first pause) until 2025-08-29T13:15:00Z"),
        ("PAUSED (first pause) until 2025-08-29T13:15:00Z", "APPROVED"),
        ("APPROVED", "PAUSED (second pause) until 2025-08-31T00:15:00Z"),
        ("APPROVED", "DISABLED"),  # the second pause had ended by itself
        ("DISABLED", "APPROVED"),
    ]


def test_every_prefix_of_the_life_answers_as_the_table_says():
    for n, now in itertools.product(range(1, len(LIFE) + 1), [T0 + 1, T0 + 33 * HOUR, T0 + 95 * HOUR]):
        template = state_of(*LIFE[:n])
        assert isinstance(template.block(max(now, LIFE[n - 1][0])), tuple)


# ---- webhook bodies → events --------------------------------------------------------------------------------


def parsed(name: str) -> list[ev.Event]:
    return [e for entry in parse_envelope(reference_body(name)) for e in events_of(entry, T0)]


@pytest.mark.parametrize(
    ("name", "event", "title", "until"),
    [
        ("message_template_status_update.approved.json", "APPROVED", None, None),
        ("message_template_status_update.paused-first.json", "PAUSED", "FIRST_PAUSE", at("2025-08-29T13:15:00+0000")),
        ("message_template_status_update.paused-second.json", "PAUSED", "SECOND_PAUSE",
         at("2025-08-31T00:47:00+0000")),
        ("message_template_status_update.unpaused.json", "APPROVED", "UNPAUSE", None),
        ("message_template_status_update.disabled.json", "DISABLED", "DISABLED", None),
        ("message_template_status_update.reinstated.json", "REINSTATED", None, None),
        ("message_template_status_update.rejected.json", "REJECTED", None, None),
    ],
)
def test_every_status_sample_becomes_a_status_event(name, event, title, until):
    (found,) = parsed(name)
    assert isinstance(found, ev.TemplateStatusUpdate)
    assert (found.reading.event, found.reading.title, found.reading.until) == (event, title, until)
    assert (found.template_id, found.template_name, found.category) == ("1689556908129832", "order_confirmation",
                                                                         "utility")


def test_quality_samples_become_quality_events():
    (red,) = parsed("message_template_quality_update.red.json")
    assert (red.template_name, red.template_language, red.previous, red.new) == ("order_confirmation", "en_US",
                                                                                  "YELLOW", "RED")


def body(field: str, value: object) -> dict:
    return {"id": WABA, "time": T0, "changes": [{"field": field, "value": value}]}


GOOD = {"event": "PAUSED", "message_template_id": 1, "message_template_name": "t", "message_template_language": "en"}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({**GOOD, "event": "SOMETHING_NEW"}, "not known"),
        ({**GOOD, "event": None}, "not known"),
        ({"event": "APPROVED"}, "names no template"),
        ({"event": "APPROVED", "message_template_name": "t"}, "names no template"),
        ({"event": "APPROVED", "message_template_id": {"x": 1}, "message_template_name": ["t"]}, "names no template"),
        ({"event": "APPROVED", "message_template_id": "", "message_template_name": "t" * 600,
          "message_template_language": "en"}, "names no template"),
    ],
)
def test_a_status_update_that_cannot_be_applied_is_counted_not_fatal(value, reason):
    (found,) = events_of(body("message_template_status_update", value), T0)
    assert isinstance(found, ev.Unrecognised) and reason in found.reason


@pytest.mark.parametrize(
    "extra",
    [{"other_info": "paused"}, {"other_info": {"title": 7, "description": ["x"]}}, {"message_template_category": 3},
     {"rejection_info": "x"}, {"reason": {"a": 1}}, {"disable_info": None}, {"message_template_language": 5}],
)
def test_optional_fields_of_the_wrong_type_are_left_out(extra):
    (found,) = events_of(body("message_template_status_update", {**GOOD, **extra}), T0)
    assert isinstance(found, ev.TemplateStatusUpdate) and found.reading.event == "PAUSED"


@pytest.mark.parametrize("new", [None, "PURPLE", 3])
def test_a_quality_update_without_a_known_score_is_counted(new):
    (found,) = events_of(body("message_template_quality_update", {**GOOD, "new_quality_score": new}), T0)
    assert isinstance(found, ev.Unrecognised)


# ---- TEMPLATE_STATUS_CHANGED ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "until", "next_words"),
    [
        ("PAUSED (first pause) until 2025-08-29T13:15:00Z", T0 + 3 * HOUR, "6 hours"),
        ("PAUSED (second pause) until 2025-08-31T00:47:00Z", T0 + 6 * HOUR, "disables it for good"),
        ("PAUSED (pacing, until Meta unpauses it)", None, "unpaused"),
        ("DISABLED", None, "only Meta can reinstate"),
        ("quality RED", None, "3 hours the first time"),
        ("APPROVED", None, "sent again"),
    ],
)
def test_a_template_notice_says_what_until_when_what_next_and_what_to_do(to, until, next_words):
    change = Change(f"template#{WABA}#order_confirmation#en_us", "TEMPLATE_STATUS_CHANGED", T0, "APPROVED", to,
                    "message_template_status_update PAUSED", severity="WARNING", key="k")
    document = template_document(change, WABA, TemplateRef("order_confirmation", "en_US"), "1689556908129832", until)
    validate(document)
    assert document["phone_number_id"] is None and document["waba_id"] == WABA
    notice = notification_from_document(json.loads(json.dumps(document)))  # as the outbox reads it back
    assert next_words in notice.email and "What to do:" in notice.email
    assert "order_confirmation" in notice.subject and len(notice.subject) < 200
    if until:
        assert datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") in notice.email
    attributes = {k: v["StringValue"] for k, v in notice.attributes().items()}
    assert attributes["waba_id"] == WABA and attributes["template_name"] == "order_confirmation"
    assert attributes["event_type"] == "TEMPLATE_STATUS_CHANGED"


def test_a_fold_of_nothing_is_unknown_and_sendable():
    assert StatusFold().at_time(T0) is TemplateStatus.UNKNOWN
    assert TemplateState(WABA, "t", "en").block(T0) == (None, None)


def test_a_refused_send_marks_a_pause_or_a_disable_only_when_none_is_known():
    from numberguard.domain.templates import SEND_FAILED_DISABLED, SEND_FAILED_PAUSED

    known = state_of((T0, R("PAUSED", "FIRST_PAUSE", T0 + 3 * HOUR)), (T0 + HOUR, R(SEND_FAILED_PAUSED)))
    assert known.block(T0 + HOUR) == (Block.PAUSED, T0 + 3 * HOUR) and known.status.pause_count == 1
    unknown = state_of((T0, R("APPROVED")), (T0 + HOUR, R(SEND_FAILED_PAUSED)))
    assert unknown.block(T0 + HOUR) == (Block.PAUSED, T0 + 4 * HOUR)
    assert state_of((T0, R("APPROVED")), (T0 + HOUR, R(SEND_FAILED_DISABLED))).block(T0 + 2 * HOUR)[0] is Block.DISABLED
    # Meta's own webhook, arriving late, decides: the refusal fell inside the pause it announced
    late = state_of((T0 + HOUR, R(SEND_FAILED_PAUSED)), (T0, R("PAUSED", "SECOND_PAUSE", T0 + 6 * HOUR)))
    assert late.block(T0 + HOUR) == (Block.PAUSED, T0 + 6 * HOUR) and late.status.pause_count == 2
