"""Given what Meta's refusals left on a number and a person (a spam-rate hold, a marketing cooldown, a
WABA blocked by 131042 / 368 / 131031), when the check answers, then each denies exactly what the
precedence table says (rows 3, 5 and 8) and lets everything else through; the pure rules of the hold
(when a refusal begins a hold, when it only extends one) hold in any order. The store is the fake."""

from __future__ import annotations

import itertools

import pytest
from numberguard.domain.refusals import (
    COOLDOWN_SECONDS,
    Hold,
    MetaBlock,
    block_code,
    block_value,
    code_of_block,
    hold_seconds,
    hold_step,
)
from numberguard.domain.templates import Category, StatusReading, TemplateState, fold
from numberguard.domain.tiers import Policy

from tests.unit.test_limit_checker import HOUR, PORTFOLIO, START, WABA, R, World

SPACE = f"portfolio:{PORTFOLIO}"
BSUID = "US.13491208655302741918"


def held(**options) -> World:
    return World(Policy.PER_NUMBER, hold=Hold(START, START + 2 * HOUR), **options)


# ---- 131048: the number's hold (row 8) ---------------------------------------------------------


def test_a_held_number_denies_business_initiated_sends_until_the_hold_ends():
    world = held()
    answer = world.ask()
    assert (answer["decision"], answer["retry_after_seconds"]) == ("DENIED_SPAM_RATE_LIMITED", 2 * HOUR - 100)
    assert "131048" in answer["error"] and answer["allowed"] is False
    # a dry run, a batch and a repeat recipient are held alike
    assert world.ask(dry_run=True)["decision"] == "DENIED_SPAM_RATE_LIMITED"
    batch = world.checker.handle({"phone_number_id": world.number.phone_number_id, "recipients": [R, "16505550001"],
                                  "message": "template"})
    assert [r["decision"] for r in batch["results"]] == ["DENIED_SPAM_RATE_LIMITED"] * 2
    # When the hold ends, the campaign resumes without any webhook
    world.clock_now = START + 2 * HOUR
    assert world.ask()["decision"] == "ALLOWED_NEW_RECIPIENT"


def test_replies_inside_a_service_window_still_go_while_the_number_is_held():
    world = held()
    world.open_window()
    assert world.ask(message="session")["decision"] == "ALLOWED_SERVICE_WINDOW"
    assert world.ask(message="template")["decision"] == "ALLOWED_SERVICE_WINDOW"
    # a session message outside a window is denied for the window (row 7), before the hold (row 8)
    assert world.ask("16505550009", message="session")["decision"] == "DENIED_WINDOW_CLOSED"


def test_a_hold_holds_unlimited_numbers_too():
    assert held(limit=None).ask()["decision"] == "DENIED_SPAM_RATE_LIMITED"


# ---- 131049: the person's marketing cooldown (row 5) ---------------------------------------------


def cooled(until_in: int = 5 * HOUR, recipient: str = R) -> World:
    world = World(Policy.PER_NUMBER)
    world.store.cooldowns[(SPACE, recipient)] = world.clock_now + until_in
    return world


def test_marketing_to_a_person_in_cooldown_is_denied_with_the_time_it_ends_other_categories_pass():
    world = cooled()
    answer = world.ask(category="marketing")
    assert (answer["decision"], answer["retry_after_seconds"]) == ("DENIED_RECIPIENT_COOLDOWN", 5 * HOUR)
    assert "131049" in answer["error"] and answer["category"] == "marketing"
    assert world.ask(category="utility")["decision"] == "ALLOWED_NEW_RECIPIENT"
    assert world.ask(category="authentication")["decision"] == "ALLOWED_ALREADY_COUNTED"
    assert world.ask()["decision"] == "ALLOWED_ALREADY_COUNTED"  # no category: not a marketing send
    # inside a service window too (row 5 comes before row 7)
    world.open_window()
    assert world.ask(category="MARKETING", message="session")["decision"] == "DENIED_RECIPIENT_COOLDOWN"
    # and it ends 24 h after the refusal, without any webhook
    world.clock_now += 5 * HOUR
    world.open_window()
    assert world.ask(category="marketing", message="session")["decision"] == "ALLOWED_SERVICE_WINDOW"


def test_the_known_templates_category_decides_when_the_request_names_none():
    world = cooled()
    approved = fold({"00000000001#k": StatusReading("APPROVED").encode()})[0]
    for category in (Category.MARKETING, Category.UTILITY):
        world.store.templates[(WABA, (category.value, "en_us"))] = TemplateState(
            WABA, category.value, "en_US", status=approved, category=category)
    by_template = {c: world.ask(template={"name": c, "language": "en_US"})["decision"]
                   for c in ("marketing", "utility")}
    assert by_template == {"marketing": "DENIED_RECIPIENT_COOLDOWN", "utility": "ALLOWED_NEW_RECIPIENT"}
    # the request's category wins over the template's
    assert world.ask(template={"name": "utility", "language": "en_US"},
                     category="marketing")["decision"] == "DENIED_RECIPIENT_COOLDOWN"


