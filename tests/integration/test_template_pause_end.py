"""Given a template Meta paused for a time (FIRST_PAUSE / SECOND_PAUSE with an end), when the scheduled
evaluator runs after that end, then one TEMPLATE_STATUS_CHANGED says the template is approved again
(Meta sends no webhook for it): once per pause whatever the re-runs, never for a pause Meta ended first,
and at a cost that follows the paused templates, not all templates (moto, the real handler)."""

from __future__ import annotations

from collections import Counter

import pytest
from numberguard import wiring
from numberguard.domain.events import TemplateStatusUpdate
from numberguard.domain.templates import StatusReading

from tests.integration.test_evaluator_scenarios import PERIOD, WABA, World, make_world

NAME, HOUR = "order_confirmation", 3600


@pytest.fixture
def world(moto_stack, clock, monkeypatch) -> World:
    return make_world(moto_stack, clock, monkeypatch)


def status(world: World, event: str, title: str | None = None, until: int | None = None, name: str = NAME,
           at: int | None = None) -> None:
    at = int(world.clock()) if at is None else at
    world.webhook(TemplateStatusUpdate(WABA, at, f"{name}-{event}-{at}", None, name, "en_US",
                                       StatusReading(event, title, until)))


def template_notices(world: World) -> list[tuple]:
    return [(r.document["template_name"], r.document["from"], r.document["to"], r.document["reason"])
            for r in world.inbox.read() if r.type == "TEMPLATE_STATUS_CHANGED"]


def check(world: World, name: str = NAME, recipient: str = "16505551234") -> dict:
    from limit_check import app as limit_check_app

    from tests.conftest import LambdaContext

    return limit_check_app.lambda_handler({"phone_number_id": "106540352242922", "recipient": recipient,
                                           "message": "template", "template": {"name": name, "language": "en_US"}},
                                          LambdaContext())


def test_a_first_pause_ending_is_announced_once_after_its_end(world, clock):
    world.stack.register(tier="TIER_1K", quality="GREEN")
    start = int(clock())
    status(world, "APPROVED")
    status(world, "PAUSED", "FIRST_PAUSE", start + 3 * HOUR)
    assert [n[2] for n in template_notices(world)] == ["PAUSED (first pause) until " + iso(start + 3 * HOUR)]
    assert check(world)["decision"] == "DENIED_TEMPLATE_PAUSED"
    # Before the end: nothing announced, still due
    clock.advance(HOUR)
    world.evaluate()
    assert template_notices(world) == []
    # After the end: the check allows again, and one notice says so
    clock.advance(2 * HOUR + PERIOD)
    assert check(world, recipient="16505550002")["allowed"] is True
    summary = world.evaluate()
    assert summary["counts"]["template_pause_ended"] == 1
    assert template_notices(world) == [
        (NAME, "PAUSED (first pause) until " + iso(start + 3 * HOUR), "APPROVED",
         "the pause ended at its end time (Meta sends no webhook for it)")]
    # Re-runs announce nothing more (the template left the index)
    for _ in range(2):
        clock.advance(PERIOD)
        assert "templates_due" not in world.evaluate()["counts"]
    assert template_notices(world) == []
    # A second pause later is its own pause, its end its own notice
    status(world, "PAUSED", "SECOND_PAUSE", int(clock()) + 6 * HOUR)
    clock.advance(6 * HOUR + PERIOD)
    world.evaluate()
    assert [n[2] for n in template_notices(world)][-1] == "APPROVED"
    history = wiring.parts().stores.history.history(f"TPL#{WABA}#{NAME}#en_us")
    assert sum(1 for h in history if h["document"]["reason"].startswith("the pause ended")) == 2


