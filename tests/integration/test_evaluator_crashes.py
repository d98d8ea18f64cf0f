"""A run that dies at any call (before or after the call took effect) leaves nothing half done: the
next scheduled runs apply and publish every change once. Sequential, so moto is exact here; the runs
go through the real handler and notifications through the SNS topic to a subscribed queue.
"""

from __future__ import annotations

from collections import Counter

import pytest
from numberguard.store.client import dynamodb_client

from tests.flagged_numbers import DAY, expected, expected_state, flag_numbers, outcome_state
from tests.integration.test_evaluator_scenarios import PERIOD, make_world


class Crash(Exception):
    """The Lambda instance dies here (timeout, out of memory): nothing after this call happens."""


@pytest.mark.parametrize("reply_lost", [False, True], ids=["call-refused", "call-applied-reply-lost"])
def test_a_rerun_after_a_crash_at_any_call_applies_and_publishes_each_change_once(moto_stack, clock, monkeypatch,
                                                                                   reply_lost):
    """The run dies at its k-th DynamoDB write (each in turn, before or after it took effect); the
    next scheduled run completes the work. Every change ends applied and published, none twice, except
    that a death between SNS accepting a message and the entry leaving the outbox publishes that one
    message again (same id: subscribers deduplicate)."""
    world = make_world(moto_stack, clock, monkeypatch)
    stack, inbox = world.stack, world.inbox
    flag_numbers(stack, 2)  # one kept, one lowered
    inbox.read()
    stack.clock.advance(7 * DAY + 60)
    base = stack.clock.now
    want = expected(2)

    calls: list[str] = []
    client = dynamodb_client(stack.settings)  # the one client every use case of the handler shares

    def count(model=None, **_):
        calls.append(model.name)

    # One fault-free run on a copy of the timeline learns how many calls a run makes.
    event = "after-call.dynamodb" if reply_lost else "before-call.dynamodb"
    snapshot = _snapshot(stack)
    client.meta.events.register("before-call.dynamodb", count)
    world.evaluate()
    client.meta.events.unregister("before-call.dynamodb", count)
    assert Counter(r.type for r in inbox.read()) == want
    # Dying before a read is dying after the write before it: the writes are the points that matter.
    writes = [k for k, name in enumerate(calls, 1) if name not in ("GetItem", "BatchGetItem", "Query")]
    assert len(writes) > 10

    for k in writes:
        _restore(stack, snapshot)
        stack.clock.now = base
        seen = [0]

        def fault(_k=k, _seen=seen, **_):
            _seen[0] += 1
            if _seen[0] == _k:
                raise Crash(f"died at call {_k}")

        client.meta.events.register(event, fault)
        try:
            with pytest.raises(Crash):
                world.evaluate()
        finally:
            client.meta.events.unregister(event, fault)
        stack.clock.advance(PERIOD)  # the next scheduled run (past the outbox's grace)
        world.evaluate()
        received = inbox.read()
        ids = Counter(r.document["id"] for r in received)
        assert Counter(r.type for r in {r.document["id"]: r for r in received}.values()) == want, k
        assert sum(ids.values()) - len(ids) <= 1, k  # at most one message again, and only with its own id
        assert outcome_state(2) == expected_state(2), k


def _snapshot(stack) -> dict[str, list[dict]]:
    """Every item of the test's tables (a few dozen): the state before the run, to replay from."""
    out = {}
    for name in ("NUMBERS_TABLE", "LIMITS_TABLE", "HISTORY_TABLE"):
        table = stack.env[name]
        out[table] = stack.client.scan(TableName=table, ConsistentRead=True)["Items"]
    return out


def _restore(stack, snapshot: dict[str, list[dict]]) -> None:
    for table, items in snapshot.items():
        key_names = [k["AttributeName"] for k in stack.client.describe_table(TableName=table)["Table"]["KeySchema"]]
        for item in stack.client.scan(TableName=table, ConsistentRead=True)["Items"]:
            stack.client.delete_item(TableName=table, Key={k: item[k] for k in key_names})
        for item in items:
            stack.client.put_item(TableName=table, Item=item)
