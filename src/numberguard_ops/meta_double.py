"""A local double of Meta's Graph API: the reads of the Meta sync (DESIGN §5b, §6), offline.

Answers with the documented shapes (events/graph/): a WABA's numbers paged with cursors and an
absolute `next`, only the `fields` asked for (an unknown field is Meta's error 100), the WABA's
health and business, its templates, the business's limit, the `X-Business-Use-Case-Usage` header,
error 190 for a refused token and a throttling code on demand. Its state starts as the reference
WABA (ids of events/graph/) and changes through a small control API (`/_double/...`), which the CLI
drives (`numberguard meta ...`) so the whole loop is visible offline.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from numberguard_ops.serving import ServedThread

DEFAULT_PORT = 3002
DEFAULT_TOKEN = "local-access-token"  # noqa: S105 - local mode's documented default, never used on AWS
NUMBER_FIELDS = ("id", "display_phone_number", "verified_name", "quality_rating", "status", "name_status",
                 "code_verification_status", "platform_type", "throughput", "whatsapp_business_manager_messaging_limit",
                 "health_status")
WABA_FIELDS = ("id", "name", "health_status", "owner_business_info")
TEMPLATE_FIELDS = ("id", "name", "language", "status", "category", "quality_score")
BUSINESS_FIELDS = ("id", "name", "whatsapp_business_manager_messaging_limit")
# A template's statuses as Meta's template list shows them; quality scores as `quality_score.score`
TEMPLATE_STATUSES = ("APPROVED", "PAUSED", "DISABLED", "REJECTED", "PENDING", "PENDING_DELETION", "DELETED",
                     "ARCHIVED", "IN_APPEAL", "FLAGGED", "LOCKED", "LIMIT_EXCEEDED")
TEMPLATE_QUALITIES = ("GREEN", "YELLOW", "RED", "UNKNOWN")
APP_ID = "634974688087057"
MAX_PAGE = 100
THROTTLING_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80007: "(#80007) Rate limit hit for this WhatsApp Business account.",
    80008: "(#80008) There have been too many calls to this WhatsApp Business account. Wait a bit and try again.",
}


@dataclass
class HealthState:
    can_send: str = "AVAILABLE"
    error_code: int | None = None
    error_description: str | None = None
    possible_solution: str | None = None
    additional_info: list[str] = field(default_factory=list)

    def entity(self, entity_type: str, entity_id: str) -> dict:
        out: dict[str, Any] = {"entity_type": entity_type, "id": entity_id, "can_send_message": self.can_send}
        if self.can_send == "BLOCKED" and self.error_code is not None:
            out["errors"] = [{"error_code": self.error_code, "error_description": self.error_description or "",
                              "possible_solution": self.possible_solution or ""}]
        if self.can_send == "LIMITED" and self.additional_info:
            out["additional_info"] = list(self.additional_info)
        return out


@dataclass
class Number:
    id: str
    display: str
    verified_name: str
    status: str = "CONNECTED"
    quality: str = "GREEN"
    name_status: str = "APPROVED"
    code_verification_status: str = "VERIFIED"
    health: HealthState = field(default_factory=HealthState)


@dataclass
class Template:
    id: str
    name: str
    language: str
    status: str = "APPROVED"
    category: str = "UTILITY"
    quality: str = "GREEN"


@dataclass
class Waba:
    id: str
    business_id: str
    name: str
    numbers: list[Number] = field(default_factory=list)
    templates: list[Template] = field(default_factory=list)
    health: HealthState = field(default_factory=HealthState)


@dataclass
class Business:
    id: str
    name: str
    limit: str = "TIER_250"
    health: HealthState = field(default_factory=HealthState)


class DoubleError(ValueError):
    """A control request the double cannot apply (names what is wrong)."""


def _worst(values: list[str]) -> str:
    order = {"AVAILABLE": 0, "LIMITED": 1, "BLOCKED": 2}
    return max(values, key=lambda v: order.get(v, 0))


class MetaState:
    """The double's world; every method holds the lock (the server answers from several threads)."""

    def __init__(self, token: str = DEFAULT_TOKEN):
        self.lock = threading.RLock()
        self.token = token
        self.token_refused = False
        self.throttle_code: int | None = None
        self.usage_percent = 1
        self.max_page = MAX_PAGE  # Meta returns at most this many entries a page, whatever `limit` asks
        self.calls = 0
        self.wabas: dict[str, Waba] = {}
        self.businesses: dict[str, Business] = {}
        self.reference()

    # ---- seeds ----

    def reference(self) -> None:
        """The ids of events/graph/: WABA 102290129340398, business 506914307656634, three numbers."""
        with self.lock:
            self.wabas.clear()
            self.businesses.clear()
            self.businesses["506914307656634"] = Business("506914307656634", "Lucky Shrub", "TIER_250")
            waba = Waba("102290129340398", "506914307656634", "Lucky Shrub")
            waba.numbers = [
                Number("106540352242922", "15550783881", "Lucky Shrub"),
                Number("110200345501442", "16505551111", "Lucky Shrub Support", status="DISCONNECTED",
                       quality="YELLOW"),
                Number("117835072280431", "16505552222", "Lucky Shrub Garden Center", status="PENDING",
                       quality="UNKNOWN", name_status="PENDING_REVIEW", code_verification_status="NOT_VERIFIED"),
            ]
            waba.templates = [
                Template("1689556908129832", "order_confirmation", "en_US"),
                Template("1387372356726668", "autumn_sale", "en_US", "PAUSED", "MARKETING", "RED"),
                Template("1259544702043867", "back_in_stock", "en_US", "DISABLED", "MARKETING", "RED"),
            ]
            self.wabas[waba.id] = waba

    def seed(self, wabas: int, numbers: int, limit: str = "TIER_1K", templates: int = 0) -> list[str]:
        """`wabas` WABAs of `numbers` numbers and `templates` approved templates each, one business per WABA
        (the bench's world)."""
        if not (1 <= wabas <= 1000 and 1 <= numbers <= 10_000 and 0 <= templates <= 1000):
            raise DoubleError("seed: wabas must be 1..1000, numbers 1..10000 and templates 0..1000")
        with self.lock:
            made = []
            for w in range(wabas):
                waba_id, business_id = f"9{w:05d}00000001", f"8{w:05d}00000001"
                self.businesses[business_id] = Business(business_id, f"Business {w}", limit)
                waba = Waba(waba_id, business_id, f"WABA {w}")
                waba.numbers = [Number(f"7{w:05d}{n:06d}", f"1555{w:03d}{n:04d}", f"Sender {w}-{n}")
                                for n in range(numbers)]
                waba.templates = [Template(f"6{w:05d}{t:06d}", f"template_{t}", "en_US",
                                           category=("UTILITY", "MARKETING")[t % 2]) for t in range(templates)]
                self.wabas[waba_id] = waba
                made.append(waba_id)
            return made

    # ---- lookups ----

    def _number(self, pnid: str) -> tuple[Waba, Number] | None:
        for waba in self.wabas.values():
            for number in waba.numbers:
                if number.id == pnid:
                    return waba, number
        return None

    def _health(self, parts: list[tuple[str, str, HealthState]]) -> dict:
        entities = [h.entity(kind, ident) for kind, ident, h in parts]
        entities.append({"entity_type": "APP", "id": APP_ID, "can_send_message": "AVAILABLE"})
        return {"can_send_message": _worst([e["can_send_message"] for e in entities]), "entities": entities}

    def number_node(self, waba: Waba, number: Number) -> dict:
        business = self.businesses[waba.business_id]
        level = "STANDARD" if number.status == "CONNECTED" else "NOT_APPLICABLE"
        return {
            "id": number.id, "display_phone_number": _formatted(number.display), "verified_name": number.verified_name,
            "quality_rating": number.quality, "status": number.status, "name_status": number.name_status,
            "code_verification_status": number.code_verification_status,
            "platform_type": "CLOUD_API" if number.status == "CONNECTED" else "NOT_APPLICABLE",
            "throughput": {"level": level},
            "whatsapp_business_manager_messaging_limit": business.limit,
            "health_status": self._health([("PHONE_NUMBER", number.id, number.health), ("WABA", waba.id, waba.health),
                                           ("BUSINESS", business.id, business.health)]),
        }

    def waba_node(self, waba: Waba) -> dict:
        business = self.businesses[waba.business_id]
        return {"id": waba.id, "name": waba.name,
                "health_status": self._health([("WABA", waba.id, waba.health), ("BUSINESS", business.id,
                                                                                business.health)]),
                "owner_business_info": {"id": business.id, "name": business.name}}

    # ---- changes (the control API) ----

    def change(self, what: str, body: dict) -> dict:
        with self.lock:
            handler = getattr(self, f"_set_{what}", None)
            if handler is None:
                raise DoubleError(f"unknown control {what!r}")
            return handler(body)

    def _set_number(self, body: dict) -> dict:
        found = self._number(str(body.get("id", "")))
        if found is None:
            raise DoubleError(f"no number {body.get('id')!r} in the double")
        number = found[1]
        for key in ("quality", "status", "name_status"):
            if body.get(key) is not None:
                setattr(number, key, str(body[key]).upper())
        if body.get("health") is not None:
            number.health = _health_of(body)
        return {"number": number.id}

    def _set_waba(self, body: dict) -> dict:
        waba = self.wabas.get(str(body.get("id", "")))
        if waba is None:
            raise DoubleError(f"no WABA {body.get('id')!r} in the double")
        waba.health = _health_of(body)
        return {"waba": waba.id}

    def _set_business(self, body: dict) -> dict:
        business = self.businesses.get(str(body.get("id", "")))
        if business is None:
            raise DoubleError(f"no business {body.get('id')!r} in the double")
        if body.get("limit") is not None:
            business.limit = str(body["limit"]).upper()
        if body.get("health") is not None:
            business.health = _health_of(body)
        return {"business": business.id}

    def _set_template(self, body: dict) -> dict:
        waba = self.wabas.get(str(body.get("waba_id", "")))
        if waba is None:
            raise DoubleError(f"no WABA {body.get('waba_id')!r} in the double")
        status, quality = str(body.get("status") or "").upper(), str(body.get("quality") or "").upper()
        if status and status not in TEMPLATE_STATUSES:
            raise DoubleError(f"template status must be one of {', '.join(TEMPLATE_STATUSES)}")
        if quality and quality not in TEMPLATE_QUALITIES:
            raise DoubleError(f"template quality must be one of {', '.join(TEMPLATE_QUALITIES)}")
        for template in waba.templates:
            if template.name == body.get("name") and template.language.lower() == str(body.get("language", "")).lower():
                template.status = status or template.status
                template.quality = quality or template.quality
                return {"template": template.name, "status": template.status, "quality": template.quality}
        raise DoubleError(f"no template {body.get('name')!r} ({body.get('language')}) in WABA {waba.id}")

    def _set_token(self, body: dict) -> dict:
        self.token_refused = bool(body.get("refused"))
        return {"token_refused": self.token_refused}

    def _set_throttle(self, body: dict) -> dict:
        code = body.get("code")
        if code is not None and code not in THROTTLING_MESSAGES:
            raise DoubleError(f"throttle code must be one of {sorted(THROTTLING_MESSAGES)}")
        self.throttle_code = code
        if body.get("usage") is not None:
            self.usage_percent = int(body["usage"])
        return {"throttle_code": code, "usage": self.usage_percent}

    def _set_paging(self, body: dict) -> dict:
        size = body.get("max")
        if not isinstance(size, int) or not 1 <= size <= MAX_PAGE:
            raise DoubleError(f"paging max must be 1..{MAX_PAGE}")
        self.max_page = size
        return {"max_page": size}

    def _set_seed(self, body: dict) -> dict:
        if body.get("reference"):
            self.reference()
            return {"wabas": list(self.wabas)}
        if body.get("replace"):
            self.wabas.clear()
            self.businesses.clear()
        return {"wabas": self.seed(int(body.get("wabas", 1)), int(body.get("numbers", 1)),
                                   str(body.get("limit", "TIER_1K")).upper(), int(body.get("templates") or 0))}

    def _set_calls(self, body: dict) -> dict:
        calls, self.calls = self.calls, int(body.get("reset_to", 0))
        return {"calls": calls}

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "token_refused": self.token_refused, "throttle_code": self.throttle_code,
                "usage_percent": self.usage_percent, "calls": self.calls, "max_page": self.max_page,
                "businesses": {b.id: {"limit": b.limit, "health": b.health.can_send} for b in self.businesses.values()},
                "wabas": {w.id: {"business_id": w.business_id, "health": w.health.can_send, "numbers": {
                    n.id: {"display": n.display, "status": n.status, "quality": n.quality,
                           "health": n.health.can_send} for n in w.numbers},
                    "templates": [f"{t.name}/{t.language}: {t.status}, quality {t.quality}" for t in w.templates]}
                    for w in self.wabas.values()},
            }


