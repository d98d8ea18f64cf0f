"""The Graph API reads of the Meta sync (DESIGN §5b) over the standard library's HTTP client.

- One page per call; paging by `paging.next` when it points at the configured host, else by the
  `after` cursor (the token is sent only to that host, in the Authorization header, never in a URL).
- Connect and read timeouts; a body over MAX_BODY is refused.
- Every answer carries the `X-Business-Use-Case-Usage` reading (percentages; the caller backs off at 90).
- Errors are typed: throttling (4, 17, 613, 80007, 80008, HTTP 429) and transient failures can be
  retried on a later run; 190 means the token was refused; anything else is a refused request.
- The token never appears in a log line, an exception or an answer: messages are cut and scrubbed.
"""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from numberguard.graph import nodes
from numberguard.graph.nodes import MalformedResponse, Page, PhoneNumberNode, TemplateNode, WabaNode

T = TypeVar("T")

THROTTLING_CODES = frozenset({4, 17, 613, 80007, 80008})
TOKEN_REFUSED_CODE = 190
BACK_OFF_AT = 90.0  # percent of Meta's budget (X-Business-Use-Case-Usage); throttling starts at 100
MAX_BODY = 5 * 1024 * 1024
MAX_MESSAGE = 300
DEFAULT_RETRY_AFTER = 300  # seconds, when Meta names no time to regain access
USAGE_HEADER = "x-business-use-case-usage"


# ---- errors ------------------------------------------------------------------------------------


class GraphError(RuntimeError):
    """A read that did not give its answer. The message is safe to log (no token, bounded)."""

    retryable = False

    def __init__(self, message: str, *, code: int | None = None, subcode: int | None = None,
                 status: int | None = None):
        super().__init__(message)
        self.code = code
        self.subcode = subcode
        self.status = status


class GraphThrottled(GraphError):
    """Meta's budget is spent (codes 4, 17, 613, 80007, 80008 or usage ≥ 90 %): stop, resume later."""

    retryable = True

    def __init__(self, message: str, *, retry_after: int = DEFAULT_RETRY_AFTER, **kw: int | None):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class GraphAccessRefused(GraphError):
    """Code 190: the access token is expired or revoked. A retry cannot help; a new token can."""


class GraphUnavailable(GraphError):
    """Network failure, timeout, a 5xx or a body that is not JSON: a later run may succeed."""

    retryable = True


class GraphRequestFailed(GraphError):
    """Meta refused the request itself (e.g. code 100, an unknown field)."""


class GraphMalformed(GraphError):
    """A 200 whose body is not the node or page asked for: nothing of it is applied."""

    retryable = True


# ---- usage ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """The `X-Business-Use-Case-Usage` header: the highest percentage of any counter, per WABA."""

    percent: Mapping[str, float]
    regain_seconds: int = 0

    @property
    def peak(self) -> float:
        return max(self.percent.values(), default=0.0)

    @property
    def back_off(self) -> bool:
        return self.peak >= BACK_OFF_AT


def _number(raw: object) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    return float(raw) if raw >= 0 else None


def parse_usage(header: str | None) -> Usage | None:
    """The header's JSON value → Usage; None when absent or unreadable (then it says nothing)."""
    if not header or len(header) > 64 * 1024:
        return None
    try:
        data = json.loads(header)
    except ValueError:
        return None
    if not isinstance(data, Mapping):
        return None
    percent: dict[str, float] = {}
    regain = 0
    for waba_id, entries in data.items():
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, Mapping):
                continue
            values = [v for v in (_number(entry.get(k)) for k in ("call_count", "total_cputime", "total_time"))
                      if v is not None]
            if values:
                percent[str(waba_id)[:64]] = max(percent.get(str(waba_id)[:64], 0.0), *values)
            minutes = _number(entry.get("estimated_time_to_regain_access"))
            regain = max(regain, int(minutes * 60) if minutes else 0)
    return Usage(percent, regain) if percent else None


