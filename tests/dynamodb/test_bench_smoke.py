"""The bench's code paths at toy sizes, so `make bench` cannot rot. No time is asserted here: the
figures at these sizes mean nothing; what must hold is what the bench reports as behaviour."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.dynamodb


def toy_sizes():
    from bench.context import Sizes

    return Sizes(warmup=1, records=[40, 80], scaling_checks=2, naive_checks=1, kind_checks=1, threads=[3],
                 throughput_checks=24, raw_updates=12, batch=20, webhook_updates=12, webhook_posts=6,
                 import_runs=1, numbers=60, due=4, sync_wabas=2, sync_numbers=20, sync_templates=20)


@pytest.fixture(scope="module")
def bench_run(dynamodb_local, tmp_path_factory):
    from numberguard import wiring

    from bench import cli, report
    from bench.context import Context

    ctx = Context(dynamodb_local, toy_sizes(), quick=True, layer_size_method="venv", verbose=False)
    try:
        sections = cli.run(list(cli.SECTIONS), ctx)
    finally:
        wiring.reset()
    out = tmp_path_factory.mktemp("bench")
    result = {"machine": report.machine(), "run": {"started_at": "toy", "quick": True,
                                                     "sections": list(cli.SECTIONS), "seconds": 0.0}}
    report.write(result, sections, out)
    return {s.key: s for s in sections}, out


def test_every_section_runs_and_the_results_are_written(bench_run):
    # Given the bench run at toy sizes on DynamoDB Local
    sections, out = bench_run
    # Then every section reported (measured, or not available with its reason)
    assert list(sections) == ["scaling", "throughput", "batch", "webhook", "coldstart", "evaluator", "templates",
                              "meta_sync", "people", "pair_rate"]
    for s in sections.values():
        assert s.rows or (not s.available and s.reason), s.key
    # and latest.json / latest.md hold the machine facts and every section
    saved = json.loads((out / "latest.json").read_text())
    assert saved["machine"]["cores"] and saved["machine"]["python"]
    assert set(saved["sections"]) == set(sections)
    text = (out / "latest.md").read_text()
    assert "## Goals" in text and "1. Scaling" in text


def test_calls_per_check_stay_the_same_as_records_grow_and_the_naive_peer_reads_more(bench_run):
    sections, _ = bench_run
    scaling = sections["scaling"]
    calls = {m["records"]: m["numberguard_new"]["calls_per_check"] for m in scaling.data["sizes"]}
    assert len(set(calls.values())) == 1, calls
    assert scaling.goals[0].met is True


def test_no_over_admission_under_threads(bench_run):
    sections, _ = bench_run
    for m in sections["throughput"].data["runs"]:
        assert m["over_admissions"] == 0, m
        assert m["admitted_unique"] <= m["limit"]
        assert m["counter_used"] >= m["admitted_unique"]  # the counter may count too many, never too few


def test_batch_and_evaluator_answer_in_full(bench_run):
    sections, _ = bench_run
    assert sections["batch"].rows[1]["calls"] < sections["batch"].rows[0]["calls"]
    evaluator = sections["evaluator"]
    assert evaluator.goals[0].met is True, evaluator.goals[0].measured


def test_unknown_section_is_a_clear_error(capsys):
    from bench.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--only", "scaling,warp"])
    assert exc.value.code == 2
    assert "unknown section(s) warp" in capsys.readouterr().err


def test_people_are_counted_once_through_either_id(bench_run):
    people = bench_run[0]["people"]
    assert people.data["race"]["over_admitted"] == 0
    assert all(goal.met for goal in people.goals), people.goals


def test_the_meta_sync_reads_numbers_and_templates_and_writes_nothing_when_nothing_changed(bench_run):
    sync = bench_run[0]["meta_sync"]
    changed, unchanged = sync.rows[1], sync.rows[-1]
    wabas = sync.data["wabas"]
    # a page of numbers and one of templates per WABA, and its node: no per-number read
    assert changed["Graph calls"] == unchanged["Graph calls"] == 3 * wabas
    # 5 %: one number's quality and one template's pause per WABA
    assert changed["changes"] == 2 * wabas and changed["writes"] > 0
    assert unchanged["changes"] == 0 and unchanged["writes"] == 0


def test_the_pair_rate_guard_costs_one_call_per_allowed_check_and_never_admits_past_the_burst(bench_run):
    sections, _ = bench_run
    pair = sections["pair_rate"]
    off, on = pair.data["guard"]["off"], pair.data["guard"]["on"]
    assert (off["new recipient"]["calls_max"], off["repeat, same bucket"]["calls_max"]) == (3, 1)
    assert on["new recipient"]["calls_per_check"] == off["new recipient"]["calls_per_check"] + 1
    assert pair.data["race"]["allowed"] == 45
