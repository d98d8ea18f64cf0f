"""Given numbers, Meta's webhooks and sends over days on a fake clock, when the scheduled evaluator runs,
then state, the limit check's answers and the notifications a subscriber receives are exactly right.

Everything goes through the real handlers (functions/evaluator/app.py and functions/limit_check/app.py)
on moto, with the environment of template.yaml; notifications are read from an SQS queue subscribed to
the SNS topic, and every JSON document is validated against docs/notification.schema.json. Meta's
webhooks are applied through the intake use case (the webhook handler is the intake issue's).
"""

from __future__ import annotations

import json

import boto3
import pytest
from evaluator import app as evaluator_app
from limit_check import app as limit_check_app
from numberguard import wiring
from numberguard.domain.events import AccountRestriction, QualityUpdate
from numberguard.domain.facetlog import entry_key
from numberguard.domain.tiers import parse_limit

from tests.conftest import LambdaContext, load_event
from tests.notifications import Inbox, receipt_queue

PNID, WABA, DISPLAY = "106540352242922", "102290129340398", "15550783881"
PORTFOLIO = "506914307656634"
DAY, MINUTE = 86_400, 60
PERIOD = 5 * MINUTE  # the template's default EvaluatorSchedule, rate(5 minutes)


class EvaluatorContext(LambdaContext):
    function_name = "EvaluatorFunction"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:EvaluatorFunction"

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


class World:
    """The stack on moto, the topic with a subscriber, the handlers, and Meta's side."""

    def __init__(self, stack, clock, inbox: Inbox, topic_arn: str):
        self.stack, self.clock, self.inbox, self.topic_arn = stack, clock, inbox, topic_arn

    def evaluate(self) -> dict:
        return evaluator_app.lambda_handler(load_event("evaluator.scheduled.json"), EvaluatorContext())

    def check(self, recipient: str = "16505551234", phone_number_id: str = PNID) -> dict:
        return limit_check_app.lambda_handler(
            {"phone_number_id": phone_number_id, "recipient": recipient, "message": "template"}, LambdaContext())

    def check_batch(self, recipients: list[str]) -> dict:
        return limit_check_app.lambda_handler(
            {"phone_number_id": PNID, "recipients": recipients, "message": "template"}, LambdaContext())

    def webhook(self, *events) -> None:
        wiring.parts().intake.apply(list(events))

    def quality_event(self, event: str, current_limit: str | None = None) -> QualityUpdate:
        at = int(self.clock())
        return QualityUpdate(WABA, at, f"{event}-{at}", DISPLAY, event, parse_limit(current_limit))

    def quality_reading(self, quality: str) -> None:
        """A quality reading that is not Meta's word on the flag (as a Graph API sync would report it)."""
        facets = wiring.parts().facets
        at = int(self.clock())
        _, value, latest_at, _ = facets.log(PNID, "quality", entry_key(at, f"reading-{at}"), quality, lambda: "GREEN")
        facets.stores.numbers.set_facet(PNID, "quality", {"quality": value}, (), latest_at)

    def history(self) -> list[dict]:
        return wiring.parts().stores.history.history(PNID)


def make_world(moto_stack, clock, monkeypatch, **env) -> World:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic_arn = sns.create_topic(Name="numberguard-notifications")["TopicArn"]
    receipts = receipt_queue(sns, sqs, topic_arn)
    # moto's short poll sees every message: the long poll before a republish would only wait
    monkeypatch.setattr("numberguard.usecases.outbox.RECEIPT_WAIT_SECONDS", 0)
    for name, value in {"NOTIFICATION_TOPIC_ARN": topic_arn, "NOTIFICATION_RECEIPT_QUEUE_URL": receipts,
                        **env}.items():
        monkeypatch.setenv(name, value)
        moto_stack.env[name] = value
    monkeypatch.setattr(wiring, "clock", clock)
    wiring.reset()
    return World(moto_stack, clock, Inbox(sns, sqs, topic_arn), topic_arn)


@pytest.fixture
def world(moto_stack, clock, monkeypatch) -> World:
    return make_world(moto_stack, clock, monkeypatch)


def briefs(received) -> list[tuple]:
    return sorted(r.brief() for r in received)


