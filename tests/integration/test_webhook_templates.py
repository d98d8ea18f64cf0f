"""Given Meta's template webhooks (the reference bodies), when they are POSTed signed through the real
handler (moto), then each template's state, its history and the TEMPLATE_STATUS_CHANGED notices are
what the body says; retries and any order end in the same state, each change recorded once."""

from __future__ import annotations

import itertools
import json

import pytest

from tests.notifications import Inbox
from tests.webhooks import reference_body, signed_post

WABA = "102290129340398"
NAME = "order_confirmation"
STATUS = "message_template_status_update"
QUALITY = "message_template_quality_update"
LIFE = [  # order_confirmation's life in Meta's samples, oldest first
    f"{STATUS}.rejected.json", f"{STATUS}.approved.json", f"{QUALITY}.red.json", f"{STATUS}.paused-first.json",
    f"{STATUS}.unpaused.json", f"{STATUS}.paused-second.json", f"{STATUS}.disabled.json",
    f"{STATUS}.reinstated.json",
]


@pytest.fixture
def world(webhook_world):
    import boto3

    webhook_world.inbox = Inbox(boto3.client("sns"), boto3.client("sqs"), webhook_world.topic_arn)
    return webhook_world


def post(world, name: str) -> dict:
    answer = world.invoke(signed_post(reference_body(name)))
    assert answer["statusCode"] == 200, answer
    return json.loads(answer["body"])


def template(world, name: str = NAME, language: str = "en_US"):
    from numberguard.domain.templates import TemplateRef
    from numberguard.store.templates import TemplateStore

    return TemplateStore(world.stack.client, world.stack.settings.numbers_table).get(WABA, TemplateRef(name, language))


def history(world, name: str = NAME, language: str = "en_us") -> list[tuple]:
    from numberguard.wiring import build

    entries = build(world.stack.settings).stores.history.history(f"TPL#{WABA}#{name}#{language}")
    entries = sorted(entries, key=lambda h: h["sk"])
    return [(h["document"]["from"], h["document"]["to"], h["published"]) for h in entries]


def notices(world) -> list[tuple]:
    received = world.inbox.read()  # each document validated against docs/notification.schema.json
    for r in received:
        assert r.attributes["waba_id"] == WABA and r.attributes["template_name"] == r.document["template_name"]
        assert r.document["phone_number_id"] is None and r.attributes["event_type"] == "TEMPLATE_STATUS_CHANGED"
    return [(r.document["to"], r.document["until"]) for r in received]


# (body, status, paused_until, quality, category, history (from, to, published), notices (to, until))
ONE_BODY = [
    (f"{STATUS}.approved.json", "APPROVED", None, "UNKNOWN", "utility", [("UNKNOWN", "APPROVED", False)], []),
    (f"{STATUS}.rejected.json", "REJECTED", None, "UNKNOWN", "utility", [("UNKNOWN", "REJECTED", False)], []),
    (f"{STATUS}.paused-first.json", "PAUSED", 1756473300, "UNKNOWN", "utility",
     [("UNKNOWN", "PAUSED (first pause) until 2025-08-29T13:15:00Z", True)],
     [("PAUSED (first pause) until 2025-08-29T13:15:00Z", "2025-08-29T13:15:00Z")]),
    (f"{STATUS}.paused-second.json", "PAUSED", 1756601220, "UNKNOWN", "utility",
     [("UNKNOWN", "PAUSED (second pause) until 2025-08-31T00:47:00Z", True)],
     [("PAUSED (second pause) until 2025-08-31T00:47:00Z", "2025-08-31T00:47:00Z")]),
    (f"{STATUS}.unpaused.json", "APPROVED", None, "UNKNOWN", "utility", [("UNKNOWN", "APPROVED", True)],
     [("APPROVED", None)]),
    (f"{STATUS}.disabled.json", "DISABLED", None, "UNKNOWN", "utility", [("UNKNOWN", "DISABLED", True)],
     [("DISABLED", None)]),
    (f"{STATUS}.reinstated.json", "APPROVED", None, "UNKNOWN", "utility", [("UNKNOWN", "APPROVED", True)],
     [("APPROVED", None)]),
    (f"{QUALITY}.red.json", "UNKNOWN", None, "RED", None, [(None, "quality RED", True)], [("quality RED", None)]),
]


