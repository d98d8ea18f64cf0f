"""Given a number Meta held (131048), whose WABA it blocked (368) and whose marketing messages to two people
it refused (131049), when the operator runs `numberguard usage`, `numbers show` and `report` (on moto, the
machine's clock), then each shows the hold with its end, the block with Meta's code, and the cooldown count."""

from __future__ import annotations

import json
import time

import pytest
from numberguard.domain.events import MessageStatus

from numberguard_ops.cli import main

PNID, WABA = "106540352242922", "102290129340398"


@pytest.fixture
def world(moto_stack, monkeypatch):
    from numberguard.wiring import build

    from numberguard_ops.fakes import FakePublisher

    monkeypatch.setattr("numberguard.usecases.intake.PARALLEL_WRITES", 1)  # moto: one write at a time
    moto_stack.register(tier="TIER_1K")
    now = int(time.time())

    def failed(i: int, code: int, recipient: str) -> MessageStatus:
        return MessageStatus(WABA, now - 60 + i, f"wamid.cli{i}#failed", PNID, recipient, f"wamid.cli{i}", "failed",
                             None, (code,))

    intake = build(moto_stack.settings, publisher=FakePublisher()).intake
    intake.apply([failed(1, 131048, "16505550001"), failed(2, 368, "16505550002"),
                  failed(3, 131049, "16505550003"), failed(4, 131049, "16505550004")])
    return now


def test_usage_shows_the_hold_the_block_and_the_cooldowns(world, capsys):
    assert main(["usage", PNID, "--aws"]) == 0
    out = capsys.readouterr().out
    assert "on hold       until" in out and "131048" in out
    assert "blocked       by Meta's 368" in out
    assert "cooldowns     2 people refused a marketing message (131049)" in out
    assert main(["usage", PNID, "--aws", "--json"]) == 0
    view = json.loads(capsys.readouterr().out)
    assert (view["hold_until"], view["block_code"], view["cooldowns_24h"]) == (world - 59 + 3600, 368, 2)


def test_numbers_show_and_the_report_show_them_too(world, capsys, tmp_path):
    assert main(["numbers", "show", PNID, "--aws"]) == 0
    out = capsys.readouterr().out
    assert "on hold       until" in out and "blocked       BLOCKED 368 since" in out and "cooldowns     2 " in out
    assert main(["report", "--aws", "--html", str(tmp_path / "report.html")]) == 0
    page = (tmp_path / "report.html").read_text()
    assert "Meta refused sends: on hold until" in page and "blocked by Meta&#x27;s 368" in page
    assert "2 in marketing cooldown" in page
