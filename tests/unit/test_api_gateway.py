"""Given local mode's API in front of a function, when a client sends HTTP requests, then the function
gets the proxy event API Gateway would send and the client gets the function's answer, or API Gateway's."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from numberguard_ops.api_gateway import ApiServer, BadProxyAnswer, http_answer
from numberguard_ops.local import ApiService
from numberguard_ops.runtime import FunctionRuntime, FunctionSpec
from numberguard_ops.template import Route

ECHO = Path(__file__).resolve().parents[1] / "fixtures" / "echo"


@pytest.fixture(scope="module")
def api():
    runtime = FunctionRuntime([FunctionSpec("EchoFunction", ECHO, "app.lambda_handler"),
                               FunctionSpec("BrokenFunction", ECHO, "missing.handler")], log=lambda line: None)
    runtime.load()
    service = ApiService(runtime, [Route("EchoFunction", "ANY", "/echo/{proxy+}", "1.0"),
                                   Route("EchoFunction", "POST", "/items/{id}", "1.0"),
                                   Route("BrokenFunction", "GET", "/broken", "1.0")], port=0, say=lambda line: None)
    service.start()
    yield service.endpoint
    service.stop()


def call(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310 - http only
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def test_text_body_headers_query_and_path_parameters_reach_the_function(api):
    status, headers, body = call(f"{api}/items/42?a=1&a=2&b=x", "POST", b'{"hello": "world"}',
                                 {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=abc"})
    assert status == 201 and headers["X-Echo"] == "yes"
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    event = json.loads(body)["event"]
    assert event["httpMethod"] == "POST" and event["path"] == "/items/42" and event["resource"] == "/items/{id}"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"a": "2", "b": "x"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x"]}
    assert event["headers"]["X-Hub-Signature-256"] == "sha256=abc"
    assert event["body"] == '{"hello": "world"}' and event["isBase64Encoded"] is False
    assert event["requestContext"]["stage"] == "Prod" and event["requestContext"]["identity"]["sourceIp"]


def test_a_body_that_is_not_text_arrives_base64_encoded(api):
    raw = b"\x00\xff\xfe binary"
    _, _, body = call(f"{api}/echo/upload", "PUT", raw, {"Content-Type": "application/octet-stream"})
    event = json.loads(body)["event"]
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == raw
    assert event["pathParameters"] == {"proxy": "upload"}


def test_a_base64_answer_is_decoded_for_the_client(api):
    status, headers, body = call(f"{api}/echo/file?binary=1")
    assert status == 200 and body == b"\x00\x01\xfe\xff"
    assert headers["Content-Type"] == "application/octet-stream"


def test_unknown_routes_malformed_answers_and_failures_are_api_gateways_answers(api):
    assert call(f"{api}/nowhere")[:1] == (403,)
    assert json.loads(call(f"{api}/nowhere")[2]) == {"message": "Missing Authentication Token"}
    assert call(f"{api}/items/42", "GET")[0] == 403  # the route has POST only
    status, _, body = call(f"{api}/echo/x?broken=1")
    assert (status, json.loads(body)) == (502, {"message": "Internal server error"})
    status, _, body = call(f"{api}/broken")
    assert (status, json.loads(body)) == (502, {"message": "Internal server error"})


def test_proxy_answers_are_checked_like_api_gateway_checks_them():
    assert http_answer({"statusCode": 204}, "1.0")[0] == 204
    with pytest.raises(BadProxyAnswer):
        http_answer({"statusCode": "200"}, "1.0")
    with pytest.raises(BadProxyAnswer):
        http_answer({"statusCode": 200, "body": {"not": "a string"}}, "1.0")
    assert http_answer({"ok": True}, "2.0") == (200, [("Content-Type", "application/json")], b'{"ok": true}')


def test_api_server_refuses_a_taken_port():
    runtime = FunctionRuntime([], log=lambda line: None)
    first = ApiServer(("127.0.0.1", 0), [], runtime)
    try:
        with pytest.raises(OSError):
            ApiServer(("127.0.0.1", first.server_address[1]), [], runtime)
    finally:
        first.server_close()
