"""Given the 2026 identity bodies of Meta's reference folder (username-only inbound, BSUID statuses, a
contact shared on request, system changes), when they are POSTed signed through the real webhook handler
and the sender then invokes the real check handler, then each body opens the windows and makes the links
it should: a person is found by any id Meta showed for them, and a changed number starts fresh."""

from __future__ import annotations

import json

import pytest

from tests.webhooks import reference_body, signed_post

PNID = "106540352242922"
PHONE, NEW_PHONE = "16505551234", "16505554321"
BSUID, PARENT = "US.13491208655302741918", "US.ENT.11815799212886844830"
NEW_BSUID_OF_NUMBER, NEW_BSUID = "US.15098342271160483952", "US.17720436158839205567"
NEXT_USER = "US.19931002475566210384"  # whoever has the old phone number after the change


def redated(name: str, now: int) -> bytes:
    """The body with its event times moved to `now` (what `send-webhook --now` does)."""
    envelope = json.loads(reference_body(name))
    for entry in envelope["entry"]:
        for change in entry["changes"]:
            for kind in ("messages", "statuses"):
                for item in change["value"].get(kind) or []:
                    item["timestamp"] = str(now)
    return json.dumps(envelope).encode()


@pytest.fixture
def world(webhook_world, monkeypatch):
    from numberguard import wiring

    monkeypatch.setattr(wiring, "clock", webhook_world.stack.clock)
    webhook_world.stack.register(tier="TIER_1K", quality="GREEN")
    return webhook_world


def post(world, name: str, at: int | None = None) -> dict:
    return post_body(world, redated(name, int(world.stack.clock()) if at is None else at))


def post_body(world, body: bytes) -> dict:
    answer = world.invoke(signed_post(body))
    assert answer["statusCode"] == 200, answer
    return json.loads(answer["body"])["counts"]


def check(recipient: str, message: str = "session", **extra) -> dict:
    from limit_check.app import lambda_handler

    from tests.conftest import LambdaContext

    return lambda_handler({"phone_number_id": PNID, "recipient": recipient, "message": message, **extra},
                          LambdaContext())


def decision(recipient: str, message: str = "session") -> str:
    return check(recipient, message)["decision"]


def test_the_username_only_message_opens_the_window_of_its_bsuid(world):
    counts = post(world, "messages.inbound-username-only.json")
    assert counts["window_opened"] == 2 and counts["people_linked"] == 1
    assert "unrecognised" not in counts
    answer = check(BSUID)
    assert (answer["allowed"], answer["decision"]) == (True, "ALLOWED_SERVICE_WINDOW")
    assert decision(PARENT) == "ALLOWED_SERVICE_WINDOW"
    assert decision(PHONE) == "DENIED_WINDOW_CLOSED"  # Meta never showed this phone for them


def test_a_message_with_phone_and_bsuid_serves_both_and_counts_the_person_once(world):
    post(world, "messages.inbound-with-bsuid.json")
    assert decision(PHONE) == decision(BSUID) == "ALLOWED_SERVICE_WINDOW"
    world.stack.clock.advance(2 * 86400)  # the window is over; the link stays
    assert decision(BSUID, "template") == "ALLOWED_NEW_RECIPIENT"
    answer = check(PHONE, "template")
    assert (answer["decision"], answer["used"]) == ("ALLOWED_ALREADY_COUNTED", 1)


def test_a_contact_shared_on_request_links_the_phone_to_the_bsuid(world):
    counts = post(world, "messages.contacts-shared-on-request.json")
    assert counts["window_opened"] == 1 and counts["people_linked"] == 1
    assert decision(PHONE) == "ALLOWED_SERVICE_WINDOW"  # the window was opened under the BSUID only


@pytest.mark.parametrize(("name", "ids"), [
    ("messages.status-delivered-to-bsuid.json", (BSUID, PARENT)),
    ("messages.status-sent-phone-and-bsuid.json", (PHONE, BSUID)),
])
def test_a_status_links_the_recipients_ids_and_opens_no_window(world, name, ids):
    counts = post(world, name)
    assert counts["people_linked"] == 1 and "window_opened" not in counts
    assert decision(ids[0]) == "DENIED_WINDOW_CLOSED"
    assert decision(ids[0], "template") == "ALLOWED_NEW_RECIPIENT"
    assert check(ids[1], "template")["decision"] == "ALLOWED_ALREADY_COUNTED"


def test_a_failed_status_to_a_phone_links_nothing(world):
    counts = post(world, "messages.status-failed-to-phone.json")
    assert "people_linked" not in counts and counts["status_failed"] == 1


