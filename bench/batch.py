"""Section 3: recipients per second of one 1000-recipient batch against 1000 single checks.

Both on a fresh number with room to spare, new recipients, one thread, the same checker: the
singles one after another, then the batch (three batches of fresh recipients; the median counts).
"""

from __future__ import annotations

import statistics
import time

from bench.context import Context
from bench.harness import PHONE_NUMBER_ID, FixedClock, Meter, World, dynamodb_client, ratio
from bench.report import Goal, Section

ROUNDS = 3


def run(ctx: Context) -> Section:
    size = ctx.sizes.batch
    meter = Meter()
    section = Section("batch", f"3. Batch: one {size}-recipient batch vs {size} single checks",
                      ["form", "recipients", "seconds", "recipients/s", "calls", "calls/recipient", "x"])
    now = int(time.time()) // 600 * 600 + 300
    with World(ctx.endpoint) as world:
        world.register(tier="9000000", now=now)
        client = dynamodb_client(ctx.endpoint)
        meter.attach(client)
        checker = world.checker(client, FixedClock(now))
        for i in range(ctx.sizes.warmup):
            checker.handle({"phone_number_id": PHONE_NUMBER_ID, "recipient": f"1652{i:07d}", "message": "template"})

        with meter.measure() as singles:
            began = time.perf_counter()
            for i in range(size):
                answer = checker.handle({"phone_number_id": PHONE_NUMBER_ID, "recipient": f"1653{i:07d}",
                                         "message": "template"})
                if answer["decision"] != "ALLOWED_NEW_RECIPIENT":
                    raise RuntimeError(f"batch: unexpected single answer {answer}")
            single_s = time.perf_counter() - began

        batch_s, batch_calls = [], []
        for k in range(ROUNDS):
            payload = {"phone_number_id": PHONE_NUMBER_ID, "message": "template",
                       "recipients": [f"165{4 + k}{i:07d}" for i in range(size)]}
            with meter.measure() as tally:
                began = time.perf_counter()
                answer = checker.handle(payload)
                batch_s.append(time.perf_counter() - began)
            if answer.get("allowed_count") != size:
                raise RuntimeError(f"batch: {answer.get('allowed_count')} of {size} allowed: {answer.get('error')}")
            batch_calls.append(tally.total_calls)
        meter.detach()
    one_batch = statistics.median(batch_s)
    single_rate, batch_rate = size / single_s, size / one_batch
    section.rows = [
        {"form": "single checks", "recipients": size, "seconds": round(single_s, 2),
         "recipients/s": round(single_rate, 1), "calls": singles.total_calls,
         "calls/recipient": round(singles.total_calls / size, 3), "x": 1.0},
        {"form": "one batch (median of 3)", "recipients": size, "seconds": round(one_batch, 3),
         "recipients/s": round(batch_rate, 1), "calls": int(statistics.median(batch_calls)),
         "calls/recipient": round(statistics.median(batch_calls) / size, 3), "x": ratio(batch_rate, single_rate, 1)},
    ]
    section.data = {"single_seconds": single_s, "batch_seconds": batch_s, "batch_calls": batch_calls,
                    "single_calls": dict(singles.calls)}
    times = ratio(batch_rate, single_rate, 1)
    section.headline = (f"one batch: {batch_rate:,.0f} recipients/s; single checks: {single_rate:,.0f} recipients/s "
                        f"({times}x).")
    section.goals.append(Goal("batch ≥ 10x the recipients per second of single checks", f"{times}x",
                              (times or 0) >= 10))
    return section
