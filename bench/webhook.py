"""Section 4: webhook intake, through the use case `WebhookReceiver.receive(raw body, signature)`.

Bodies are Meta envelopes shaped as the reference bodies (statuses, inbound messages, failed
statuses echoing a check's reference, quality updates, account updates), each signed with the app
secret as Meta signs them (X-Hub-Signature-256). DynamoDB is DynamoDB Local; S3, SNS and SSM are
in-memory fakes behind the layer's interfaces (MemoryArchive, FakePublisher, StaticSecrets), so the
figures are the intake's and DynamoDB's. Baseline: the same body's signature check and parse
alone (no DynamoDB), measured in the same run.

Until the parser (`numberguard.webhooks`) is in the layer, the section says so and why.
"""

from __future__ import annotations

import json
import random
import time

from numberguard.webhooks import sign

from bench.context import Context
from bench.harness import FixedClock, Meter, World, dynamodb_client, latency_ms, ratio
from bench.report import Goal, Section, no_paths

TITLE = "4. Webhook intake: a 1,000-update POST and a realistic mix"
GOALS = ["a 1,000-update webhook POST applied in under 1 s on DynamoDB Local", "p50 / p99 over a realistic mix"]
APP_SECRET = "bench-app-secret"
NUMBERS = 20
MIX = (("status", 55), ("inbound", 25), ("failed_with_reference", 5), ("quality", 10), ("account", 5))
# What Meta batches by the thousand: the messages field (statuses of our sends, users' messages).
BIG_MIX = (("status", 75), ("inbound", 20), ("failed_with_reference", 5))


def pnid(i: int) -> str:
    return f"1080{i:08d}"


def waba(i: int) -> str:
    return f"2080{i:08d}"


def display(i: int) -> str:
    return f"1556{i:07d}"


def signature(raw: bytes) -> str:
    return sign(raw, APP_SECRET)