def test_a_person_counted_under_two_ids_before_the_link_gets_one_slot_back(world):
    assert decision(PHONE, "template") == decision(BSUID, "template") == "ALLOWED_NEW_RECIPIENT"
    assert check(PHONE, "template", dry_run=True)["used"] == 2
    counts = post(world, "messages.status-sent-phone-and-bsuid.json")
    assert counts["slots_given_back"] == 1
    assert check(BSUID, "template")["used"] == 1
    merges = [h for h in world.history() if h["type"] == "PERSON_MERGED"]
    assert len(merges) == 1 and merges[0]["document"]["slots_given_back"] == 1
    assert post(world, "messages.status-sent-phone-and-bsuid.json").get("slots_given_back") is None  # again: none


def test_after_a_number_change_the_old_phone_finds_neither_slot_nor_window(world):
    assert decision(PHONE, "template") == "ALLOWED_NEW_RECIPIENT"  # counted under the old phone
    post(world, "messages.inbound-with-bsuid.json")  # a window under phone and BSUID, linked
    counts = post(world, "messages.system-user-changed-number.json")
    assert counts["system_user_changed_number"] == 1 and counts["ids_retired"] == 2
    assert "window_opened" not in counts  # a system message opens no window
    for old in (PHONE, BSUID):
        assert decision(old) == "DENIED_WINDOW_CLOSED"
    for new in (NEW_PHONE, NEW_BSUID_OF_NUMBER):
        assert decision(new) == "ALLOWED_SERVICE_WINDOW"
    world.stack.clock.advance(86400 + 1)  # the window is over; the count (24 h after the send, in buckets) not
    assert check(NEW_BSUID_OF_NUMBER, "template")["decision"] == "ALLOWED_ALREADY_COUNTED"
    answer = check(PHONE, "template")  # a recycled number is a new person
    assert (answer["decision"], answer["used"]) == ("ALLOWED_NEW_RECIPIENT", 2)


def test_after_a_bsuid_change_the_new_bsuid_finds_the_persons_slot(world):
    post(world, "messages.inbound-with-bsuid.json")
    world.stack.clock.advance(86400 + 60)
    assert decision(BSUID, "template") == "ALLOWED_NEW_RECIPIENT"
    counts = post(world, "messages.system-user-changed-user-id.json")
    assert counts["system_user_changed_user_id"] == 1
    assert check(NEW_BSUID, "template")["decision"] == "ALLOWED_ALREADY_COUNTED"
    assert check(PHONE, "template")["decision"] == "ALLOWED_ALREADY_COUNTED"
    answer = check(BSUID, "template")
    assert (answer["decision"], answer["used"]) == ("ALLOWED_NEW_RECIPIENT", 2)


def test_a_late_message_from_before_a_number_change_opens_nothing_a_recycled_number_inherits(world):
    now = int(world.stack.clock())
    counts = post(world, "messages.system-user-changed-number.json", at=now - 300)
    assert counts["ids_retired"] == 2
    counts = post(world, "messages.inbound-with-bsuid.json", at=now - 600)  # sent before the change, late
    assert "window_opened" not in counts and "people_linked" not in counts
    for old in (PHONE, BSUID):
        assert decision(old) == "DENIED_WINDOW_CLOSED"  # no window for whoever has that number next
    assert check(NEW_PHONE, "template")["decision"] == "ALLOWED_NEW_RECIPIENT"
    answer = check(PHONE, "template")  # not the changed user's id again: counted apart
    assert (answer["decision"], answer["used"]) == ("ALLOWED_NEW_RECIPIENT", 2)


def test_a_message_after_a_number_change_under_the_old_phone_is_its_next_user(world):
    now = int(world.stack.clock())
    post(world, "messages.system-user-changed-number.json", at=now - 300)
    envelope = json.loads(redated("messages.inbound-with-bsuid.json", now))
    value = envelope["entry"][0]["changes"][0]["value"]
    value["messages"][0]["from_user_id"] = value["contacts"][0]["user_id"] = NEXT_USER
    counts = post_body(world, json.dumps(envelope).encode())
    assert counts["window_opened"] == 2 and counts["people_linked"] == 1
    assert decision(PHONE) == decision(NEXT_USER) == "ALLOWED_SERVICE_WINDOW"
    assert decision(NEW_PHONE) == "DENIED_WINDOW_CLOSED"  # the changed user is someone else


