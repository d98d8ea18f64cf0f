"""Given a generated history of Meta's webhooks for several numbers (quality, limits, bans,
restrictions, messages), when it is delivered shuffled, with duplicates, in random batch sizes,
then the state and the notifications are exactly those of delivering it once in time order.

Meta's webhooks report changes: each event of a facet differs from the one before it (the generator
keeps to that, as Meta does). `from` of a notification is what was known when it was announced, so
it is the one field compared loosely (with a limit change's severity, WARNING when lower than
`from`): an event that arrives before its predecessor is announced from the value known then (the
history and the published set are otherwise identical).

On DynamoDB Local: moto copies every table on each transaction, which makes a history of this size
take minutes there; here the intake also runs its writes side by side, as on AWS.
"""

from __future__ import annotations

import itertools
import json
import random

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import FakeClock, stack_env
from tests.dynamodb.conftest import create_prefixed_tables, raw_client

pytestmark = pytest.mark.dynamodb

WABA = "102290129340398"
NUMBERS = {f"10654035224{i:04d}": f"1555078{i:04d}" for i in range(1, 5)}
LADDER = ["TIER_250", "TIER_1K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED"]
T0 = 1_799_000_000  # shortly before the FakeClock: history TTLs (event time + 400 days) lie ahead
_prefixes = itertools.count(1)


def change(field: str, value: dict, time: int | None) -> dict:
    entry = {"id": WABA, "changes": [{"field": field, "value": value}]}
    if time is not None:
        entry["time"] = time
    return entry


def number_history(rng: random.Random, display: str, pnid: str) -> list[dict]:
    """One number's webhooks in time order: every event changes each facet it reports."""
    t, tier, flagged, quality, entries = T0, 1, False, "GREEN", []
    for _ in range(rng.randint(48, 60)):
        t += rng.randint(600, 3 * 86400)
        roll = rng.random()
        if roll < 0.35:  # quality: FLAGGED and UNFLAGGED alternate (each changes quality and the flag)
            event = "UNFLAGGED" if flagged else "FLAGGED"
            flagged = not flagged
            quality = "RED" if flagged else "YELLOW"
            entries.append(change("phone_number_quality_update", {"display_phone_number": display, "event": event,
                                                                  "current_limit": LADDER[tier]}, t))
        elif roll < 0.55 and not flagged and LADDER[tier] != "TIER_UNLIMITED":  # never while Flagged
            # A scope lowered from unlimited starts full *when that lowering arrives* (the evaluator's
            # rule, docs/decision_log.md): order-dependent by design, so this history never lowers one.
            new = rng.choice([i for i in range(len(LADDER)) if i != tier])
            # Events of the current generation report limits too (a lower one, e.g., at onboarding).
            kind = "UPGRADE" if new > tier else "ONBOARDING"
            if LADDER[new] == "TIER_UNLIMITED":
                kind = "THROUGHPUT_UPGRADE"
            entries.append(change("phone_number_quality_update", {
                "display_phone_number": display, "event": kind, "old_limit": LADDER[tier],
                "current_limit": LADDER[new]}, t))
            tier = new
        else:  # the user writes, Meta reports a status
            entries.append(change("messages", user_item(rng, display, pnid, t), None))
    if flagged and 0 < tier < len(LADDER) - 1:  # the day-7 outcome, as Meta reported it before 2025-10
        t += 7 * 86400
        entries.append(change("phone_number_quality_update", {"display_phone_number": display, "event": "DOWNGRADE",
                                                              "old_limit": LADDER[tier],
                                                              "current_limit": LADDER[tier - 1]}, t))
    del quality
    return entries


def user_item(rng: random.Random, display: str, pnid: str, t: int) -> dict:
    """A message or a status, naming its user the 2026 ways: phone, BSUID, parent BSUID, contacts[] (each
    optional), so links are made from deliveries in any order (a user's ids never change here)."""
    n = rng.randint(0, 40)
    phone, user_id, parent = f"1650555{n:04d}", f"US.{7_000_000 + n}", f"US.ENT.{8_000_000 + n}"
    shown = rng.choice([(phone,), (phone, user_id), (user_id,), (user_id, parent), (phone, user_id, parent)])
    wamid = f"wamid.{pnid}x{t}"  # base64 text after the prefix, as Meta writes it
    value: dict = {"messaging_product": "whatsapp", "metadata": {"display_phone_number": display,
                                                                 "phone_number_id": pnid}}
    contact = {"wa_id": phone, "user_id": user_id, "parent_user_id": parent, "profile": {"username": f"u{n}"}}
    if rng.random() < 0.5:  # real traffic omits some of them, or the whole contacts[]
        value["contacts"] = [{k: v for k, v in contact.items() if rng.random() < 0.6}]
    if rng.random() < 0.6:
        names = ("from", "from_user_id", "from_parent_user_id")
        message = {"id": wamid, "timestamp": str(t), "type": "text"}
        message.update({name: i for name, i in zip(names, (phone, user_id, parent), strict=True) if i in shown})
        value["messages"] = [message]
    else:
        names = ("recipient_id", "recipient_user_id", "recipient_parent_user_id")
        status = {"id": wamid, "status": rng.choice(["sent", "delivered", "read"]), "timestamp": str(t)}
        status.update({name: i for name, i in zip(names, (phone, user_id, parent), strict=True) if i in shown})
        value["statuses"] = [status]
    return value