# ---- transport -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


class Transport(Protocol):
    def get(self, url: str, headers: Mapping[str, str], connect_timeout: float, read_timeout: float) -> RawResponse:
        ...


class HttpTransport:
    """http.client with a connect timeout and a read timeout (urllib has one timeout for both)."""

    def get(self, url: str, headers: Mapping[str, str], connect_timeout: float, read_timeout: float) -> RawResponse:
        parts = urlsplit(url)
        if parts.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=connect_timeout, context=ssl.create_default_context())
        elif parts.scheme == "http":
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=connect_timeout)
        else:
            raise GraphRequestFailed(f"unsupported URL scheme {parts.scheme!r}")
        try:
            conn.connect()
            if conn.sock is not None:
                conn.sock.settimeout(read_timeout)
            target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
            conn.request("GET", target, headers=dict(headers))
            response = conn.getresponse()
            body = response.read(MAX_BODY + 1)
            return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
        finally:
            conn.close()


# ---- the client ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Read(Generic[T]):
    value: T
    usage: Usage | None = None


def _scrub(message: str, secret: str | None) -> str:
    if secret:
        message = message.replace(secret, "***")
    return message[:MAX_MESSAGE]


def _int(raw: object) -> int | None:
    return raw if isinstance(raw, int) and not isinstance(raw, bool) else None


