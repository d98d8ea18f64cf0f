"""Given a person Meta linked under a phone number and a BSUID, refused sends to them with 131056 (pair rate)
five times in a row, when the operator runs `numberguard numbers show PNID --recipient ID` (on moto, the
machine's clock), then it prints that person's pair with the number as the check reads it: Meta's backoff
end under either id and, with PairRateGuard on, the tokens left; a person with no pair item has a full
bucket; an unknown number or a malformed id is one clear line."""

from __future__ import annotations

import json
import time

import pytest
from numberguard.domain.events import MessageStatus

from numberguard_ops.cli import main

PNID, WABA = "106540352242922", "102290129340398"
PHONE, BSUID, OTHER = "16505551234", "US.13491208655302741918", "16505559999"


@pytest.fixture
def world(moto_stack, monkeypatch):
    from numberguard.wiring import build

    from numberguard_ops.fakes import FakePublisher

    monkeypatch.setattr("numberguard.usecases.intake.PARALLEL_WRITES", 1)  # moto: one write at a time
    moto_stack.register(tier="TIER_1K")
    now = int(time.time())
    intake = build(moto_stack.settings, publisher=FakePublisher()).intake
    # Meta shows the phone and the BSUID together (one person), then refuses five sends to the BSUID in a row
    intake.apply([MessageStatus(WABA, now - 30, "wamid.pair0#sent", PNID, PHONE, "wamid.pair0", "sent",
                                recipient_user_id=BSUID, linked=(PHONE, BSUID))])
    intake.apply([MessageStatus(WABA, now - 4 + i, f"wamid.pair{i}#failed", PNID, BSUID, f"wamid.pair{i}",
                                "failed", None, (131056,)) for i in range(1, 6)])
    return now


def show(capsys, *argv: str) -> str:
    assert main(["numbers", "show", PNID, "--aws", *argv]) == 0
    return capsys.readouterr().out


def test_numbers_show_recipient_prints_metas_backoff_and_the_tokens_left(world, capsys, monkeypatch):
    monkeypatch.setenv("PAIR_RATE_GUARD", "on")
    latest = world - 4 + 5  # the fifth refusal: X = 4, so 4^4 s after it
    for asked in (PHONE, BSUID):  # either id of the person finds the backoff
        out = show(capsys, "--recipient", asked)
        assert f"pair with     {asked} (person {PHONE}: {PHONE}, {BSUID})" in out
        assert "pair backoff  until" in out and "4^4 s after its latest refusal" in out
        assert "pair tokens   0 of 45" in out or "pair tokens   1 of 45" in out  # Meta emptied the bucket
    view = json.loads(show(capsys, "--recipient", "+" + PHONE, "--json"))["pair"]
    assert (view["person_key"], view["backoff_until"], view["backoff_exponent"]) == (PHONE, latest + 256, 4)
    assert view["pair_rate_guard"] is True and view["tokens"] <= 1 and view["refusals_131056"] == 5
    # Someone the number never refused: no backoff, a full bucket
    out = show(capsys, "--recipient", OTHER)
    assert "pair backoff  none" in out and "pair tokens   45 of 45" in out


def test_with_the_guard_off_the_backoff_still_shows_and_tokens_are_not_spent(world, capsys, monkeypatch):
    monkeypatch.setenv("PAIR_RATE_GUARD", "off")
    out = show(capsys, "--recipient", BSUID)
    assert "pair backoff  until" in out and "PairRateGuard off" in out
    assert json.loads(show(capsys, "--recipient", BSUID, "--json"))["pair"]["tokens"] is None
    assert "pair with" not in show(capsys)  # without --recipient: the number alone, as before


@pytest.mark.parametrize(("argv", "names"), [
    (["numbers", "show", PNID, "--aws", "--recipient", "us.13491208655302741918"], "--recipient"),
    (["numbers", "show", PNID, "--aws", "--recipient", "not-an-id"], "--recipient"),
    (["numbers", "show", "999999999", "--aws", "--recipient", PHONE], "999999999 is not registered"),
])
def test_a_malformed_id_or_an_unknown_number_is_one_clear_line(world, capsys, argv, names):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert names in err
