"""Given the scenarios in events/scenarios, when `numberguard simulate` runs them (the real intake, limit
check and evaluator on a fake clock, on moto), then the 7-day Flagged outcomes of the evaluator issue hold:
quality back by day 3 keeps the tier; Low through day 7 lowers TIER_10K to TIER_1K and the check uses 1,000;
a portfolio Low for 10 days is never lowered."""

from __future__ import annotations

import json

import pytest

from numberguard_ops.cli import main
from tests.conftest import EVENTS

SCENARIOS = EVENTS / "scenarios"
PNID = "106540352242922"


_RUNS: dict[str, tuple[int, dict]] = {}


def simulate(capsys, name: str) -> tuple[int, dict]:
    """Each scenario runs once for the module (a simulated week takes a few seconds)."""
    if name not in _RUNS:
        code = main(["simulate", str(SCENARIOS / name), "--json"])
        _RUNS[name] = code, json.loads(capsys.readouterr().out)
    return _RUNS[name]


def types(result: dict) -> list[str]:
    return [row["document"]["type"] for row in result["timeline"] if row["kind"] == "notification"]


def test_flagged_then_medium_by_day_3_keeps_the_tier(capsys):
    code, result = simulate(capsys, "flagged-recovers.json")
    assert code == 0, result["failures"]
    assert result["final"][PNID] | {"used": None} == {"status": "CONNECTED", "quality": "YELLOW", "tier": "TIER_10K",
                                                      "limit": 10_000, "used": None}
    checks = [row["answer"] for row in result["timeline"] if row["kind"] == "check"]
    assert checks[0]["status"] == "FLAGGED" and checks[0]["allowed"] is True  # Flagged still sends, tier unchanged
    assert checks[-1]["limit"] == 10_000
    assert "LIMIT_CHANGED" not in types(result)


def test_low_through_day_7_lowers_to_tier_1k_and_checks_use_1000(capsys):
    code, result = simulate(capsys, "flagged-downgrades.json")
    assert code == 0, result["failures"]
    assert (result["final"][PNID]["tier"], result["final"][PNID]["limit"]) == ("TIER_1K", 1000)
    outcome = next(row for row in result["timeline"]
                   if row["kind"] == "notification" and row["document"]["type"] == "FLAG_OUTCOME")
    assert "lowered one tier" in outcome["document"]["to"]
    assert outcome["at"] - result["start"] == 7 * 86400  # on day 7, not later
    campaign = next(row for row in result["timeline"] if row["kind"] == "sends" and row["at"] > outcome["at"])
    assert campaign["allowed"] == 1000 and campaign["decisions"]["DENIED_LIMIT_REACHED"] == 200
    assert types(result).count("FLAG_OUTCOME") == 1 and types(result).count("LIMIT_CHANGED") == 1


def test_portfolio_low_for_10_days_is_never_lowered(capsys):
    code, result = simulate(capsys, "portfolio-red-10-days.json")
    assert code == 0, result["failures"]
    for state in result["final"].values():
        assert (state["tier"], state["limit"]) == ("TIER_10K", 10_000)
    assert not {"LIMIT_CHANGED", "FLAG_OUTCOME"} & set(types(result))


def test_the_text_timeline_names_statuses_limits_denials_and_notifications(capsys):
    from numberguard_ops.simulate import Result, timeline_lines

    _, result = simulate(capsys, "flagged-downgrades.json")
    rows = [type("Row", (), row) for row in result["timeline"]]
    out = "\n".join(timeline_lines(Result(result["scenario"], result["start"], rows, result["final"], [])))
    assert "day 7 09:00" in out and "FLAG_OUTCOME" in out and "DENIED_LIMIT_REACHED" in out
    assert "TIER_1K limit 1,000" in out and "as expected" in out