def test_1_quality_back_to_yellow_by_day_3_keeps_the_tier_at_day_7(world, clock):
    world.stack.register(tier="TIER_10K", quality="GREEN")
    world.webhook(world.quality_event("FLAGGED", "TIER_10K"))
    assert world.check()["status"] == "FLAGGED"
    assert briefs(world.inbox.read()) == [
        ("QUALITY_CHANGED", "GREEN", "RED"), ("STATUS_CHANGED", "CONNECTED", "FLAGGED")]

    clock.advance(3 * DAY)
    world.quality_reading("YELLOW")  # Medium again, but Meta has not unflagged the number: day 7 decides
    world.inbox.read()
    clock.advance(4 * DAY - MINUTE)
    world.evaluate()
    assert world.inbox.read() == [] and world.check()["status"] == "FLAGGED"

    clock.advance(PERIOD)  # the first scheduled run after day 7
    world.evaluate()
    answer = world.check()
    assert (answer["status"], answer["tier"], answer["limit"]) == ("CONNECTED", "TIER_10K", 10_000)
    assert briefs(world.inbox.read()) == [
        ("FLAG_OUTCOME", "FLAGGED TIER_10K", "CONNECTED TIER_10K (tier kept)"),
        ("STATUS_CHANGED", "FLAGGED", "CONNECTED"),
    ]
    clock.advance(PERIOD)
    world.evaluate()
    assert world.inbox.read() == []  # no downgrade, nothing twice


def test_2_still_low_on_day_7_lowers_one_tier_for_the_next_checks(world, clock):
    world.stack.register(tier="TIER_10K", quality="GREEN")
    world.webhook(world.quality_event("FLAGGED", "TIER_10K"))
    clock.advance(6 * DAY + 12 * 3600)
    batch = world.check_batch([f"1650555{i:04d}" for i in range(990)])  # 990 recipients under TIER_10K
    assert batch["allowed_count"] == 990
    world.inbox.read()

    clock.advance(12 * 3600 - 2 * MINUTE)
    world.evaluate()
    answer = world.check("16505559999")  # day 7 not reached: still 10,000
    assert (answer["status"], answer["limit"], answer["used"]) == ("FLAGGED", 10_000, 991)
    clock.advance(PERIOD)  # day 7 + 3 minutes: at most one evaluator period late
    summary = world.evaluate()
    assert summary["counts"]["flag_outcome_downgraded"] == 1
    assert briefs(world.inbox.read()) == [
        ("FLAG_OUTCOME", "FLAGGED TIER_10K", "CONNECTED TIER_1K (lowered one tier)"),
        ("LIMIT_CHANGED", "TIER_10K (10000)", "TIER_1K (1000)"),
        ("STATUS_CHANGED", "FLAGGED", "CONNECTED"),
    ]

    answer = world.check("16505558888")
    assert (answer["status"], answer["tier"], answer["limit"], answer["used"]) == ("CONNECTED", "TIER_1K", 1000, 992)
    batch = world.check_batch([f"1650556{i:04d}" for i in range(10)])
    assert (batch["allowed_count"], batch["denied_count"]) == (8, 2)  # 1,000 is the limit from now on
    assert batch["results"][-1]["decision"] == "DENIED_LIMIT_REACHED"
    for _ in range(2):  # later runs (and a re-run): the new limit is full, nothing about the flag again
        clock.advance(PERIOD)
        world.evaluate()
    # From 99 % of the new limit to full between two runs: both warnings and Restricted, once.
    assert briefs(world.inbox.read()) == [
        ("STATUS_CHANGED", "CONNECTED", "RESTRICTED"), ("USAGE_WARNING", None, "80%"), ("USAGE_WARNING", None, "95%")]
    assert sorted(e["type"] for e in world.history() if e["type"] in ("FLAG_OUTCOME", "LIMIT_CHANGED")) == [
        "FLAG_OUTCOME", "LIMIT_CHANGED"]