class GraphClient:
    def __init__(self, base_url: str, version: str, token: Callable[[], str], *,
                 transport: Transport | None = None, connect_timeout: float = 3.05, read_timeout: float = 10.0,
                 page_size: int = 100):
        self.base = urlsplit(base_url.rstrip("/"))
        if self.base.scheme not in ("http", "https") or not self.base.netloc:
            raise ValueError(f"MetaGraphUrl must be an http(s) URL, got {base_url!r}")
        self.version = version.strip("/")
        self._token = token
        self.transport = transport or HttpTransport()
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.page_size = page_size
        self.calls = 0

    def __repr__(self) -> str:  # never the token
        return f"GraphClient({urlunsplit(self.base)!r}, {self.version!r})"

    # ---- reads ----

    def phone_numbers(self, waba_id: str, after: Page | None = None) -> Read[Page[PhoneNumberNode]]:
        """One page of a WABA's numbers with every field of §5b; `after` is the previous page."""
        url = self._next_of(after) or self._url(f"{waba_id}/phone_numbers", nodes.NUMBER_FIELDS,
                                                 limit=self.page_size)
        return self._read(url, lambda body: nodes.page(body, nodes.phone_number))

    def phone_number(self, phone_number_id: str,
                     fields: tuple[str, ...] = nodes.NUMBER_FIELDS) -> Read[PhoneNumberNode]:
        def parse(body: object) -> PhoneNumberNode:
            node = nodes.phone_number(body)
            if node is None:
                raise MalformedResponse("the phone number node has no id")
            return node

        return self._read(self._url(phone_number_id, tuple(dict.fromkeys(("id", *fields)))), parse)

    def waba(self, waba_id: str) -> Read[WabaNode]:
        return self._read(self._url(waba_id, nodes.WABA_FIELDS), nodes.waba)

    def templates(self, waba_id: str, after: Page | None = None) -> Read[Page[TemplateNode]]:
        url = self._next_of(after) or self._url(f"{waba_id}/message_templates", nodes.TEMPLATE_FIELDS,
                                                 limit=self.page_size)
        return self._read(url, lambda body: nodes.page(body, nodes.template))

    def business_limit(self, business_id: str) -> Read[str | None]:
        """The portfolio's shared limit, read on the business node."""

        def parse(body: object) -> str | None:
            if not isinstance(body, Mapping):
                raise MalformedResponse("the business node is not a JSON object")
            return nodes.upper(body.get("whatsapp_business_manager_messaging_limit"))

        return self._read(self._url(business_id, ("id", "whatsapp_business_manager_messaging_limit")), parse)

    # ---- plumbing ----

    def _url(self, path: str, fields: tuple[str, ...], **query: object) -> str:
        params = {"fields": ",".join(fields), **{k: str(v) for k, v in query.items()}}
        base_path = self.base.path.rstrip("/")
        return urlunsplit((self.base.scheme, self.base.netloc, f"{base_path}/{self.version}/{path}", urlencode(params),
                           ""))

    def _next_of(self, previous: Page | None) -> str | None:
        """The next page's URL: Meta's `next` when it is on our host, else ours with the `after` cursor."""
        if previous is None:
            return None
        if previous.next_url:
            parts = urlsplit(previous.next_url)
            if (parts.scheme, parts.netloc) == (self.base.scheme, self.base.netloc):
                query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "access_token"]
                return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
            if previous.after:  # another host (or a proxy in between): the cursor on our own host
                parts = urlsplit(previous.next_url)
                query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "access_token"]
                path = parts.path
                base_path = self.base.path.rstrip("/")
                return urlunsplit((self.base.scheme, self.base.netloc, f"{base_path}{path}", urlencode(query), ""))
        raise GraphMalformed("a page said there is more but gave no usable `next`")

    def _read(self, url: str, parse: Callable[[object], T]) -> Read[T]:
        token = self._token()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
                   "User-Agent": "numberguard-meta-sync"}
        self.calls += 1
        try:
            raw = self.transport.get(url, headers, self.connect_timeout, self.read_timeout)
        except GraphError:
            raise
        except (OSError, http.client.HTTPException) as err:
            raise GraphUnavailable(f"Graph API unreachable: {type(err).__name__}") from None
        usage = parse_usage(raw.headers.get(USAGE_HEADER))
        body = self._json(raw, token)
        if raw.status != 200 or (isinstance(body, Mapping) and "error" in body):
            raise self._error(raw.status, body, usage, token)
        try:
            return Read(parse(body), usage)
        except MalformedResponse as err:
            raise GraphMalformed(f"unreadable Graph answer: {err}", status=raw.status) from None

    @staticmethod
    def _json(raw: RawResponse, token: str) -> object:
        if len(raw.body) > MAX_BODY:
            raise GraphMalformed(f"a Graph answer over {MAX_BODY} bytes", status=raw.status)
        try:
            return json.loads(raw.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            if raw.status == 429:
                raise GraphThrottled("Graph API answered 429", status=429) from None
            if raw.status >= 500 or raw.status == 200:
                raise GraphUnavailable(f"Graph API answered {raw.status} without JSON", status=raw.status) from None
            raise GraphRequestFailed(f"Graph API answered {raw.status} without JSON", status=raw.status) from None

    @staticmethod
    def _error(status: int, body: object, usage: Usage | None, token: str) -> GraphError:
        error = body.get("error") if isinstance(body, Mapping) else None
        error = error if isinstance(error, Mapping) else {}
        code, subcode = _int(error.get("code")), _int(error.get("error_subcode"))
        message = _scrub(str(error.get("message") or f"HTTP {status}"), token)
        where = f"Graph error {code}" if code is not None else f"Graph API answered {status}"
        kw: dict[str, int | None] = {"code": code, "subcode": subcode, "status": status}
        if code in THROTTLING_CODES or status == 429:
            retry = usage.regain_seconds if usage and usage.regain_seconds else DEFAULT_RETRY_AFTER
            return GraphThrottled(f"{where} (throttled): {message}", retry_after=retry, **kw)
        if code == TOKEN_REFUSED_CODE:
            return GraphAccessRefused(f"{where} (access token refused): {message}", **kw)
        if status >= 500 or error.get("is_transient") is True or code in (1, 2):
            return GraphUnavailable(f"{where}: {message}", **kw)
        return GraphRequestFailed(f"{where}: {message}", **kw)
