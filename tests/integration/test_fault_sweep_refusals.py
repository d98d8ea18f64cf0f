"""A fault at every AWS call of a webhook carrying Meta's refusals (the webhook sweep of test_fault_sweep.py,
on a body of its own): a 131048 (the number's hold and its NUMBER_ON_HOLD), a 131049 (a person's cooldown
and its history line), a 368 (the WABA's block: its facet log, the WABA's and the number's facet, the
STATUS_CHANGED notices) and a later `sent` status (the block lifted, the number's success time).

For each fault (throttling, a 500, a timeout before or after the call, a conditional write meeting its own
retry), after Meta's retry and the evaluator's next runs, the stored state and the notifications are those
of a clean run: no hold, cooldown or block half-applied, none applied twice, each notice once.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.test_fault_sweep import (
    webhook_faults,
    webhook_run,
)
from tests.webhooks import envelope

PNID, WABA, NOW = "106540352242922", "102290129340398", 1_800_000_000


def _status(i: int, state: str, at: int, recipient: str, code: int | None = None) -> dict:
    status = {"id": f"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIF{i:04d}", "status": state, "timestamp": str(at),
              "recipient_id": recipient}
    if code is not None:
        status["errors"] = [{"code": code, "title": "refused"}]
    return status


def _body() -> bytes:
    statuses = [_status(1, "failed", NOW - 300, "16505550001", 131048),
                _status(2, "failed", NOW - 290, "16505550002", 131049),
                _status(3, "failed", NOW - 280, "16505550003", 368),
                _status(4, "sent", NOW - 100, "16505550004")]
    value = {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881",
                                                           "phone_number_id": PNID}, "statuses": statuses}
    return envelope(WABA, [{"field": "messages", "value": value}])


@pytest.fixture(scope="module")
def baseline():
    return webhook_run(_body())


def test_the_baseline_holds_cools_blocks_and_lifts(baseline):
    tables = {name.rsplit("-", 1)[-1]: [json.loads(i) for i in items]
              for name, items in baseline["state"]["tables"].items()}
    number = next(i for i in tables["numbers"] if i["pk"]["S"] == PNID)
    assert int(number["hold_until"]["N"]) == NOW - 300 + 3600
    assert number["meta_block"]["S"] == "LIFTED"  # blocked by the 368, lifted by the later sent status
    assert any(i["pk"]["S"].startswith("mc#") for i in tables["recipients"])
    assert sorted(t for _, t in baseline["sent"]) == ["NUMBER_ON_HOLD", "STATUS_CHANGED", "STATUS_CHANGED"]
    print("refusal calls:", [c.action for c in baseline["calls"]])


@pytest.fixture(scope="module")
def sweep(baseline):
    return [(where, first, second, same, sent) for where, _, _, first, second, same, sent in webhook_faults(baseline)]


def test_a_fault_at_any_call_gets_a_retryable_answer_and_the_retry_succeeds(sweep):
    problems = [f"{where}: answers {first}, then {second}" for where, first, second, _, _ in sweep
                if first not in (200, 500, 503) or second != 200]
    assert not problems, "\n".join(problems)


def test_a_fault_at_any_call_leaves_no_refusal_half_applied(sweep):
    problems = [where for where, _, _, same, _ in sweep if not same]
    assert not problems, "\n".join(problems)


def test_a_fault_at_any_call_announces_each_notice_once(sweep, baseline):
    problems = [f"{where}: {dict(sent)}" for where, _, _, _, sent in sweep if sent != baseline["sent"]]
    assert not problems, "\n".join(problems)