def test_3_unflagged_at_day_2_connects_at_once_and_day_7_does_nothing(world, clock):
    world.stack.register(tier="TIER_10K", quality="GREEN")
    world.webhook(world.quality_event("FLAGGED", "TIER_10K"))
    world.inbox.read()
    clock.advance(2 * DAY)
    world.webhook(world.quality_event("UNFLAGGED"))
    assert world.check()["status"] == "CONNECTED"  # at once, not at the next run
    assert briefs(world.inbox.read()) == [("QUALITY_CHANGED", "RED", "YELLOW"), ("STATUS_CHANGED", "FLAGGED",
                                                                                   "CONNECTED")]
    clock.advance(5 * DAY + PERIOD)
    world.evaluate()
    answer = world.check("16505550000")
    assert (answer["status"], answer["tier"], answer["limit"]) == ("CONNECTED", "TIER_10K", 10_000)
    assert world.inbox.read() == []


def test_3b_a_limit_meta_reports_while_flagged_settles_the_flag(world, clock):
    from numberguard.domain.events import CapabilityUpdate

    world.stack.register(tier="TIER_10K", quality="GREEN")
    world.webhook(world.quality_event("FLAGGED", "TIER_10K"))
    world.inbox.read()
    clock.advance(2 * DAY)
    at = int(clock())
    world.webhook(CapabilityUpdate(WABA, at, f"cap-{at}", per_phone_limit=parse_limit(1000)))
    world.evaluate()  # Meta's word: settled now, nothing applied on top of it
    assert world.check()["status"] == "CONNECTED"
    assert briefs(world.inbox.read()) == [
        ("FLAG_OUTCOME", "FLAGGED TIER_10K", "CONNECTED TIER_1K (as Meta reported)"),
        ("LIMIT_CHANGED", "TIER_10K (10000)", "TIER_1K (1000)"),
        ("STATUS_CHANGED", "FLAGGED", "CONNECTED"),
    ]
    clock.advance(5 * DAY + PERIOD)
    world.evaluate()
    assert world.inbox.read() == [] and world.check("16505550000")["limit"] == 1000  # no second downgrade


def test_4_portfolio_policy_never_lowers_the_limit_for_quality(moto_stack, clock, monkeypatch):
    world = make_world(moto_stack, clock, monkeypatch, LIMIT_POLICY="portfolio")
    world.stack.register(tier="TIER_10K", portfolio_id=PORTFOLIO, quality="GREEN")
    world.webhook(world.quality_event("FLAGGED"))
    assert briefs(world.inbox.read()) == [("QUALITY_CHANGED", "GREEN", "RED")]  # no Flagged state since 2025-10
    for _ in range(10):
        clock.advance(DAY)
        world.evaluate()
    answer = world.check()
    assert (answer["status"], answer["tier"], answer["limit"]) == ("CONNECTED", "TIER_10K", 10_000)
    assert world.inbox.read() == []


def test_4b_portfolio_upgrade_waits_while_a_template_is_rated_low(moto_stack, clock, monkeypatch):
    from numberguard.domain.events import TemplateQuality

    # Given a portfolio number at half its limit, quality High, and one of its WABA's templates rated Low
    world = make_world(moto_stack, clock, monkeypatch, LIMIT_POLICY="portfolio")
    world.stack.register(tier="20", portfolio_id=PORTFOLIO, quality="GREEN")
    at = int(clock())
    world.webhook(TemplateQuality(WABA, at, "red", "1", "order_confirmation", "YELLOW", "RED", "en_US"))
    for i in range(10):
        world.check(f"1650555{i:04d}")
    world.inbox.read()
    # When the evaluator runs, then no upgrade is announced (Meta asks for quality across templates too)
    world.evaluate()
    assert [r.type for r in world.inbox.read()] == []
    # And once the template is back to Medium, it is
    clock.advance(MINUTE)
    world.webhook(TemplateQuality(WABA, at + MINUTE, "yellow", "1", "order_confirmation", "RED", "YELLOW", "en_US"))
    world.evaluate()
    assert briefs(world.inbox.read()) == [("UPGRADE_ELIGIBLE", "TIER_20", "TIER_250")]


