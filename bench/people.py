"""Section: recipients are people. Calls and latency per check for phone-only, BSUID-only and linked
traffic as the stored records grow, and the over-admission count when 16 threads check the same people
through either of their two linked ids at once.

Per size `n`: n people counted under their phone number, each linked by Meta to a BSUID (2n link items),
as after a day of 2026 traffic. Then, on a fixed clock: new phone numbers and new BSUIDs nobody linked
(the cost of today's traffic, and of username users), repeats of the linked people by BSUID (their count
lives under the phone) and new linked people checked by BSUID.
"""

from __future__ import annotations

import random
import threading
import time

from bench.context import Context
from bench.harness import (
    PHONE_NUMBER_ID,
    WABA_ID,
    FixedClock,
    Meter,
    World,
    batch_write,
    dynamodb_client,
    run_lanes,
    series,
)
from bench.report import Goal, Section

SCOPE = f"number#{PHONE_NUMBER_ID}"
LIMIT = "9000000"
RACE_LIMIT, RACE_PEOPLE, RACE_THREADS = 100, 300, 16


def phone(i: int) -> str:
    return f"1650{i:07d}"


def bsuid(i: int) -> str:
    return f"US.{9_000_000_000 + i}"


def check(r: str) -> dict:
    return {"phone_number_id": PHONE_NUMBER_ID, "recipient": r, "message": "template"}


def seed(world: World, people: int, linked_from: int, now: int) -> float:
    """`people` counted under their phone in the current bucket, and links for people [0, linked_from + people)."""
    from numberguard.domain.people import link_space
    from numberguard.store import keys
    from numberguard.store.items import RECORD_TTL_SECONDS

    window, space = world.settings.window, link_space(None, WABA_ID)
    bucket = window.bucket_of(now)

    def counted(i: int) -> dict:
        return {**keys.counted_key(SCOPE, phone(i)), "counted_bucket": {"N": str(bucket)},
                "counted_until": {"N": str(window.frees_at(bucket))},
                "expires_at": {"N": str(now + RECORD_TTL_SECONDS)}, "phone_number_id": {"S": PHONE_NUMBER_ID}}

    def link(j: int) -> dict:
        i, which = divmod(j, 2)
        ids = sorted((phone(i), bsuid(i)))
        return {**keys.link_key(space, ids[which]), "person": {"S": phone(i)}, "ids": {"SS": ids},
                "rev": {"N": "1"}}

    seconds = batch_write(world.endpoint, world.settings.recipients_table, counted, people)
    seconds += batch_write(world.endpoint, world.settings.recipients_table, link, 2 * (linked_from + people))
    world.admin.update_item(
        TableName=world.settings.limits_table, Key=keys.scope_key(SCOPE),
        UpdateExpression="SET used = :n, buckets = :b",
        ExpressionAttributeValues={":n": {"N": str(people)}, ":b": {"M": {str(bucket): {"N": str(people)}}}})
    return seconds




def measure_size(ctx: Context, size: int) -> dict:
    n = ctx.sizes.kind_checks
    now = int(time.time()) // 600 * 600 + 300  # mid-bucket: nothing folds during the run
    with World(ctx.endpoint) as world:
        world.register(tier=LIMIT, now=now)
        seconds = seed(world, size, n, now)
        ctx.say(f"people: {size:,} linked people seeded in {seconds:.1f} s")
        client = dynamodb_client(ctx.endpoint)
        meter = Meter()
        meter.attach(client)
        checker = world.checker(client, FixedClock(now))
        for i in range(ctx.sizes.warmup):
            checker.handle(check(phone(8_000_000 + i)))
        base = 5_000_000
        def kind(recipients: list[str], expected: str) -> dict:
            return series(meter, checker, [check(r) for r in recipients], expected, "people")

        kinds = {
            "phone only, new": kind([phone(base + i) for i in range(n)], "ALLOWED_NEW_RECIPIENT"),
            "phone only, repeat": kind([phone(base + i) for i in range(n)], "ALLOWED_ALREADY_COUNTED"),
            "BSUID only, new": kind([f"BR.{base + i}" for i in range(n)], "ALLOWED_NEW_RECIPIENT"),
            "linked, repeat by BSUID": kind([bsuid(i) for i in range(n)], "ALLOWED_ALREADY_COUNTED"),
            "linked, repeat by phone": kind([phone(i) for i in range(n)], "ALLOWED_ALREADY_COUNTED"),
            "linked, new by BSUID": kind([bsuid(size + i) for i in range(n)], "ALLOWED_NEW_RECIPIENT"),
        }
        meter.detach()
    return {"records": size, "seed_seconds": round(seconds, 1), "kinds": kinds}


