"""Given every body of the platform's reference folder, signed with the app secret, when it is POSTed
through the real handler as API Gateway delivers it, then it is archived unchanged and the state,
history and counts are what the body says."""

from __future__ import annotations

import json

import pytest

from tests.webhooks import reference_body, reference_names, signed_post

PNID, WABA, DISPLAY = "106540352242922", "102290129340398", "15550783881"
META_BODIES = [n for n in reference_names() if not n.startswith("eum-")]


@pytest.fixture(autouse=True)
def fixed_clock(moto_stack, monkeypatch):
    """The handlers read the stack's clock (2027-01-15): every sample's time is in the past, whatever the machine's."""
    from numberguard import wiring

    monkeypatch.setattr(wiring, "clock", moto_stack.clock)


def post(world, name: str, **kwargs) -> dict:
    answer = world.invoke(signed_post(reference_body(name), **kwargs))
    assert answer["statusCode"] == 200, answer
    return json.loads(answer["body"])


def test_every_reference_body_is_covered_below():
    assert sorted(EXPECTED) == META_BODIES


def window_until(world, recipient: str) -> int | None:
    from numberguard.store import codec, keys

    item = world.stack.client.get_item(TableName=world.stack.settings.recipients_table,
                                       Key=keys.window_key(PNID, recipient)).get("Item")
    return codec.n(item, "service_window_until") if item else None


def history_of(world, pnid: str = PNID) -> list[tuple]:
    return sorted((h["type"], h["document"]["from"], h["document"]["to"]) for h in world.history(pnid))


def _quality_current(world, answer):
    assert world.number()["tier"] == "TIER_UNLIMITED" and world.number()["limit"] is None
    assert history_of(world) == [("LIMIT_CHANGED", "TIER_10K (10000)", "TIER_UNLIMITED (unlimited)")]


def _quality_flagged(world, answer):
    number = world.number()
    assert (number["quality"], number["flagged_at"]) == ("RED", 1719835200)
    assert number["tier"] == "TIER_10K"  # FLAGGED repeats the limit; it does not change it
    assert history_of(world) == [("QUALITY_CHANGED", "GREEN", "RED"), ("STATUS_CHANGED", "CONNECTED", "FLAGGED")]


def _quality_downgrade(world, answer):
    number = world.number()
    assert (number["tier"], number["limit"], number["flagged_at"]) == ("TIER_1K", 1000, None)
    assert history_of(world) == [("LIMIT_CHANGED", "TIER_10K (10000)", "TIER_1K (1000)")]


def _quality_onboarding(world, answer):
    # 16505551111 is not registered: the update is kept, not dropped, and applied at registration.
    assert answer["counts"] == {"kept_for_unregistered_number": 1}
    out = world.stack.register(phone_number_id="106540352249999", display_phone_number="+1 650 555 1111",
                               tier="TIER_1K")
    assert (out["tier"], out["limit"]) == ("TIER_250", 250)
    assert history_of(world, "106540352249999") == [("LIMIT_CHANGED", "TIER_1K (1000)", "TIER_250 (250)")]


def _capability(world, answer):
    # Per-number policy: max_daily_conversations_per_business is the portfolio's, not this number's.
    assert answer["counts"] == {"capability_without_limit_for_policy": 1}
    assert world.number()["tier"] == "TIER_10K"


def _ban_reinstate(world, answer):
    assert world.number()["banned"] is False and history_of(world) == []  # reinstating an active WABA: no change
    assert answer["counts"] == {"ban_reinstate": 1}


def _restriction(world, answer):
    from numberguard.store import codec

    item = world.stack.client.get_item(TableName=world.stack.settings.numbers_table,
                                       Key={"pk": {"S": PNID}})["Item"]
    assert codec.int_map(item, "restrictions") == {"RESTRICTED_BIZ_INITIATED_MESSAGING": 1641330498,
                                                   "RESTRICTED_ADD_PHONE_NUMBER_ACTION": 1641330498}
    assert history_of(world) == [("ACCOUNT_RESTRICTED", "none",
                                  "RESTRICTED_ADD_PHONE_NUMBER_ACTION, RESTRICTED_BIZ_INITIATED_MESSAGING")]


def _violation(world, answer):
    waba = world.stack.client.get_item(TableName=world.stack.settings.numbers_table,
                                       Key={"pk": {"S": f"WABA#{WABA}"}})["Item"]
    assert waba["last_notice"] == {"S": "ACCOUNT_VIOLATION"}
    assert answer["counts"] == {"account_account_violation": 1}


def _alerts(world, answer):
    waba = world.stack.client.get_item(TableName=world.stack.settings.numbers_table,
                                       Key={"pk": {"S": f"WABA#{WABA}"}})["Item"]
    assert waba["last_alert"] == {"S": "INCREASED_CAPABILITIES_ELIGIBILITY_DEFERRED"}
    assert waba["last_alert_severity"] == {"S": "WARNING"}