def test_a_marketing_cooldown_follows_the_person_to_the_new_number_and_leaves_the_old_one(world):
    # Given a person linked under phone and BSUID, refused a marketing send with 131049 (kept under the
    # person's key, the old phone)
    post(world, "messages.inbound-with-bsuid.json")
    assert post(world, "messages.status-failed-to-phone.json")["cooldown_started"] == 1
    assert check(BSUID, "template", category="marketing")["decision"] == "DENIED_RECIPIENT_COOLDOWN"
    # When the user changes number: the cooldown moves with them, as the window and the count do
    counts = post(world, "messages.system-user-changed-number.json")
    assert counts["ids_retired"] == 2 and counts["cooldown_moved"] == 1
    for new in (NEW_PHONE, NEW_BSUID_OF_NUMBER):
        answer = check(new, "template", category="marketing")
        assert (answer["decision"], answer["retry_after_seconds"]) == ("DENIED_RECIPIENT_COOLDOWN", 86400)
        assert check(new, "template", category="utility", dry_run=True)["allowed"] is True
    # Whoever has the old phone next is not cooled (nor under the retired BSUID)
    assert check(PHONE, "template", category="marketing")["decision"] == "ALLOWED_NEW_RECIPIENT"
    assert check(BSUID, "template", category="marketing", dry_run=True)["allowed"] is True
    # Meta's retry of the change moves nothing again; the cooldown still ends 24 h after the refusal
    assert "cooldown_moved" not in post(world, "messages.system-user-changed-number.json")
    world.stack.clock.advance(86400)
    assert check(NEW_PHONE, "template", category="marketing")["allowed"] is True


def test_metas_retry_after_a_fault_at_the_cooldown_move_moves_it_and_never_takes_the_next_users(world, monkeypatch):
    from numberguard.store.refusals import RefusalStore

    post(world, "messages.inbound-with-bsuid.json")
    post(world, "messages.status-failed-to-phone.json")  # 131049: the person's cooldown under the old phone
    # Given the move meets a throttle once, after the change's links were written
    now = change_throttled_once(world, monkeypatch, RefusalStore, "move_cooldowns")
    # When Meta retries it: the change is stored already, and the cooldown moves all the same
    counts = post(world, "messages.system-user-changed-number.json", at=now)
    assert counts["system_change_outdated"] == 1 and counts["cooldown_moved"] == 1
    assert check(NEW_PHONE, "template", category="marketing")["decision"] == "DENIED_RECIPIENT_COOLDOWN"
    assert check(PHONE, "template", category="marketing", dry_run=True)["allowed"] is True
    # Then the old phone's next user is refused a marketing message; another late retry of the change
    # leaves that cooldown where it is (it began after the change: not the changed user's)
    world.stack.clock.advance(60)
    post(world, "messages.status-failed-to-phone.json")
    assert "cooldown_moved" not in post(world, "messages.system-user-changed-number.json", at=now)
    assert check(PHONE, "template", category="marketing")["decision"] == "DENIED_RECIPIENT_COOLDOWN"


def test_metas_retry_after_a_fault_at_the_window_move_moves_it_and_never_takes_the_next_users(world, monkeypatch):
    from numberguard.store.windows import WindowStore

    post(world, "messages.inbound-with-bsuid.json")  # the person's window under the old phone and BSUID
    # Given the window move meets a throttle once, after the change's links were written
    now = change_throttled_once(world, monkeypatch, WindowStore, "move")
    # When Meta retries it: the change is stored already, and the window moves all the same
    counts = post(world, "messages.system-user-changed-number.json", at=now)
    assert counts["system_change_outdated"] == 1 and counts["window_moved"] == 1
    assert decision(NEW_PHONE) == "ALLOWED_SERVICE_WINDOW"
    assert decision(PHONE) == decision(BSUID) == "DENIED_WINDOW_CLOSED"  # whoever has the old phone next
    # Then another retry moves nothing again (the retired ids keep no window)
    assert "window_moved" not in post(world, "messages.system-user-changed-number.json", at=now)
    assert decision(NEW_PHONE) == "ALLOWED_SERVICE_WINDOW"
    assert decision(PHONE) == "DENIED_WINDOW_CLOSED"


def change_throttled_once(world, monkeypatch, store: type, method: str) -> int:
    """The number change POSTed while `store.method` meets one throttle (after the change's links were
    written): the POST is answered for Meta to retry. Returns the change's time."""
    from botocore.exceptions import ClientError

    real, faults = getattr(store, method), []

    def throttled_once(self, *args, **kwargs):
        if not faults:
            faults.append(1)
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "BatchGetItem")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(store, method, throttled_once)
    now = int(world.stack.clock())
    answer = world.invoke(signed_post(redated("messages.system-user-changed-number.json", now)))
    assert answer["statusCode"] != 200  # Meta retries
    return now
