"""Given the evaluator's policy in template.yaml, when the real handler runs through every kind of work
(a Flagged outcome, a restriction's expiry, warnings, Restricted, eligibility, a template's timed
pause ending, the outbox), then every AWS call it makes is allowed by that policy: least privilege that
is also enough."""

from __future__ import annotations

import boto3
from numberguard import wiring
from numberguard.domain.events import AccountRestriction, InboundMessage, TemplateStatusUpdate
from numberguard.domain.templates import StatusReading
from numberguard.store.people import PeopleStore

from numberguard_ops.template import load, local_name
from tests.integration.test_evaluator_scenarios import DAY, PERIOD, PNID, WABA, make_world

# IAM action of each item operation inside a transaction.
TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck":
                    "ConditionCheckItem"}


def allowed(template: dict) -> set[tuple[str, str]]:
    """(action, resource) pairs of EvaluatorFunction's policy; resources as logical ids (Table[/index/X])."""
    pairs = set()
    for statement in template["Resources"]["EvaluatorFunction"]["Properties"]["Policies"][0]["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            if "Fn::GetAtt" in resource:
                name = resource["Fn::GetAtt"][0]
            elif "Fn::Sub" in resource:
                name = resource["Fn::Sub"].replace("${", "").replace(".Arn}", "")
            else:
                name = resource["Ref"]
            pairs.update((action, name) for action in statement["Action"])
    return pairs


PERSON_PHONE, PERSON_BSUID = "16505550001", "US.99887766554433"


def counted_twice_then_linked(world, monkeypatch) -> None:
    """A person counted by phone and by BSUID, then linked by an inbound message while the intake's own
    fold met contention: left for the evaluator to fold."""
    for asked in (PERSON_PHONE, PERSON_BSUID):
        assert world.check(asked)["decision"] == "ALLOWED_NEW_RECIPIENT"
    at = int(world.clock())
    with monkeypatch.context() as contended:
        contended.setattr(PeopleStore, "fold", lambda *args, **kwargs: None)
        world.webhook(InboundMessage(WABA, at, f"in-{at}", PNID, PERSON_PHONE, "wamid.HBgLMTY1MDU1NTAwMDE",
                                     user_id=PERSON_BSUID, linked=(PERSON_PHONE, PERSON_BSUID)))


def test_every_call_of_the_evaluator_is_allowed_by_its_policy(moto_stack, clock, monkeypatch):
    world = make_world(moto_stack, clock, monkeypatch)
    tables = {local_name(logical): logical for logical in ("NumbersTable", "LimitsTable", "HistoryTable",
                                                           "RecipientsTable")}
    made: set[tuple[str, str]] = set()
    evaluating = [False]  # the limit check shares the process's DynamoDB client: record the evaluator only

    def dynamodb(model=None, params=None, **_):
        if not evaluating[0]:
            return
        name = model.name
        if name == "TransactWriteItems":
            for item in params["TransactItems"]:
                [(kind, body)] = item.items()
                made.add((f"dynamodb:{TRANSACT_ACTIONS[kind]}", tables[body["TableName"]]))
        elif name in ("BatchGetItem", "BatchWriteItem"):
            made.update((f"dynamodb:{name}", tables[t]) for t in params["RequestItems"])
        else:
            target = tables[params["TableName"]]
            made.add((f"dynamodb:{name}", f"{target}/index/{params['IndexName']}" if "IndexName" in params
                      else target))

    def sns(model=None, params=None, **_):
        assert params["TopicArn"] == world.topic_arn
        made.add((f"sns:{model.name}", "NotificationTopic"))

    world.stack.register(tier="TIER_1K", quality="GREEN")
    counted_twice_then_linked(world, monkeypatch)
    sns_client = boto3.client("sns")
    subscriptions = sns_client.list_subscriptions_by_topic(TopicArn=world.topic_arn)["Subscriptions"]
    sns_client.delete_topic(TopicArn=world.topic_arn)  # the intake's notifications wait in the outbox
    world.webhook(world.quality_event("FLAGGED"))
    at = int(clock())
    world.webhook(AccountRestriction(WABA, at, f"r-{at}", {"RESTRICTED_BIZ_INITIATED_MESSAGING": at + 600}))
    # A template paused for an hour by Meta: the evaluator announces the pause's end (no webhook says so)
    world.webhook(TemplateStatusUpdate(WABA, at, f"pause-{at}", None, "order_confirmation", "en_US",
                                       StatusReading("PAUSED", "FIRST_PAUSE", at + 3600)))
    sns_client.create_topic(Name="numberguard-notifications")
    for subscription in subscriptions:  # the inbox and the receipt queue, envelope kept
        sns_client.subscribe(TopicArn=world.topic_arn, Protocol="sqs", Endpoint=subscription["Endpoint"])

    evaluator = wiring.evaluator()
    clients = list(filter(None, [evaluator.stores.numbers.client, evaluator.facets.logs.client,
                                 getattr(evaluator.people, "client", None)]))
    for client in {id(c): c for c in clients}.values():
        client.meta.events.register("before-parameter-build.dynamodb", dynamodb)
    evaluator.facets.publisher.client.meta.events.register("before-parameter-build.sns", sns)

    def sqs(model=None, params=None, **_):
        assert params["QueueUrl"] == world.stack.env["NOTIFICATION_RECEIPT_QUEUE_URL"]
        made.add(({"DeleteMessageBatch": "sqs:DeleteMessage"}.get(model.name, f"sqs:{model.name}"),
                  "NotificationReceiptQueue"))

    evaluator.outbox.receipts.client.meta.events.register("before-parameter-build.sqs", sqs)

    def evaluate() -> None:
        evaluating[0] = True
        try:
            world.evaluate()
        finally:
            evaluating[0] = False

    evaluate()  # the person the intake could not fold: the evaluator reads their records, gives a slot back

    clock.advance(7 * DAY + PERIOD)
    evaluate()  # the outbox, the Flagged outcome (one tier down), the restriction's expiry
    for batch in (range(200), range(200, 238), range(238, 250)):  # TIER_250 now: 80 %, 95 %, full
        world.check_batch([f"1650555{i:04d}" for i in batch])
        evaluate()  # warnings, Restricted (usage), eligibility checks
    clock.advance(DAY + PERIOD)
    evaluate()  # slots freed
    received = world.inbox.read()
    kinds = {r.type for r in received}
    assert {"FLAG_OUTCOME", "LIMIT_CHANGED", "ACCOUNT_RESTRICTED", "USAGE_WARNING", "STATUS_CHANGED",
            "QUALITY_CHANGED", "TEMPLATE_STATUS_CHANGED"} <= kinds
    assert "APPROVED" in [r.document["to"] for r in received if r.type == "TEMPLATE_STATUS_CHANGED"]

    assert made <= allowed(load()), sorted(made - allowed(load()))
    assert allowed(load()) - made == set(), "granted but never used"
    assert ("sns:Publish", "NotificationTopic") in made and ("dynamodb:Query", "HistoryTable/index/Outbox") in made