def _messages_change(i: int, value: dict) -> dict:
    return {"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display(i), "phone_number_id": pnid(i)}, **value}}


def status(i: int, recipient: str, state: str, at: int, n: int, reference: str | None = None) -> dict:
    body = {"id": f"wamid.bench{n:010d}", "status": state, "timestamp": str(at), "recipient_id": recipient}
    if reference:
        body["biz_opaque_callback_data"] = reference
    if state == "failed":
        body["errors"] = [{"code": 131049, "title": "This message was not delivered to maintain healthy ecosystem "
                           "engagement.", "message": "This message was not delivered to maintain healthy ecosystem "
                           "engagement."}]
    return _messages_change(i, {"statuses": [body]})


def inbound(i: int, sender: str, at: int, n: int) -> dict:
    return _messages_change(i, {
        "contacts": [{"profile": {"name": "Bench User"}, "wa_id": sender}],
        "messages": [{"from": sender, "id": f"wamid.benchin{n:010d}", "timestamp": str(at), "type": "text",
                      "text": {"body": "Does it come in another color?"}}]})


def quality(i: int, at: int, n: int) -> dict:
    event = ("FLAGGED", "UNFLAGGED", "UPGRADE")[n % 3]
    value = {"display_phone_number": display(i), "event": event}
    if event == "UPGRADE":
        value["current_limit"] = "TIER_10K"
    return {"field": "phone_number_quality_update", "value": value}


def account(i: int, at: int, n: int) -> dict:
    if n % 2:
        return {"field": "account_update", "value": {"event": "ACCOUNT_VIOLATION", "violation_info": {
            "violation_type": "SCAM"}}}
    return {"field": "account_update", "value": {"event": "ACCOUNT_RESTRICTION", "restriction_info": [
        {"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": at + 86_400}]}}


def envelope(changes_by_waba: list[tuple[str, int, dict]]) -> bytes:
    """One Meta envelope; one entry per (waba, time, change) as Meta groups them."""
    entries = [{"id": w, "time": at, "changes": [change]} for w, at, change in changes_by_waba]
    return json.dumps({"object": "whatsapp_business_account", "entry": entries}, separators=(",", ":")).encode()


class Bodies:
    """Deterministic bodies of the mix; failed statuses echo references of slots the checks really took."""

    def __init__(self, now: int, references: dict[int, list[tuple[str, str]]], seed: int = 7):
        self.now = now
        self.rng = random.Random(seed)
        self.references = references
        self.n = 0

    def change(self, kind: str) -> tuple[str, int, dict]:
        self.n += 1
        i = self.rng.randrange(NUMBERS)
        at = self.now - self.rng.randrange(60)
        recipient = f"1657{self.rng.randrange(10_000):07d}"
        if kind == "status":
            return waba(i), at, status(i, recipient, self.rng.choice(("sent", "delivered", "read")), at, self.n)
        if kind == "inbound":
            return waba(i), at, inbound(i, recipient, at, self.n)
        if kind == "failed_with_reference":
            if self.references.get(i):
                recipient, reference = self.references[i].pop()
                return waba(i), at, status(i, recipient, "failed", at, self.n, reference)
            return waba(i), at, status(i, recipient, "failed", at, self.n)
        if kind == "quality":
            return waba(i), at, quality(i, at, self.n)
        return waba(i), at, account(i, at, self.n)

    def kind(self, mix=MIX) -> str:
        return self.rng.choices([k for k, _ in mix], weights=[w for _, w in mix])[0]


def _unavailable() -> str | None:
    try:
        import numberguard.webhooks  # noqa: F401
        from numberguard.usecases.webhook import WebhookReceiver  # noqa: F401
    except ImportError as err:
        return f"the webhook parser is not in the layer yet ({type(err).__name__}: {no_paths(str(err))})"
    return None


def run(ctx: Context) -> Section:
    reason = _unavailable()
    if reason:
        return Section.not_available("webhook", TITLE, reason, GOALS)

    from numberguard.store.archive import MemoryArchive
    from numberguard.store.client import dynamodb_client as layer_client
    from numberguard.usecases.intake import Intake
    from numberguard.usecases.webhook import WebhookReceiver
    from numberguard.webhooks import events_of, parse_envelope, verify_signature
    from numberguard.wiring import build

    from numberguard_ops.fakes import FakePublisher, StaticSecrets

    sizes = ctx.sizes
    now = int(time.time()) // 600 * 600 + 300
    clock = FixedClock(now)
    meter = Meter()
    section = Section("webhook", TITLE, ["POST", "updates", "status", "seconds / p50 ms", "p99 ms", "calls",
                                         "calls/update", "parse only ms", "x parse only"])
    with World(ctx.endpoint) as world:
        checker = world.checker(dynamodb_client(ctx.endpoint), clock)
        for i in range(NUMBERS):
            world.register(pnid(i), "TIER_10K", now=now - 3600, waba_id=waba(i), display=display(i))
        # Slots taken with references, so that failed statuses really give slots back.
        references: dict[int, list[tuple[str, str]]] = {}
        failed_needed = sizes.webhook_updates // 10 + sizes.webhook_posts // 10 + 2
        for n in range(failed_needed):
            i = n % NUMBERS
            recipient, reference = f"1658{n:07d}", f"bench-ref-{n}"
            checker.handle({"phone_number_id": pnid(i), "recipient": recipient, "message": "template",
                            "reference": reference})
            references.setdefault(i, []).append((recipient, reference))
        publisher = FakePublisher()
        facets = build(world.settings, clock=clock, publisher=publisher).facets
        receiver = WebhookReceiver(Intake(facets, checker, world.settings), MemoryArchive(),
                                   StaticSecrets(APP_SECRET, "bench-verify-token"))
        meter.attach(layer_client(world.settings))
        meter.attach(checker.store.client)
        bodies = Bodies(now, references)

        def post(raw: bytes) -> tuple[int, float, object]:
            with meter.measure(every_thread=True) as tally:
                began = time.perf_counter()
                answer = receiver.receive(raw, signature(raw))
                return answer.status, time.perf_counter() - began, tally

        def parse_only(raw: bytes) -> float:
            began = time.perf_counter()
            verify_signature(raw, signature(raw), APP_SECRET)
            [e for entry in parse_envelope(raw) for e in events_of(entry, int(time.time()))]
            return time.perf_counter() - began

        post(envelope([bodies.change("status")]))  # warm-up
        big = envelope([bodies.change(bodies.kind(BIG_MIX)) for _ in range(sizes.webhook_updates)])
        code, big_s, big_tally = post(big)
        big_parse = min(parse_only(big) for _ in range(3))
        # Inbound messages only, each from another user: one service window per update. Then the
        # same body again, as Meta retries it: every window is already open as far.
        inbound_big = envelope([(waba(n % NUMBERS), now - 30, inbound(n % NUMBERS, f"1659{n:07d}", now - 30, n))
                                for n in range(sizes.webhook_updates)])
        inbound_code, inbound_s, inbound_tally = post(inbound_big)
        retry_code, retry_s, retry_tally = post(inbound_big)
        mix_times, mix_parse, mix_calls, statuses = [], [], [], {}
        by_kind: dict[str, list[tuple[float, int]]] = {}
        for _ in range(sizes.webhook_posts):
            kind = bodies.kind()
            raw = envelope([bodies.change(kind)])
            status_code, seconds, tally = post(raw)
            by_kind.setdefault(kind, []).append((seconds, tally.total_calls))
            statuses[status_code] = statuses.get(status_code, 0) + 1
            mix_times.append(seconds)
            mix_calls.append(tally.total_calls)
            mix_parse.append(parse_only(raw))
        meter.detach()
    mix = latency_ms(mix_times)
    parse = latency_ms(mix_parse)
    updates = sizes.webhook_updates
    section.rows = [
        {"POST": f"one POST of {updates:,} updates", "updates": updates, "status": code,
         "seconds / p50 ms": round(big_s, 3), "p99 ms": None, "calls": big_tally.total_calls,
         "calls/update": round(big_tally.total_calls / updates, 2), "parse only ms": round(1000 * big_parse, 1),
         "x parse only": ratio(big_s, big_parse, 1)},
        *({"POST": label, "updates": updates, "status": status_code,
           "seconds / p50 ms": round(seconds, 3), "p99 ms": None, "calls": tally.total_calls,
           "calls/update": round(tally.total_calls / updates, 2), "parse only ms": None, "x parse only": None}
          for label, status_code, seconds, tally in (
              (f"one POST of {updates:,} inbound messages", inbound_code, inbound_s, inbound_tally),
              ("the same POST again (Meta's retry)", retry_code, retry_s, retry_tally))),
        {"POST": f"realistic mix, {sizes.webhook_posts} POSTs of 1 update", "updates": sizes.webhook_posts,
         "status": ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())), "seconds / p50 ms": mix["p50_ms"],
         "p99 ms": mix["p99_ms"], "calls": sum(mix_calls), "calls/update": round(sum(mix_calls) / len(mix_calls), 2),
         "parse only ms": parse["p50_ms"], "x parse only": ratio(mix["p50_ms"], parse["p50_ms"], 1)},
    ]
    section.tables.append({"title": "the mix by kind of update", "columns": ["kind", "POSTs", "p50 ms", "p99 ms",
                                                                             "calls/POST"], "rows": [
        {"kind": kind, "POSTs": len(v), **{k: latency_ms([t for t, _ in v])[k] for k in ("p50_ms", "p99_ms")},
         "calls/POST": round(sum(c for _, c in v) / len(v), 2)} for kind, v in sorted(by_kind.items())]})
    for row in section.tables[-1]["rows"]:
        row["p50 ms"], row["p99 ms"] = row.pop("p50_ms"), row.pop("p99_ms")
    section.data = {"inbound_post_ops": dict(inbound_tally.calls), "inbound_retry_ops": dict(retry_tally.calls),
                    "big_post_ops": dict(big_tally.calls), "big_mix": dict(BIG_MIX), "mix": dict(MIX),
                    "big_post_bytes": len(big), "big_post_dynamodb_seconds": round(big_tally.call_seconds, 3),
                    "notifications":
                    len(publisher.sent)}
    section.headline = (f"{updates:,}-update POST applied in {big_s:.2f} s ({code}), of which "
                        f"{big_tally.call_seconds:.2f} s summed inside its {big_tally.total_calls} DynamoDB calls "
                        "(some run in parallel) and "
                        f"{big_parse:.2f} s verifying and parsing; mix p50 {mix['p50_ms']} ms, p99 {mix['p99_ms']} ms.")
    section.goals = [
        Goal(GOALS[0], f"{big_s:.2f} s (HTTP {code})", code == 200 and big_s < 1.0),
        Goal(GOALS[1], f"p50 {mix['p50_ms']} ms, p99 {mix['p99_ms']} ms (Meta wants a median ≤ 250 ms)",
             mix["p50_ms"] <= 250 and set(statuses) == {200}),
    ]
    section.notes.append("The 1,000-update POST is the messages field, as Meta batches it by the thousand: "
                         + ", ".join(f"{k} {w} %" for k, w in BIG_MIX) + ". The mix of single-update POSTs: "
                         + ", ".join(f"{k} {w} %" for k, w in MIX) + ". S3, SNS and SSM are "
                         "in-memory fakes (MemoryArchive, FakePublisher, StaticSecrets); DynamoDB is real "
                         "(DynamoDB Local). Signatures are real HMAC-SHA256 over the raw body.")
    return section