def waba_history(rng: random.Random) -> list[dict]:
    t, banned, entries = T0, False, []
    for i in range(rng.randint(12, 18)):
        t += rng.randint(3600, 5 * 86400)
        if rng.random() < 0.5:
            banned = not banned
            entries.append(change("account_update", {"event": "DISABLED_UPDATE", "ban_info": {
                "waba_ban_state": "DISABLE" if banned else "REINSTATE", "waba_ban_date": "April 17, 2025"}}, t))
        else:
            entries.append(change("account_update", {"event": "ACCOUNT_RESTRICTION", "restriction_info": [
                {"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": t + 86400 * (i + 1)}]}, t))
    return entries


def history(rng: random.Random) -> list[dict]:
    entries = waba_history(rng)
    for pnid, display in NUMBERS.items():
        entries += number_history(rng, display, pnid)
    return sorted(entries, key=lambda e: e.get("time") or int(
        (e["changes"][0]["value"].get("messages") or e["changes"][0]["value"].get("statuses"))[0]["timestamp"]))


class World:
    """The template's tables under a fresh prefix on DynamoDB Local and an intake with a FakePublisher."""

    def __init__(self, endpoint: str, clock: FakeClock):
        from numberguard.config import Settings
        from numberguard.usecases.numbers import NumberRegistration
        from numberguard.wiring import build

        from numberguard_ops.fakes import FakePublisher

        self.client = raw_client(endpoint)
        self.tables = create_prefixed_tables(self.client, f"w{next(_prefixes)}")
        self.settings = Settings.from_env(stack_env(DYNAMODB_ENDPOINT=endpoint, **self.tables))
        self.publisher = FakePublisher()
        parts = build(self.settings, clock=clock, publisher=self.publisher)
        self.intake = parts.intake
        for pnid, display in NUMBERS.items():
            parts.numbers.register(NumberRegistration(pnid, WABA, display, "TIER_1K", quality="GREEN"), int(clock()))

    def drop(self) -> None:
        for table in self.tables.values():
            self.client.delete_table(TableName=table)

    def deliver(self, entries: list[dict]) -> None:
        from numberguard.webhooks import events_of, parse_envelope

        body = json.dumps({"object": "whatsapp_business_account", "entry": entries}).encode()
        self.intake.apply([e for entry in parse_envelope(body) for e in events_of(entry, int(self.intake.clock()))])

    def state(self) -> dict:
        """Everything stored, less the bookkeeping that depends on how many writes it took."""
        out = {}
        for table in (self.settings.numbers_table, self.settings.recipients_table, self.settings.limits_table,
                      self.settings.history_table):
            rows = []
            for item in self.client.scan(TableName=table, ConsistentRead=True)["Items"]:
                # Log versions and link revisions count writes; attention_at is the evaluator's earliest look
                # (re-checked when due); pending_people is the evaluator's work list (each fold is idempotent).
                bookkeeping = ("version", "attention", "attention_at", "pending_people")
                if item.get("pk", {}).get("S", "").startswith("l#"):
                    bookkeeping += ("rev", "updated_at")  # a link item's revision counts its writes
                row = {k: v for k, v in item.items() if k not in bookkeeping}
                if "document" in row:
                    document = json.loads(row["document"]["S"])
                    document.pop("from")
                    if document["type"] == "LIMIT_CHANGED":
                        document.pop("severity")  # WARNING when lower than `from`: known at announcement
                    row["document"] = document
                rows.append(json.dumps(row, sort_keys=True))
            out[table.split("-", 1)[1]] = sorted(rows)
        return out

    def notifications(self) -> list[tuple]:
        return sorted((n.id, n.type, n.document["phone_number_id"], n.document["to"], n.document["at"],
                       n.document["reason"], None if n.type == "LIMIT_CHANGED" else n.severity)
                      for n in self.publisher.sent)


# A seed drives the whole history: shrinking a seed means nothing, so a failure reports its seed as is.
@settings(max_examples=2, deadline=None, derandomize=True, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_shuffled_duplicated_batched_delivery_ends_as_in_order_delivery(dynamodb_local, seed):
    rng = random.Random(seed)
    entries = history(rng)
    assert len(entries) >= 200
    clock = FakeClock()

    # Given the history delivered once, in time order
    in_order = World(dynamodb_local, clock)
    for entry in entries:
        in_order.deliver([entry])

    # When it is delivered shuffled, a third of it twice, in batches of 1 to 80 entries
    shuffled = World(dynamodb_local, clock)
    deliveries = entries + rng.sample(entries, len(entries) // 3)
    rng.shuffle(deliveries)
    while deliveries:
        size = rng.randint(1, 80)
        shuffled.deliver(deliveries[:size])
        deliveries = deliveries[size:]

    # Then the stored state and the notifications are exactly the same, each notification published once
    assert shuffled.state() == in_order.state()
    assert shuffled.notifications() == in_order.notifications()
    assert len({n[0] for n in in_order.notifications()}) == len(in_order.publisher.sent)
    links = [r for rows in in_order.state().values() for r in rows if '"S": "l#' in r]
    assert links, "the history links no person"
    kinds = {n[1] for n in in_order.notifications()}
    assert {"QUALITY_CHANGED", "STATUS_CHANGED", "LIMIT_CHANGED", "ACCOUNT_RESTRICTED"} <= kinds
    in_order.drop()
    shuffled.drop()
