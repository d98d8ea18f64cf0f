"""Given Meta's failed statuses (the reference samples for 131048 and 131049, and bodies built from the
rules' table for 131042, 368 and 131031), when they are POSTed signed through the real webhook handler
and the sender then asks the real limit check, then each refusal leaves its facet (the number's hold,
the person's cooldown, the WABA's block) and the checks after it answer as DESIGN §3 says (rows 3, 5
and 8); duplicated and out-of-order deliveries end in the same state and announce nothing twice."""

from __future__ import annotations

import json

import pytest

from tests.conftest import EVENTS, LambdaContext
from tests.notifications import Inbox
from tests.webhooks import envelope, reference_body, signed_post

PNID, WABA, PHONE, BSUID = "106540352242922", "102290129340398", "16505551234", "US.13491208655302741918"
SPAM = "messages.status-failed-131048-spam-rate.json"
SPAM_AT = 1789567510  # its timestamp
COOLED = "messages.status-failed-to-phone.json"
COOLED_AT = 1750030073
BLOCKS = {131042: "status-failed-131042-payment.json", 368: "status-failed-368-restricted.json",
          131031: "status-failed-131031-locked.json"}
BLOCK_AT = 1789567600
HOLD = 60 * 60  # SpamHoldMinutes' default
DAY = 86400


@pytest.fixture
def world(webhook_world, monkeypatch):
    """The handlers on the stack's fake clock; the number registered; an inbox on the topic."""
    import boto3
    from numberguard import wiring

    monkeypatch.setattr(wiring, "clock", webhook_world.stack.clock)
    webhook_world.stack.register(tier="TIER_1K", quality="GREEN")
    webhook_world.inbox = Inbox(boto3.client("sns"), boto3.client("sqs"), webhook_world.topic_arn)
    return webhook_world


def at(world, epoch: int) -> None:
    world.stack.clock.now = float(epoch)


def body_of(name: str) -> bytes:
    built = EVENTS / "webhooks" / name
    return built.read_bytes() if built.exists() else reference_body(name)


def retimed(name: str, timestamp: int, wamid_suffix: str = "", status: str | None = None) -> bytes:
    """A copy of a body's one status, at another time (a different wamid unless told: another send)."""
    body = json.loads(body_of(name))
    item = body["entry"][0]["changes"][0]["value"]["statuses"][0]
    item["timestamp"] = str(timestamp)
    item["id"] = item["id"].rstrip("=") + wamid_suffix
    if status is not None:
        item["status"] = status
        item.pop("errors", None)
    return json.dumps(body).encode()


def post(world, body: bytes) -> dict:
    answer = world.invoke(signed_post(body))
    assert answer["statusCode"] == 200, answer
    return json.loads(answer["body"])


def check(world, recipient: str = PHONE, **extra) -> dict:
    from limit_check.app import lambda_handler

    return lambda_handler({"phone_number_id": PNID, "recipient": recipient, "message": "template", **extra},
                          LambdaContext())


def kinds(world) -> list[tuple]:
    return sorted((h["type"], h["document"]["from"], h["document"]["to"]) for h in world.history())


# ---- 131048: the number's hold ---------------------------------------------------------------------


def test_131048_holds_business_initiated_sends_until_the_hold_ends_and_announces_it_once(world):
    at(world, SPAM_AT + 60)
    answer = post(world, body_of(SPAM))
    assert answer["counts"]["hold_began"] == 1 and answer["changes"] == 1
    held = check(world)
    assert (held["decision"], held["retry_after_seconds"]) == ("DENIED_SPAM_RATE_LIMITED", HOLD - 60)
    assert "131048" in held["error"]
    # A reply inside the person's service window still goes
    world.stack.open_window(PNID, "16505550002", SPAM_AT + DAY)
    assert check(world, "16505550002", message="session")["decision"] == "ALLOWED_SERVICE_WINDOW"
    # Meta's retry, a later refusal inside the hold and an older one change nothing announced
    post(world, body_of(SPAM))
    later = post(world, retimed(SPAM, SPAM_AT + 600, "AA"))
    post(world, retimed(SPAM, SPAM_AT - 300, "BB"))
    assert later["counts"]["hold_extended"] == 1
    assert check(world)["retry_after_seconds"] == 600 + HOLD - 60  # the latest refusal + the hold
    received = world.inbox.read()
    assert [(r.type, r.attributes["severity"], r.document["until"]) for r in received] == [
        ("NUMBER_ON_HOLD", "CRITICAL", "2026-09-16T15:05:10Z")]
    assert kinds(world) == [("NUMBER_ON_HOLD", None, "ON_HOLD")]
    # When the hold ends the campaign resumes; a refusal after that begins (and announces) a new hold
    at(world, SPAM_AT + 600 + HOLD)
    assert check(world)["decision"] == "ALLOWED_NEW_RECIPIENT"
    post(world, retimed(SPAM, SPAM_AT + 600 + HOLD + 5, "CC"))
    assert check(world, "16505550003")["decision"] == "DENIED_SPAM_RATE_LIMITED"
    assert [r.type for r in world.inbox.read()] == ["NUMBER_ON_HOLD"]


