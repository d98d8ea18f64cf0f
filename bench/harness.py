"""What every section shares: DynamoDB Local, fresh prefixed tables, call and capacity metering, stats.

The bench never reaches AWS: fake credentials and a local endpoint only. Each measured world gets
its own table-name prefix (as tests/dynamodb does) and its tables are deleted when it ends, so
sections never see each other's items and DynamoDB Local's memory stays flat.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
DISPLAY = "15550783881"
TABLE_ENV = ("NUMBERS_TABLE", "RECIPIENTS_TABLE", "LIMITS_TABLE", "HISTORY_TABLE")
READ_OPS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})
SEED_THREADS = 8

_prefixes = itertools.count(1)
_setup_lock = threading.Lock()
_setup_clients: dict[str, object] = {}


def fake_aws_environment() -> None:
    """No call may reach real AWS, and no credential lookup may wait on instance metadata."""
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    })


_measured_clients: dict[tuple[str, str], object] = {}


def dynamodb_client(endpoint: str, role: str = "checks"):
    """A client configured as the layer configures its own, one per (endpoint, role): creating one costs
    more than many calls. Meters attach to it and detach when their section ends."""
    import botocore.session
    from botocore.config import Config
    from numberguard.store.client import CLIENT_CONFIG

    with _setup_lock:
        if (endpoint, role) not in _measured_clients:
            _measured_clients[(endpoint, role)] = botocore.session.get_session().create_client(
                "dynamodb", region_name="us-east-1", endpoint_url=endpoint,
                config=CLIENT_CONFIG.merge(Config(max_pool_connections=64)),
            )
        return _measured_clients[(endpoint, role)]


def setup_client(endpoint: str):
    """The client for seeding and inspection (one per endpoint, shared by threads): more retries, never metered."""
    import botocore.session
    from botocore.config import Config

    with _setup_lock:
        if endpoint not in _setup_clients:
            _setup_clients[endpoint] = botocore.session.get_session().create_client(
                "dynamodb", region_name="us-east-1", endpoint_url=endpoint,
                config=Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=32,
                              read_timeout=60),
            )
        return _setup_clients[endpoint]


# ---- metering ---------------------------------------------------------------------------------


@dataclass
class Tally:
    """The DynamoDB calls of one unit of work (a check, a batch, a POST) and the capacity they consumed."""

    calls: Counter = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0
    unreported: int = 0  # calls whose reply carried no ConsumedCapacity (failed conditions, errors)
    call_seconds: float = 0.0  # wall-clock spent inside DynamoDB calls (request to parsed reply)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def capacity(self) -> float:
        return self.read_units + self.write_units

    def add(self, other: Tally) -> None:
        self.calls.update(other.calls)
        self.read_units += other.read_units
        self.write_units += other.write_units
        self.unreported += other.unreported
        self.call_seconds += other.call_seconds


class Meter:
    """Counts calls per thread with botocore's event hooks and asks DynamoDB for ConsumedCapacity.

    `provide-client-params` adds ReturnConsumedCapacity=TOTAL to every operation that takes it;
    `after-call` reads the reply. The tally in force is thread-local, so concurrent checks are
    attributed to the check that made them.
    """

    def __init__(self):
        self._local = threading.local()
        self._clients: list = []
        self._shared: Tally | None = None  # counts the calls of every thread (use cases with worker pools)
        self._lock = threading.Lock()

    def attach(self, client) -> None:
        client.meta.events.register("provide-client-params.dynamodb", self._ask_capacity)
        client.meta.events.register("before-call.dynamodb", self._before_call)
        client.meta.events.register("after-call.dynamodb", self._after_call)
        self._clients.append(client)

    def detach(self) -> None:
        for client in self._clients:
            client.meta.events.unregister("provide-client-params.dynamodb", self._ask_capacity)
            client.meta.events.unregister("before-call.dynamodb", self._before_call)
            client.meta.events.unregister("after-call.dynamodb", self._after_call)
        self._clients.clear()

    @staticmethod
    def _ask_capacity(params, model, **_kwargs) -> None:
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _before_call(self, **_kwargs) -> None:
        self._local.call_started = time.perf_counter()

    def _after_call(self, parsed=None, model=None, **_kwargs) -> None:
        tally: Tally | None = getattr(self._local, "tally", None) or self._shared
        if tally is None:
            return
        op = model.name if model is not None else "?"
        seconds = time.perf_counter() - getattr(self._local, "call_started", time.perf_counter())
        consumed = (parsed or {}).get("ConsumedCapacity")
        units = sum(c.get("CapacityUnits", 0.0) for c in (consumed if isinstance(consumed, list) else [consumed])) \
            if consumed else 0.0
        with self._lock:
            tally.calls[op] += 1
            tally.call_seconds += seconds
            if not consumed:
                tally.unreported += 1
            elif op in READ_OPS:
                tally.read_units += units
            else:
                tally.write_units += units

    @contextmanager
    def measure(self, every_thread: bool = False) -> Iterator[Tally]:
        """Tally the calls of this thread (per-check figures under concurrency), or of every thread while
        the block runs (`every_thread`: a use case that fans its writes out to a pool)."""
        tally = Tally()
        if every_thread:
            self._shared = tally
            try:
                yield tally
            finally:
                self._shared = None
            return
        outer = getattr(self._local, "tally", None)
        self._local.tally = tally
        try:
            yield tally
        finally:
            self._local.tally = outer


# ---- tables -----------------------------------------------------------------------------------


class World:
    """The template's tables under a fresh prefix on DynamoDB Local, and settings pointing at them."""

    def __init__(self, endpoint: str, extra_tables: Sequence[dict] = (), **env_overrides: str):
        from numberguard.config import Settings

        from numberguard_ops.template import function_environment, table_definitions

        self.endpoint = endpoint
        self.admin = setup_client(endpoint)
        self.prefix = f"bench{os.getpid()}x{next(_prefixes)}"
        defaults = function_environment("LimitCheckFunction")
        renamed: dict[str, str] = {}
        self.tables: list[str] = []
        for table in table_definitions():
            spec = dict(table["create"])
            old = spec["TableName"]
            spec["TableName"] = renamed[old] = f"{self.prefix}-{old}"
            self._create(spec)
            if table["ttl_attribute"]:
                self.admin.update_time_to_live(TableName=spec["TableName"], TimeToLiveSpecification={
                    "AttributeName": table["ttl_attribute"], "Enabled": True})
        for spec in extra_tables:
            self._create({**spec, "TableName": f"{self.prefix}-{spec['TableName']}"})
        self.env = {**defaults, **{name: renamed[defaults[name]] for name in TABLE_ENV},
                    "DYNAMODB_ENDPOINT": endpoint, **env_overrides}
        self.settings = Settings.from_env(self.env)

    def _create(self, spec: dict) -> None:
        self.admin.create_table(**spec)
        self.tables.append(spec["TableName"])

    def table(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def register(self, phone_number_id: str = PHONE_NUMBER_ID, tier: str = "TIER_1K", *, now: int,
                 waba_id: str = WABA_ID, display: str = DISPLAY, quality: str = "GREEN") -> dict:
        from numberguard.usecases.numbers import NumberRegistration
        from numberguard.wiring import build

        # The registry's models are bound once per Settings (store/models/), not once per call.
        return build(self.settings).numbers.register(
            NumberRegistration(phone_number_id, waba_id, display, tier, None, "CONNECTED", quality), now)

    def store(self, client):
        from numberguard.store.limits import LimitStore

        return LimitStore(client, numbers_table=self.settings.numbers_table,
                          recipients_table=self.settings.recipients_table, limits_table=self.settings.limits_table)

    def checker(self, client, clock: Callable[[], float]):
        from numberguard.store.pairs import PairStore
        from numberguard.usecases.limit_check import LimitChecker

        return LimitChecker(self.store(client), self.settings, clock=clock,
                            pairs=PairStore(client, self.settings.recipients_table))

    def close(self) -> None:
        for name in self.tables:
            # Best effort: DynamoDB Local is in memory and stops at the end anyway.
            with contextlib.suppress(Exception):
                self.admin.delete_table(TableName=name)

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def batch_write(endpoint: str, table: str, items: Callable[[int], dict], count: int,
                threads: int = SEED_THREADS) -> float:
    """Write `count` items (items(i) → item) with BatchWriteItem, 25 at a time, in threads; seconds taken."""
    client = setup_client(endpoint)

    def lane(lane_no: int) -> None:
        for start in range(lane_no * 25, count, threads * 25):
            pending = {table: [{"PutRequest": {"Item": items(i)}} for i in range(start, min(start + 25, count))]}
            attempt = 0
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if pending:
                    attempt += 1
                    time.sleep(min(0.5, 0.01 * 2**attempt))

    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lane, range(threads)))
    return time.perf_counter() - began


