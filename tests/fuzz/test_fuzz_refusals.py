"""Meta's refusals in any order, duplicated, with junk among the codes (hypothesis, the real intake on moto).

Given a random history of one number's sends: failed statuses with 131048 / 131049 / 131042 / 368 / 131031
(and codes numberguard does not act on, and `errors[]` entries it cannot read), successful statuses, at
random times, delivered shuffled with duplicates, then:
- nothing raises; every unreadable entry is counted;
- the hold ends at the latest live 131048 + the hold, and NUMBER_ON_HOLD is announced at least once and
  at most once per hold of the time-ordered history (a retry never announces twice);
- each refused person's cooldown ends 24 h after their latest 131049;
- the WABA is blocked whenever time order leaves it blocked (an order Meta chose never makes it less safe),
  and a duplicate of every delivery changes nothing.
"""

from __future__ import annotations

import itertools
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numberguard.domain.refusals import BLOCK_CODES, LIFTED, code_of_block, fold_holds

from tests.fuzz.conftest import FUZZ
from tests.webhooks import envelope, signed_post

DISPLAY = "15550783881"
_EXAMPLES = itertools.count()  # each example its own number and WABA (the fixture's tables are shared)
NOW = 1_800_000_000
HOLD = 3600
PEOPLE = ["16505550001", "16505550002", "US.13491208655302741918"]
CODES = [131048, 131049, *BLOCK_CODES, 131026, 130429, 131056]
JUNK = [{"code": "x"}, {"code": None}, {"code": -5}, {"code": 1.5}, "junk", None, {"title": "no code"}, {"code": True}]

sends = st.lists(st.tuples(
    st.integers(min_value=NOW - 2 * HOLD, max_value=NOW - 1),  # when Meta stamped it
    st.sampled_from(["failed", "failed", "failed", "sent", "delivered", "read"]),
    st.sampled_from(CODES),
    st.sampled_from(PEOPLE),
    st.lists(st.sampled_from(JUNK), max_size=2),
), min_size=1, max_size=8)


def status_body(pnid: str, waba: str, i: int, sent: tuple) -> bytes:
    at, state, code, person, junk = sent
    status = {"id": f"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI{i:04d}", "status": state, "timestamp": str(at)}
    status["recipient_user_id" if person.startswith("US.") else "recipient_id"] = person
    if state == "failed":
        status["errors"] = [{"code": code, "title": "refused"}, *junk]
    value = {"messaging_product": "whatsapp", "metadata": {"display_phone_number": DISPLAY, "phone_number_id": pnid},
             "statuses": [status]}
    return envelope(waba, [{"field": "messages", "value": value}])


@pytest.fixture
def world(webhook_world, monkeypatch):
    from numberguard import wiring

    from tests.conftest import FakeClock

    monkeypatch.setattr(wiring, "clock", FakeClock(NOW))
    return webhook_world


def stored(world, pnid: str, waba: str) -> dict:
    from numberguard.store import codec, keys

    client, cfg = world.stack.client, world.stack.settings
    number = client.get_item(TableName=cfg.numbers_table, Key=keys.number_key(pnid), ConsistentRead=True)["Item"]
    cooldowns = {}
    for person in PEOPLE:
        item = client.get_item(TableName=cfg.recipients_table, Key=keys.cooldown_key(f"waba:{waba}", person),
                               ConsistentRead=True).get("Item")
        if item:
            cooldowns[person] = codec.n(item, "cooldown_until")
    holds = [h for h in world.history(pnid) if h["type"] == "NUMBER_ON_HOLD"]
    return {"hold_until": codec.n(number, "hold_until"), "block": codec.s(number, "meta_block"),
            "cooldowns": cooldowns, "holds_announced": len(holds)}


@settings(FUZZ, max_examples=25)
@given(history=sends, seed=st.integers(min_value=0, max_value=2**16))
def test_refusals_in_any_order_with_duplicates_and_junk(world, history, seed):
    n = next(_EXAMPLES)
    pnid, waba = str(106540352200000 + n), str(102290129300000 + n)
    world.stack.register(phone_number_id=pnid, waba_id=waba, tier="TIER_1K")
    bodies = [status_body(pnid, waba, i, sent) for i, sent in enumerate(history)]
    deliveries = bodies + random.Random(seed).sample(bodies, k=min(len(bodies), 3))  # some twice
    random.Random(seed).shuffle(deliveries)
    unreadable = 0
    for body in deliveries:
        answer = world.invoke(signed_post(body))
        assert answer["statusCode"] == 200, answer
        unreadable += json.loads(answer["body"])["counts"].get("error_unreadable", 0)
    failed = [s for s in history if s[1] == "failed"]
    state = stored(world, pnid, waba)
    # Every junk entry counted, on every delivery of its body
    junk = {body: sum(1 for _ in sent[4]) for body, sent in zip(bodies, history, strict=True) if sent[1] == "failed"}
    assert unreadable == sum(junk.get(body, 0) for body in deliveries)
    # The hold: the latest live 131048 + the hold, announced once or per time-ordered hold at most
    spam = [(at, f"{i}") for i, (at, state_, code, _, _) in enumerate(history) if state_ == "failed" and code == 131048]
    live = [h for h in fold_holds(spam, HOLD) if h[1] > NOW]
    assert state["hold_until"] == (max(h[1] for h in live) if live else None)
    assert (1 if live else 0) <= state["holds_announced"] <= len(live)
    # The cooldowns: 24 h after each person's latest 131049
    wanted = {}
    for at, _, code, person, _ in failed:
        if code == 131049 and at + 86400 > NOW:
            wanted[person] = max(wanted.get(person, 0), at + 86400)
    assert state["cooldowns"] == wanted
    # The block: never less safe than time order
    if time_order_blocked(history):
        assert code_of_block(state["block"]) is not None, (history, state)
    # And the same deliveries again change nothing
    for body in deliveries:
        assert world.invoke(signed_post(body))["statusCode"] == 200
    assert stored(world, pnid, waba) == state


def time_order_blocked(history: list[tuple]) -> bool:
    """Blocked after every event in time order: the latest block-code refusal, unless a later `sent` lifted it
    (delivered and read never lift)."""
    value = LIFTED
    for _, state, code, _, _ in sorted(history, key=lambda s: s[0]):
        if state == "failed" and code in BLOCK_CODES:
            value = f"BLOCKED {code}"
        elif state == "sent":
            value = LIFTED
    return value != LIFTED
