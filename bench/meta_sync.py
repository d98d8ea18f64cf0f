"""Section 8: the Meta sync over WABAs x numbers against local mode's Meta double (over HTTP).

Set-up: the double serves `wabas` WABAs of `numbers` numbers and `templates` approved templates each
(one business portfolio per WABA, TIER_1K), every number listed with every field of DESIGN §5b (no
per-number reads). Then, counted:
1. the imports (`{"waba_id": ...}` once per WABA): every number registered, every template recorded;
2. one scheduled run after Meta changed 5 % of the numbers' quality and paused 5 % of the templates:
   the changes applied and announced;
3. a second scheduled run with nothing changed: reads only, no DynamoDB write.
Graph calls are the double's own count; DynamoDB calls are metered on the layer's client and
pynamodb's (registration); notifications go to the in-memory FakePublisher.
"""

from __future__ import annotations

import time

from bench.context import Context
from bench.harness import FixedClock, Meter, World
from bench.report import Section

WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")


def _counter(ctx: Context, double, meter: Meter, rows: list[dict], numbers: int):
    """Runs one step under the meter and adds its row: Graph calls, DynamoDB calls and writes, seconds."""

    def counted(name: str, action) -> dict:
        calls_before = double.state.calls
        with meter.measure(every_thread=True) as tally:
            began = time.perf_counter()
            result = action()
            seconds = time.perf_counter() - began
        writes = sum(tally.calls.get(op, 0) for op in WRITES)
        rows.append({"run": name, "numbers": numbers, "Graph calls": double.state.calls - calls_before,
                     "DynamoDB calls": tally.total_calls, "writes": writes,
                     "ops": ", ".join(f"{op} {n}" for op, n in sorted(tally.calls.items())),
                     "changes": result["changes"], "seconds": round(seconds, 2)})
        ctx.say(f"meta_sync: {name}: {rows[-1]['DynamoDB calls']} DynamoDB calls, {seconds:.1f} s")
        return result

    return counted


def run(ctx: Context) -> Section:
    from numberguard.graph.client import GraphClient
    from numberguard.wiring import build

    from numberguard_ops.fakes import FakePublisher
    from numberguard_ops.meta_double import DEFAULT_TOKEN, MetaDouble

    wabas, per_waba, templates = ctx.sizes.sync_wabas, ctx.sizes.sync_numbers, ctx.sizes.sync_templates
    section = Section("meta_sync", f"8. Meta sync: {wabas} WABAs x {per_waba} numbers and {templates} templates "
                                   "against the Meta double",
                      ["run", "numbers", "Graph calls", "DynamoDB calls", "writes", "ops", "changes", "seconds"])
    double, clock, meter = MetaDouble(port=0), FixedClock(int(time.time())), Meter()
    double.start()
    try:
        double.state.wabas.clear()
        ids = double.state.seed(wabas, per_waba, templates=templates)
        with World(ctx.endpoint) as world:
            publisher = FakePublisher()
            graph = GraphClient(double.endpoint, "v24.0", lambda: DEFAULT_TOKEN)
            parts = build(world.settings, clock=clock, publisher=publisher, graph=graph)
            sync = parts.meta_sync
            meter.attach(parts.client)
            # Registration writes through pynamodb: its clients too, each once
            clients = {id(c): c for c in (m._get_connection().connection.client
                                          for m in (parts.registry.Number, parts.registry.Limit))}
            for client in clients.values():
                if client is not parts.client:
                    meter.attach(client)
            rows: list[dict] = []
            counted = _counter(ctx, double, meter, rows, wabas * per_waba)

            def imports() -> dict:
                done = [sync.run(w).as_dict() for w in ids]
                return {"changes": sum(len(d["changes"]) for d in done),
                        "registered": sum(len(d["registered"]) for d in done)}

            imported = counted(f"imports ({wabas} x numbers import --waba-id)", imports)
            clock.advance(900)
            for waba in double.state.wabas.values():
                for number in waba.numbers[: max(1, per_waba // 20)]:
                    number.quality = "YELLOW"
                for template in waba.templates[: max(1, templates // 20) if templates else 0]:
                    template.status = "PAUSED"

            counted("scheduled run, 5 % of the numbers and templates changed",
                    lambda: {"changes": len(sync.run().changes)})
            clock.advance(900)
            counted("scheduled run, nothing changed", lambda: {"changes": len(sync.run().changes)})
            meter.detach()
    finally:
        double.stop()
    section.rows = rows
    section.data = {"registered": imported["registered"], "notifications": len(publisher.sent),
                    "wabas": wabas, "numbers": per_waba, "templates": templates}
    section.headline = _headline(wabas, per_waba, templates, rows)
    return section


def _headline(wabas: int, per_waba: int, templates: int, rows: list[dict]) -> str:
    changed, last = rows[1], rows[-1]
    return (f"{wabas} WABAs x {per_waba} numbers and {templates} templates: a scheduled run with 5 % changed reads "
            f"them in {changed['Graph calls']} Graph calls (a page of up to 100 numbers or templates per call, no "
            f"per-number read), {changed['DynamoDB calls']} DynamoDB calls ({changed['writes']} writes) in "
            f"{changed['seconds']} s; with nothing changed {last['Graph calls']} Graph calls, "
            f"{last['DynamoDB calls']} DynamoDB calls and {last['writes']} writes in {last['seconds']} s.")
