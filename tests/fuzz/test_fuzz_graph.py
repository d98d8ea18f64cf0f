"""Graph API answers with any field missing, mistyped, empty or oversized (more than 10,000 of them),
through the Graph client: every answer is read or refused as a whole (a typed, retryable error),
never a crash; what is read is bounded; the token never appears in an error."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from numberguard.graph.client import GraphClient, GraphError, RawResponse
from numberguard.graph.nodes import MAX_TEXT

from tests.conftest import EVENTS
from tests.fuzz.conftest import FUZZ, PER_EXAMPLE

TOKEN = "EAAG-fuzz-token"
SAMPLES = [json.loads(p.read_text()) for p in sorted(Path(EVENTS / "graph").glob("*.json"))]
JUNK = [None, True, 0, -1, 2**64, 1.5e308, "", " ", "\u0000", "\U0001f4a9", "x" * 5000, [], [None], {}, {"": None},
        "106540352242922", "BLOCKED", "TIER_250", {"can_send_message": "BLOCKED"}, [{"entity_type": "WABA"}]]


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, (*prefix, i))


def _mutate(value, path, replacement):
    if not path:
        return replacement
    head, *rest = path
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = _mutate(value[head], rest, replacement)
    return copy


@st.composite
def bodies(draw):
    base = draw(st.sampled_from(SAMPLES))
    paths = list(_paths(base))
    body = base
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        try:
            body = _mutate(body, path, draw(st.sampled_from(JUNK)))
        except (KeyError, IndexError, TypeError):
            continue
    return body


class Canned:
    def __init__(self, status: int, body: bytes):
        self.status, self.body = status, body

    def get(self, url, headers, connect_timeout, read_timeout):
        return RawResponse(self.status, {"x-business-use-case-usage": "{}"}, self.body)


def _read_everything(client: GraphClient) -> None:
    for read in (lambda: client.phone_numbers("102290129340398"), lambda: client.phone_number("106540352242922"),
                 lambda: client.waba("102290129340398"), lambda: client.templates("102290129340398"),
                 lambda: client.business_limit("506914307656634")):
        try:
            value = read().value
        except GraphError as err:
            assert TOKEN not in str(err) and len(str(err)) < 1000
            continue
        for node in getattr(value, "items", None) or [value]:
            for text in vars(node).values() if hasattr(node, "__dict__") else [node]:
                assert not isinstance(text, str) or len(text) <= max(MAX_TEXT, 4096)
            health = getattr(node, "health", None)
            if health is not None:
                health.error_text(), health.warnings(), health.summary()


@FUZZ
@given(st.lists(st.tuples(st.sampled_from([200, 200, 200, 400, 401, 429, 500]), bodies()), min_size=PER_EXAMPLE,
                max_size=PER_EXAMPLE))
def test_any_graph_answer_is_read_or_refused_whole(cases):
    for status, body in cases:
        raw = json.dumps(body).encode()
        _read_everything(GraphClient("https://graph.facebook.com", "v24.0", lambda: TOKEN,
                                     transport=Canned(status, raw)))