def test_an_expectation_that_does_not_hold_exits_1(tmp_path, capsys):
    scenario = json.loads((SCENARIOS / "flagged-downgrades.json").read_text())
    scenario["expect"] = {PNID: {"tier": "TIER_10K"}}
    scenario["steps"], scenario["until"] = scenario["steps"][:1], "7d1h"
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps(scenario))
    assert main(["simulate", str(path)]) == 1
    assert "NOT AS EXPECTED: 106540352242922 tier is 'TIER_1K', expected 'TIER_10K'" in capsys.readouterr().out


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "is not JSON"),
    ('{"numbers": []}', "non-empty \"numbers\" list"),
    ('{"numbers": [{"phone_number_id": "1", "waba_id": "2", "display_phone_number": "+15550783881", '
     '"tier": "TIER_3Q"}]}', "tier"),
    ('{"numbers": [{"phone_number_id": "1", "waba_id": "2", "display_phone_number": "+15550783881", '
     '"tier": "TIER_1K"}], "steps": [{"at": "soon", "quality": "FLAGGED"}]}', "steps[0].at"),
])
def test_a_bad_scenario_is_one_clear_line(tmp_path, capsys, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert main(["simulate", str(path)]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err


def test_template_pauses_are_denied_until_they_end_and_pacing_until_meta_approves(capsys):
    # Given Meta's first pause (3 h), a second (6 h), a disable until reinstatement, and a pacing pause
    code, result = simulate(capsys, "template-pauses.json")
    # Then every check's expectation in the scenario holds (decision and retry time at each step)
    assert code == 0, result["failures"]
    checks = [(row["at"] - result["start"], row["answer"]) for row in result["timeline"] if row["kind"] == "check"]
    by_offset = {offset: (a["decision"], a["retry_after_seconds"]) for offset, a in checks}
    hour = 3600
    assert by_offset[hour + 60] == ("DENIED_TEMPLATE_PAUSED", 3 * hour - 60)  # the end read from Meta's words
    assert by_offset[4 * hour] == ("ALLOWED_NEW_RECIPIENT", None)  # 3 h later, no webhook
    assert by_offset[24 * hour] == ("DENIED_TEMPLATE_PAUSED", 6 * hour)  # a second pause: 6 h
    assert by_offset[30 * hour] == ("ALLOWED_NEW_RECIPIENT", None)
    assert by_offset[5 * 24 * hour] == ("DENIED_TEMPLATE_DISABLED", None)  # 3 days later, still disabled
    assert by_offset[4 * 24 * hour] == ("DENIED_TEMPLATE_PAUSED", None)  # pacing: no end known, a day on
    assert by_offset[6 * 24 * hour + 60] == ("ALLOWED_NEW_RECIPIENT", None)  # reinstated
    notices = [row["document"] for row in result["timeline"] if row["kind"] == "notification"]
    assert [(d["template_name"], d["to"]) for d in notices] == [
        ("order_confirmation", "PAUSED (first pause) until 2026-11-02T13:00:00Z"),
        ("order_confirmation", "APPROVED"),  # the evaluator: the pause ended, no webhook says so
        ("order_confirmation", "quality RED"),
        ("order_confirmation", "PAUSED (second pause) until 2026-11-03T15:00:00Z"),
        ("order_confirmation", "APPROVED"),
        ("order_confirmation", "DISABLED"),
        ("flash_sale", "PAUSED (pacing, until Meta unpauses it)"),
        ("flash_sale", "APPROVED"),
        ("order_confirmation", "APPROVED"),
    ]


def test_a_campaign_held_by_131048_resumes_when_the_hold_ends_and_131049_cools_marketing_only(capsys):
    # Given a campaign that meets 131048 twice (the second inside the hold), then a 131049 for one person
    code, result = simulate(capsys, "refusals.json")
    # Then every check's expectation holds, the held hour's sends were all denied, the campaign resumed
    assert code == 0, result["failures"]
    sends = [row["decisions"] for row in result["timeline"] if row["kind"] == "sends"]
    assert sends == [{"ALLOWED_NEW_RECIPIENT": 300}, {"DENIED_SPAM_RATE_LIMITED": 200}, {"ALLOWED_NEW_RECIPIENT": 300}]
    # And the hold was announced once (the second refusal extended it), CRITICAL
    notices = [(row["document"]["type"], row["document"]["severity"], row["document"]["until"])
               for row in result["timeline"] if row["kind"] == "notification"]
    assert notices == [("NUMBER_ON_HOLD", "CRITICAL", "2026-11-02T11:00:00Z")]