def _formatted(digits: str) -> str:
    """Meta's list form of a display number (`+1 555-078-3881`); clients normalise it back to digits."""
    if len(digits) == 11 and digits.startswith("1"):
        return f"+1 {digits[1:4]}-{digits[4:7]}-{digits[7:]}"
    return f"+{digits}"


def _health_of(body: dict) -> HealthState:
    can_send = str(body.get("health", "AVAILABLE")).upper()
    if can_send not in ("AVAILABLE", "LIMITED", "BLOCKED"):
        raise DoubleError("health must be AVAILABLE, LIMITED or BLOCKED")
    info = body.get("additional_info") or []
    return HealthState(can_send, body.get("error_code"), body.get("error_description"), body.get("possible_solution"),
                       [str(i) for i in (info if isinstance(info, list) else [info])])


# ---- answering Graph reads -------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: dict
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, code: int, message: str, kind: str = "OAuthException", **extra: Any) -> Answer:
    return Answer(status, {"error": {"message": message, "type": kind, "code": code, **extra,
                                     "fbtrace_id": "LocalDouble"}})


def _fields(query: dict[str, str], allowed: tuple[str, ...]) -> list[str] | Answer:
    asked = [f.strip() for f in query.get("fields", "id").split(",") if f.strip()]
    unknown = [f for f in asked if f not in allowed]
    if unknown:
        return _error(400, 100, f"(#100) Tried accessing nonexisting field ({unknown[0]}). Available fields: "
                                f"{', '.join(allowed)}")
    return list(dict.fromkeys(["id", *asked]))