@pytest.mark.parametrize("asked", [R, BSUID])
def test_a_cooldown_kept_under_any_of_the_persons_ids_is_found_by_each_of_them(asked):
    world = cooled(recipient=BSUID)  # kept under the BSUID, say, before Meta linked it to the phone
    world.store.link(SPACE, R, BSUID)
    assert world.ask(asked, category="marketing")["decision"] == "DENIED_RECIPIENT_COOLDOWN"
    assert world.ask(asked, category="utility")["allowed"] is True


def test_a_batch_denies_the_cooled_person_only():
    world = cooled()
    batch = world.checker.handle({"phone_number_id": world.number.phone_number_id, "message": "template",
                                  "recipients": [R, "16505550001"], "category": "marketing"})
    assert [r["decision"] for r in batch["results"]] == ["DENIED_RECIPIENT_COOLDOWN", "ALLOWED_NEW_RECIPIENT"]


def test_checks_that_cannot_be_marketing_read_no_cooldown():
    # The read leaves cooldowns out for utility and category-less checks (the fake counts calls, not keys:
    # so the store is asked with no cooldown space and finds none).
    world = cooled()
    asked = []
    read = world.store.read

    def spy(*args, **kwargs):
        asked.append(kwargs.get("cooldown_space", args[5] if len(args) > 5 else None))
        return read(*args, **kwargs)

    world.store.read = spy
    world.ask(category="utility")
    world.ask()
    world.ask(category="marketing")
    assert asked == [None, None, SPACE]


# ---- 131042 / 368 / 131031: the WABA blocked (row 3) ---------------------------------------------


@pytest.mark.parametrize("code", [131042, 368, 131031])
def test_a_wabas_refusal_block_denies_every_send_naming_the_code(code):
    world = World(Policy.PER_NUMBER, meta_block=MetaBlock(code, START))
    world.open_window()
    for message in ("template", "session"):
        answer = world.ask(message=message)
        assert answer["decision"] == "DENIED_BLOCKED_BY_META" and str(code) in answer["error"]
        assert answer["status"] == "BLOCKED" and answer["retry_after_seconds"] is None


def test_precedence_block_then_template_then_cooldown_then_window_then_hold():
    world = World(Policy.PER_NUMBER, meta_block=MetaBlock(368, START), hold=Hold(START, START + HOUR))
    world.store.cooldowns[(SPACE, R)] = world.clock_now + HOUR
    assert world.ask(category="marketing")["decision"] == "DENIED_BLOCKED_BY_META"  # row 3
    world = World(Policy.PER_NUMBER, hold=Hold(START, START + HOUR))
    world.store.cooldowns[(SPACE, R)] = world.clock_now + HOUR
    world.store.templates[(WABA, ("promo", "en_us"))] = TemplateState(
        WABA, "promo", "en_US", status=fold({"00000000001#k": StatusReading("DISABLED").encode()})[0])
    assert world.ask(template={"name": "promo", "language": "en_US"},
                     category="marketing")["decision"] == "DENIED_TEMPLATE_DISABLED"  # row 4
    assert world.ask(category="marketing")["decision"] == "DENIED_RECIPIENT_COOLDOWN"  # row 5 before 8
    world.open_window()
    assert world.ask(category="utility")["decision"] == "ALLOWED_SERVICE_WINDOW"  # row 7 before 8
    assert world.ask("16505550003", category="utility")["decision"] == "DENIED_SPAM_RATE_LIMITED"  # row 8


# ---- the pure rules ------------------------------------------------------------------------------


def test_a_refusal_begins_a_hold_only_when_none_holds_at_its_time():
    hold = hold_seconds(60)
    assert hold_step(None, 1000, hold) == (step := hold_step(None, 1000, hold)) and step.starts
    current = Hold(1000, 1000 + hold)
    assert hold_step(current, 1000 + hold - 1, hold).starts is False  # inside: extends
    assert hold_step(current, 1000 + hold - 1, hold).until == 1000 + 2 * hold - 1
    assert hold_step(current, 900, hold) == type(step)(1000 + hold, False)  # older, overlapping: same hold
    assert hold_step(current, 1000 + hold, hold).starts is True  # at its end: a new hold


def test_the_holds_end_is_the_latest_refusal_plus_the_hold_in_any_order():
    hold = hold_seconds(30)
    times = [1000, 1500, 2400, 5000]
    ends = set()
    for order in itertools.permutations(times):
        state: Hold | None = None
        starts = 0
        for at in order:
            step = hold_step(state, at, hold)
            starts += step.starts
            state = Hold(at if step.starts else state.since, step.until) if step.starts or state else None
        ends.add(state.until)
        assert 1 <= starts <= 2  # 1000..2400 overlap (one hold), 5000 may begin another
    assert ends == {5000 + hold}


def test_codes_and_values():
    assert block_code((131049, 368, 131042)) == 368 and block_code((131048,)) is None
    assert code_of_block(block_value(131031)) == 131031
    assert code_of_block("LIFTED") is None and code_of_block("BLOCKED x") is None and code_of_block(None) is None
    assert COOLDOWN_SECONDS == 86400
    with pytest.raises(ValueError, match="SpamHoldMinutes"):
        hold_seconds(0)
