"""Given signed bodies carrying a value no platform id can have (the 5,000-character ids a careless or
hostile sender tried), when they are POSTed through the real handler, then each answers 200 (a retry
could never apply it), stores nothing of the poisoned update, keeps the body in the archive, and a
redelivery answers the same; the good updates beside it are applied. And an update whose entry has no
time is ordered by its first arrival: it changes the current state and the history says so."""

from __future__ import annotations

import json

import pytest

from tests.webhooks import signed_post

PNID, WABA, DISPLAY = "106540352242922", "102290129340398", "15550783881"
LONG = "1" * 5_000
T = 1_790_000_000  # the entries' own time, before the test clock's start (1,800,000,000)


def envelope(*entries: dict) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": list(entries)}).encode()


def messages_entry(pnid: str = PNID, sender: str = "16505551234", waba: str = WABA) -> dict:
    return {"id": waba, "time": T, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY, "phone_number_id": pnid},
        "messages": [{"from": sender, "id": "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRB", "timestamp": str(T),
                      "type": "text", "text": {"body": "hi"}}],
        "statuses": [{"id": "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI1MDFF", "status": "failed", "timestamp": str(T),
                      "recipient_id": sender, "biz_opaque_callback_data": "send-1",
                      "errors": [{"code": 131026}]}],
    }}]}


def quality_entry(event: str = "FLAGGED", waba: str = WABA, time: int | None = T) -> dict:
    entry: dict = {"id": waba, "changes": [{"field": "phone_number_quality_update", "value": {
        "display_phone_number": DISPLAY, "event": event, "current_limit": "TIER_1K"}}]}
    if time is not None:
        entry["time"] = time
    return entry


def restriction_entry(kind: str = "RESTRICTED_BIZ_INITIATED_MESSAGING", waba: str = WABA) -> dict:
    return {"id": waba, "time": T, "changes": [{"field": "account_update", "value": {
        "event": "ACCOUNT_RESTRICTION",
        "restriction_info": [{"restriction_type": kind, "expiration": 1_900_000_000}]}}]}


def items(world) -> dict[str, list]:
    """Every item of every table, for comparing before and after."""
    settings = world.stack.settings
    tables = (settings.numbers_table, settings.recipients_table, settings.limits_table, settings.history_table)
    return {t: sorted(json.dumps(i, sort_keys=True) for i in world.stack.client.scan(TableName=t)["Items"])
            for t in tables}


POISONED = {
    "5,000-character metadata.phone_number_id": messages_entry(pnid=LONG),
    "5,000-character inbound from": messages_entry(sender=LONG),
    "5,000-character entry id": {**restriction_entry(), "id": LONG},
}


@pytest.mark.parametrize("name", sorted(POISONED))
def test_a_poisoned_body_answers_200_stores_nothing_and_is_archived_every_time(webhook_world, name):
    webhook_world.stack.register(tier="TIER_1K")
    before = items(webhook_world)
    raw = envelope(POISONED[name])
    answers = [webhook_world.invoke(signed_post(raw)) for _ in range(2)]
    assert [a["statusCode"] for a in answers] == [200, 200], answers
    assert answers[0]["body"] == answers[1]["body"]  # the redelivery is answered the same
    counts = json.loads(answers[0]["body"])["counts"]
    assert counts.get("unrecognised", 0) >= 1 and set(counts) <= {"unrecognised", "duplicate_in_batch"}, counts
    assert items(webhook_world) == before, "nothing of the poisoned update is stored"
    (key,) = webhook_world.archived()
    assert webhook_world.archived_body(key) == raw


def test_good_updates_beside_a_poisoned_one_are_applied_and_the_body_answers_200(webhook_world):
    webhook_world.stack.register(tier="TIER_10K")
    raw = envelope(quality_entry("FLAGGED"), restriction_entry(waba=LONG), restriction_entry(kind="R" * 5_000))
    answer = webhook_world.invoke(signed_post(raw))
    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"])["counts"]["unrecognised"] == 2
    number = webhook_world.number()
    assert number["quality"] == "RED"
    assert not number.get("restrictions"), "neither poisoned restriction is applied"
    assert len(webhook_world.archived()) == 1
    again = webhook_world.invoke(signed_post(raw))
    assert again["statusCode"] == 200 and json.loads(again["body"])["changes"] == 0  # applied once


def test_the_poisoned_values_are_named_in_the_log(webhook_world):
    from tests.logs import captured_logs

    webhook_world.stack.register(tier="TIER_1K")
    with captured_logs() as logs:
        webhook_world.invoke(signed_post(envelope(messages_entry(pnid=LONG))))
    logged = logs.text
    assert "metadata.phone_number_id is 5,000 characters long; a Meta id has at most 32 digits" in logged
    assert LONG not in logged  # a huge value is named by its length, never echoed


def test_an_update_without_time_is_ordered_by_its_first_arrival(webhook_world, monkeypatch):
    from numberguard import wiring

    clock = webhook_world.stack.clock
    monkeypatch.setattr(wiring, "clock", clock)
    webhook_world.stack.register(tier="TIER_10K", quality="GREEN")
    arrived = int(clock())
    raw = envelope(quality_entry("FLAGGED", time=None))
    first = webhook_world.invoke(signed_post(raw))
    assert first["statusCode"] == 200, first
    assert webhook_world.number()["quality"] == "RED"  # the current state changed, not filed under 1970

    clock.advance(3_600)  # Meta redelivers an hour later: the same update, applied once, at its first arrival
    again = webhook_world.invoke(signed_post(raw))
    assert again["statusCode"] == 200
    history = [(h["type"], h["at"], h["document"]["reason"]) for h in webhook_world.history()]
    assert sorted(history) == [
        ("QUALITY_CHANGED", arrived, "phone_number_quality_update FLAGGED (time of arrival: Meta sent no time)"),
        ("STATUS_CHANGED", arrived, "phone_number_quality_update FLAGGED (time of arrival: Meta sent no time)"),
    ]

    # A timed update after that arrival comes after it; one from before it does not undo it.
    webhook_world.invoke(signed_post(envelope(quality_entry("UNFLAGGED", time=arrived - 60))))
    assert webhook_world.number()["quality"] == "RED"
    webhook_world.invoke(signed_post(envelope(quality_entry("UNFLAGGED", time=arrived + 60))))
    assert webhook_world.number()["quality"] == "YELLOW"


def test_a_time_that_is_not_a_number_is_treated_as_missing(webhook_world, monkeypatch):
    from numberguard import wiring

    monkeypatch.setattr(wiring, "clock", webhook_world.stack.clock)
    webhook_world.stack.register(tier="TIER_10K", quality="GREEN")
    for bad in ("yesterday", -5, 10**15, True):
        entry = {**quality_entry("FLAGGED"), "time": bad}
        answer = webhook_world.invoke(signed_post(envelope(entry)))
        assert answer["statusCode"] == 200, (bad, answer)
    assert webhook_world.number()["quality"] == "RED"
    assert {h["at"] for h in webhook_world.history()} == {int(webhook_world.stack.clock())}
