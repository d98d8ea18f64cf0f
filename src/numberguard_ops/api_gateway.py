"""The template's Api and HttpApi events served on 127.0.0.1, as API Gateway (and `sam local start-api`) does.

Each request matching a route becomes an API Gateway proxy event (REST API payload 1.0 for `Api`,
HTTP API payload 2.0 for `HttpApi`): headers and multi-value headers, query strings, path
parameters, a request context, and the body as text, or base64 with `isBase64Encoded` when it is
not UTF-8 text. The function's proxy answer (`statusCode`, `headers`, `multiValueHeaders`, `body`,
`isBase64Encoded`) becomes the HTTP response; a function error or a malformed answer is API
Gateway's 502 `{"message": "Internal server error"}`, an unknown route its 403 `Missing
Authentication Token` (REST) or 404 `Not Found` (HTTP API).
"""

from __future__ import annotations

import base64
import json
import re
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from numberguard_ops.runtime import ACCOUNT_ID, FunctionRuntime
from numberguard_ops.template import Route

STAGE = "Prod"  # the stage SAM creates for implicit APIs
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit


def _pattern(path: str) -> re.Pattern:
    regex = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("+}"):
            regex += f"(?P<{part[1:-2]}>.+)"
        elif part.startswith("{"):
            regex += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}/?$")


class Routes:
    def __init__(self, routes: list[Route]):
        self.routes = [(r, _pattern(r.path)) for r in routes]

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route, pattern in self.routes:
            if route.method not in ("ANY", method):
                continue
            found = pattern.match(path)
            if found:
                return route, {k: v for k, v in found.groupdict().items()}
        return None

    def known_path(self, path: str) -> bool:
        return any(p.match(path) for _, p in self.routes)


def _text_or_base64(body: bytes) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), True


def proxy_event_v1(route: Route, method: str, raw_path: str, query: str, headers: list[tuple[str, str]],
                   body: bytes, source_ip: str, path_parameters: dict[str, str]) -> dict[str, Any]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value  # the last value wins, as API Gateway does
        multi.setdefault(name, []).append(value)
    pairs = parse_qsl(query, keep_blank_values=True)
    qs_single: dict[str, str] = {}
    qs_multi: dict[str, list[str]] = {}
    for name, value in pairs:
        qs_single[name] = value
        qs_multi.setdefault(name, []).append(value)
    text, encoded = _text_or_base64(body)
    now = datetime.now(UTC)
    return {
        "resource": route.path,
        "path": raw_path,
        "httpMethod": method,
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": qs_single or None,
        "multiValueQueryStringParameters": qs_multi or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "resourceId": "local",
            "resourcePath": route.path,
            "httpMethod": method,
            "path": f"/{STAGE}{raw_path}",
            "stage": STAGE,
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "extendedRequestId": str(uuid.uuid4()),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "domainName": single.get("Host") or single.get("host") or "127.0.0.1",
            "identity": {"sourceIp": source_ip, "userAgent": single.get("User-Agent") or single.get("user-agent")},
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def proxy_event_v2(route: Route, method: str, raw_path: str, query: str, headers: list[tuple[str, str]],
                   body: bytes, source_ip: str, path_parameters: dict[str, str]) -> dict[str, Any]:
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    qs: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        qs[name] = f"{qs[name]},{value}" if name in qs else value
    text, encoded = _text_or_base64(body)
    now = datetime.now(UTC)
    route_key = f"{method} {route.path}" if route.method != "ANY" else f"ANY {route.path}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": merged,
        "requestContext": {
            "accountId": ACCOUNT_ID, "apiId": "local", "domainName": merged.get("host", "127.0.0.1"),
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": merged.get("user-agent", "")},
            "requestId": str(uuid.uuid4()), "routeKey": route_key, "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"), "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": encoded,
    }
    if cookies:
        event["cookies"] = cookies
    if qs:
        event["queryStringParameters"] = qs
    if path_parameters:
        event["pathParameters"] = path_parameters
    if text is not None:
        event["body"] = text
    return event


class BadProxyAnswer(ValueError):
    pass


def http_answer(result: Any, version: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """A function's proxy answer → (status, headers, body), or BadProxyAnswer as API Gateway sees it."""
    if version != "1.0" and not (isinstance(result, dict) and "statusCode" in result):
        # HTTP API 2.0 accepts a bare value: 200 and the value as JSON.
        return 200, [("Content-Type", "application/json")], json.dumps(result).encode()
    if not isinstance(result, dict):
        raise BadProxyAnswer("the answer is not a JSON object")
    status = result.get("statusCode")
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise BadProxyAnswer(f"statusCode {status!r} is not an HTTP status")
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((str(name), str(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers += [(str(name), str(v)) for v in (values or [])]
    if version != "1.0":
        headers += [("Set-Cookie", str(c)) for c in result.get("cookies") or []]
    body = result.get("body")
    if body is None:
        raw = b""
    elif not isinstance(body, str):
        raise BadProxyAnswer("body must be a string")
    elif result.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except ValueError:
            raise BadProxyAnswer("isBase64Encoded but the body is not base64") from None
    else:
        raw = body.encode("utf-8")
    if not any(n.lower() == "content-type" for n, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return status, headers, raw


class ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "numberguard-local-api"
    timeout = 120

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, document: dict) -> None:
        self._reply(status, [("Content-Type", "application/json")], json.dumps(document).encode())

    def _handle(self) -> None:
        server: ApiServer = self.server  # type: ignore[assignment]
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            self._json(413, {"message": "Request Too Long"})
            return
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        method = self.command.upper()
        found = server.routes.match(method, parts.path)
        if found is None:
            if server.payload_version == "1.0":
                self._json(403, {"message": "Missing Authentication Token"})
            else:
                self._json(404, {"message": "Not Found"})
            return
        route, params = found
        make = proxy_event_v1 if route.payload_version == "1.0" else proxy_event_v2
        event = make(route, method, parts.path, parts.query, list(self.headers.items()), body,
                     self.client_address[0], params)
        fn = server.runtime.require(route.function)
        started = time.monotonic()
        result = server.runtime.invoke(fn, event)
        took = (time.monotonic() - started) * 1000
        if not result.ok:
            server.log(f"{method} {parts.path} → 502 ({route.function} failed: {result.json().get('errorType')})")
            self._json(502, {"message": "Internal server error"})
            return
        try:
            status, headers, raw = http_answer(result.json(), route.payload_version)
        except BadProxyAnswer as err:
            server.log(f"{method} {parts.path} → 502 ({route.function} answered a malformed proxy response: {err})")
            self._json(502, {"message": "Internal server error"})
            return
        server.log(f"{method} {parts.path} → {status} ({route.function}, {took:.0f} ms)")
        self._reply(status, headers, raw)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], routes: list[Route], runtime: FunctionRuntime,
                 log: Callable[[str], None] | None = None):
        super().__init__(address, ApiHandler)
        self.routes = Routes(routes)
        self.payload_version = routes[0].payload_version if routes else "1.0"
        self.runtime = runtime
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