def test_5_restricted_and_released_with_warnings_once_per_window(world, clock):
    world.stack.register(tier="20", quality="GREEN")
    first = [f"1650555{i:04d}" for i in range(10)]
    for r in first:
        world.check(r)
    world.evaluate()
    eligible = world.inbox.read()  # half the limit, quality High, Connected: eligible, never applied
    assert briefs(eligible) == [("UPGRADE_ELIGIBLE", "TIER_20", "TIER_250")]

    clock.advance(20 * 3600)
    for i in range(6):
        world.check(f"1650556{i:04d}")
    world.evaluate()
    world.evaluate()
    assert briefs(world.inbox.read()) == [("USAGE_WARNING", None, "80%")]
    for i in range(6, 9):
        world.check(f"1650556{i:04d}")
    world.evaluate()
    assert briefs(world.inbox.read()) == [("USAGE_WARNING", None, "95%")]

    world.check("16505569999")  # the 20th recipient
    restricted = world.check("16505570000")
    assert (restricted["decision"], restricted["status"]) == ("DENIED_LIMIT_REACHED", "RESTRICTED")
    world.evaluate()
    [notice] = world.inbox.read()
    assert notice.brief() == ("STATUS_CHANGED", "CONNECTED", "RESTRICTED")
    assert notice.attributes == {"event_type": "STATUS_CHANGED", "phone_number_id": PNID, "severity": "WARNING",
                                 "notification_id": notice.document["id"], "waba_id": WABA}

    # The first ten free 24 h (+ one bucket) after they were sent: Connected again, announced once.
    clock.advance(4 * 3600 + 11 * MINUTE)
    world.evaluate()
    assert briefs(world.inbox.read()) == [("STATUS_CHANGED", "RESTRICTED", "CONNECTED")]
    assert world.check("16505570000")["decision"] == "ALLOWED_NEW_RECIPIENT"

    # Back to 95 % within 24 h of the warnings: no warning again in this window, Restricted again.
    for i in range(8):
        world.check(f"1650557{i + 1:04d}")
    world.evaluate()
    assert world.inbox.read() == []
    world.check("16505579999")
    world.evaluate()
    assert briefs(world.inbox.read()) == [("STATUS_CHANGED", "CONNECTED", "RESTRICTED")]
    assert world.check("16505571111")["tier"] == "TIER_20"  # eligibility was announced, never applied


def test_publish_failures_are_kept_and_published_by_a_later_run_once(world, clock):
    sns = boto3.client("sns")
    world.stack.register(tier="TIER_10K", quality="GREEN")
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=world.topic_arn)["Subscriptions"]
    sns.delete_topic(TopicArn=world.topic_arn)  # SNS is down: publishing fails
    world.webhook(world.quality_event("FLAGGED", "TIER_10K"))
    assert [e["published"] for e in world.history()] == [False, False]  # recorded, not lost

    topic = sns.create_topic(Name="numberguard-notifications")["TopicArn"]  # SNS is back (same ARN)
    for subscription in subscriptions:  # the inbox and the receipt queue
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=subscription["Endpoint"])
    world.evaluate()
    assert world.inbox.read() == []  # inside the writer's grace: the writer may still be publishing
    clock.advance(PERIOD)
    world.evaluate()
    clock.advance(PERIOD)
    world.evaluate()
    assert briefs(world.inbox.read()) == [("QUALITY_CHANGED", "GREEN", "RED"), ("STATUS_CHANGED", "CONNECTED",
                                                                                  "FLAGGED")]
    assert [e["published"] for e in world.history()] == [True, True]


def test_waba_restriction_lifted_at_expiry(world, clock):
    world.stack.register(tier="TIER_1K", quality="GREEN")
    world.stack.register(phone_number_id="106540352242923", display_phone_number="15550783882")
    at = int(clock())
    world.webhook(AccountRestriction(WABA, at, f"restriction-{at}",
                                     {"RESTRICTED_BIZ_INITIATED_MESSAGING": at + 3600}))
    assert world.check()["decision"] == "DENIED_ACCOUNT_RESTRICTED"
    assert sorted((r.document["phone_number_id"], r.brief()) for r in world.inbox.read()) == [
        (pnid, ("ACCOUNT_RESTRICTED", "none", "RESTRICTED_BIZ_INITIATED_MESSAGING"))
        for pnid in (PNID, "106540352242923")]
    clock.advance(3600 + 2 * MINUTE)
    world.evaluate()
    world.evaluate()
    assert sorted((r.document["phone_number_id"], r.brief()) for r in world.inbox.read()) == [
        (pnid, ("ACCOUNT_RESTRICTED", "RESTRICTED_BIZ_INITIATED_MESSAGING", "none"))
        for pnid in (PNID, "106540352242923")]
    assert world.check()["decision"] == "ALLOWED_NEW_RECIPIENT"