def _template(count: str, told: bool):
    # The template's own state, history and notices: tests/integration/test_webhook_templates.py
    def check(world, answer):
        expected = {count: 1} if told else {count: 1, "template_history_only": 1}
        assert answer["counts"] == expected and history_of(world) == []
    return check


def _name_update(world, answer):
    assert answer["counts"] == {"name_update": 1} and history_of(world) == []


def _errors(world, answer):
    assert answer["counts"] == {"error_130429": 1} and history_of(world) == []


def _inbound(world, answer):
    assert window_until(world, "16505551234") == 1749416383 + 86400
    assert answer["counts"] == {"window_opened": 1}


def _status_failed(world, answer):
    # No biz_opaque_callback_data: no slot to give back; the error code is counted. Its 24 h cooldown ended
    # long before it arrives here (a live one: tests/integration/test_webhook_refusals.py).
    assert answer["counts"] == {"error_131049": 1, "status_failed": 1, "cooldown_over_on_arrival": 1}


def _status_failed_132015(world, answer):
    # No biz_opaque_callback_data: no check named its template; nothing to give back or mark.
    assert answer["counts"] == {"error_132015": 1, "status_failed": 1}


def _status_sent(world, answer):
    assert answer["counts"] == {"status_sent": 1} and window_until(world, "16505551234") is None


def _inbound_username_only(world, answer):
    # No phone: the window opens under the BSUID and the parent BSUID, which are linked.
    assert window_until(world, "US.13491208655302741918") == 1749416383 + 86400
    assert window_until(world, "US.ENT.11815799212886844830") == 1749416383 + 86400
    assert answer["counts"] == {"window_opened": 2, "people_linked": 1}


def _inbound_with_bsuid(world, answer):
    assert window_until(world, "16505551234") == window_until(world, "US.13491208655302741918") == 1789465272 + 86400
    assert answer["counts"] == {"window_opened": 2, "people_linked": 1}


def _contact_shared(world, answer):
    assert window_until(world, "US.13491208655302741918") == 1789632760 + 86400
    assert window_until(world, "16505551234") is None  # the shared number is linked, not a sender
    assert answer["counts"] == {"window_opened": 1, "people_linked": 1}


def _status_to_bsuid(world, answer):
    assert answer["counts"] == {"status_delivered": 1, "people_linked": 1}


def _status_phone_and_bsuid(world, answer):
    assert answer["counts"] == {"status_sent": 1, "people_linked": 1}


def _status_failed_to_phone(world, answer):
    assert answer["counts"] == {"error_131049": 1, "status_failed": 1, "cooldown_over_on_arrival": 1}


def _status_failed_undeliverable(world, answer):
    # Its reference names no slot here (no check took one): nothing to give back; the error code is counted.
    assert answer["counts"] == {"error_131026": 1, "status_failed": 1, "slot_not_released": 1}


def _status_failed_code(code: int, *more: str):
    # No biz_opaque_callback_data: no slot to give back; the error code is counted. A hold this old is over
    # when it arrives (a live one: tests/integration/test_webhook_refusals.py).
    def check(world, answer):
        expected = {f"error_{code}": 1, "status_failed": 1} | dict.fromkeys(more, 1)
        assert answer["counts"] == expected and history_of(world) == []
    return check


def _status_failed_pair_rate(world, answer):
    # 131056: the error is counted and the pair (this number, 16505551234) backs off 4^0 s from the status's time.
    assert answer["counts"] == {"error_131056": 1, "status_failed": 1, "pair_rate_backoff": 1}
    assert history_of(world) == []
    pair = build_parts(world).pair_store.get(PNID, "16505551234")
    assert pair.backoff_until(1789567516) == 1789567517


def build_parts(world):
    from numberguard.wiring import build

    return build(world.stack.settings)


def _changed_number(world, answer):
    assert answer["counts"] == {"system_user_changed_number": 1, "ids_retired": 2}
    assert window_until(world, "16505554321") is None  # a system message opens no window


def _changed_user_id(world, answer):
    assert answer["counts"] == {"system_user_changed_user_id": 1, "ids_retired": 1}


