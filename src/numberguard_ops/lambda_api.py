"""The Lambda invoke API on 127.0.0.1, so `boto3.client("lambda", endpoint_url=...)` works unchanged.

Implements what senders and tools call:
- `POST /2015-03-31/functions/{FunctionName}/invocations` (Invoke): `RequestResponse` → 200 and the
  handler's JSON; an unhandled error → 200 with `X-Amz-Function-Error: Unhandled` and Lambda's error
  document; `Event` → 202, run in the background; `DryRun` → 204 after checking the function exists.
- `GET /2015-03-31/functions/` (ListFunctions) and `GET /2015-03-31/functions/{FunctionName}`.
Service errors are answered as Lambda answers them (`x-amzn-ErrorType` header, `{"Type", "message"}`
body), e.g. 404 `ResourceNotFoundException` for an unknown function.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from numberguard_ops.runtime import ACCOUNT_ID, REGION, FunctionRuntime, Invocation, LoadedFunction

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024  # Lambda's request limit for RequestResponse
MAX_ASYNC_PAYLOAD = 1024 * 1024  # ... and for Event (1 MB since 2025)

_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
_FUNCTION = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/?$")
_LIST = re.compile(r"^/2015-03-31/functions/?$")


class ServiceError(Exception):
    def __init__(self, status: int, error_type: str, message: str, kind: str = "User"):
        super().__init__(message)
        self.status, self.error_type, self.message, self.kind = status, error_type, message, kind


def _configuration(fn: LoadedFunction) -> dict[str, Any]:
    spec = fn.spec
    return {
        "FunctionName": spec.name,
        "FunctionArn": spec.arn,
        "Runtime": "python3.13",
        "Handler": spec.handler,
        "Timeout": spec.timeout,
        "MemorySize": spec.memory_mb,
        "Version": "$LATEST",
        "State": "Active" if fn.load_error is None else "Failed",
        "Environment": {"Variables": dict(spec.environment)},
    }


class InvokeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: boto3 reuses its connections
    server_version = "numberguard-local"
    timeout = 120  # an idle keep-alive connection is closed after this

    @property
    def runtime(self) -> FunctionRuntime:
        return self.server.runtime  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per invoke would drown the functions' own logs

    # ---- plumbing ---------------------------------------------------------------------------

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_SYNC_PAYLOAD:
            # Read (and drop) it anyway so the connection stays usable for the error answer.
            remaining = length
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 65536))
                if not chunk:
                    break
                remaining -= len(chunk)
            raise ServiceError(413, "RequestTooLargeException", f"Request must be smaller than {MAX_SYNC_PAYLOAD} "
                               "bytes for the InvokeFunction operation")
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              request_id: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", request_id or str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _error(self, err: ServiceError) -> None:
        body = json.dumps({"Type": err.kind, "message": err.message}).encode()
        self._send(err.status, body, {"x-amzn-ErrorType": err.error_type})

    def _function(self, raw_name: str) -> LoadedFunction:
        name = unquote(raw_name)
        qualifier = parse_qs(urlsplit(self.path).query).get("Qualifier", [None])[0]
        fn = self.runtime.resolve(name if qualifier in (None, "$LATEST") else f"{name}:{qualifier}")
        if fn is None:
            shown = name if name.startswith("arn:") else f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
            if qualifier:
                shown += f":{qualifier}"
            raise ServiceError(404, "ResourceNotFoundException", f"Function not found: {shown}")
        return fn

    # ---- routes -----------------------------------------------------------------------------

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        try:
            match = _INVOKE.match(path)
            if not match:
                self._body()
                raise ServiceError(404, "UnknownOperationException", f"Unknown operation POST {path}")
            body = self._body()
            self._invoke(self._function(match["name"]), body)
        except ServiceError as err:
            self._error(err)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        try:
            if _LIST.match(path):
                functions = [_configuration(fn) for fn in self.runtime.functions.values()]
                self._send(200, json.dumps({"Functions": functions}).encode())
                return
            match = _FUNCTION.match(path)
            if match:
                fn = self._function(match["name"])
                self._send(200, json.dumps({"Configuration": _configuration(fn)}).encode())
                return
            raise ServiceError(404, "UnknownOperationException", f"Unknown operation GET {path}")
        except ServiceError as err:
            self._error(err)

    def _invoke(self, fn: LoadedFunction, body: bytes) -> None:
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            raise ServiceError(400, "InvalidParameterValueException",
                               f"Unsupported invocation type {invocation_type!r}: RequestResponse, Event or DryRun")
        try:
            event = json.loads(body) if body.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ServiceError(400, "InvalidRequestContentException",
                               f"Could not parse request body into json: {err}") from None
        request_id = str(uuid.uuid4())
        if invocation_type == "DryRun":
            self._send(204, request_id=request_id)
            return
        if invocation_type == "Event":
            if len(body) > MAX_ASYNC_PAYLOAD:
                raise ServiceError(413, "RequestTooLargeException", f"Request must be smaller than "
                                   f"{MAX_ASYNC_PAYLOAD} bytes for the InvokeFunction operation")
            threading.Thread(target=self.runtime.invoke, args=(fn, event, request_id), daemon=True).start()
            self._send(202, request_id=request_id)
            return
        result = self.runtime.invoke(fn, event, request_id)
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        if self.headers.get("X-Amz-Log-Type") == "Tail":
            headers["X-Amz-Log-Result"] = _tail(fn, result)
        self._send(200, result.payload.encode(), headers, request_id)


def _tail(fn: LoadedFunction, result: Invocation) -> str:
    """The START/END/REPORT lines Lambda returns with LogType=Tail (function logs go to local mode's output)."""
    lines = [
        f"START RequestId: {result.request_id} Version: $LATEST",
        f"END RequestId: {result.request_id}",
        f"REPORT RequestId: {result.request_id}\tDuration: {result.duration_ms:.2f} ms\t"
        f"Memory Size: {fn.spec.memory_mb} MB",
    ]
    return base64.b64encode(("\n".join(lines) + "\n").encode()).decode()


class InvokeServer(ThreadingHTTPServer):
    """One thread per connection: concurrent invokes run concurrently, as on Lambda."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], runtime: FunctionRuntime):
        super().__init__(address, InvokeHandler)
        self.runtime = runtime
