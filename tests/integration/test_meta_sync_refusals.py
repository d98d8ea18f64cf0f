"""Given a WABA blocked by a refused send (368, through the real webhook handler), when the real
MetaSyncFunction reads Meta's health (the local double, in process) as AVAILABLE, then a read newer
than the refusal lifts the block and one older than it does not; a Graph BLOCKED keeps denying either
way (the health facet's own decision)."""

from __future__ import annotations

import json

import pytest

from numberguard_ops.meta_double import DEFAULT_TOKEN, InProcessTransport, MetaState
from tests.conftest import LambdaContext
from tests.integration.test_webhook_refusals import BLOCK_AT, BLOCKS, PHONE, PNID, WABA, body_of, check, post


@pytest.fixture
def world(webhook_world, monkeypatch):
    import boto3
    from numberguard import wiring
    from numberguard.graph import client as graph_client

    from numberguard_ops.template import function_environment

    env = function_environment("MetaSyncFunction")
    for key in ("META_GRAPH_URL", "META_GRAPH_VERSION", "META_ACCESS_TOKEN_PARAMETER"):
        monkeypatch.setenv(key, env[key])
        webhook_world.stack.env[key] = env[key]
    boto3.client("ssm").put_parameter(Name=env["META_ACCESS_TOKEN_PARAMETER"], Value=DEFAULT_TOKEN,
                                      Type="SecureString", Overwrite=True)
    webhook_world.meta = MetaState()
    monkeypatch.setattr(graph_client, "HttpTransport", lambda: InProcessTransport(webhook_world.meta, "http://meta"))
    monkeypatch.setattr("numberguard.usecases.meta_sync.PARALLEL_WRITES", 1)  # moto: one write at a time
    monkeypatch.setattr(wiring, "clock", webhook_world.stack.clock)
    wiring.reset()
    webhook_world.stack.clock.now = float(BLOCK_AT - 900)
    assert sync({"waba_id": WABA})["failed"] == {}  # registers the WABA's numbers, health AVAILABLE
    return webhook_world


def sync(event: dict | None = None) -> dict:
    from meta_sync.app import lambda_handler

    class Context(LambdaContext):
        function_name = "MetaSyncFunction"

        def get_remaining_time_in_millis(self) -> int:
            return 300_000

    return lambda_handler(event or {"waba_id": WABA}, Context())


def test_a_graph_read_saying_available_after_the_refusal_lifts_the_block_an_older_one_does_not(world):
    # Given the refusal (368 at BLOCK_AT) applied
    world.stack.clock.now = float(BLOCK_AT - 100)  # Meta's status is stamped ahead of this clock
    post(world, body_of(BLOCKS[368]))
    assert check(world)["decision"] == "DENIED_BLOCKED_BY_META"
    # When the sync reads AVAILABLE at a time before the refusal: the block stands
    answer = sync()
    assert "meta_block_lifted_by_graph" not in answer["counts"]
    assert check(world)["decision"] == "DENIED_BLOCKED_BY_META"
    # When it reads AVAILABLE after it: lifted, announced once
    world.stack.clock.now = float(BLOCK_AT + 900)
    answer = sync()
    assert answer["counts"]["meta_block_lifted_by_graph"] == 1
    assert [(c["type"], c["to"]) for c in answer["changes"] if c["phone_number_id"] == PNID] == [
        ("STATUS_CHANGED", "CONNECTED")]
    assert check(world)["decision"] == "ALLOWED_NEW_RECIPIENT"
    assert "meta_block_lifted_by_graph" not in sync()["counts"]  # nothing left to lift


def test_a_graph_read_saying_blocked_keeps_the_number_denied_after_the_refusal_is_lifted(world):
    world.stack.clock.now = float(BLOCK_AT + 60)
    post(world, body_of(BLOCKS[131042]))
    world.meta.change("waba", {"id": WABA, "health": "BLOCKED", "error_code": 141006,
                               "error_description": "There is an error with the payment method."})
    world.stack.clock.now = float(BLOCK_AT + 900)
    sync()
    answer = check(world)
    # Meta's health words come first in `error`; no AVAILABLE read lifted the refusal
    assert answer["decision"] == "DENIED_BLOCKED_BY_META" and "141006" in answer["error"]
    sent = json.loads(body_of("messages.status-sent.json"))
    status = sent["entry"][0]["changes"][0]["value"]["statuses"][0]
    status["timestamp"] = str(BLOCK_AT + 950)
    post(world, json.dumps(sent).encode())  # a later success lifts the refusal, not Meta's health
    answer = check(world, PHONE)
    assert answer["decision"] == "DENIED_BLOCKED_BY_META" and "141006" in answer["error"]
