"""Given a number and the state of a template of its WABA, when a check names the template, then it is
denied exactly as Meta would refuse the send (DESIGN §3's table, at row 4 of the precedence), a denial
takes no slot, and warnings say what is at risk without changing the decision. In-memory store."""

from __future__ import annotations

import pytest
from numberguard.config import Settings
from numberguard.domain.facetlog import entry_key
from numberguard.domain.number import NumberState, scope_key
from numberguard.domain.status import Connection, Quality
from numberguard.domain.templates import Category, StatusReading, TemplateState, fold
from numberguard.domain.tiers import Policy
from numberguard.usecases.limit_check import LimitChecker

from tests.unit.fakes import FakeLimitStore

PNID, WABA, DISPLAY = "106540352242922", "102290129340398", "15550783881"
R, OTHER = "16505551234", "16505550000"
START, HOUR = 1_800_000_000, 3600
NAMED = {"name": "order_confirmation", "language": "en_US"}


class World:
    def __init__(self, limit: int | None = 2, **facets):
        self.now = START
        self.store = FakeLimitStore()
        self.number = NumberState(PNID, WABA, DISPLAY, scope_key(Policy.PER_NUMBER, PNID, None),
                                  quality=Quality.GREEN, **facets)
        self.store.add(self.number, limit, "2")
        self.checker = LimitChecker(self.store, Settings(policy=Policy.PER_NUMBER), clock=lambda: self.now)

    def template(self, *readings: StatusReading, quality: Quality = Quality.UNKNOWN,
                 category: Category | None = None) -> None:
        entries = {entry_key(START - 100 + i, f"k{i}"): r.encode() for i, r in enumerate(readings)}
        self.store.templates[(WABA, ("order_confirmation", "en_us"))] = TemplateState(
            WABA, "order_confirmation", "en_US", "1689556908129832", fold(entries)[0], quality, category)

    def ask(self, recipient: str = R, template: dict | None = NAMED, **extra) -> dict:
        payload = {"phone_number_id": PNID, "recipient": recipient, "message": "template", **extra}
        if template is not None:
            payload["template"] = template
        return self.checker.handle(payload)

    def used(self) -> int:
        return self.store.counters[self.number.scope].used


PAUSED = StatusReading("PAUSED", "FIRST_PAUSE", START + 3 * HOUR)


@pytest.mark.parametrize(("readings", "decision", "retry"), [
    ((PAUSED,), "DENIED_TEMPLATE_PAUSED", 3 * HOUR),
    ((StatusReading("PAUSED", "RATE_LIMITING_PAUSE"),), "DENIED_TEMPLATE_PAUSED", None),
    ((StatusReading("DISABLED"),), "DENIED_TEMPLATE_DISABLED", None),
    ((StatusReading("APPROVED"), StatusReading("DELETED")), "DENIED_TEMPLATE_NOT_APPROVED", None),
    ((StatusReading("PENDING"),), "DENIED_TEMPLATE_NOT_APPROVED", None),
])
def test_a_denied_template_takes_no_slot_and_names_metas_refusal(readings, decision, retry):
    world = World()
    world.template(*readings)
    for extra in ({}, {"dry_run": True}, {"reference": "send-1"}):
        answer = world.ask(**extra)
        assert (answer["allowed"], answer["decision"], answer["retry_after_seconds"]) == (False, decision, retry)
        assert "order_confirmation" in answer["error"]
    assert world.used() == 0 and not world.store.counted


def test_a_template_denial_applies_inside_a_service_window_too():
    world = World()
    world.template(PAUSED)
    world.store.windows[(PNID, R)] = START + HOUR
    assert world.ask()["decision"] == "DENIED_TEMPLATE_PAUSED"
    assert world.ask(template=None)["decision"] == "ALLOWED_SERVICE_WINDOW"


@pytest.mark.parametrize(("facets", "decision"), [
    ({"banned": True}, "DENIED_BANNED"), ({"connection": Connection.OFFLINE}, "DENIED_OFFLINE"),
    ({"connection": Connection.PENDING}, "DENIED_PENDING"),
])
def test_the_number_state_comes_first(facets, decision):
    world = World(**facets)
    world.template(StatusReading("DISABLED"))
    assert world.ask()["decision"] == decision


def test_a_template_denial_comes_before_the_limit():
    world = World(limit=0)
    world.template(StatusReading("DISABLED"))
    assert world.ask()["decision"] == "DENIED_TEMPLATE_DISABLED"


def test_a_pause_ends_by_itself_at_its_time():
    world = World()
    world.template(PAUSED)
    world.now = START + 3 * HOUR - 1
    assert world.ask()["retry_after_seconds"] == 1
    world.now += 1
    answer = world.ask()
    assert answer["decision"] == "ALLOWED_NEW_RECIPIENT" and answer["warnings"] == []


def test_a_batch_naming_a_denied_template_denies_every_recipient_and_counts_none():
    world = World()
    world.template(StatusReading("PAUSED", "RATE_LIMITING_PAUSE"))
    answer = world.checker.handle({"phone_number_id": PNID, "recipients": [R, OTHER, R], "message": "template",
                                   "template": NAMED})
    assert [r["decision"] for r in answer["results"]] == ["DENIED_TEMPLATE_PAUSED"] * 3
    assert answer["decision"] == "DENIED_TEMPLATE_PAUSED" and answer["denied_count"] == 3
    assert world.used() == 0


def test_an_unknown_template_is_allowed_with_a_warning_on_every_answer():
    world = World()
    answer = world.ask(template={"name": "spring_sale", "language": "en"})
    assert answer["decision"] == "ALLOWED_NEW_RECIPIENT" and answer["allowed"]
    assert [w.split(":")[0] for w in answer["warnings"]] == ["TEMPLATE_UNKNOWN"]
    batch = world.checker.handle({"phone_number_id": PNID, "recipients": [R, OTHER], "message": "template",
                                  "template": {"name": "spring_sale", "language": "en"}})
    assert all(r["warnings"] == answer["warnings"] for r in batch["results"]) and batch["warnings"]


@pytest.mark.parametrize(("readings", "quality", "codes"), [
    ((StatusReading("APPROVED"),), Quality.RED, ["TEMPLATE_QUALITY_RED"]),
    ((StatusReading("FLAGGED"),), Quality.YELLOW, ["TEMPLATE_FLAGGED"]),
    ((StatusReading("FLAGGED"),), Quality.RED, ["TEMPLATE_QUALITY_RED", "TEMPLATE_FLAGGED"]),
    ((StatusReading("APPROVED"),), Quality.GREEN, []),
])
def test_a_template_at_risk_is_allowed_with_warnings(readings, quality, codes):
    world = World()
    world.template(*readings, quality=quality)
    answer = world.ask()
    assert answer["decision"] == "ALLOWED_NEW_RECIPIENT"
    assert [w.split(":")[0] for w in answer["warnings"]] == codes


def test_the_category_defaults_to_metas_and_the_request_wins():
    world = World()
    world.template(StatusReading("APPROVED"), category=Category.UTILITY)
    assert world.ask()["category"] == "utility"
    assert world.ask(category="MARKETING")["category"] == "marketing"
    assert world.ask(template=None, category="Authentication")["category"] == "authentication"
    assert world.ask(template=None)["category"] is None


def test_naming_a_template_adds_no_store_call_once_the_number_is_known():
    world = World()
    world.template(StatusReading("APPROVED"))
    world.ask(recipient=OTHER)  # the first check of the number in this process learns its WABA
    for template in (None, NAMED):
        before = world.store.calls
        world.ask(template=template, dry_run=True)
        assert world.store.calls - before == 1