def test_the_evaluator_reads_only_what_is_due(world, clock):
    """Work grows with the numbers that need attention: 40 quiet numbers cost nothing per run."""
    for i in range(40):
        world.stack.register(phone_number_id=f"2065403522429{i:02d}", display_phone_number=f"155507839{i:02d}")
    calls: list[str] = []
    client = wiring.parts().client
    client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    world.evaluate()
    # due numbers, due scopes, templates whose timed pause ended (the same index as the numbers), unpublished entries
    assert calls == ["Query", "Query", "Query", "Query"]


def test_a_lowered_unlimited_number_starts_full_for_24_hours(world, clock):
    world.stack.register(tier="TIER_UNLIMITED", quality="GREEN")
    assert world.check()["decision"] == "ALLOWED_UNLIMITED"  # not counted
    at = int(clock())
    from numberguard.domain.events import CapabilityUpdate

    world.webhook(CapabilityUpdate(WABA, at, f"cap-{at}", per_phone_limit=parse_limit(100_000)))
    answer = world.check("16505550001")  # not counted while unlimited, Meta did: counted as full for 24 h
    assert (answer["decision"], answer["limit"]) == ("DENIED_LIMIT_REACHED", 100_000)
    assert 0 < answer["retry_after_seconds"] <= DAY + 600
    world.evaluate()
    assert briefs(world.inbox.read()) == [("LIMIT_CHANGED", "TIER_UNLIMITED (unlimited)", "TIER_100K (100000)"),
                                          ("STATUS_CHANGED", "CONNECTED", "RESTRICTED"),
                                          ("USAGE_WARNING", None, "80%"), ("USAGE_WARNING", None, "95%")]
    clock.advance(DAY + 600)
    world.evaluate()
    assert briefs(world.inbox.read()) == [("STATUS_CHANGED", "RESTRICTED", "CONNECTED")]
    assert world.check("16505550001")["decision"] == "ALLOWED_NEW_RECIPIENT"


def test_a_filter_policy_on_the_attributes_selects_notifications(world, clock):
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    outcomes = Inbox(sns, sqs, world.topic_arn, "outcomes-only",
                     {"event_type": ["FLAG_OUTCOME", "LIMIT_CHANGED"], "phone_number_id": [PNID]})
    world.stack.register(tier="TIER_10K", quality="GREEN")
    world.webhook(world.quality_event("FLAGGED", "TIER_10K"))
    clock.advance(7 * DAY + PERIOD)
    world.evaluate()
    assert sorted(r.type for r in outcomes.read()) == ["FLAG_OUTCOME", "LIMIT_CHANGED"]
    assert len(world.inbox.read()) == 5