@pytest.mark.parametrize(("name", "status", "until", "quality", "category", "recorded", "told"), ONE_BODY,
                         ids=[c[0].split(".", 1)[1].removesuffix(".json") for c in ONE_BODY])
def test_each_template_body_sets_the_state_history_and_notice(world, name, status, until, quality, category,
                                                              recorded, told):
    post(world, name)
    found = template(world)
    assert (found.status.status.value, found.status.paused_until, found.quality.value) == (status, until, quality)
    assert (found.category.value if found.category else None) == category
    assert found.template_id == "1689556908129832"
    assert history(world) == recorded
    assert notices(world) == told


def test_the_en_us_quality_sample_is_kept_under_its_language_in_one_spelling(world):
    post(world, f"{QUALITY}.json")
    assert template(world, "welcome_template", "en_US").quality.value == "YELLOW"
    assert template(world, "welcome_template", "EN-us").template_id == "806312974732579"


def test_the_whole_life_in_order_is_recorded_and_only_the_notable_changes_are_told(world):
    for name in LIFE:
        post(world, name)
    found = template(world)
    assert found.status.status.value == "APPROVED" and found.status.pause_count == 2
    # The UNPAUSE came at the first pause's end: the pause had ended by itself, nothing changed then.
    assert [h[1] for h in history(world)] == [
        "REJECTED", "APPROVED", "quality RED", "PAUSED (first pause) until 2025-08-29T13:15:00Z",
        "PAUSED (second pause) until 2025-08-31T00:47:00Z", "DISABLED", "APPROVED",
    ]
    assert [to for to, _ in notices(world)] == [
        "quality RED", "PAUSED (first pause) until 2025-08-29T13:15:00Z",
        "PAUSED (second pause) until 2025-08-31T00:47:00Z", "DISABLED", "APPROVED",
    ]


def end_state(world) -> tuple:
    found = template(world)
    return found.status, found.quality, found.category, found.template_id


@pytest.mark.parametrize("order", [list(reversed(LIFE)), LIFE[3::2] + LIFE[::2] + LIFE[1:3]])
def test_retries_and_any_order_end_in_the_same_state_and_history(world, order):
    for name in LIFE:
        post(world, name)
    expected = end_state(world)
    world.inbox.read()

    # Given the same bodies again on empty tables, out of order and each twice
    told = {to for _, to, _ in history(world)}
    for item in world.stack.client.scan(TableName=world.stack.settings.numbers_table)["Items"]:
        world.stack.client.delete_item(TableName=world.stack.settings.numbers_table, Key={"pk": item["pk"]})
    for item in world.stack.client.scan(TableName=world.stack.settings.history_table)["Items"]:
        world.stack.client.delete_item(TableName=world.stack.settings.history_table,
                                       Key={"phone_number_id": item["phone_number_id"], "sk": item["sk"]})
    for name in itertools.chain(order, order):
        post(world, name)
    assert end_state(world) == expected
    # Every change is on record (a late event announces its own change, once; ids never repeat)
    assert told <= {to for _, to, _ in history(world)}


def test_a_retried_body_announces_nothing_again(world):
    first = post(world, f"{STATUS}.paused-first.json")
    again = post(world, f"{STATUS}.paused-first.json")
    assert (first["changes"], again["changes"]) == (1, 0)
    assert len(notices(world)) == 1


def test_a_quality_update_naming_only_the_id_finds_the_template(world):
    from tests.webhooks import signed_post as sign_it

    post(world, f"{STATUS}.approved.json")
    body = json.loads(reference_body(f"{QUALITY}.red.json"))
    value = body["entry"][0]["changes"][0]["value"]
    del value["message_template_name"], value["message_template_language"]
    answer = world.invoke(sign_it(json.dumps(body).encode()))
    assert answer["statusCode"] == 200
    assert template(world).quality.value == "RED"


def test_an_unknown_event_is_counted_and_changes_nothing(world):
    post(world, f"{STATUS}.disabled.json")
    body = json.loads(reference_body(f"{STATUS}.reinstated.json"))
    body["entry"][0]["changes"][0]["value"]["event"] = "SOMETHING_META_ADDS_NEXT_YEAR"
    answer = json.loads(world.invoke(signed_post(json.dumps(body).encode()))["body"])
    assert answer["counts"] == {"unrecognised": 1}
    assert template(world).status.status.value == "DISABLED"


# ---- the operator's view ------------------------------------------------------------------------------


