"""Section 1: calls, consumed capacity and latency per check as the stored recipient records grow.

numberguard and the naive peer each get `n` recipient records of one scope, spread over the last
24 h (numberguard: counted records over every bucket of the window, the counter item holding the
matching buckets map, as in steady state; naive: one send per recipient). Then new-recipient
checks alternate between the two on a fixed clock; numberguard's other kinds of check (repeat in
the same bucket, repeat from an older bucket, reply inside a service window) are measured too, for
docs/scaling.md's cost per million checks.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections import Counter

from bench.context import Context
from bench.harness import (
    PHONE_NUMBER_ID,
    FixedClock,
    Meter,
    Tally,
    World,
    batch_write,
    dynamodb_client,
    item_size,
    latency_ms,
    ratio,
)
from bench.naive import TABLE as NAIVE_TABLE
from bench.naive import NaivePeer, send_item
from bench.report import Goal, Section

SCOPE = f"number#{PHONE_NUMBER_ID}"
NEW_BASE = 5_000_000  # recipients checked as new: recipient(NEW_BASE + i)
LIMIT = "9000000"  # far above any size: the check never denies here


def recipient(i: int) -> str:
    return f"1650{i:07d}"


def template(r: str, message: str = "template") -> dict:
    return {"phone_number_id": PHONE_NUMBER_ID, "recipient": r, "message": message}


def seed(world: World, size: int, now: int) -> tuple[float, float]:
    """`size` counted records over every live bucket (and the counter to match); the naive peer's sends."""
    from numberguard.store import keys
    from numberguard.store.items import RECORD_TTL_SECONDS
    from numberguard.store.schema_names import CountedItem as R

    window = world.settings.window
    current = window.bucket_of(now)
    spread = 86_400 // window.bucket_seconds + 1  # every bucket still live at `now`

    def counted(i: int) -> dict:
        bucket = current - (i % spread)
        return {**keys.counted_key(SCOPE, recipient(i)), R.counted_bucket: {"N": str(bucket)},
                R.counted_until: {"N": str(window.frees_at(bucket))},
                R.expires_at: {"N": str(now + RECORD_TTL_SECONDS)}, R.phone_number_id: {"S": PHONE_NUMBER_ID}}

    ours = batch_write(world.endpoint, world.settings.recipients_table, counted, size)
    buckets = Counter(current - (i % spread) for i in range(size))
    world.admin.update_item(
        TableName=world.settings.limits_table, Key=keys.scope_key(SCOPE),
        UpdateExpression="SET used = :n, buckets = :b",
        ExpressionAttributeValues={":n": {"N": str(size)},
                                   ":b": {"M": {str(b): {"N": str(c)} for b, c in buckets.items()}}},
    )
    naive = batch_write(world.endpoint, world.table(NAIVE_TABLE["TableName"]),
                        lambda i: send_item(SCOPE, recipient(i), now - 1 - (i * 86_398) // size), size)
    return ours, naive


def _timed(meter: Meter, fn, *args) -> tuple[object, Tally, float]:
    with meter.measure() as tally:
        began = time.perf_counter()
        answer = fn(*args)
        seconds = time.perf_counter() - began
    return answer, tally, seconds


def _summary(tallies: list[Tally], seconds: list[float]) -> dict:
    calls = [t.total_calls for t in tallies]
    ops: Counter = Counter()
    for t in tallies:
        ops.update(t.calls)
    return {
        "calls_per_check": round(statistics.mean(calls), 2),
        "calls_min": min(calls), "calls_max": max(calls),
        "ops_per_check": {op: round(n / len(tallies), 2) for op, n in sorted(ops.items())},
        "read_units_per_check": round(statistics.mean(t.read_units for t in tallies), 2),
        "write_units_per_check": round(statistics.mean(t.write_units for t in tallies), 2),
        "capacity_per_check": round(statistics.mean(t.capacity for t in tallies), 2),
        "unreported_calls": sum(t.unreported for t in tallies),
        **latency_ms(seconds),
    }


def measure_size(ctx: Context, size: int) -> dict:
    sizes = ctx.sizes
    meter = Meter()
    now = int(time.time()) // 600 * 600 + 300  # mid-bucket: nothing folds during the run
    clock = FixedClock(now)
    with World(ctx.endpoint, extra_tables=[NAIVE_TABLE]) as world:
        world.register(tier=LIMIT, now=now)
        ours_s, naive_s = seed(world, size, now)
        ctx.say(f"scaling: {size:,} records seeded (numberguard {ours_s:.1f} s, naive {naive_s:.1f} s)")
        client = dynamodb_client(ctx.endpoint)
        meter.attach(client)
        checker = world.checker(client, clock)
        naive = NaivePeer(client, world.table(NAIVE_TABLE["TableName"]))
        naive_checks = max(min(5, sizes.naive_checks), sizes.naive_checks * 10_000 // size)
        naive_checks = min(naive_checks, sizes.naive_checks)
        for i in range(sizes.warmup):  # warm-up (JIT of DynamoDB Local, connection pool), not measured
            checker.handle(template(recipient(NEW_BASE - 1 - i)))
        naive.check(SCOPE, recipient(NEW_BASE - 100), int(LIMIT), now)

        ours: list[Tally] = []
        ours_t: list[float] = []
        theirs: list[Tally] = []
        theirs_t: list[float] = []
        for i in range(max(sizes.scaling_checks, naive_checks)):
            if i < sizes.scaling_checks:
                answer, tally, seconds = _timed(meter, checker.handle, template(recipient(NEW_BASE + i)))
                if answer["decision"] != "ALLOWED_NEW_RECIPIENT":
                    raise RuntimeError(f"scaling: unexpected answer {answer}")
                ours.append(tally)
                ours_t.append(seconds)
            if i < naive_checks:
                decision, tally, seconds = _timed(meter, naive.check, SCOPE, recipient(NEW_BASE + 500_000 + i),
                                                  int(LIMIT), now)
                if decision != "ALLOWED_NEW_RECIPIENT":
                    raise RuntimeError(f"scaling: naive peer answered {decision}")
                theirs.append(tally)
                theirs_t.append(seconds)

        kinds = {}
        spread = 86_400 // world.settings.window.bucket_seconds + 1
        same = [recipient(i) for i in range(0, size, spread)][: sizes.kind_checks]
        older = [recipient(i) for i in range(5, size, spread)][: sizes.kind_checks]
        windowed = [recipient(NEW_BASE + 900_000 + i) for i in range(sizes.kind_checks)]
        from numberguard.store import keys

        for r in windowed:
            world.admin.put_item(TableName=world.settings.recipients_table, Item={
                **keys.window_key(PHONE_NUMBER_ID, r), "service_window_until": {"N": str(now + 3600)},
                "expires_at": {"N": str(now + 4 * 86_400)}})
        for kind, expected, payloads in (
            ("repeat, same bucket", "ALLOWED_ALREADY_COUNTED", [template(r) for r in same]),
            ("repeat, older bucket", "ALLOWED_ALREADY_COUNTED", [template(r) for r in older]),
            ("service-window reply", "ALLOWED_SERVICE_WINDOW", [template(r, "session") for r in windowed]),
        ):
            tallies, times = [], []
            for payload in payloads:
                answer, tally, seconds = _timed(meter, checker.handle, payload)
                if answer["decision"] != expected:
                    raise RuntimeError(f"scaling: {kind}: unexpected answer {answer}")
                tallies.append(tally)
                times.append(seconds)
            kinds[kind] = _summary(tallies, times)

        counter = world.admin.get_item(TableName=world.settings.limits_table, Key=keys.scope_key(SCOPE),
                                       ConsistentRead=True)["Item"]
        record = world.admin.get_item(TableName=world.settings.recipients_table,
                                      Key=keys.counted_key(SCOPE, recipient(NEW_BASE)), ConsistentRead=True)["Item"]
        window_record = world.admin.get_item(TableName=world.settings.recipients_table,
                                             Key=keys.window_key(PHONE_NUMBER_ID, windowed[0]),
                                             ConsistentRead=True)["Item"]
        number = world.admin.get_item(TableName=world.settings.numbers_table,
                                      Key=keys.number_key(PHONE_NUMBER_ID), ConsistentRead=True)["Item"]
        meter.detach()
    return {
        "records": size,
        "seed_seconds": {"numberguard": round(ours_s, 1), "naive": round(naive_s, 1)},
        "numberguard_new": _summary(ours, ours_t),
        "naive_new": _summary(theirs, theirs_t),
        "numberguard_kinds": kinds,
        "item_bytes": {
            "counter_item": item_size(counter),
            "counter_buckets": len(counter.get("buckets", {}).get("M", {})),
            "counted_record": item_size(record),
            "window_record": item_size(window_record),
            "number_item": item_size(number),
            "naive_send": item_size(send_item(SCOPE, recipient(NEW_BASE), now)),
        },
    }


COLUMNS = ["records", "calls ng", "calls naive", "calls x", "capacity ng", "capacity naive", "capacity x",
           "p50 ms ng", "p50 ms naive", "p50 x", "p99 ms ng", "p99 ms naive", "p99 x"]


def run(ctx: Context) -> Section:
    section = Section("scaling", "1. Scaling: per check, vs the naive peer (new recipients)", COLUMNS)
    results = []
    for size in ctx.sizes.records:
        m = measure_size(ctx, size)
        results.append(m)
        ng, nv = m["numberguard_new"], m["naive_new"]
        section.rows.append({
            "records": size,
            "calls ng": ng["calls_per_check"], "calls naive": nv["calls_per_check"],
            "calls x": ratio(nv["calls_per_check"], ng["calls_per_check"]),
            "capacity ng": ng["capacity_per_check"], "capacity naive": nv["capacity_per_check"],
            "capacity x": ratio(nv["capacity_per_check"], ng["capacity_per_check"], 1),
            "p50 ms ng": ng["p50_ms"], "p50 ms naive": nv["p50_ms"], "p50 x": ratio(nv["p50_ms"], ng["p50_ms"], 1),
            "p99 ms ng": ng["p99_ms"], "p99 ms naive": nv["p99_ms"], "p99 x": ratio(nv["p99_ms"], ng["p99_ms"], 1),
        })
        ctx.say(f"scaling: {size:,} records: numberguard {ng['calls_per_check']} calls, p50 {ng['p50_ms']} ms; "
                f"naive {nv['calls_per_check']} calls, p50 {nv['p50_ms']} ms")
    section.data = {"sizes": results}
    kinds_rows = []
    for m in results:
        for kind, s in {"new recipient": m["numberguard_new"], **m["numberguard_kinds"]}.items():
            kinds_rows.append({"records": m["records"], "kind": kind, "calls": s["calls_per_check"],
                               "ops": ", ".join(f"{op} {n:g}" for op, n in s["ops_per_check"].items()),
                               "read units": s["read_units_per_check"], "write units": s["write_units_per_check"],
                               "p50 ms": s["p50_ms"], "p99 ms": s["p99_ms"]})
    section.tables.append({"title": "numberguard by kind of check (calls, capacity units and latency per check)",
                           "columns": ["records", "kind", "calls", "ops", "read units", "write units", "p50 ms",
                                       "p99 ms"],
                           "rows": kinds_rows})

    ours_calls = {m["records"]: m["numberguard_new"]["calls_per_check"] for m in results}
    every_kind = {(m["records"], k): s["calls_per_check"] for m in results for k, s in
                  {"new": m["numberguard_new"], **m["numberguard_kinds"]}.items()}
    identical = all(len({v for (size, k), v in every_kind.items() if k == kind}) == 1
                    for kind in {k for _, k in every_kind})
    cap_ratios = [row["capacity x"] for row in section.rows]
    p50_ratios = [row["p50 x"] for row in section.rows]
    grows = len(cap_ratios) > 1 and all(a < b for a, b in itertools.pairwise(cap_ratios))
    first, last = results[0], results[-1]
    section.headline = (
        f"numberguard: {ours_calls[first['records']]} calls per new-recipient check at {first['records']:,} records "
        f"and {ours_calls[last['records']]} at {last['records']:,}; the naive peer's capacity ratio goes "
        f"{' → '.join(f'{r}x' for r in cap_ratios)} and its p50 ratio {' → '.join(f'{r}x' for r in p50_ratios)}."
    )
    section.goals.append(Goal(
        f"calls per check identical at {first['records']:,} and {last['records']:,} records",
        "; ".join(f"{kind}: " + " / ".join(f"{v:g}" for (s, k), v in sorted(every_kind.items()) if k == kind)
                  for kind in ("new", "repeat, same bucket", "repeat, older bucket", "service-window reply")),
        identical))
    section.goals.append(Goal("the naive peer's ratio grows with size",
                              "capacity x " + " → ".join(f"{r}" for r in cap_ratios)
                              + "; p50 x " + " → ".join(f"{r}" for r in p50_ratios), grows))
    section.notes.append(
        "ng = numberguard. Capacity is DynamoDB's ConsumedCapacity (ReturnConsumedCapacity=TOTAL) as "
        "DynamoDB Local reports it: read units + write units per check. The naive peer reads its whole "
        "window (strongly consistent Query, 1 MB pages) and writes one send.")
    sizes_seen = results[-1]["item_bytes"]
    section.notes.append(
        f"Item sizes (AWS's sizing rules): counter item {sizes_seen['counter_item']} B with "
        f"{sizes_seen['counter_buckets']} buckets, counted record {sizes_seen['counted_record']} B, window record "
        f"{sizes_seen['window_record']} B, number item {sizes_seen['number_item']} B, naive send "
        f"{sizes_seen['naive_send']} B.")
    section.notes.append(
        f"Naive checks per size: {', '.join(str(m['naive_new']['n']) for m in results)} (fewer at large "
        "sizes: each one reads the whole window); numberguard: "
        f"{', '.join(str(m['numberguard_new']['n']) for m in results)}.")
    return section