def test_7_every_type_reads_well_and_validates(world, clock):
    """One tour through all seven types; each email says what happened, what it means, what to do and
    when numberguard looks again; each document validates (Inbox.read validates every one)."""
    from moto.sns.models import sns_backends

    world.stack.register(tier="TIER_1K", quality="GREEN")
    world.webhook(world.quality_event("FLAGGED"))  # QUALITY_CHANGED, STATUS_CHANGED
    at = int(clock())
    world.webhook(AccountRestriction(WABA, at, f"r-{at}", {"RESTRICTED_BIZ_INITIATED_MESSAGING": at + 600}))
    clock.advance(7 * DAY + PERIOD)
    world.evaluate()  # FLAG_OUTCOME, LIMIT_CHANGED (TIER_250), STATUS_CHANGED; the restriction lifted
    world.webhook(world.quality_event("UNFLAGGED"))  # QUALITY_CHANGED back to YELLOW
    world.check_batch([f"1650555{i:04d}" for i in range(200)])
    world.evaluate()  # USAGE_WARNING 80 %, UPGRADE_ELIGIBLE
    world.check_batch([f"1650556{i:04d}" for i in range(38)])
    world.evaluate()  # USAGE_WARNING 95 %
    world.check_batch([f"1650557{i:04d}" for i in range(12)])
    world.evaluate()  # Restricted
    received = world.inbox.read()
    assert {r.type for r in received} == {"STATUS_CHANGED", "QUALITY_CHANGED", "LIMIT_CHANGED", "FLAG_OUTCOME",
                                          "USAGE_WARNING", "UPGRADE_ELIGIBLE", "ACCOUNT_RESTRICTED"}
    assert len({r.document["id"] for r in received}) == len(received)

    topic = sns_backends["123456789012"]["us-east-1"].topics[world.topic_arn]
    emails = {}
    for _, message, subject, _, _ in topic.sent_notifications:
        body = json.loads(message)
        document = json.loads(body["default"])
        emails.setdefault((document["type"], document["to"]), (subject, body["email"]))
    for (kind, _to), (subject, email) in emails.items():
        lines = email.splitlines()
        assert [line.split(":", 1)[0] for line in lines] == [
            "What happened", "What it means", "What to do", "When it is re-evaluated", "Notification id"], kind
        assert "+15550783881" in lines[0] and PNID in lines[0] and "+15550783881" in subject
        assert all(len(line) < 400 for line in lines) and "None" not in email and "{" not in email

    def email(kind: str, to: str) -> str:
        return emails[(kind, to)][1]

    flagged = email("STATUS_CHANGED", "FLAGGED")
    assert "from CONNECTED to FLAGGED" in flagged and "Quality is Low" in flagged
    assert "day 7" in flagged and "2027-01-" in flagged  # the date the outcome is decided
    assert "one tier" in flagged and "Pause or slow marketing" in flagged
    assert "from GREEN to RED" in email("QUALITY_CHANGED", "RED")
    assert "what recipients blocked or reported" in flagged
    limit = email("LIMIT_CHANGED", "TIER_250 (250)")
    assert "from TIER_1K (1000) to TIER_250 (250)" in limit and "Adjust campaign sizes" in limit
    outcome = next(v[1] for k, v in emails.items() if k[0] == "FLAG_OUTCOME")
    assert "7-day Flagged evaluation ended" in outcome and "CONNECTED TIER_250 (lowered one tier)" in outcome
    assert "quality still Low on day 7" in outcome and "plan sends for the lower limit" in outcome
    assert "settled" in outcome
    eighty = email("USAGE_WARNING", "80%")
    assert "reached 80% of its messaging limit" in eighty and "Slow business-initiated sends" in eighty
    assert "24 hours" in eighty
    assert "Stop new business-initiated sends" in email("USAGE_WARNING", "95%")
    restricted = email("STATUS_CHANGED", "RESTRICTED")
    assert "new recipients are denied" in restricted and "replies inside open service windows" in restricted
    assert "as soon as slots free" in restricted
    upgrade = next(v[1] for k, v in emails.items() if k[0] == "UPGRADE_ELIGIBLE")
    assert "meets the criteria" in upgrade and "Meta decides" in upgrade and "when Meta reports it" in upgrade
    account = email("ACCOUNT_RESTRICTED", "RESTRICTED_BIZ_INITIATED_MESSAGING")
    assert "from none to RESTRICTED_BIZ_INITIATED_MESSAGING" in account and "at its expiry" in account


def test_a_run_near_its_timeout_leaves_the_rest_due_for_the_next_run(world, clock):
    class AlmostOutOfTime(EvaluatorContext):
        def get_remaining_time_in_millis(self) -> int:
            return 10_000  # under the 15 s margin: take nothing new

    world.stack.register(tier="TIER_10K", quality="GREEN")
    world.webhook(world.quality_event("FLAGGED", "TIER_10K"))
    world.inbox.read()
    clock.advance(7 * DAY + PERIOD)
    summary = evaluator_app.lambda_handler({}, AlmostOutOfTime())
    assert summary["counts"] == {"stopped_early": 1} and world.inbox.read() == []
    clock.advance(PERIOD)
    world.evaluate()
    assert sorted(r.type for r in world.inbox.read()) == ["FLAG_OUTCOME", "LIMIT_CHANGED", "STATUS_CHANGED"]