def test_131048_out_of_order_makes_one_hold_ending_at_the_latest_refusal(world):
    at(world, SPAM_AT + 60)
    post(world, retimed(SPAM, SPAM_AT + 900, "AA"))  # the later refusal first
    post(world, body_of(SPAM))  # then the one before it, inside the same hold
    assert check(world)["retry_after_seconds"] == 900 + HOLD - 60
    assert [r.type for r in world.inbox.read()] == ["NUMBER_ON_HOLD"]


def test_131048_in_value_level_errors_holds_the_number_too(world):
    at(world, SPAM_AT + 60)
    value = {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881",
                                                           "phone_number_id": PNID},
             "errors": [{"code": 131048, "title": "Spam rate limit hit"}, {"code": "not-a-code"}, "junk"]}
    answer = post(world, envelope(WABA, [{"field": "messages", "value": value}], time=SPAM_AT))
    assert answer["counts"]["error_131048"] == 1 and answer["counts"]["error_unreadable"] == 2
    assert check(world)["decision"] == "DENIED_SPAM_RATE_LIMITED"


# ---- 131049: the person's marketing cooldown ----------------------------------------------------------


@pytest.mark.parametrize("name", [COOLED, "messages.status-failed.json"])
def test_131049_denies_marketing_to_the_person_for_24_hours_while_other_categories_go(world, name):
    refused_at = json.loads(body_of(name))["entry"][0]["changes"][0]["value"]["statuses"][0]["timestamp"]
    at(world, int(refused_at) + 60)
    answer = post(world, body_of(name))
    assert answer["counts"]["cooldown_started"] == 1
    denied = check(world, category="marketing")
    assert (denied["decision"], denied["retry_after_seconds"]) == ("DENIED_RECIPIENT_COOLDOWN", DAY - 60)
    assert "131049" in denied["error"]
    assert check(world, category="utility")["decision"] == "ALLOWED_NEW_RECIPIENT"
    # duplicates are harmless: one history line, nothing published
    assert post(world, body_of(name))["counts"]["cooldown_unchanged"] == 1
    assert kinds(world) == [("RECIPIENT_COOLDOWN", None, f"cooldown until {_iso(int(refused_at) + DAY)}")]
    assert world.inbox.read() == []
    at(world, int(refused_at) + DAY)
    assert check(world, category="marketing")["decision"] == "ALLOWED_ALREADY_COUNTED"


def test_131049_cools_the_person_under_each_of_its_linked_ids(world):
    # Given Meta showed the phone and the BSUID together (a sent status), then refused a marketing send
    at(world, COOLED_AT + 60)
    post(world, retimed("messages.status-sent-phone-and-bsuid.json", COOLED_AT - 60))
    post(world, body_of(COOLED))
    # Then a marketing check by the BSUID is denied too
    assert check(world, BSUID, category="marketing")["decision"] == "DENIED_RECIPIENT_COOLDOWN"
    assert check(world, BSUID, category="authentication")["allowed"] is True


# ---- 131042 / 368 / 131031: the WABA blocked ---------------------------------------------------------


