"""Given a number and Meta's quality events over days, when the evaluator runs on a fake clock,
then the Flagged outcome, the limit the check uses and the announcements are exactly right."""

from __future__ import annotations

import pytest
from numberguard.domain.events import QualityUpdate
from numberguard.notify.publisher import FakePublisher
from numberguard.usecases.evaluator import Evaluator
from numberguard.usecases.intake import Intake
from numberguard.wiring import facets as build_facets

PNID, WABA, DISPLAY = "106540352242922", "102290129340398", "15550783881"
DAY = 86400


@pytest.fixture
def world(moto_stack, clock):
    publisher = FakePublisher()
    facets = build_facets(moto_stack.settings, publisher, clock)
    intake = Intake(facets, moto_stack.checker(), moto_stack.settings)
    evaluator = Evaluator(facets, moto_stack.settings, clock)
    return moto_stack, intake, evaluator, publisher


def quality(event: str, at: int, current_limit=None) -> QualityUpdate:
    from numberguard.domain.tiers import parse_limit

    return QualityUpdate(WABA, at, f"{event}-{at}", DISPLAY, event, parse_limit(current_limit))


def check(stack, recipient="16505551234"):
    return stack.checker().handle({"phone_number_id": PNID, "recipient": recipient, "message": "template"})


def test_red_then_yellow_by_day_3_keeps_the_tier_at_day_7(world, clock):
    stack, intake, evaluator, publisher = world
    stack.register(tier="TIER_10K", quality="GREEN")
    t0 = int(clock())
    intake.apply([quality("FLAGGED", t0)])
    assert check(stack)["status"] == "FLAGGED"
    clock.advance(3 * DAY)
    from numberguard.domain.events import QualityUpdate as Q  # a real colour arrives with UNFLAGGED's meaning

    intake.apply([Q(WABA, int(clock()), "unflag", DISPLAY, "UNFLAGGED")])
    publisher.sent.clear()
    clock.advance(4 * DAY + 300)
    evaluator.run()
    answer = check(stack)
    assert answer["status"] == "CONNECTED" and answer["tier"] == "TIER_10K" and answer["limit"] == 10_000
    assert publisher.types() == []  # UNFLAGGED settled it: nothing happens at day 7


def test_red_through_day_7_lowers_one_tier_once(world, clock):
    stack, intake, evaluator, publisher = world
    stack.register(tier="TIER_10K", quality="GREEN")
    t0 = int(clock())
    intake.apply([quality("FLAGGED", t0)])
    publisher.sent.clear()
    clock.advance(7 * DAY - 60)
    evaluator.run()
    assert publisher.types() == []  # not yet
    clock.advance(5 * 60 + 60)  # day 7 + at most one evaluator period
    evaluator.run()
    evaluator.run()  # a re-run changes nothing
    answer = check(stack)
    assert (answer["status"], answer["tier"], answer["limit"]) == ("CONNECTED", "TIER_1K", 1000)
    assert sorted(publisher.types()) == ["FLAG_OUTCOME", "LIMIT_CHANGED", "STATUS_CHANGED"]
    outcome = next(n for n in publisher.sent if n.type == "FLAG_OUTCOME")
    assert "lowered one tier" in outcome.document["to"]


def test_portfolio_policy_never_lowers_for_quality(moto_stack, clock, monkeypatch):
    from numberguard.config import Settings

    env = dict(moto_stack.env, LIMIT_POLICY="portfolio")
    moto_stack.env = env
    publisher = FakePublisher()
    facets = build_facets(Settings.from_env(env), publisher, clock)
    intake = Intake(facets, moto_stack.checker(), Settings.from_env(env))
    evaluator = Evaluator(facets, Settings.from_env(env), clock)
    moto_stack.register(tier="TIER_10K", portfolio_id="506914307656634", quality="GREEN")
    intake.apply([quality("FLAGGED", int(clock()))])
    clock.advance(10 * DAY)
    evaluator.run()
    answer = check(moto_stack)
    assert answer["tier"] == "TIER_10K" and answer["status"] == "CONNECTED"
    assert "LIMIT_CHANGED" not in publisher.types() and "FLAG_OUTCOME" not in publisher.types()


def test_limit_reached_restricts_then_releases_with_warnings_once(world, clock):
    stack, _intake, evaluator, publisher = world
    stack.register(tier="20")

    def usage_types():
        return [n.type for n in publisher.sent if n.type != "UPGRADE_ELIGIBLE"]

    for i in range(16):
        check(stack, f"1650555{i:04d}")
    evaluator.run()
    evaluator.run()
    assert usage_types() == ["USAGE_WARNING"]  # 80 %, once
    for i in range(16, 20):
        check(stack, f"1650555{i:04d}")
    evaluator.run()
    assert usage_types() == ["USAGE_WARNING", "USAGE_WARNING", "STATUS_CHANGED"]
    assert [n.document["to"] for n in publisher.sent if n.type == "USAGE_WARNING"] == ["80%", "95%"]
    assert publisher.sent[-1].document["to"] == "RESTRICTED"
    clock.advance(DAY + 11 * 60)
    evaluator.run()
    assert publisher.sent[-1].document["to"] == "CONNECTED"
    assert check(stack, "16505559999")["decision"] == "ALLOWED_NEW_RECIPIENT"
    # Connected, quality High and half the limit used: eligible, announced once for this tier.
    assert publisher.types().count("UPGRADE_ELIGIBLE") == 1
