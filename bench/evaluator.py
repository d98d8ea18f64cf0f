"""Section 6: one evaluator run over 10,000 registered numbers of which 100 are due.

Set-up through the real use cases: the due numbers are registered with `register`, half of them
Flagged by a quality webhook event (Intake) 7 days before the run, the other half brought above
80 % of a TIER_250 limit by batch checks; the other numbers are clones of a registered number's
items (one per WABA, own scope, nothing due). Then `Evaluator.run()` once, counted. Baseline: what
an evaluator without attention indexes would read at the least, a Scan of the numbers and limits
tables. Notifications go to the in-memory FakePublisher (the layer's Publisher interface), so
the figures are DynamoDB's alone.
"""

from __future__ import annotations

import time

from bench.context import Context
from bench.harness import FixedClock, Meter, World, batch_write, dynamodb_client, ratio
from bench.report import Goal, Section

DAY = 86_400


def pnid(i: int) -> str:
    return f"1070{i:08d}"


def waba(i: int) -> str:
    return f"2070{i:08d}"


def display(i: int) -> str:
    return f"1555{i:07d}"


def scan_all(client, table: str) -> int:
    kwargs = {"TableName": table}
    count = 0
    while True:
        page = client.scan(**kwargs)
        count += page.get("Count", 0)
        if "LastEvaluatedKey" not in page:
            return count
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def run(ctx: Context) -> Section:
    from numberguard.domain.events import QualityUpdate
    from numberguard.store import keys
    from numberguard.store.client import dynamodb_client as layer_client
    from numberguard.store.schema_names import CounterItem, NumberItem
    from numberguard.usecases.evaluator import Evaluator
    from numberguard.usecases.intake import Intake
    from numberguard.wiring import build

    from numberguard_ops.fakes import FakePublisher

    total, due = ctx.sizes.numbers, ctx.sizes.due
    flagged, busy = due // 2, due - due // 2
    section = Section("evaluator", f"6. Evaluator: one run over {total:,} numbers, {due} due",
                      ["run", "items read", "calls", "ops", "read units", "write units", "seconds", "x"])
    start = int(time.time()) // 600 * 600 + 300
    clock = FixedClock(start)
    meter = Meter()
    with World(ctx.endpoint) as world:
        publisher = FakePublisher()
        facets = build(world.settings, clock=clock, publisher=publisher).facets
        checker = world.checker(dynamodb_client(ctx.endpoint), clock)
        intake = Intake(facets, checker, world.settings)
        for i in range(due):
            world.register(pnid(i), "TIER_10K" if i < flagged else "TIER_250", now=start, waba_id=waba(i),
                           display=display(i), quality="GREEN")
        ctx.say(f"evaluator: {due} numbers registered")
        intake.apply([QualityUpdate(waba(i), start, f"bench-flag-{i}", display(i), "FLAGGED")
                       for i in range(flagged)])
        template_number = world.admin.get_item(TableName=world.settings.numbers_table,
                                               Key=keys.number_key(pnid(due - 1)), ConsistentRead=True)["Item"]
        template_limit = world.admin.get_item(TableName=world.settings.limits_table, ConsistentRead=True,
                                              Key=keys.scope_key(f"number#{pnid(due - 1)}"))["Item"]
        for name in (NumberItem.attention, NumberItem.attention_at):
            template_number.pop(name, None)
        for name in (CounterItem.attention, CounterItem.attention_at):
            template_limit.pop(name, None)

        def number(i: int) -> dict:
            return {**template_number, **keys.number_key(pnid(i)), NumberItem.waba_id: {"S": waba(i)},
                    NumberItem.display_phone_number: {"S": display(i)}, NumberItem.scope: {"S": f"number#{pnid(i)}"}}

        def limit(i: int) -> dict:
            return {**template_limit, **keys.scope_key(f"number#{pnid(i)}"), CounterItem.numbers: {"SS": [pnid(i)]}}

        ctx.say(f"evaluator: {flagged} numbers Flagged")
        others = total - due
        batch_write(ctx.endpoint, world.settings.numbers_table, lambda k: number(due + k), others)
        batch_write(ctx.endpoint, world.settings.limits_table, lambda k: limit(due + k), others)
        ctx.say(f"evaluator: {others:,} other numbers stored")
        clock.advance(7 * DAY + 600)  # the Flagged numbers' 7 days are up
        for i in range(flagged, due):
            answer = checker.handle({"phone_number_id": pnid(i), "message": "template",
                                     "recipients": [f"1656{i:03d}{k:04d}" for k in range(210)]})
            if answer.get("allowed_count") != 210:
                raise RuntimeError(f"evaluator: set-up batch not admitted: {answer.get('error') or answer['decision']}")
        ctx.say(f"evaluator: {total:,} numbers stored, {flagged} Flagged for 7 days, {busy} scopes at 84 %")
        publisher.sent.clear()

        client = layer_client(world.settings)
        meter.attach(client)
        evaluator = Evaluator(facets, world.settings, clock)
        with meter.measure(every_thread=True) as tally:
            began = time.perf_counter()
            summary = evaluator.run()
            seconds = time.perf_counter() - began
        with meter.measure(every_thread=True) as again:
            began = time.perf_counter()
            second = evaluator.run()
            again_s = time.perf_counter() - began
        with meter.measure() as scan:
            began = time.perf_counter()
            scanned = scan_all(client, world.settings.numbers_table) + scan_all(client, world.settings.limits_table)
            scan_s = time.perf_counter() - began
        meter.detach()
    counts = summary["counts"]
    read = counts.get("numbers_due", 0) + counts.get("scopes_due", 0)

    def row(name: str, items: int, t, s: float, x) -> dict:
        return {"run": name, "items read": items, "calls": t.total_calls,
                "ops": ", ".join(f"{op} {n}" for op, n in sorted(t.calls.items())),
                "read units": round(t.read_units, 1), "write units": round(t.write_units, 1),
                "seconds": round(s, 3), "x": x}

    section.rows = [
        row("evaluator run", read, tally, seconds, 1.0),
        row("re-run at once (nothing new)", second["counts"].get("numbers_due", 0)
            + second["counts"].get("scopes_due", 0), again, again_s, ratio(again_s, seconds)),
        row("baseline: Scan numbers + limits", scanned, scan, scan_s, ratio(scan_s, seconds)),
    ]
    section.data = {"summary": summary, "second_run": second, "notifications": len(publisher.sent),
                    "notification_types": sorted({n.type for n in publisher.sent})}
    section.headline = (
        f"one run: {read} due items read of {total:,} numbers, {tally.total_calls} calls "
        f"({tally.total_calls / max(read, 1):.1f} per due item), {seconds:.2f} s ({tally.call_seconds:.2f} s inside "
        f"DynamoDB calls), {len(publisher.sent)} "
        f"notifications; a full Scan alone takes {scan.total_calls} calls and {scan_s:.2f} s "
        f"({ratio(scan_s, seconds)}x the run).")
    section.goals.append(Goal(f"one run over {total:,} numbers with {due} due (cost follows the due, not the stored)",
                              f"{read} items read for {due} due, {tally.total_calls} calls, {seconds:.2f} s",
                              read == due))
    section.notes.append(f"What the run did: {counts}.")
    section.notes.append("Notifications go to an in-memory publisher (the layer's Publisher interface), not SNS: "
                         "on AWS each adds one SNS Publish call.")
    return section
