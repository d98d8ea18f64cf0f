"""Section 2: checks per second with 1, 4 and 16 threads, against the raw conditional UpdateItem rate.

For each thread count, in a fresh world: half the raw UpdateItems, the checks, the other half of
the raw UpdateItems (so drift from a shared machine weighs on both alike). The raw baseline is one
conditional `UpdateItem` on one hot item (the shape of the check's reserve), through a client
configured as the layer's. The checks are a deterministic mix of new recipients (75 %) and repeats
(25 %) against a limit the run reaches near its end; over-admissions are recomputed from the
answers: unique recipients admitted (new or already counted) beyond the limit.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench.context import Context
from bench.harness import PHONE_NUMBER_ID, Meter, Tally, World, dynamodb_client, latency_ms, ratio
from bench.report import Goal, Section

COUNTED = frozenset({"ALLOWED_NEW_RECIPIENT", "ALLOWED_ALREADY_COUNTED"})
RAW_KEY = {"scope": {"S": "raw#bench"}}


def workload(checks: int, seed: int) -> tuple[list[str], int, int]:
    """(recipients in order, distinct recipients, limit): 75 % first sends, 25 % repeats; limit = 90 % of distinct."""
    rng = random.Random(seed)
    order: list[str] = []
    distinct: list[str] = []
    for _ in range(checks):
        if distinct and rng.random() < 0.25:
            order.append(rng.choice(distinct))
        else:
            distinct.append(f"1651{len(distinct):07d}")
            order.append(distinct[-1])
    return order, len(distinct), max(1, int(0.9 * len(distinct)))


def raw_updates(client, table: str, count: int, threads: int) -> tuple[int, float]:
    """`count` conditional UpdateItems on one item from `threads` threads; (done, seconds)."""
    def lane(n: int) -> int:
        for _ in range(n):
            client.update_item(
                TableName=table, Key=RAW_KEY,
                UpdateExpression="SET used = if_not_exists(used, :zero) + :one",
                ConditionExpression="attribute_not_exists(used) OR used < :max",
                ExpressionAttributeValues={":zero": {"N": "0"}, ":one": {"N": "1"}, ":max": {"N": "1000000000"}},
            )
        return n

    shares = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]
    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        done = sum(pool.map(lane, shares))
    return done, time.perf_counter() - began


def measure(ctx: Context, threads: int) -> dict:
    sizes = ctx.sizes
    order, distinct, limit = workload(sizes.throughput_checks, seed=threads)
    meter = Meter()
    with World(ctx.endpoint) as world:
        world.register(tier=str(limit), now=int(time.time()))
        client = dynamodb_client(ctx.endpoint)
        checker = world.checker(client, time.time)
        raw_client = dynamodb_client(ctx.endpoint, "raw")
        # Warm-up of both paths (connection pools, DynamoDB Local's JIT), on another number's scope.
        raw_updates(raw_client, world.settings.limits_table, 50, threads)

        half = sizes.raw_updates // 2
        raw1, raw1_s = raw_updates(raw_client, world.settings.limits_table, half, threads)

        meter.attach(client)
        lock = threading.Lock()
        answers: list[tuple[str, str]] = []
        tallies: list[Tally] = []
        seconds: list[float] = []

        def lane(share: list[str]) -> None:
            mine = []
            for r in share:
                with meter.measure() as tally:
                    t0 = time.perf_counter()
                    answer = checker.handle({"phone_number_id": PHONE_NUMBER_ID, "recipient": r,
                                             "message": "template"})
                    mine.append((r, answer["decision"], tally, time.perf_counter() - t0))
            with lock:
                for r, decision, tally, s in mine:
                    answers.append((r, decision))
                    tallies.append(tally)
                    seconds.append(s)

        shares = [order[i::threads] for i in range(threads)]
        began = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lane, shares))
        checks_s = time.perf_counter() - began
        meter.detach()

        raw2, raw2_s = raw_updates(raw_client, world.settings.limits_table, sizes.raw_updates - half, threads)
        from numberguard.store import keys

        counter = world.admin.get_item(TableName=world.settings.limits_table,
                                       Key=keys.scope_key(f"number#{PHONE_NUMBER_ID}"), ConsistentRead=True)["Item"]
    admitted = {r for r, d in answers if d in COUNTED}
    decisions: dict[str, int] = {}
    for _, d in answers:
        decisions[d] = decisions.get(d, 0) + 1
    calls = statistics.mean(t.total_calls for t in tallies)
    raw_rate = (raw1 + raw2) / (raw1_s + raw2_s)
    rate = len(answers) / checks_s
    expected = raw_rate / calls
    return {
        "threads": threads,
        "checks": len(answers),
        "checks_per_s": round(rate, 1),
        "raw_updates_per_s": round(raw_rate, 1),
        "calls_per_check": round(calls, 2),
        "raw_per_calls": round(expected, 1),
        "ratio": ratio(rate, expected),
        "latency": latency_ms(seconds),
        "limit": limit,
        "distinct_recipients": distinct,
        "admitted_unique": len(admitted),
        "over_admissions": max(0, len(admitted) - limit),
        "counter_used": int(counter["used"]["N"]),
        "decisions": dict(sorted(decisions.items())),
    }


COLUMNS = ["threads", "checks/s", "calls/check", "raw UpdateItem/s", "raw ÷ calls", "ratio", "p50 ms", "p99 ms",
           "limit", "admitted", "over-admitted", "counter used", "denied"]


def run(ctx: Context) -> Section:
    section = Section("throughput", "2. Throughput: checks per second vs raw conditional UpdateItem", COLUMNS)
    results = []
    for threads in ctx.sizes.threads:
        m = measure(ctx, threads)
        results.append(m)
        section.rows.append({
            "threads": threads, "checks/s": m["checks_per_s"], "calls/check": m["calls_per_check"],
            "raw UpdateItem/s": m["raw_updates_per_s"], "raw ÷ calls": m["raw_per_calls"], "ratio": m["ratio"],
            "p50 ms": m["latency"]["p50_ms"], "p99 ms": m["latency"]["p99_ms"], "limit": m["limit"],
            "admitted": m["admitted_unique"], "over-admitted": m["over_admissions"],
            "counter used": m["counter_used"], "denied": m["decisions"].get("DENIED_LIMIT_REACHED", 0),
        })
        ctx.say(f"throughput: {threads} threads: {m['checks_per_s']} checks/s, raw {m['raw_updates_per_s']}/s, "
                f"ratio {m['ratio']}, over-admitted {m['over_admissions']}")
    section.data = {"runs": results}
    top = results[-1]
    over = sum(m["over_admissions"] for m in results)
    section.headline = (
        f"{top['threads']} threads: {top['checks_per_s']} checks/s = {top['ratio']} x (raw UpdateItem "
        f"{top['raw_updates_per_s']}/s ÷ {top['calls_per_check']} calls per check); over-admissions in all runs: "
        f"{over}.")
    section.goals.append(Goal(
        f"checks/s with {top['threads']} threads ≥ 80 % of raw UpdateItem rate ÷ calls per check",
        f"{round(100 * (top['ratio'] or 0))} %", (top["ratio"] or 0) >= 0.8))
    section.goals.append(Goal("over-admissions counted (must be 0)",
                              ", ".join(f"{m['threads']} threads: {m['over_admissions']}" for m in results),
                              over == 0))
    others = sorted({d for m in results for d in m["decisions"]} - COUNTED - {"DENIED_LIMIT_REACHED"})
    if others:
        section.notes.append("other decisions: " + "; ".join(
            f"{m['threads']} threads: " + ", ".join(f"{d} {m['decisions'].get(d, 0)}" for d in others)
            for m in results))
    section.notes.append(
        "Mix per thread count: 75 % first sends, 25 % repeats, limit 90 % of the distinct recipients, so the "
        "run reaches the limit near its end. 'counter used' above 'admitted' is a slot taken by a check that "
        "lost a race and could not give it back (counts too many, never too few; it heals when its bucket "
        "folds). Client and DynamoDB Local share the machine's cores: both rates are bounded by that.")
    return section
