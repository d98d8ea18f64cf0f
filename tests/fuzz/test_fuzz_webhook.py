"""Hostile requests through WebhookFunction's handler on moto (more than 10,000 of them).

What a stranger controls on the public URL: the method, the query string, the headers, the body
and, through the content type, whether API Gateway hands the body over base64-encoded. Given any
of it, the handler answers (never raises), never with a 5xx (no AWS fault here: every failure is
the client's), every rejection carries a clear `error`, and a rejected request stores, archives and
publishes nothing. Signed bodies (as if the attacker had the app secret, or Meta sent junk) go
further, into the parser: junk and mutated real bodies are answered 200 or 400, never 5xx.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from numberguard.webhooks import MAX_BODY_BYTES, sign

from tests.aws_calls import aws_calls
from tests.fuzz.conftest import FUZZ, PER_EXAMPLE
from tests.webhooks import LOCAL_APP_SECRET, LOCAL_VERIFY_TOKEN, api_event, reference_body, reference_names

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "PutObject", "Publish"}
META_BODIES = [reference_body(n) for n in reference_names() if not n.startswith("eum-")]
PARSED = [json.loads(b) for b in META_BODIES]
JUNK = [
    None, True, False, 0, -1, 2**64, 1.5e308, "", " ", "\u0000", "\u2603", "\U0001f4a9", "null", "[]", "{}",
    [], [None], [[[[]]]], {}, {"": None}, {"id": []}, "9" * 300, "106540352242922", "whatsapp_business_account",
    {"messaging_product": "whatsapp"}, [{"field": "messages", "value": {}}], -(2**63), "1751142888", "wamid.x",
]
SIGNATURES = [
    "", " ", "sha256=", "sha256", "sha1=" + "a" * 40, "sha256=" + "0" * 64, "SHA256=" + "F" * 64, "sha256=" + "a" * 63,
    "sha256=" + "a" * 65, "sha256=" + "g" * 64, "sha256=" + "\u0430" * 64, "sha256=" + "a" * 64 + ",sha256=" + "b" * 64,
    "sha256=" + "a" * 10_000,
]


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _mutate(args) -> bytes:
    """A real Meta body with one value somewhere replaced by junk, or removed."""
    which, where, how, junk = args
    doc = json.loads(json.dumps(PARSED[which % len(PARSED)]))
    paths = [p for p in _paths(doc) if p]
    path = paths[where % len(paths)]
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if how == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = junk
    return json.dumps(doc).encode()


real_body = st.sampled_from(META_BODIES)
junk_body = st.one_of(
    st.binary(max_size=64),
    st.text(max_size=64).map(str.encode),
    st.sampled_from(JUNK).map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"{", b'{"object": "whatsapp_business_account"}', b'{"object": 1, "entry": []}',
                     b'{"object": "whatsapp_business_account", "entry": {}}', b"[" * 5000 + b"]" * 5000,
                     b'{"entry": [' + b"{}," * 3000 + b"{}]}", b"\xff\xfe{}", b'{"a": "\xc3"}']),
)
mutated_body = st.tuples(st.integers(0, 50), st.integers(0, 10**6), st.sampled_from(["replace", "delete"]),
                         st.sampled_from(JUNK)).map(_mutate)
header_names = st.sampled_from(["X-Hub-Signature-256", "x-hub-signature-256", "X-HUB-SIGNATURE-256", "X-Hub-Signature"])


def _post(body: bytes, headers: dict, as_base64: bool) -> dict:
    if as_base64:
        return api_event("POST", body, headers, base64_body=True)
    event = api_event("POST", None, headers)
    event["body"] = body.decode("utf-8", errors="surrogateescape")  # what a non-UTF-8 body would look like
    return event


# (expected statuses, event). A bad signature is 401 whatever the body; a good one lets the parser judge.
unsigned = st.tuples(st.one_of(real_body, junk_body, mutated_body),
                     st.one_of(st.none(), st.sampled_from(SIGNATURES), st.text(max_size=80)),
                     header_names, st.booleans()).map(
    lambda a: ({401}, _post(a[0], {} if a[1] is None else {a[2]: a[1]}, a[3])))
wrong_secret = st.tuples(st.one_of(real_body, mutated_body), st.text(min_size=1, max_size=20), st.booleans()).map(
    lambda a: ({401}, _post(a[0], {"X-Hub-Signature-256": sign(a[0], a[1] + "!")}, a[2])))
signed_junk = st.tuples(junk_body, st.booleans()).map(
    lambda a: ({400, 413}, _post(a[0], {"X-Hub-Signature-256": sign(a[0], LOCAL_APP_SECRET)}, a[1])))
signed_mutated = mutated_body.map(
    lambda b: ({200, 400}, _post(b, {"X-Hub-Signature-256": sign(b, LOCAL_APP_SECRET)}, False)))
bad_base64 = st.sampled_from(["%%%", "YQ", "YQ==x", "=" * 8, "\u00e9\u00e9", "YWJj ZA==\n", "Zm9v" * 3 + "!"]).map(
    lambda text: ({400, 401}, {**api_event("POST", None, {"X-Hub-Signature-256": "sha256=" + "0" * 64}),
                               "body": text, "isBase64Encoded": True}))
near_tokens = st.sampled_from(["subscribe", f"{LOCAL_VERIFY_TOKEN} ", LOCAL_VERIFY_TOKEN.upper()])
verify = st.tuples(st.one_of(st.none(), st.dictionaries(
    st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge", "x"]),
    st.one_of(st.text(max_size=30), near_tokens),
    max_size=4))).map(lambda a: ({400, 403}, api_event("GET", query=a[0])))
other_methods = st.sampled_from(["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "", "get ", "\u0000"]).map(
    lambda m: ({405}, api_event(m, b"{}")))

hostile = st.one_of(unsigned, unsigned, unsigned, wrong_secret, wrong_secret, signed_junk, signed_junk,
                    bad_base64, verify, verify, other_methods, signed_mutated)


@pytest.fixture(scope="module")
def handler():
    from webhook.app import lambda_handler

    return lambda_handler


def check_answer(expected: set[int], event: dict, answer: dict, calls) -> None:
    status = answer["statusCode"]
    assert status < 500, (status, answer["body"][:300])
    assert status in expected, (status, answer["body"][:300], event.get("httpMethod"), event.get("headers"))
    if status >= 400:
        # Then a clear message, short, and nothing written, archived or published
        error = json.loads(answer["body"])["error"]
        assert isinstance(error, str) and 10 <= len(error) <= 300, error[:400]
        assert not [c.action for c in calls if c.operation in WRITES]


def test_hostile_requests_get_a_clear_4xx_and_change_nothing(webhook_world, serial_writes, handler, lambda_context):
    webhook_world.stack.register()
    seen: Counter = Counter()
    huge = b'{"object": "whatsapp_business_account", "entry": [], "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'

    @FUZZ
    @given(batch=st.lists(hostile, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    @example(batch=[({413}, _post(huge, {"X-Hub-Signature-256": sign(huge, LOCAL_APP_SECRET)}, False))])
    @example(batch=[({413}, _post(huge, {"X-Hub-Signature-256": sign(huge, LOCAL_APP_SECRET)}, True))])
    @example(batch=[({400}, _post(b"\xff\xfe\x00{", {"X-Hub-Signature-256": sign(b"\xff\xfe\x00{", LOCAL_APP_SECRET)},
                                  True))])
    def run(batch):
        for expected, event in batch:
            with aws_calls() as recorder:
                answer = handler(event, lambda_context)
            seen["inputs"] += 1
            seen[answer["statusCode"]] += 1
            check_answer(expected, event, answer, recorder.calls)

    run()
    assert seen["inputs"] >= 10_000, seen
    assert seen[401] and seen[400] and seen[403] and seen[405] and seen[200], seen