EXPECTED = {
    "account_alerts.json": _alerts,
    "account_update.disabled-reinstate.json": _ban_reinstate,
    "account_update.restriction.json": _restriction,
    "account_update.violation.json": _violation,
    "business_capability_update.json": _capability,
    "message_template_quality_update.json": _template("template_quality", told=False),
    "message_template_quality_update.red.json": _template("template_quality", told=True),
    "message_template_status_update.approved.json": _template("template_approved", told=False),
    "message_template_status_update.disabled.json": _template("template_disabled", told=True),
    "message_template_status_update.paused-first.json": _template("template_paused", told=True),
    "message_template_status_update.paused-second.json": _template("template_paused", told=True),
    "message_template_status_update.reinstated.json": _template("template_reinstated", told=True),
    "message_template_status_update.rejected.json": _template("template_rejected", told=False),
    "message_template_status_update.unpaused.json": _template("template_approved", told=True),
    "messages.status-failed-132015-paused-template.json": _status_failed_132015,
    "messages.contacts-shared-on-request.json": _contact_shared,
    "messages.errors-rate-limit.json": _errors,
    "messages.inbound-text.json": _inbound,
    "messages.inbound-username-only.json": _inbound_username_only,
    "messages.inbound-with-bsuid.json": _inbound_with_bsuid,
    "messages.status-delivered-to-bsuid.json": _status_to_bsuid,
    "messages.status-failed-to-phone.json": _status_failed_to_phone,
    "messages.status-failed-131026-undeliverable.json": _status_failed_undeliverable,
    "messages.status-failed-131048-spam-rate.json": _status_failed_code(131048, "hold_over_on_arrival"),
    "messages.status-failed-131056-pair-rate.json": _status_failed_pair_rate,
    "messages.status-failed.json": _status_failed,
    "messages.status-sent.json": _status_sent,
    "messages.status-sent-phone-and-bsuid.json": _status_phone_and_bsuid,
    "messages.system-user-changed-number.json": _changed_number,
    "messages.system-user-changed-user-id.json": _changed_user_id,
    "phone_number_name_update.json": _name_update,
    "phone_number_quality_update.current.json": _quality_current,
    "phone_number_quality_update.legacy-downgrade.json": _quality_downgrade,
    "phone_number_quality_update.legacy-flagged.json": _quality_flagged,
    "phone_number_quality_update.onboarding.json": _quality_onboarding,
}


@pytest.mark.parametrize("name", META_BODIES)
def test_reference_body_posted_signed_is_archived_and_applied(webhook_world, name):
    # Given a registered number of the body's WABA (10K tier, quality High)
    webhook_world.stack.register(tier="TIER_10K", quality="GREEN")
    # When Meta POSTs the body, signed
    answer = post(webhook_world, name)
    # Then the exact bytes are archived under their hash, and the state is what the body says
    keys = webhook_world.archived()
    assert len(keys) == 1 and webhook_world.archived_body(keys[0]) == reference_body(name)
    EXPECTED[name](webhook_world, answer)
    # And every recorded change was published
    assert all(h["published"] for h in webhook_world.history())


def test_a_retried_body_changes_nothing_and_announces_nothing_again(webhook_world):
    webhook_world.stack.register(tier="TIER_10K", quality="GREEN")
    first = post(webhook_world, "phone_number_quality_update.legacy-flagged.json")
    again = post(webhook_world, "phone_number_quality_update.legacy-flagged.json")
    assert first["changes"] == 2 and again["changes"] == 0
    assert len(webhook_world.history()) == 2 and len(webhook_world.archived()) == 1


def test_the_quality_bodies_in_any_order_end_in_the_newest_state(webhook_world):
    # Given the three quality bodies delivered newest first (Meta does not order its deliveries)
    webhook_world.stack.register(tier="TIER_10K", quality="GREEN")
    for name in ("phone_number_quality_update.current.json", "phone_number_quality_update.legacy-downgrade.json",
                 "phone_number_quality_update.legacy-flagged.json"):
        post(webhook_world, name)
    # Then the newest event's limit stands and the older ones are history, each announced once
    number = webhook_world.number()
    assert (number["tier"], number["quality"], number["flagged_at"]) == ("TIER_UNLIMITED", "RED", None)
    assert [(h["type"], h["document"]["to"]) for h in sorted(webhook_world.history(), key=lambda h: h["sk"])] == [
        ("QUALITY_CHANGED", "RED"), ("STATUS_CHANGED", "FLAGGED"),  # 2024-07-01
        ("LIMIT_CHANGED", "TIER_1K (1000)"), ("STATUS_CHANGED", "CONNECTED"),  # 2024-07-08, the day-7 outcome
        ("LIMIT_CHANGED", "TIER_UNLIMITED (unlimited)"),  # 2025-05-28
    ]


def test_a_base64_body_from_api_gateway_is_verified_on_its_decoded_bytes(webhook_world):
    webhook_world.stack.register(tier="TIER_10K")
    post(webhook_world, "messages.inbound-text.json", base64_body=True)
    assert window_until(webhook_world, "16505551234") == 1749416383 + 86400


def test_capability_limit_applies_to_the_portfolio_under_the_portfolio_policy(webhook_world, monkeypatch):
    from numberguard import wiring

    monkeypatch.setenv("LIMIT_POLICY", "portfolio")
    webhook_world.stack.env = {**webhook_world.stack.env, "LIMIT_POLICY": "portfolio"}
    wiring.reset()
    webhook_world.stack.register(phone_number_id="106540352240001", waba_id="524126980791429",
                                 display_phone_number="15550001111", portfolio_id="506914307656634", tier="TIER_250")
    post(webhook_world, "business_capability_update.json")
    number = webhook_world.number("106540352240001")
    assert (number["tier"], number["limit"]) == ("TIER_2K", 2000)
    assert history_of(webhook_world, "106540352240001") == [("LIMIT_CHANGED", "TIER_250 (250)", "TIER_2K (2000)")]
