"""Section: the pair rate (PairRateGuard). DynamoDB calls and latency per check with the guard off and on,
and the guard's burst under 16 threads.

Per setting, on a fixed clock: new recipients, repeats of them (already counted, same bucket), one person
sent to 40 times in a row (inside its burst of 45), replies in a service window, and a batch of 100 new
recipients. With the guard off the pair items ride in the check's BatchGetItem (no call more); with it on,
every allowed check takes a token with one conditional UpdateItem (a batch: one per allowed person,
16 side by side). Then 16 threads send 200 checks to one person with the guard on: exactly 45 may pass.
"""

from __future__ import annotations

import threading
import time

from bench.context import Context
from bench.harness import PHONE_NUMBER_ID, FixedClock, Meter, World, dynamodb_client, run_lanes, series
from bench.report import Goal, Section

LIMIT = "9000000"
BURST, RACE_CHECKS, RACE_THREADS = 45, 200, 16


def check(r: str, message: str = "template") -> dict:
    return {"phone_number_id": PHONE_NUMBER_ID, "recipient": r, "message": message}




def measure(ctx: Context, guard: str) -> dict:
    n = max(ctx.sizes.kind_checks, 3)
    now = int(time.time()) // 600 * 600 + 300  # mid-bucket: nothing folds during the run
    with World(ctx.endpoint, PAIR_RATE_GUARD=guard) as world:
        world.register(tier=LIMIT, now=now)
        client = dynamodb_client(ctx.endpoint)
        checker = world.checker(client, FixedClock(now))
        for i in range(ctx.sizes.warmup):
            checker.handle(check(f"1659{i:07d}"))
        from numberguard.store import keys

        window_people = [f"1658{i:07d}" for i in range(n)]
        for r in window_people:
            world.admin.put_item(TableName=world.settings.recipients_table, Item={
                **keys.window_key(PHONE_NUMBER_ID, r), "service_window_until": {"N": str(now + 3600)}})
        meter = Meter()
        meter.attach(client)
        news = [f"1650{i:07d}" for i in range(n)]
        batch = [f"1657{i:07d}" for i in range(min(100, ctx.sizes.batch))]
        def kind(payloads: list[dict], expected: str, every_thread: bool = False) -> dict:
            return series(meter, checker, payloads, expected, "pair_rate", every_thread)

        kinds = {
            "new recipient": kind([check(r) for r in news], "ALLOWED_NEW_RECIPIENT"),
            "repeat, same bucket": kind([check(r) for r in news], "ALLOWED_ALREADY_COUNTED"),
            "one person, 40 in a row": kind([check(news[0])] * 40, "ALLOWED_ALREADY_COUNTED"),
            "reply in a service window": kind([check(r, "session") for r in window_people], "ALLOWED_SERVICE_WINDOW"),
            f"batch of {len(batch)} new": kind([{
                "phone_number_id": PHONE_NUMBER_ID, "recipients": batch, "message": "template"}],
                "ALLOWED_NEW_RECIPIENT", every_thread=True),
        }
        meter.detach()
    return kinds


def race(ctx: Context) -> dict:
    """16 threads, 200 checks to one person, guard on, the clock held still."""
    now = int(time.time()) // 600 * 600 + 300
    with World(ctx.endpoint, PAIR_RATE_GUARD="on") as world:
        world.register(tier=LIMIT, now=now)
        decisions: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(RACE_THREADS)
        shares = [RACE_CHECKS // RACE_THREADS + (1 if i < RACE_CHECKS % RACE_THREADS else 0)
                  for i in range(RACE_THREADS)]

        def lane(count: int) -> None:
            checker = world.checker(dynamodb_client(ctx.endpoint), FixedClock(now))
            start.wait()
            for _ in range(count):
                answer = checker.handle(check("16505551234"))
                with lock:
                    decisions.append(answer["decision"])

        seconds = run_lanes(lane, [(c,) for c in shares])
    allowed = sum(1 for d in decisions if d.startswith("ALLOWED_"))
    return {"checks": len(decisions), "allowed": allowed, "pair_rate_denied": decisions.count("DENIED_PAIR_RATE"),
            "seconds": round(seconds, 1)}


COLUMNS = ["guard", "kind", "calls", "calls max", "p50 ms", "p99 ms"]


def run(ctx: Context) -> Section:
    section = Section("pair_rate", "Pair rate: calls and p50 per check with PairRateGuard off and on", COLUMNS)
    results = {guard: measure(ctx, guard) for guard in ("off", "on")}
    for guard, kinds in results.items():
        for kind, s in kinds.items():
            section.rows.append({"guard": guard, "kind": kind, "calls": s["calls_per_check"],
                                 "calls max": s["calls_max"], "p50 ms": s["p50_ms"], "p99 ms": s["p99_ms"]})
    raced = race(ctx)
    section.data = {"guard": results, "race": raced}
    off, on = results["off"], results["on"]
    singles = [k for k in off if not k.startswith("batch")]
    off_today = (off["new recipient"]["calls_max"], off["repeat, same bucket"]["calls_max"]) == (3, 1)
    one_more = all(on[k]["calls_per_check"] == off[k]["calls_per_check"] + 1 for k in singles)
    section.goals += [
        Goal("guard off: Meta's 131056 backoffs are read at no extra call (3 per new recipient, 1 per repeat)",
             f"{off['new recipient']['calls_per_check']} new, {off['repeat, same bucket']['calls_per_check']} repeat",
             off_today),
        Goal("guard on: exactly one call more per allowed check (the token's UpdateItem)",
             ", ".join(f"{k}: {off[k]['calls_per_check']} → {on[k]['calls_per_check']}" for k in singles), one_more),
        Goal("never more than the burst: 16 threads, 200 checks to one person, clock still",
             f"{raced['allowed']} allowed, {raced['pair_rate_denied']} DENIED_PAIR_RATE",
             raced["allowed"] == BURST and raced["pair_rate_denied"] == raced["checks"] - BURST),
    ]
    batch = next(k for k in off if k.startswith("batch"))
    section.headline = (
        f"guard off {off['new recipient']['calls_per_check']} calls / p50 {off['new recipient']['p50_ms']} ms per "
        f"new check, on {on['new recipient']['calls_per_check']} / {on['new recipient']['p50_ms']} ms; repeats "
        f"{off['repeat, same bucket']['calls_per_check']} → {on['repeat, same bucket']['calls_per_check']}; "
        f"{batch}: {off[batch]['calls_per_check']} → {on[batch]['calls_per_check']} calls; "
        f"{raced['allowed']} of {raced['checks']} racing checks to one person allowed.")
    section.notes.append("A pair item is read in the check's BatchGetItem beside the records (one more key per id: "
                         "a batch of 1,000 reads 4,000 keys, 40 BatchGetItems instead of 30, with or without the "
                         "guard). The guard's token is one conditional UpdateItem per allowed check; a batch takes "
                         "one per allowed person, 16 side by side.")
    return section