def test_a_pause_meta_ended_first_is_not_announced_again(world, clock):
    world.stack.register(tier="TIER_1K", quality="GREEN")
    start = int(clock())
    status(world, "APPROVED")
    status(world, "PAUSED", "FIRST_PAUSE", start + 3 * HOUR)
    clock.advance(HOUR)
    status(world, "APPROVED", "UNPAUSE")  # Meta's own word, before the end
    world.inbox.read()
    clock.advance(3 * HOUR)
    counts = world.evaluate()["counts"]  # looked at once (at the old end), nothing to announce, dropped
    assert "template_pause_ended" not in counts and template_notices(world) == []
    clock.advance(PERIOD)
    assert "templates_due" not in world.evaluate()["counts"]


def test_a_status_event_just_after_the_end_hides_no_end(world, clock):
    world.stack.register(tier="TIER_1K", quality="GREEN")
    start = int(clock())
    status(world, "APPROVED")
    status(world, "PAUSED", "FIRST_PAUSE", start + 3 * HOUR)
    world.inbox.read()
    # The pause ends by itself; a minute later (before the evaluator runs) Meta says the template is at risk
    clock.advance(3 * HOUR + 60)
    status(world, "FLAGGED")
    assert template_notices(world) == []
    world.evaluate()
    assert [n[2] for n in template_notices(world)] == ["APPROVED"]


def test_a_re_run_or_a_second_run_at_once_records_and_publishes_the_end_once(world, clock):
    world.stack.register(tier="TIER_1K", quality="GREEN")
    start = int(clock())
    status(world, "PAUSED", "FIRST_PAUSE", start + 3 * HOUR)
    world.inbox.read()
    clock.advance(3 * HOUR + PERIOD)
    # Two runs that both found the template due (one read it before the other cleared it)
    first, second = wiring.evaluator(), wiring.evaluator()
    now = int(clock())
    [(seen, seen_at)] = first.templates.due(now)
    [(again, again_at)] = second.templates.due(now)
    counts: Counter = Counter()
    assert len(first._pause_end(seen, seen_at, now, counts)) == 1
    assert second._pause_end(again, again_at, now, counts) == []
    assert counts["change_already_recorded"] == 1
    assert [n[2] for n in template_notices(world)] == ["APPROVED"]
    assert first.templates.due(now) == []


def test_a_run_cut_short_before_clearing_the_trigger_announces_nothing_twice(world, clock, monkeypatch):
    world.stack.register(tier="TIER_1K", quality="GREEN")
    status(world, "PAUSED", "FIRST_PAUSE", int(clock()) + 3 * HOUR)
    world.inbox.read()
    clock.advance(3 * HOUR + PERIOD)
    evaluator = wiring.evaluator()

    def crash(*_args, **_kwargs):
        raise RuntimeError("cut short")

    with monkeypatch.context() as cut:
        cut.setattr(type(evaluator.templates), "reschedule", crash)
        with pytest.raises(RuntimeError):
            evaluator.run()
    assert [n[2] for n in template_notices(world)] == ["APPROVED"]
    clock.advance(PERIOD)
    assert world.evaluate()["counts"]["templates_due"] == 1  # still due: redone, recorded once
    assert template_notices(world) == []
    assert wiring.evaluator().templates.due(int(clock())) == []


def test_the_cost_follows_the_paused_templates_not_all_templates(world, clock):
    world.stack.register(tier="TIER_1K", quality="GREEN")

    def calls_of_a_run_after(approved: int) -> int:
        for i in range(approved):
            status(world, "APPROVED", name=f"approved_{i}")
        status(world, "PAUSED", "FIRST_PAUSE", int(clock()) + 3 * HOUR, name=f"paused_{approved}")
        clock.advance(3 * HOUR + PERIOD)
        evaluator = wiring.evaluator()
        calls: Counter = Counter()
        evaluator.stores.numbers.client.meta.events.register(
            "before-call.dynamodb", lambda model, **_: calls.update([model.name]))
        evaluator.run()
        return sum(calls.values())

    few = calls_of_a_run_after(0)
    many = calls_of_a_run_after(30)
    assert few == many, (few, many)


def iso(epoch: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
