"""The Meta sync's template reads and first health reads on DynamoDB Local, through the real stores,
the template intake and the limit check (its Graph is the local double, in-process).

Given the reference WABA of the double (three numbers; templates order_confirmation APPROVED,
autumn_sale PAUSED, back_in_stock DISABLED), then: the import records each template and announces
the pause and the disable once; a template paused in Meta makes checks naming it
DENIED_TEMPLATE_PAUSED after one run and a read saying APPROVED ends the pause (a pacing one too);
a webhook newer than a read wins, an older one does not; a run over unchanged numbers and templates
writes nothing; a number whose first read is BLOCKED is announced once (HEALTH_CHANGED).
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.dynamodb.conftest import SyncWorld

pytestmark = pytest.mark.dynamodb

WABA, NUMBER = "102290129340398", "106540352242922"
T0 = 1_800_000_000
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


class World(SyncWorld):
    def __init__(self, endpoint: str):
        super().__init__(endpoint, T0)
        self.calls: Counter = Counter()
        self.parts.client.meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model, **_kwargs) -> None:
        self.calls[model.name] += 1

    def run(self, waba: str | None = None) -> dict:
        self.clock.advance(900)
        summary = self.sync.run(waba)
        assert not summary.failed, summary.failed
        return summary.as_dict()

    def template(self, name: str, **change: str) -> None:
        self.meta.change("template", {"waba_id": WABA, "name": name, "language": "en_US", **change})

    def check(self, template: str, recipient: str = "16505551234") -> dict:
        return self.parts.limit_checker.handle({"phone_number_id": NUMBER, "recipient": recipient,
                                                "message": "template",
                                                "template": {"name": template, "language": "en_US"}})

    def template_history(self, name: str) -> list[dict]:
        return [e["document"] for e in self.parts.stores.history.history(f"TPL#{WABA}#{name}#en_us")
                if e.get("type") == "TEMPLATE_STATUS_CHANGED"]

    def webhook(self, at: int, name: str, event: str, title: str | None = None) -> None:
        value = {"event": event, "message_template_id": 1689556908129832, "message_template_name": name,
                 "message_template_language": "en_US", "reason": "NONE"}
        if title:
            value["other_info"] = {"title": title, "description": "paused"}
        self.apply_webhook(WABA, at, "message_template_status_update", value)


@pytest.fixture
def world(dynamodb_local):
    made = World(dynamodb_local)
    try:
        yield made
    finally:
        made.drop()


def _template_notices(world: World) -> list[tuple[str, str]]:
    return [(n.document["template_name"], n.document["to"]) for n in world.publisher.sent
            if n.type == "TEMPLATE_STATUS_CHANGED"]


def test_the_import_records_each_template_and_announces_the_pause_and_the_disable_once(world):
    world.run(WABA)
    assert world.check("autumn_sale")["decision"] == "DENIED_TEMPLATE_PAUSED"
    assert world.check("back_in_stock")["decision"] == "DENIED_TEMPLATE_DISABLED"
    assert world.check("order_confirmation")["allowed"] is True
    notices = _template_notices(world)
    assert sorted(notices) == sorted([("autumn_sale", "PAUSED (as Meta's template list shows, until Meta "
                                                      "unpauses it)"),
                                      ("back_in_stock", "DISABLED"),
                                      ("autumn_sale", "quality RED"), ("back_in_stock", "quality RED")])
    # The APPROVED one (quality GREEN) is recorded silently, as a registration records a number's first state
    assert world.template_history("order_confirmation") == []
    assert [(e["to"], e["reason"]) for e in world.template_history("autumn_sale") if e["to"] == "quality RED"] == [
        ("quality RED", "graph (Meta's Graph API read)")]


def test_a_run_over_unchanged_numbers_and_templates_writes_nothing(world):
    world.run(WABA)
    world.run()
    world.calls.clear()
    summary = world.run()
    assert summary["changes"] == [] and summary["counts"]["template_unchanged"] == 3
    assert not (set(world.calls) & WRITES), dict(world.calls)


def test_a_template_paused_in_meta_denies_checks_after_one_run_and_approved_again_allows_them(world):
    world.run(WABA)
    sent = len(world.publisher.sent)
    world.template("order_confirmation", status="PAUSED")
    changes = world.run()["changes"]
    assert [(c["type"], c["from"], c["to"]) for c in changes] == [
        ("TEMPLATE_STATUS_CHANGED", "APPROVED", "PAUSED (as Meta's template list shows, until Meta unpauses it)")]
    # named by its WABA, name and language, never by the store's key for it
    assert changes[0]["template"] == {"waba_id": WABA, "name": "order_confirmation", "language": "en_US"}
    assert "phone_number_id" not in changes[0]
    denied = world.check("order_confirmation")
    assert denied["decision"] == "DENIED_TEMPLATE_PAUSED" and denied["retry_after_seconds"] is None
    assert "order_confirmation" in denied["error"]
    # announced once (a second run reads the same PAUSED)
    world.run()
    assert len(world.publisher.sent) == sent + 1
    # When Meta approves it again, the next run ends the pause, and says so
    world.template("order_confirmation", status="APPROVED")
    assert [c["to"] for c in world.run()["changes"]] == ["APPROVED"]
    assert world.check("order_confirmation", "16505550001")["allowed"] is True
    assert _template_notices(world)[-1] == ("order_confirmation", "APPROVED")


def test_a_read_saying_approved_ends_a_pacing_pause_and_an_older_read_never_overwrites_a_webhook(world):
    world.run(WABA)
    # Given Meta's webhook pausing order_confirmation for pacing, dated after the read time (ahead of our clock)
    world.webhook(int(world.clock()) + 3600, "order_confirmation", "PAUSED", "RATE_LIMITING_PAUSE")
    # When a run reads it APPROVED before that time: the read is older, the webhook's pause stands
    world.run()
    assert world.check("order_confirmation")["decision"] == "DENIED_TEMPLATE_PAUSED"
    # And a read after it saying APPROVED ends the pacing pause
    world.clock.advance(7200)
    assert [c["to"] for c in world.run()["changes"]] == ["APPROVED"]
    assert world.check("order_confirmation", "16505550002")["allowed"] is True
    # And a webhook newer than a read wins over it: Meta's UNPAUSE for autumn_sale, which the list still shows
    world.webhook(int(world.clock()) + 60, "autumn_sale", "APPROVED", "UNPAUSE")
    assert world.check("autumn_sale", "16505550003")["allowed"] is True


def test_a_number_whose_first_read_is_blocked_is_announced_once(world):
    # Given Meta blocks the WABA before numberguard ever read it
    world.meta.change("waba", {"id": WABA, "health": "BLOCKED", "error_code": 141006,
                               "error_description": "There is an error with the payment method.",
                               "possible_solution": "Add a new payment method."})
    summary = world.run(WABA)
    health = [c for c in summary["changes"] if c["type"] == "HEALTH_CHANGED"]
    assert sorted(c["phone_number_id"] for c in health) == sorted(summary["registered"]) and len(health) == 3
    assert {(c["from"], c["to"]) for c in health} == {(None, "BLOCKED (WABA 141006)")}
    assert world.check("order_confirmation")["decision"] == "DENIED_BLOCKED_BY_META"
    # announced once: later runs read the same BLOCKED
    world.run()
    notices = [n for n in world.publisher.sent if n.type == "HEALTH_CHANGED"]
    assert len(notices) == 3 and "Add a new payment method." in notices[0].email


def test_a_number_whose_first_read_is_available_is_not_announced(world):
    summary = world.run(WABA)
    assert [c for c in summary["changes"] if c["type"] == "HEALTH_CHANGED"] == []
