"""Given a number's quality and limit reported by both sources, Meta's webhooks (FLAGGED / UNFLAGGED,
limit upgrades and downgrades, delivered in any order, some late, some twice) and the Meta sync's
Graph reads (at the clock's time, in clock order), then whatever the interleaving the stored value
is that of the newest entry either source made: a read older than an applied webhook never
overwrites it, a webhook older than an applied read never overwrites it, and every change is
announced once.

A read repeating the value numberguard holds makes no entry (a sync over unchanged numbers writes
nothing, docs/decision_log.md); the model below keeps to that rule. A late webhook that lands between
the last stored read and a repeat is corrected by the next read, which the last step checks.

On DynamoDB Local, through the real intake and the real Meta sync (its Graph is the local double).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.dynamodb.conftest import SyncWorld

pytestmark = pytest.mark.dynamodb

WABA, NUMBER, DISPLAY, BUSINESS = "102290129340398", "106540352242922", "15550783881", "506914307656634"
T0 = 1_800_000_000
QUALITY_OF_EVENT = {"FLAGGED": "RED", "UNFLAGGED": "YELLOW"}


class World(SyncWorld):
    def __init__(self, endpoint: str):
        super().__init__(endpoint, T0)
        self.meta.wabas[WABA].numbers = self.meta.wabas[WABA].numbers[:1]

    def read(self, quality: str, tier: str) -> None:
        self.meta.wabas[WABA].numbers[0].quality = quality
        self.meta.businesses[BUSINESS].limit = tier
        summary = self.sync.run(WABA)
        assert not summary.failed, summary.failed

    def webhook(self, at: int, event: str, limit: str) -> None:
        self.apply_webhook(WABA, at, "phone_number_quality_update",
                           {"display_phone_number": DISPLAY, "event": event, "current_limit": limit})

    def stored(self) -> tuple[str, str]:
        number = self.client.get_item(TableName=self.settings.numbers_table, Key={"pk": {"S": NUMBER}},
                                      ConsistentRead=True)["Item"]
        scope = self.client.get_item(TableName=self.settings.limits_table,
                                     Key={"scope": {"S": f"number#{NUMBER}"}}, ConsistentRead=True)["Item"]
        return number["quality"]["S"], scope["tier"]["S"]


class Model:
    """Each facet's entries by time; a read adds one only when it differs from the newest value."""

    def __init__(self, quality: str, tier: str):
        self.entries = {"quality": {0: quality}, "tier": {0: tier}}

    def latest(self, facet: str) -> str:
        log = self.entries[facet]
        return log[max(log)]

    def read(self, at: int, quality: str, tier: str) -> None:
        for facet, value in (("quality", quality), ("tier", tier)):
            if self.latest(facet) != value:
                self.entries[facet][at] = value

    def webhook(self, at: int, quality: str | None, tier: str | None) -> None:
        if quality is not None:
            self.entries["quality"][at] = quality
        if tier is not None:
            self.entries["tier"][at] = tier


def steps(rng: random.Random) -> list[tuple]:
    """Delivery order: reads at the advancing clock (even seconds), webhooks of any time (odd seconds)."""
    out, clock = [], T0
    for _ in range(rng.randint(10, 16)):
        clock += 2 * rng.randint(60, 3600)
        if rng.random() < 0.4:
            out.append(("read", clock, rng.choice(["GREEN", "YELLOW", "RED"]), rng.choice(["TIER_250", "TIER_1K",
                                                                                              "TIER_10K"])))
        else:
            at = T0 + 1 + 2 * rng.randint(0, (clock - T0) // 2 + 3600)  # late, on time, or ahead of the clock
            kind = rng.choice(["FLAGGED", "UNFLAGGED", "UPGRADE", "DOWNGRADE"])
            out.append(("webhook", clock, at, kind, rng.choice(["TIER_250", "TIER_1K", "TIER_10K"])))
    if rng.random() < 0.5:  # a duplicate delivery of a webhook (Meta retries)
        hooks = [s for s in out if s[0] == "webhook"]
        if hooks:
            out.insert(rng.randint(out.index(hooks[0]) + 1, len(out)), hooks[0])
    return out


@settings(max_examples=3, deadline=None, derandomize=True, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_graph_reads_and_webhooks_in_any_order_keep_the_newest_word(dynamodb_local, seed):
    rng = random.Random(seed)
    world = World(dynamodb_local)
    # Given the number imported from Meta (GREEN, TIER_250)
    world.read("GREEN", "TIER_250")
    model = Model("GREEN", "TIER_250")
    for step in steps(rng):
        world.clock.now = step[1]
        if step[0] == "read":
            _, at, quality, tier = step
            world.read(quality, tier)
            model.read(at, quality, tier)
        else:
            _, _, at, kind, tier = step
            world.webhook(at, kind, tier)
            model.webhook(at, QUALITY_OF_EVENT.get(kind), tier if kind in ("UPGRADE", "DOWNGRADE") else None)
        # Then after every step the stored value is the newest entry's
        assert world.stored() == (model.latest("quality"), model.latest("tier")), (seed, step)
    # And a read later than everything says what Meta says now
    world.clock.now += 10 * 86400
    world.read("YELLOW", "TIER_10K")
    assert world.stored() == ("YELLOW", "TIER_10K")
    # And every change was announced once
    ids = [n.id for n in world.publisher.sent]
    assert len(ids) == len(set(ids)) and ids
    world.drop()