def _only(node: dict, wanted: list[str]) -> dict:
    return {k: node[k] for k in wanted if k in node}


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(str(index).encode()).decode().rstrip("=")


def _index(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (ValueError, UnicodeDecodeError):
        return -1


def _paged(items: list[dict], query: dict[str, str], base_url: str, path: str, max_page: int) -> dict | Answer:
    try:
        size = min(max(int(query.get("limit", "25")), 1), max_page)
    except ValueError:
        return _error(400, 100, "(#100) Param limit must be a number")
    start = 0
    if "after" in query:
        start = _index(query["after"]) + 1
        if start <= 0:
            return _error(400, 100, "(#100) Invalid cursor: after")
    chunk = items[start:start + size]
    out: dict[str, Any] = {"data": chunk}
    if chunk:
        out["paging"] = {"cursors": {"before": _cursor(start), "after": _cursor(start + len(chunk) - 1)}}
        if start + size < len(items):
            more = {k: v for k, v in query.items() if k not in ("after", "before")}
            more["after"] = out["paging"]["cursors"]["after"]
            out["paging"]["next"] = f"{base_url}{path}?{urlencode(more)}"
        if start:
            out["paging"]["previous"] = f"{base_url}{path}?{urlencode({**query, 'before': _cursor(start)})}"
    return out


def answer(state: MetaState, path: str, query: dict[str, str], authorization: str | None, base_url: str) -> Answer:
    """One Graph GET, as Meta would answer it from the double's state."""
    with state.lock:
        state.calls += 1
        usage = json.dumps({waba: [{"type": "whatsapp_business_management", "call_count": state.usage_percent,
                                    "total_cputime": 1, "total_time": 1, "estimated_time_to_regain_access": 0}]
                            for waba in list(state.wabas)[:1]})
        result = _answer(state, path, query, authorization, base_url)
        result.headers["X-Business-Use-Case-Usage"] = usage
        return result


def _answer(state: MetaState, path: str, query: dict[str, str], authorization: str | None, base_url: str) -> Answer:
    token = (authorization or "").removeprefix("Bearer ").strip() or query.get("access_token", "")
    if state.token_refused or token != state.token:
        return _error(401, 190, "Error validating access token: Session has expired (numberguard's local Meta double).",
                      error_subcode=463)
    if state.throttle_code is not None:
        return _error(400, state.throttle_code, THROTTLING_MESSAGES[state.throttle_code])
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2 or not parts[0].startswith("v"):
        return _error(400, 2500, "Unknown path components", "OAuthException")
    node, edge = parts[1], parts[2] if len(parts) > 2 else None
    if node in state.wabas:
        return _waba_answer(state, state.wabas[node], edge, query, base_url, path)
    if edge is None and (found := state._number(node)) is not None:
        wanted = _fields(query, NUMBER_FIELDS)
        return wanted if isinstance(wanted, Answer) else Answer(200, _only(state.number_node(*found), wanted))
    if edge is None and node in state.businesses:
        wanted = _fields(query, BUSINESS_FIELDS)
        if isinstance(wanted, Answer):
            return wanted
        business = state.businesses[node]
        return Answer(200, _only({"id": business.id, "name": business.name,
                                  "whatsapp_business_manager_messaging_limit": business.limit}, wanted))
    return _error(400, 100, f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded due to "
                            "missing permissions, or does not support this operation.", "GraphMethodException",
                  error_subcode=33)


def _waba_answer(state: MetaState, waba: Waba, edge: str | None, query: dict[str, str], base_url: str,
                 path: str) -> Answer:
    if edge is None:
        wanted = _fields(query, WABA_FIELDS)
        return wanted if isinstance(wanted, Answer) else Answer(200, _only(state.waba_node(waba), wanted))
    if edge == "phone_numbers":
        wanted = _fields(query, NUMBER_FIELDS)
        if isinstance(wanted, Answer):
            return wanted
        items = [_only(state.number_node(waba, n), wanted) for n in waba.numbers]
    elif edge == "message_templates":
        wanted = _fields(query, TEMPLATE_FIELDS)
        if isinstance(wanted, Answer):
            return wanted
        items = [_only({"id": t.id, "name": t.name, "language": t.language, "status": t.status,
                        "category": t.category, "quality_score": {"score": t.quality, "date": 1760460000}}, wanted)
                 for t in waba.templates]
    else:
        return _error(400, 100, f"(#100) Unknown edge {edge!r} on a WhatsApp Business Account")
    paged = _paged(items, query, base_url, path, state.max_page)
    return paged if isinstance(paged, Answer) else Answer(200, paged)


# ---- the HTTP server ------------------------------------------------------------------------------


class MetaDouble:
    """The double on 127.0.0.1:<port>, served from a thread (local mode's `--meta-port`)."""

    def __init__(self, port: int = DEFAULT_PORT, host: str = "127.0.0.1", state: MetaState | None = None):
        self.host, self.port = host, port
        self.state = state or MetaState()
        self._served = ServedThread("meta-double")

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        server = ThreadingHTTPServer((self.host, self.port), _handler(self))
        server.daemon_threads = True
        self.port = self._served.start(server)

    def alive(self) -> bool:
        return self._served.alive()

    def stop(self) -> None:
        self._served.stop()


def _handler(double: MetaDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, result: Answer) -> None:
            data = json.dumps(result.body).encode()
            self.send_response(result.status)
            self.send_header("Content-Type", "application/json")
            for key, value in result.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/_double/state":
                self._send(Answer(200, double.state.snapshot()))
                return
            self._send(answer(double.state, parts.path, query, self.headers.get("Authorization"), double.endpoint))

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            if not parts.path.startswith("/_double/"):
                self._send(_error(400, 100, "the double answers Graph reads (GET) only"))
                return
            try:
                length = min(int(self.headers.get("Content-Length") or 0), 64 * 1024)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(body, dict):
                    raise DoubleError("the body must be a JSON object")
                self._send(Answer(200, double.state.change(parts.path.removeprefix("/_double/"), body)))
            except (DoubleError, ValueError) as err:
                self._send(Answer(400, {"error": str(err)}))

    return Handler


def control(url: str, what: str, body: dict | None = None, timeout: float = 5.0) -> dict:
    """The CLI's side of the control API: POST /_double/<what> (GET /_double/state when body is None)."""
    import urllib.error
    import urllib.request

    target = f"{url.rstrip('/')}/_double/{what}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(target, data=data, method="GET" if body is None else "POST",  # noqa: S310
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - a local URL the user gave
            return json.loads(response.read())
    except urllib.error.HTTPError as err:
        try:
            detail = json.loads(err.read()).get("error")
        except ValueError:
            detail = err.reason
        raise DoubleError(str(detail)) from None
    except (urllib.error.URLError, OSError) as err:
        raise DoubleError(f"the Meta double at {url} does not answer ({err}); is local mode running?") from None


class InProcessTransport:
    """The Graph client's transport answered by a MetaState in this process (tests and the bench: no sockets)."""

    def __init__(self, state: MetaState, base_url: str = "http://meta-double"):
        self.state = state
        self.base_url = base_url
        self.calls = 0

    def get(self, url: str, headers: dict, connect_timeout: float, read_timeout: float):
        from numberguard.graph.client import RawResponse

        self.calls += 1
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        result = answer(self.state, parts.path, query, headers.get("Authorization"), self.base_url)
        return RawResponse(result.status, {k.lower(): v for k, v in result.headers.items()},
                           json.dumps(result.body).encode())