class FixedClock:
    """Time passed in: stands still unless moved (sections that need a steady bucket)."""

    def __init__(self, start: float):
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# ---- statistics -------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def latency_ms(seconds: Sequence[float]) -> dict:
    return {
        "p50_ms": round(1000 * statistics.median(seconds), 2),
        "p99_ms": round(1000 * percentile(seconds, 99), 2),
        "n": len(seconds),
    }


def run_lanes(lane: Callable[..., None], args: Sequence[tuple]) -> float:
    """One thread per argument tuple, all started before any is joined (a race); the wall seconds."""
    threads = [threading.Thread(target=lane, args=a) for a in args]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - began


def series(meter: Meter, checker, payloads: Sequence[dict], expected: str, section: str,
           every_thread: bool = False) -> dict:
    """One kind of check measured payload by payload: DynamoDB calls and capacity per check, latency.
    A decision other than `expected` stops the bench (the figures would be of another path)."""
    calls, capacity, seconds = [], 0.0, []
    for payload in payloads:
        with meter.measure(every_thread) as tally:
            began = time.perf_counter()
            answer = checker.handle(payload)
            seconds.append(time.perf_counter() - began)
        if answer.get("decision") != expected:
            raise RuntimeError(f"{section}: {payload.get('recipient')}: expected {expected}, got {answer}")
        calls.append(tally.total_calls)
        capacity += tally.capacity
    return {"calls_per_check": round(statistics.mean(calls), 2), "calls_max": max(calls),
            "capacity_per_check": round(capacity / len(payloads), 2), **latency_ms(seconds)}


def ratio(numerator: float | None, denominator: float | None, digits: int = 2) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, digits)


# ---- DynamoDB item size (AWS's documented rules) ------------------------------------------------


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0") or "0"
    digits = digits.rstrip("0") or "0"
    return min(21, (len(digits) + 1) // 2 + 1 + (1 if text.startswith("-") else 0))


def value_size(value: dict) -> int:
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return _number_size(str(Decimal(inner)))
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "BS"):
        return sum(len(v.encode() if isinstance(v, str) else v) for v in inner)
    if kind == "NS":
        return sum(_number_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in inner)
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict) -> int:
    """Bytes DynamoDB bills an item for: attribute names plus values (maps and lists 3 B + 1 B each)."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())