def race(ctx: Context) -> dict:
    """16 threads check the same 300 linked people, each through a random one of their ids; limit 100."""
    now = int(time.time()) // 600 * 600 + 300
    with World(ctx.endpoint) as world:
        world.register(tier=str(RACE_LIMIT), now=now)
        seed(world, 0, RACE_PEOPLE, now)
        answers: list[tuple[int, str]] = []
        # Every thread checks every person (toy sizes: 20 each, still twice the limit's worth of people)
        per_thread = RACE_PEOPLE if ctx.sizes.kind_checks >= 10 else 20
        lock = threading.Lock()
        start = threading.Barrier(RACE_THREADS)

        def lane(n: int) -> None:
            checker = world.checker(dynamodb_client(ctx.endpoint), FixedClock(now))
            rng = random.Random(n)
            order = rng.sample(range(RACE_PEOPLE), per_thread)
            start.wait()
            for i in order:
                answer = checker.handle(check(rng.choice((phone(i), bsuid(i)))))
                with lock:
                    answers.append((i, answer["decision"]))

        seconds = run_lanes(lane, [(n,) for n in range(RACE_THREADS)])
    admitted = {i for i, d in answers if d in ("ALLOWED_NEW_RECIPIENT", "ALLOWED_ALREADY_COUNTED")}
    return {"checks": len(answers), "admitted_people": len(admitted), "limit": RACE_LIMIT,
            "over_admitted": max(0, len(admitted) - RACE_LIMIT), "seconds": round(seconds, 1)}


COLUMNS = ["records", "kind", "calls", "calls max", "p50 ms", "p99 ms"]


def run(ctx: Context) -> Section:
    section = Section("people", "Recipients are people: calls and p50 per check by id kind", COLUMNS)
    results = [measure_size(ctx, size) for size in ctx.sizes.records]
    for m in results:
        for kind, s in m["kinds"].items():
            section.rows.append({"records": m["records"], "kind": kind, "calls": s["calls_per_check"],
                                 "calls max": s["calls_max"], "p50 ms": s["p50_ms"], "p99 ms": s["p99_ms"]})
    raced = race(ctx)
    section.data = {"sizes": results, "race": raced}
    flat = all(len({m["kinds"][k]["calls_per_check"] for m in results}) == 1 for k in results[0]["kinds"])
    first = results[0]["kinds"]
    phone_same = (first["phone only, new"]["calls_max"], first["phone only, repeat"]["calls_max"]) == (3, 1)
    bsuid_same = first["BSUID only, new"]["calls_max"] == first["phone only, new"]["calls_max"]
    linked_more = max(s["calls_max"] for k, s in first.items() if k.startswith("linked")) - 3 <= 1 and \
        first["linked, repeat by BSUID"]["calls_max"] <= first["phone only, repeat"]["calls_max"] + 1
    section.goals += [
        Goal("phone-only traffic keeps today's calls (3 new, 1 repeat in the same bucket)",
             f"{first['phone only, new']['calls_per_check']} new, {first['phone only, repeat']['calls_per_check']} "
             "repeat", phone_same),
        Goal("an unlinked BSUID costs what a phone number costs", f"{first['BSUID only, new']['calls_per_check']} "
             "calls per new BSUID", bsuid_same),
        Goal("a linked person costs at most one call more", ", ".join(
            f"{k}: {s['calls_per_check']}" for k, s in first.items() if k.startswith("linked")), linked_more),
        Goal(f"calls per check flat from {results[0]['records']:,} to {results[-1]['records']:,} records",
             "identical" if flat else "different", flat),
        Goal("never over-admit: 16 threads, 300 people by either of two linked ids, limit 100",
             f"{raced['admitted_people']} admitted, {raced['over_admitted']} over ({raced['checks']} checks)",
             raced["over_admitted"] == 0 and raced["admitted_people"] == RACE_LIMIT),
    ]
    section.headline = (
        f"phone-only {first['phone only, new']['calls_per_check']} calls per new check, BSUID-only "
        f"{first['BSUID only, new']['calls_per_check']}, a linked person by BSUID "
        f"{first['linked, repeat by BSUID']['calls_per_check']} (repeat) / "
        f"{first['linked, new by BSUID']['calls_per_check']} (new); "
        f"{raced['over_admitted']} over-admitted of {raced['limit']}.")
    section.notes.append("Seeded people are linked under the WABA (no portfolio registered); their count lives under "
                         "the phone number. Link items are read in the check's BatchGetItem; a linked person's other "
                         "ids in one more.")
    return section
