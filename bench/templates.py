"""Section 7: the check with and without a named template: DynamoDB calls, capacity and latency.

One number with room to spare and two templates of its WABA (approved at quality RED, paused by
Meta). For each kind of check (new recipient, repeat in the same bucket, service-window reply) the
same series runs without `template`, then naming the approved template, then an unknown one; then
checks naming the paused template (denied, nothing written). The checker has read the number once
before (a warm instance: it knows the number's WABA).
"""

from __future__ import annotations

import time

from bench.context import Context
from bench.harness import PHONE_NUMBER_ID, WABA_ID, FixedClock, Meter, World, dynamodb_client, series
from bench.report import Goal, Section

KNOWN = {"name": "order_confirmation", "language": "en_US"}
UNKNOWN = {"name": "spring_sale", "language": "en"}
PAUSED = {"name": "flash_sale", "language": "en-US"}


def _templates(world: World, now: int) -> None:
    """Meta's word on two templates, through the real intake (status and quality webhooks as events)."""
    from numberguard.domain import events as ev
    from numberguard.domain.templates import StatusReading
    from numberguard.wiring import build

    from numberguard_ops.fakes import FakePublisher

    intake = build(world.settings, clock=FixedClock(now), publisher=FakePublisher()).intake
    intake.apply([
        ev.TemplateStatusUpdate(WABA_ID, now - 60, "a", "1", "order_confirmation", "en_US", StatusReading("APPROVED")),
        ev.TemplateQuality(WABA_ID, now - 50, "q", "1", "order_confirmation", "YELLOW", "RED", "en_US"),
        ev.TemplateStatusUpdate(WABA_ID, now - 40, "p", "2", "flash_sale", "en_US",
                                StatusReading("PAUSED", "RATE_LIMITING_PAUSE")),
    ])




def run(ctx: Context) -> Section:
    n = ctx.sizes.kind_checks
    meter = Meter()
    section = Section("templates", "7. Templates: the check with and without a named template",
                      ["check", "template", "calls_per_check", "capacity_per_check", "p50_ms", "p99_ms", "n"])
    now = int(time.time()) // 600 * 600 + 300
    with World(ctx.endpoint) as world:
        world.register(tier="9000000", now=now)
        _templates(world, now)
        client = dynamodb_client(ctx.endpoint)
        meter.attach(client)
        checker = world.checker(client, FixedClock(now))
        checker.handle({"phone_number_id": PHONE_NUMBER_ID, "recipient": "16580000000", "message": "template"})
        store = world.store(client)
        rows = []
        for label, named in (("none", None), ("known (quality RED)", KNOWN), ("unknown", UNKNOWN)):
            extra = {"template": named} if named else {}
            base = {"none": 1, "known (quality RED)": 2, "unknown": 3}[label]
            fresh = [f"165{base}{i:07d}" for i in range(n)]
            new = [{"phone_number_id": PHONE_NUMBER_ID, "recipient": r, "message": "template", **extra} for r in fresh]
            rows.append({"check": "new recipient", "template": label,
                         **series(meter, checker, new, "ALLOWED_NEW_RECIPIENT", "templates")})
            rows.append({"check": "repeat, same bucket", "template": label,
                         **series(meter, checker, new, "ALLOWED_ALREADY_COUNTED", "templates")})
            for r in fresh:  # the users wrote: replies inside their windows
                store.client.put_item(TableName=world.settings.recipients_table, Item={
                    "pk": {"S": f"w#{PHONE_NUMBER_ID}#{r}9"}, "service_window_until": {"N": str(now + 3600)}})
            replies = [{**p, "recipient": p["recipient"] + "9"} for p in new]
            rows.append({"check": "service-window reply", "template": label,
                         **series(meter, checker, replies, "ALLOWED_SERVICE_WINDOW", "templates")})
        denied = [{"phone_number_id": PHONE_NUMBER_ID, "recipient": f"1659{i:07d}", "message": "template",
                   "template": PAUSED} for i in range(n)]
        rows.append({"check": "paused template (denied)", "template": "paused (pacing)",
                     **series(meter, checker, denied, "DENIED_TEMPLATE_PAUSED", "templates")})
        meter.detach()
    section.rows = rows
    by = {(r["check"], r["template"]): r["calls_per_check"] for r in rows}
    same = all(by[(kind, "none")] == by[(kind, t)] for kind in ("new recipient", "repeat, same bucket",
                                                                 "service-window reply")
               for t in ("known (quality RED)", "unknown"))
    section.headline = (f"calls per check without / with a template: new recipient {by[('new recipient', 'none')]} / "
                        f"{by[('new recipient', 'known (quality RED)')]}, repeat {by[('repeat, same bucket', 'none')]}"
                        f" / {by[('repeat, same bucket', 'known (quality RED)')]}; a denied template "
                        f"{by[('paused template (denied)', 'paused (pacing)')]} (the read alone).")
    section.goals.append(Goal("naming a template adds no DynamoDB call to a check", "same" if same else "more", same))
    denied_calls = by[("paused template (denied)", "paused (pacing)")]
    section.goals.append(Goal("a denied template send writes nothing", f"{denied_calls} call/check",
                              denied_calls == 1))
    return section
