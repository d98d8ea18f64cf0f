"""Meta's pair-rate refusal (131056), mutated, and refusals in any order, through WebhookFunction's handler
on moto.

Given the reference 131056 failed status with one field (the error's code, the status's id, timestamp,
recipient ids, errors[] itself) removed, emptied, mistyped or oversized, the handler answers 200 or 400,
never a 5xx; an unreadable code is counted, never fatal; and every pair item it writes is keyed by the
number and a well-formed person id, holds whole-number refusal times and the backoff they give.
Given a few refusals delivered in a random order with duplicates, the stored pair is the one an
in-order delivery stores.
"""

from __future__ import annotations

import json
import os

from hypothesis import given, settings
from hypothesis import strategies as st
from numberguard.domain.pairrate import backoff
from numberguard.domain.people import kind_of

from tests.fuzz.conftest import FUZZ
from tests.webhooks import reference_body, signed_post

SAMPLE = json.loads(reference_body("messages.status-failed-131056-pair-rate.json"))
PNID = "106540352242922"
AT = 1789567516
DELETE = object()
JUNK = [DELETE, None, "", " ", 0, -1, 1.5, True, [], {}, [None], [{}], "x" * 5000, "1" * 5000, 131056, "131056",
        131056.0, "131056 ", 10**30, "-131056", [131056], {"code": 131056}, "US.13491208655302741918",
        "US.ENT.11815799212886844830", "+16505551234", "16505550000", "\u0000", str(AT), AT, AT * 1000, -AT]
FIELDS = [("errors",), ("errors", 0), ("errors", 0, "code"), ("id",), ("timestamp",), ("recipient_id",),
          ("recipient_user_id",), ("recipient_parent_user_id",), ("status",)]
HANDLER_EXAMPLES = 1_000 if os.environ.get("PAIR_FUZZ") == "full" else 40


def mutated(field: tuple, junk) -> bytes:
    doc = json.loads(json.dumps(SAMPLE))
    parent = doc["entry"][0]["changes"][0]["value"]["statuses"][0]
    for step in field[:-1]:
        parent = parent[step]
    if junk is DELETE:
        if isinstance(parent, dict):
            parent.pop(field[-1], None)
        else:
            del parent[field[-1]]
    else:
        parent[field[-1]] = junk
    return json.dumps(doc).encode()


def pair_items(world) -> list[dict]:
    table = world.stack.settings.recipients_table
    items = [i for page in world.stack.client.get_paginator("scan").paginate(TableName=table) for i in page["Items"]]
    return [i for i in items if i["pk"]["S"].startswith("p#")]


def check_pairs(world) -> None:
    for item in pair_items(world):
        _, pnid, person = item["pk"]["S"].split("#", 2)
        assert pnid == PNID and kind_of(person) is not None, item["pk"]
        strikes = {k: int(v["N"]) for k, v in item["strikes"]["M"].items()}
        found = backoff(strikes)
        assert found is not None and int(item["backoff_until"]["N"]) == found.until


def post(handler, lambda_context, body: bytes) -> int:
    return handler(signed_post(body), lambda_context)["statusCode"]


def test_a_mutated_pair_rate_refusal_never_fails_and_never_stores_an_unreadable_pair(webhook_world, serial_writes,
                                                                                     lambda_context):
    from webhook.app import lambda_handler

    webhook_world.stack.register()

    @settings(FUZZ, max_examples=HANDLER_EXAMPLES)
    @given(st.sampled_from(FIELDS), st.sampled_from(JUNK))
    def one(field, junk):
        status = post(lambda_handler, lambda_context, mutated(field, junk))
        assert status in (200, 400), (field, str(junk)[:60], status)
        check_pairs(webhook_world)

    one()


def refusal(wamid: str, at: int) -> bytes:
    doc = json.loads(json.dumps(SAMPLE))
    doc["entry"][0]["changes"][0]["value"]["statuses"][0].update(id=f"wamid.{wamid}", timestamp=str(at))
    return json.dumps(doc).encode()


def test_refusals_in_any_order_with_duplicates_store_what_in_order_delivery_stores(webhook_world, serial_writes,
                                                                                   lambda_context):
    from webhook.app import lambda_handler

    webhook_world.stack.register()
    table = webhook_world.stack.settings.recipients_table
    deliveries = st.lists(st.tuples(st.sampled_from("ABCDE"), st.integers(0, 3000)), min_size=1, max_size=6)

    @settings(FUZZ, max_examples=min(HANDLER_EXAMPLES, 15))
    @given(deliveries, st.randoms(use_true_random=False))
    def one(drawn, rng):
        refusals = dict(drawn)  # one time per message id (Meta's status of one message has one time)
        shuffled = [(w, refusals[w]) for w, _ in drawn] * 2
        rng.shuffle(shuffled)
        for name, found in (("shuffled", shuffled), ("in order", sorted(refusals.items(), key=lambda r: r[1]))):
            for item in pair_items(webhook_world):
                webhook_world.stack.client.delete_item(TableName=table, Key={"pk": item["pk"]})
            for wamid, offset in found:
                assert post(lambda_handler, lambda_context, refusal(wamid, AT + offset)) == 200
            (item,) = pair_items(webhook_world)
            stored = {k: v for k, v in item.items() if k not in ("expires_at", "strikes_version")}
            if name == "shuffled":
                first = stored
        assert stored == first

    one()
