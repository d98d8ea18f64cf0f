"""Meta's identity fields, mutated, through WebhookFunction's handler on moto.

Given one of the 2026 identity bodies (username-only inbound, BSUID statuses, a contact shared on request,
system changes) signed with the app secret, with one identity field (from, from_user_id,
from_parent_user_id, recipient_id, recipient_user_id, recipient_parent_user_id, contacts[] and its
wa_id / user_id / parent_user_id / profile, a shared contact's origin and phones, system.*) removed,
emptied, mistyped or oversized, then the handler answers 200 or 400, never a 5xx, and every service
window, link or count it writes is keyed by a well-formed id: nothing is stored from an unreadable value.
"""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numberguard.domain import events as ev
from numberguard.domain.people import kind_of
from numberguard.webhooks import events_of, parse_envelope, sign

from tests.aws_calls import aws_calls
from tests.fuzz.conftest import FUZZ, PER_EXAMPLE
from tests.webhooks import LOCAL_APP_SECRET, api_event, reference_body

BODIES = ["messages.inbound-username-only.json", "messages.inbound-with-bsuid.json",
          "messages.contacts-shared-on-request.json", "messages.status-delivered-to-bsuid.json",
          "messages.status-sent-phone-and-bsuid.json", "messages.status-failed-to-phone.json",
          "messages.system-user-changed-number.json", "messages.system-user-changed-user-id.json"]
PARSED = [json.loads(reference_body(n)) for n in BODIES]
IDENTITY = {"from", "from_user_id", "from_parent_user_id", "recipient_id", "recipient_user_id",
            "recipient_parent_user_id", "contacts", "wa_id", "user_id", "parent_user_id", "profile", "username",
            "origin", "phones", "phone", "system", "previous_user_id", "type"}
DELETE = object()
JUNK = [DELETE, "", " ", None, 0, -1, 1.5, True, [], {}, [None], [{}], ["US.1"], {"wa_id": "16505551234"},
        "x" * 5000, "US." + "1" * 5000, "US.ENT." + "9" * 200, "1" * 5000, "us.13491208655302741918",
        "US.1349-1208", "US..1", "US.", "+16505551234", "16505551234", "16505550000", "US.17720436158839205567",
        "US.ENT.11815799212886844830", "realsheenanelson", "\u0000", "\u0661\u0662\u0663\u0664\u0665\u0666\u0667",
        "contact_request", "other", "user_changed_number", "user_changed_user_id", "system", "contacts"]
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def _paths(value, prefix=()):
    if isinstance(value, dict):
        for k, v in value.items():
            if k in IDENTITY:
                yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


PATHS = [(i, p) for i, doc in enumerate(PARSED) for p in _paths(doc)]


def _mutate(args) -> bytes:
    where, junk = args
    which, path = PATHS[where % len(PATHS)]
    doc = json.loads(json.dumps(PARSED[which]))
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if junk is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = junk
    return json.dumps(doc).encode()


mutated = st.tuples(st.integers(0, 10**6), st.sampled_from(JUNK)).map(_mutate)


def written_keys(calls) -> list[str]:
    """The pk of every item the intake wrote to the recipients table (windows, counts, links)."""
    keys = []
    for call in calls:
        if call.service != "dynamodb" or call.operation not in WRITES:
            continue
        params = call.params
        items = [params] if call.operation != "TransactWriteItems" else [
            next(iter(i.values())) for i in params["TransactItems"]]
        if call.operation == "BatchWriteItem":
            items = [r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key")
                     for rs in params["RequestItems"].values() for r in rs]
        for item in items:
            key = item.get("Key") or item.get("Item") or item
            pk = key.get("pk", {}).get("S") if isinstance(key, dict) else None
            if pk and pk[:2] in ("w#", "c#", "l#"):
                keys.append(pk)
    return keys


def ids_of(event: ev.Event) -> list[str]:
    if isinstance(event, ev.InboundMessage):
        return [*event.ids, *event.linked]
    if isinstance(event, ev.MessageStatus):
        return [i for i in (event.recipient_user_id, event.recipient_parent_user_id) if i] + list(event.linked)
    if isinstance(event, ev.IdentityChange):
        return [*event.retired, *event.current]
    return []


def test_every_identity_field_mutated_every_way_parses_to_well_formed_ids_or_unrecognised():
    """Exhaustive at the parser (every identity field of every body x every junk value): never an
    exception, and every id an event carries is one of DESIGN §3's forms."""
    seen: Counter = Counter()
    for where in range(len(PATHS)):
        for junk in JUNK:
            body = _mutate((where, junk))
            try:
                entries = parse_envelope(body)
            except Exception as err:  # the envelope itself may be refused (a 400), never crash otherwise
                assert type(err).__name__ in ("EnvelopeError", "BodyTooLarge"), err
                seen["refused"] += 1
                continue
            for event in (e for entry in entries for e in events_of(entry, 1_800_000_000)):
                seen[type(event).__name__] += 1
                for one in ids_of(event):
                    assert kind_of(one) is not None, (one[:80], body[:300])
    assert seen["InboundMessage"] and seen["MessageStatus"] and seen["IdentityChange"] and seen["Unrecognised"], seen


# Through the handler on moto a post costs tens of milliseconds: a sample by default, the whole
# fuzz tier's 10,000 inputs with PEOPLE_FUZZ=full.
HANDLER_EXAMPLES = 1_000 if os.environ.get("PEOPLE_FUZZ") == "full" else 30


@pytest.fixture(scope="module")
def handler():
    from webhook.app import lambda_handler

    return lambda_handler


def test_mutated_identity_fields_never_fail_and_never_store_an_unreadable_id(webhook_world, serial_writes, handler,
                                                                              lambda_context):
    webhook_world.stack.register()
    seen: Counter = Counter()

    @settings(FUZZ, max_examples=HANDLER_EXAMPLES)
    @given(batch=st.lists(mutated, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    def run(batch):
        for body in batch:
            event = api_event("POST", body, {"X-Hub-Signature-256": sign(body, LOCAL_APP_SECRET)})
            with aws_calls() as recorder:
                answer = handler(event, lambda_context)
            seen["inputs"] += 1
            seen[answer["statusCode"]] += 1
            assert answer["statusCode"] in (200, 400), (answer["statusCode"], answer["body"][:300], body[:300])
            for pk in written_keys(recorder.calls):
                seen[pk[:2]] += 1
                assert kind_of(pk.rsplit("#", 1)[1]) is not None, (pk[:200], body[:400])

    run()
    assert seen["inputs"] >= HANDLER_EXAMPLES * PER_EXAMPLE and seen[200], seen
    assert seen["w#"] and seen["l#"], seen  # windows and links were written for the readable ones