def test_templates_list_show_and_the_report_tell_the_state_and_history(world, capsys, tmp_path):
    from numberguard_ops.cli import main

    world.stack.register()
    for name in (f"{STATUS}.approved.json", f"{STATUS}.paused-first.json", f"{QUALITY}.json"):
        post(world, name)

    assert main(["templates", "list", "--aws", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"order_confirmation", "welcome_template"}
    assert rows["welcome_template"]["quality"] == "YELLOW" and rows["welcome_template"]["check"] == "ALLOWED"
    paused = rows["order_confirmation"]  # the pause of 2025 is over by now: Meta's word stays on record
    fields = ("status", "meta_status", "paused_until", "pause_count", "category")
    assert tuple(paused[f] for f in fields) == ("APPROVED", "PAUSED", "2025-08-29T13:15:00Z", 1, "utility")

    assert main(["templates", "list", "--aws"]) == 0
    text = capsys.readouterr().out
    assert "order_confirmation" in text and "welcome_template" in text and "A CHECK NAMING IT" in text

    assert main(["templates", "show", "order_confirmation", "--language", "en-us", "--aws"]) == 0
    text = capsys.readouterr().out
    assert "PAUSED (first pause) until 2025-08-29T13:15:00Z" in text and "UNKNOWN → APPROVED" in text

    assert main(["templates", "show", "no_such_template", "--aws"]) != 0
    assert "templates list" in capsys.readouterr().err

    page = tmp_path / "report.html"
    assert main(["report", "--html", str(page), "--aws"]) == 0
    html = page.read_text()
    assert "Templates of the WABA" in html and "order_confirmation" in html and "welcome_template" in html


# ---- 132015 / 132016: a refused send marks the template its check named ----------------------------------


def refused(world, code: int, reference: str | None, recipient: str = "16505551234") -> dict:
    body = json.loads(reference_body("messages.status-failed-132015-paused-template.json"))
    status = body["entry"][0]["changes"][0]["value"]["statuses"][0]
    status["timestamp"] = str(int(world.stack.clock()))
    status["recipient_id"] = recipient
    status["errors"][0]["code"] = code
    if reference:
        status["biz_opaque_callback_data"] = reference
    answer = world.invoke(signed_post(json.dumps(body).encode()))
    assert answer["statusCode"] == 200, answer
    return json.loads(answer["body"])


@pytest.mark.parametrize(("code", "decision", "retry"), [(132015, "DENIED_TEMPLATE_PAUSED", 3 * 3600),
                                                         (132016, "DENIED_TEMPLATE_DISABLED", None)])
def test_a_refused_send_marks_the_template_its_check_named_and_gives_the_slot_back(world, code, decision, retry):
    # Given an approved template and a check that named it, took a slot and wrote its record
    world.stack.register()
    post(world, f"{STATUS}.approved.json")
    checker = world.stack.checker()
    named = {"phone_number_id": "106540352242922", "recipient": "16505551234", "message": "template",
             "template": {"name": NAME, "language": "en_US"}, "reference": "send-9"}
    assert checker.handle(named)["decision"] == "ALLOWED_NEW_RECIPIENT"
    # When Meta's failed status for that reference says the template is paused (or disabled)
    answer = refused(world, code, "send-9")
    # Then the template is marked from the status's time, the slot is given back, and people are told
    assert answer["counts"]["slot_released"] == 1
    again = checker.handle({**named, "recipient": "16505550000", "reference": "send-10"})
    assert (again["decision"], again["retry_after_seconds"]) == (decision, retry)
    assert again["used"] == 0
    assert [to.split(" ")[0] for to, _ in notices(world)] == ["PAUSED" if code == 132015 else "DISABLED"]


def test_a_refused_send_marks_nothing_without_a_check_that_named_the_template(world):
    world.stack.register()
    post(world, f"{STATUS}.approved.json")
    checker = world.stack.checker()
    plain = {"phone_number_id": "106540352242922", "recipient": "16505551234", "message": "template",
             "reference": "send-1"}
    assert checker.handle(plain)["decision"] == "ALLOWED_NEW_RECIPIENT"
    answer = refused(world, 132015, "send-1")  # the check named no template
    assert answer["counts"]["template_refusal_unnamed"] == 1 and answer["counts"]["slot_released"] == 1
    answer = refused(world, 132015, None)  # no reference at all (Meta's sample): nothing to mark or give back
    assert "template_refusal_unnamed" not in answer["counts"]
    assert template(world).status.status.value == "APPROVED"