@pytest.mark.parametrize("code", sorted(BLOCKS))
def test_a_waba_blocking_refusal_denies_every_send_naming_the_code_until_a_later_success(world, code):
    at(world, BLOCK_AT + 60)
    answer = post(world, body_of(BLOCKS[code]))
    assert answer["counts"]["meta_block_refusal"] == 1
    denied = check(world)
    assert denied["decision"] == "DENIED_BLOCKED_BY_META" and str(code) in denied["error"]
    assert denied["status"] == "BLOCKED"
    world.stack.open_window(PNID, PHONE, BLOCK_AT + DAY)
    assert check(world, message="session")["decision"] == "DENIED_BLOCKED_BY_META"  # row 3: every send
    assert [(r.type, r.document["to"], r.attributes["severity"]) for r in world.inbox.read()] == [
        ("STATUS_CHANGED", "BLOCKED", "CRITICAL")]
    # A duplicate, and a success older than the refusal, change nothing
    post(world, body_of(BLOCKS[code]))
    post(world, retimed("messages.status-sent.json", BLOCK_AT - 30, "OLD"))
    assert check(world)["decision"] == "DENIED_BLOCKED_BY_META"
    # A later successful status from the WABA's number is Meta's word: lifted
    post(world, retimed("messages.status-sent.json", BLOCK_AT + 30, "NEW"))
    assert check(world, message="session")["decision"] == "ALLOWED_SERVICE_WINDOW"
    assert [(r.type, r.document["to"]) for r in world.inbox.read()] == [("STATUS_CHANGED", "CONNECTED")]


@pytest.mark.parametrize("status", ["delivered", "read"])
def test_a_later_delivered_or_read_status_never_lifts_the_block_only_a_later_sent_does(world, status):
    # Given the WABA blocked by a 368
    at(world, BLOCK_AT + 600)
    post(world, body_of(BLOCKS[368]))
    assert [r.document["to"] for r in world.inbox.read()] == ["BLOCKED"]
    # When a delivered or read status of a send Meta accepted before the block arrives after it (in event
    # time, and in a delivery that comes first too): it proves nothing about new sends, so the block stands
    answer = post(world, retimed("messages.status-sent.json", BLOCK_AT + 60, "LATER", status=status))
    assert "meta_block_lifted_by_status" not in answer["counts"]
    assert check(world)["decision"] == "DENIED_BLOCKED_BY_META"
    assert world.inbox.read() == []  # no flap: no CONNECTED, no second BLOCKED
    # A `sent` older than the refusal does not lift it either; one newer does, once
    post(world, retimed("messages.status-sent.json", BLOCK_AT - 60, "OLDER", status="sent"))
    assert check(world)["decision"] == "DENIED_BLOCKED_BY_META"
    post(world, retimed("messages.status-sent.json", BLOCK_AT + 120, "NEWER", status="sent"))
    assert check(world)["decision"] == "ALLOWED_NEW_RECIPIENT"
    assert [r.document["to"] for r in world.inbox.read()] == ["CONNECTED"]


@pytest.mark.parametrize("status", ["delivered", "read"])
def test_a_delivered_or_read_status_learnt_before_an_older_refusal_does_not_lift_it(world, status):
    at(world, BLOCK_AT + 600)
    post(world, retimed("messages.status-sent.json", BLOCK_AT + 120, "NEW", status=status))
    post(world, body_of(BLOCKS[131042]))  # the refusal before it arrives late
    assert check(world)["decision"] == "DENIED_BLOCKED_BY_META"


def test_a_success_delivered_before_an_older_refusal_leaves_the_waba_unblocked(world):
    at(world, BLOCK_AT + 600)
    post(world, retimed("messages.status-sent.json", BLOCK_AT + 120, "NEW"))  # Meta accepted a later send
    post(world, body_of(BLOCKS[368]))  # the refusal before it arrives late
    assert check(world)["decision"] == "ALLOWED_NEW_RECIPIENT"


def test_an_account_update_reinstatement_lifts_the_block(world):
    at(world, BLOCK_AT + 60)
    post(world, body_of(BLOCKS[131042]))
    reinstate = json.loads(reference_body("account_update.disabled-reinstate.json"))
    reinstate["entry"][0]["time"] = BLOCK_AT + 30
    post(world, json.dumps(reinstate).encode())
    assert check(world)["decision"] == "ALLOWED_NEW_RECIPIENT"
    # an older reinstatement does not lift a newer refusal
    post(world, retimed(BLOCKS[368], BLOCK_AT + 45, "LATE"))
    assert check(world)["decision"] == "DENIED_BLOCKED_BY_META"


def test_a_number_registered_after_the_block_inherits_it(world):
    at(world, BLOCK_AT + 60)
    post(world, body_of(BLOCKS[131031]))
    world.stack.register(phone_number_id="106540352249999", display_phone_number="15550001111")
    from limit_check.app import lambda_handler

    answer = lambda_handler({"phone_number_id": "106540352249999", "recipient": PHONE, "message": "template"},
                            LambdaContext())
    assert answer["decision"] == "DENIED_BLOCKED_BY_META" and "131031" in answer["error"]


def _iso(epoch: int) -> str:
    from numberguard.domain.check import iso

    return iso(epoch)
