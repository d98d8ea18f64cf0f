"""Given a person Meta linked under a phone number and a BSUID, when the operator runs `numberguard check`
with either id (the CLI's payload handed to the real check handler on moto), then the CLI accepts the BSUID
and shows the person counted once; a malformed BSUID is refused naming `recipient`."""

from __future__ import annotations

import pytest

from numberguard_ops.cli import check as cli_check
from numberguard_ops.cli import main

PNID, WABA = "106540352242922", "102290129340398"
PHONE, BSUID = "16505551234", "US.13491208655302741918"


@pytest.fixture
def world(moto_stack, monkeypatch):
    from collections import Counter

    from limit_check.app import lambda_handler
    from numberguard import wiring
    from numberguard.usecases.people import People, Shown
    from numberguard.wiring import build

    from tests.conftest import LambdaContext

    monkeypatch.setattr(wiring, "clock", moto_stack.clock)
    moto_stack.register(tier="TIER_1K")
    parts = build(moto_stack.settings, clock=moto_stack.clock)
    People(parts.people_store, parts.stores.numbers, parts.stores.windows, moto_stack.clock).link(
        [Shown(PNID, WABA, (PHONE, BSUID), int(moto_stack.clock()))], Counter())
    monkeypatch.setattr(cli_check, "invoke", lambda client, name, payload, where, hint: lambda_handler(
        payload, LambdaContext()))
    return moto_stack


def test_the_cli_checks_a_person_by_bsuid_and_phone(world, capsys):
    assert main(["check", "--phone-number-id", PNID, "--recipient", BSUID]) == 0
    assert "ALLOWED_NEW_RECIPIENT" in capsys.readouterr().out
    assert main(["check", "--phone-number-id", PNID, "--recipient", PHONE]) == 0
    out = capsys.readouterr().out
    assert "ALLOWED_ALREADY_COUNTED" in out and "1 of 1,000 used" in out


def test_the_cli_shows_why_a_bsuid_is_refused(world, capsys):
    assert main(["check", "--phone-number-id", PNID, "--recipient", "us.13491208655302741918"]) != 0
    out = capsys.readouterr().out
    assert "INVALID_REQUEST" in out and "the country code must be in capitals" in out
