"""The Graph client against every sample response of events/graph/ (copied from the reference), on a
fake transport: what a sync reads, how it pages, and how each error is classified."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from numberguard.domain.health import CanSend
from numberguard.graph.client import (
    GraphAccessRefused,
    GraphClient,
    GraphMalformed,
    GraphRequestFailed,
    GraphThrottled,
    GraphUnavailable,
    RawResponse,
    parse_usage,
)
from numberguard.graph.nodes import NUMBER_FIELDS

from tests.conftest import EVENTS

GRAPH = EVENTS / "graph"
TOKEN = "EAAG-secret-token-value"
WABA, NUMBER, BUSINESS = "102290129340398", "106540352242922", "506914307656634"
PAGE1_AFTER = "MTEwMjAwMzQ1NTAxNDQy"
USAGE = (GRAPH / "header-x-business-use-case-usage.json").read_text()


def sample(name: str) -> bytes:
    return (GRAPH / name).read_bytes()


class FakeTransport:
    """Answers each GET by the first route whose path and query match; records every request."""

    def __init__(self, routes: list[tuple[str, dict[str, str], int, bytes]], usage: str | None = USAGE):
        self.routes = routes
        self.usage = usage
        self.requests: list[tuple[str, dict]] = []

    def get(self, url, headers, connect_timeout, read_timeout):
        assert connect_timeout > 0 and read_timeout > 0
        self.requests.append((url, dict(headers)))
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        for path, wanted, status, body in self.routes:
            if parts.path == path and all(query.get(k) == v for k, v in wanted.items()):
                headers_out = {"x-business-use-case-usage": self.usage} if self.usage else {}
                return RawResponse(status, headers_out, body)
        raise AssertionError(f"unexpected request {url}")


def client(transport, base: str = "https://graph.facebook.com") -> GraphClient:
    return GraphClient(base, "v24.0", lambda: TOKEN, transport=transport, page_size=2)


def test_every_sample_file_is_used_by_these_tests():
    used = {"phone-number.json", "waba-phone-numbers.page1.json", "waba-phone-numbers.page2.json",
            "health-status.available.json", "health-status.limited.json", "health-status.blocked.json",
            "waba-message-templates.json", "business-messaging-limit.json", "error-190-expired-token.json",
            "error-80008-rate-limited.json", "header-x-business-use-case-usage.json", "error-100-invalid-field.json"}
    assert {p.name for p in GRAPH.glob("*.json")} == used


def test_a_number_node_reads_every_field_and_its_health():
    # Given Meta's phone-number example
    transport = FakeTransport([(f"/v24.0/{NUMBER}", {}, 200, sample("phone-number.json"))])
    # When the number's node is read
    read = client(transport).phone_number(NUMBER)
    node = read.value
    # Then every field of §5b is there, in the words a sync compares
    assert (node.id, node.display_phone_number, node.verified_name) == (NUMBER, "15550783881", "Lucky Shrub")
    assert (node.quality_rating, node.status, node.name_status) == ("GREEN", "CONNECTED", "APPROVED")
    assert (node.code_verification_status, node.throughput_level, node.messaging_limit) == \
        ("VERIFIED", "STANDARD", "TIER_250")
    assert node.health is not None and node.health.can_send is CanSend.AVAILABLE
    assert {e.entity_type for e in node.health.entities} == {"PHONE_NUMBER", "WABA", "BUSINESS", "APP"}
    assert node.lacks() == ()
    # And it asked for every field, with the token in the header only
    url, headers = transport.requests[0]
    assert set(parse_qs(urlsplit(url).query)["fields"][0].split(",")) == set(NUMBER_FIELDS)
    assert headers["Authorization"] == f"Bearer {TOKEN}" and TOKEN not in url
    assert read.usage is not None and read.usage.peak == 1 and not read.usage.back_off


def test_the_numbers_list_is_followed_page_by_page_with_next():
    transport = FakeTransport([
        (f"/v24.0/{WABA}/phone_numbers", {"after": PAGE1_AFTER}, 200, sample("waba-phone-numbers.page2.json")),
        (f"/v24.0/{WABA}/phone_numbers", {}, 200, sample("waba-phone-numbers.page1.json")),
    ])
    graph = client(transport)
    first = graph.phone_numbers(WABA).value
    assert [n.id for n in first.items] == [NUMBER, "110200345501442"] and not first.last
    second = graph.phone_numbers(WABA, after=first).value
    assert [n.id for n in second.items] == ["117835072280431"] and second.last
    # The display number is normalised to digits (the list uses Meta's formatted form)
    assert first.items[0].display_phone_number == "15550783881"
    assert (first.items[1].status, first.items[1].quality_rating) == ("DISCONNECTED", "YELLOW")
    assert (second.items[0].status, second.items[0].throughput_level) == ("PENDING", "NOT_APPLICABLE")
    # The list entries of the samples carry no health_status: the sync reads it on the node
    assert first.items[0].lacks() == ("health_status",)
    # The second call is page 1's `next` (same host), one page per call
    assert transport.requests[1][0].startswith(f"https://graph.facebook.com/v24.0/{WABA}/phone_numbers?")
    assert graph.calls == 2


def test_a_next_link_to_another_host_is_followed_by_cursor_on_the_configured_host():
    # Given the client points at another server (local mode's double) but the page names Meta's host
    transport = FakeTransport([
        (f"/v24.0/{WABA}/phone_numbers", {"after": PAGE1_AFTER}, 200, sample("waba-phone-numbers.page2.json")),
        (f"/v24.0/{WABA}/phone_numbers", {}, 200, sample("waba-phone-numbers.page1.json")),
    ])
    graph = client(transport, base="http://127.0.0.1:3002")
    graph.phone_numbers(WABA, after=graph.phone_numbers(WABA).value)
    # Then the token only ever went to the configured host
    assert all(url.startswith("http://127.0.0.1:3002/v24.0/") for url, _ in transport.requests)


@pytest.mark.parametrize(("name", "can_send", "warnings", "error"), [
    ("health-status.available.json", CanSend.AVAILABLE, [], None),
    ("health-status.limited.json", CanSend.LIMITED,
     ["PHONE_NUMBER: Your display name has not been approved yet. Your message limit will increase after the "
      "display name is approved."], None),
    ("health-status.blocked.json", CanSend.BLOCKED, [],
     "Meta's health status says BLOCKED (WABA 102290129340398) 141006: There is an error with the payment method. "
     "This will block business initiated conversations."),
])
def test_health_status_samples(name, can_send, warnings, error):
    transport = FakeTransport([(f"/v24.0/{NUMBER}", {"fields": "id,health_status"}, 200, sample(name))])
    node = client(transport).phone_number(NUMBER, ("health_status",)).value
    assert node.health is not None and node.health.can_send is can_send
    assert node.health.warnings() == warnings
    assert node.health.error_text() == error
    if can_send is CanSend.BLOCKED:
        assert node.health.solution().startswith("There was an error with your payment method")
        assert node.health.summary() == "BLOCKED (WABA 141006)"


def test_the_templates_list():
    transport = FakeTransport([(f"/v24.0/{WABA}/message_templates", {}, 200, sample("waba-message-templates.json"))])
    page = client(transport).templates(WABA).value
    assert [(t.name, t.language, t.status, t.category, t.quality) for t in page.items] == [
        ("order_confirmation", "en_US", "APPROVED", "UTILITY", "GREEN"),
        ("autumn_sale", "en_US", "PAUSED", "MARKETING", "RED"),
        ("back_in_stock", "en_US", "DISABLED", "MARKETING", "RED"),
    ]
    assert page.items[0].quality_date == 1758754645
    # Cursors but no `next`: the last page
    assert page.last


def test_the_portfolio_limit_on_the_business_node():
    transport = FakeTransport([(f"/v24.0/{BUSINESS}", {}, 200, sample("business-messaging-limit.json"))])
    assert client(transport).business_limit(BUSINESS).value == "TIER_250"


def test_an_expired_token_is_access_refused_and_the_token_is_never_in_the_error():
    body = json.loads(sample("error-190-expired-token.json"))
    body["error"]["message"] += f" (token {TOKEN})"  # even if Meta echoed it
    transport = FakeTransport([(f"/v24.0/{NUMBER}", {}, 401, json.dumps(body).encode())])
    with pytest.raises(GraphAccessRefused) as caught:
        client(transport).phone_number(NUMBER)
    assert (caught.value.code, caught.value.subcode, caught.value.status) == (190, 463, 401)
    assert TOKEN not in str(caught.value) and not caught.value.retryable


def test_a_rate_limited_read_is_throttled_and_resumable():
    transport = FakeTransport([(f"/v24.0/{WABA}/phone_numbers", {}, 400, sample("error-80008-rate-limited.json"))])
    with pytest.raises(GraphThrottled) as caught:
        client(transport).phone_numbers(WABA)
    assert caught.value.code == 80008 and caught.value.retryable and caught.value.retry_after > 0


@pytest.mark.parametrize("code", [4, 17, 613, 80007, 80008])
def test_every_throttling_code_backs_off(code):
    body = json.dumps({"error": {"message": "slow down", "type": "OAuthException", "code": code}}).encode()
    transport = FakeTransport([(f"/v24.0/{WABA}", {}, 400, body)])
    with pytest.raises(GraphThrottled):
        client(transport).waba(WABA)


def test_an_invalid_field_is_a_refused_request():
    transport = FakeTransport([(f"/v24.0/{NUMBER}", {}, 400, sample("error-100-invalid-field.json"))])
    with pytest.raises(GraphRequestFailed) as caught:
        client(transport).phone_number(NUMBER)
    assert caught.value.code == 100 and not caught.value.retryable


def test_the_usage_header_sample_and_the_back_off_threshold():
    usage = parse_usage(USAGE)
    assert usage is not None and usage.percent == {WABA: 1.0} and not usage.back_off
    busy = json.loads(USAGE)
    busy[WABA][0]["total_time"] = 90
    busy[WABA][0]["estimated_time_to_regain_access"] = 7
    usage = parse_usage(json.dumps(busy))
    assert usage.back_off and usage.regain_seconds == 420
    for unreadable in ("", "not json", "[]", '{"1": "x"}', '{"1": [{"call_count": "90"}]}'):
        assert parse_usage(unreadable) is None


@pytest.mark.parametrize("body", [b"[]", b'{"data": {}}', b'{"paging": {}}', b"\xff\xfe", b"null"])
def test_a_malformed_page_is_refused_whole(body):
    transport = FakeTransport([(f"/v24.0/{WABA}/phone_numbers", {}, 200, body)])
    with pytest.raises((GraphMalformed, GraphUnavailable)) as caught:
        client(transport).phone_numbers(WABA)
    assert caught.value.retryable


def test_unreadable_entries_and_fields_are_skipped_not_guessed():
    body = {"data": [
        {"id": NUMBER, "quality_rating": 7, "status": None, "display_phone_number": ["x"],
         "whatsapp_business_manager_messaging_limit": {"tier": 1}, "health_status": {"can_send_message": "MAYBE"}},
        {"display_phone_number": "+1 650-555-1111"},  # no id
        "not an object",
    ]}
    transport = FakeTransport([(f"/v24.0/{WABA}/phone_numbers", {}, 200, json.dumps(body).encode())])
    page = client(transport).phone_numbers(WABA).value
    assert page.skipped == 2 and len(page.items) == 1
    node = page.items[0]
    assert (node.quality_rating, node.status, node.display_phone_number, node.messaging_limit, node.health) == \
        (None, None, None, None, None)


def test_a_network_failure_is_unavailable_and_names_no_secret():
    class Down:
        def get(self, url, headers, connect_timeout, read_timeout):
            raise TimeoutError(f"timed out reading {headers['Authorization']}")

    with pytest.raises(GraphUnavailable) as caught:
        client(Down()).waba(WABA)
    assert TOKEN not in str(caught.value) and caught.value.retryable


def test_a_5xx_without_json_is_unavailable():
    transport = FakeTransport([(f"/v24.0/{WABA}", {}, 502, b"<html>bad gateway</html>")])
    with pytest.raises(GraphUnavailable):
        client(transport).waba(WABA)


def test_the_client_repr_names_no_token():
    assert TOKEN not in repr(client(FakeTransport([])))


def test_the_http_transport_reads_with_both_timeouts_from_a_local_server():
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    seen = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen["auth"] = self.headers.get("Authorization")
            body = sample("phone-number.json")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Business-Use-Case-Usage", USAGE.replace("\n", ""))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        graph = GraphClient(f"http://127.0.0.1:{server.server_address[1]}", "v24.0", lambda: TOKEN,
                            connect_timeout=1, read_timeout=2)
        read = graph.phone_number(NUMBER)
    finally:
        server.shutdown()
        server.server_close()
    assert read.value.messaging_limit == "TIER_250" and read.usage.peak == 1
    assert seen["auth"] == f"Bearer {TOKEN}"


def test_graph_samples_match_the_shared_reference_when_it_is_there():
    from tests.conftest import REFERENCE

    shared = REFERENCE / "graph"
    if not shared.exists():
        pytest.skip("the shared reference is not beside this checkout")
    for path in shared.glob("*.json"):
        assert (GRAPH / path.name).read_bytes() == path.read_bytes(), path.name


