"""DynamoDB Local for the limit check's concurrency, fault and cost tests.

One DynamoDB Local process per test session (started here, stopped at the end) and, per test, a
Stack (tests/conftest.py) bound to it with fresh tables: every test gets its own table-name
prefix, so no state leaks between tests, and its tables are deleted when it ends.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from tests.conftest import FakeClock, Stack, stack_env

PHONE_NUMBER_ID = "106540352242922"
TABLE_ENV = ("NUMBERS_TABLE", "RECIPIENTS_TABLE", "LIMITS_TABLE", "HISTORY_TABLE")

_prefixes = itertools.count(1)


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[str]:
    """Endpoint of a DynamoDB Local started for this session (in memory, on a free port)."""
    from numberguard_ops.ddb_local import DynamoDBLocal

    with DynamoDBLocal() as ddb:
        yield ddb.endpoint


def raw_client(endpoint: str):
    """A botocore DynamoDB client of its own (not the one the checkers share), for set-up and checks."""
    import botocore.session
    from botocore.config import Config

    return botocore.session.get_session().create_client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=endpoint,
        config=Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32),
    )


def create_prefixed_tables(client, prefix: str) -> dict[str, str]:
    """The template's tables under `prefix`; returns the env overrides that point settings at them."""
    from numberguard_ops.template import table_definitions

    defaults = stack_env()
    renamed: dict[str, str] = {}
    for table in table_definitions():
        spec = dict(table["create"])
        old = spec["TableName"]
        spec["TableName"] = new = f"{prefix}-{old}"
        renamed[old] = new
        client.create_table(**spec)
        if table["ttl_attribute"]:
            client.update_time_to_live(
                TableName=new, TimeToLiveSpecification={"AttributeName": table["ttl_attribute"], "Enabled": True}
            )
    env = {name: renamed[defaults[name]] for name in TABLE_ENV}
    return env


class SyncWorld:
    """The Meta sync and the webhook intake over fresh tables of DynamoDB Local, the Graph the local Meta
    double answered in-process, a fake clock and publisher (tests of Graph reads beside webhooks)."""

    def __init__(self, endpoint: str, now: int):
        from numberguard.config import Settings
        from numberguard.graph.client import GraphClient
        from numberguard.wiring import build

        from numberguard_ops.fakes import FakePublisher
        from numberguard_ops.meta_double import DEFAULT_TOKEN, InProcessTransport, MetaState

        self.clock = FakeClock(now)
        self.client = raw_client(endpoint)
        self.tables = create_prefixed_tables(self.client, f"s{next(_prefixes)}")
        self.settings = Settings.from_env(stack_env(DYNAMODB_ENDPOINT=endpoint, **self.tables))
        self.publisher = FakePublisher()
        self.meta = MetaState()
        graph = GraphClient("http://meta-double", "v24.0", lambda: DEFAULT_TOKEN,
                            transport=InProcessTransport(self.meta))
        self.parts = build(self.settings, clock=self.clock, publisher=self.publisher, graph=graph)
        self.sync, self.intake = self.parts.meta_sync, self.parts.intake

    def drop(self) -> None:
        for table in self.tables.values():
            self.client.delete_table(TableName=table)

    def apply_webhook(self, waba_id: str, at: int, field: str, value: dict) -> None:
        """One management webhook (`field`, `value`) of the WABA at `at`, through the intake."""
        import json

        from numberguard.webhooks import events_of, parse_envelope

        body = json.dumps({"object": "whatsapp_business_account", "entry": [
            {"id": waba_id, "time": at, "changes": [{"field": field, "value": value}]}]})
        self.intake.apply([e for entry in parse_envelope(body.encode()) for e in events_of(entry, at)])


class DynamoStack(Stack):
    """A Stack on DynamoDB Local, plus the helpers the tests here share."""

    def __init__(self, client, clock: FakeClock, env: dict[str, str], endpoint: str):
        super().__init__(client, clock, env)
        self.endpoint = endpoint

    def with_env(self, **overrides: str) -> DynamoStack:
        """The same tables and clock under other settings (e.g. FAIL_MODE=open)."""
        return DynamoStack(self.client, self.clock, {**self.env, **overrides}, self.endpoint)

    def own_checker(self, clock: Callable[[], float] | None = None):
        """A checker wired as in production but with a DynamoDB client of its own (another Lambda instance).

        The client is built here, not taken from the process-wide cache: checkers built in parallel
        threads must never share one (a fault hooked on one would break the other's calls).
        """
        import botocore.session
        from numberguard.store.client import CLIENT_CONFIG
        from numberguard.store.limits import LimitStore
        from numberguard.store.pairs import PairStore
        from numberguard.usecases.limit_check import LimitChecker

        cfg = self.settings
        client = botocore.session.get_session().create_client(
            "dynamodb", region_name=cfg.region, endpoint_url=cfg.dynamodb_endpoint, config=CLIENT_CONFIG
        )
        store = LimitStore(client, numbers_table=cfg.numbers_table, recipients_table=cfg.recipients_table,
                           limits_table=cfg.limits_table)
        pairs = PairStore(client, cfg.recipients_table)  # the same client: a fault hooked on it reaches both
        return LimitChecker(store, cfg, clock=clock or self.clock, pairs=pairs)

    def counter(self, scope: str = f"number#{PHONE_NUMBER_ID}") -> dict:
        """The scope's counter item as stored: {'limit', 'used', 'buckets'}."""
        item = self.client.get_item(
            TableName=self.settings.limits_table, Key={"scope": {"S": scope}}, ConsistentRead=True
        )["Item"]
        return {
            "limit": int(item["limit"]["N"]),
            "used": int(item["used"]["N"]),
            "buckets": {int(k): int(v["N"]) for k, v in item.get("buckets", {}).get("M", {}).items()},
        }

    def counted_recipients(self, now: int | None = None, scope: str = f"number#{PHONE_NUMBER_ID}") -> set[str]:
        """Recipients whose counted record is live at `now` (a scan: for assertions only)."""
        now = int(self.clock()) if now is None else now
        prefix = f"c#{scope}#"
        found: set[str] = set()
        kwargs = {
            "TableName": self.settings.recipients_table,
            "ConsistentRead": True,
            "FilterExpression": "begins_with(pk, :p) AND counted_until > :now",
            "ExpressionAttributeValues": {":p": {"S": prefix}, ":now": {"N": str(now)}},
        }
        while True:
            page = self.client.scan(**kwargs)
            found.update(item["pk"]["S"][len(prefix) :] for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.fixture
def ddb_stack(dynamodb_local, monkeypatch) -> Iterator[DynamoStack]:
    """A Stack on the session's DynamoDB Local with fresh tables, a fresh FakeClock and fresh clients."""
    from numberguard import wiring

    client = raw_client(dynamodb_local)
    prefix = f"t{next(_prefixes)}"
    env = stack_env(DYNAMODB_ENDPOINT=dynamodb_local, POWERTOOLS_LOG_LEVEL="WARNING",
                    **create_prefixed_tables(client, prefix))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    wiring.reset()  # a fresh shared client: event hooks of one test never reach another
    stack = DynamoStack(client, FakeClock(), env, dynamodb_local)
    try:
        yield stack
    finally:
        wiring.reset()
        for name in TABLE_ENV:
            client.delete_table(TableName=env[name])


# ---- answers and call counting ---------------------------------------------------------------


def template(recipient: str, **extra) -> dict:
    return {"phone_number_id": PHONE_NUMBER_ID, "recipient": recipient, "message": "template", **extra}


def session(recipient: str) -> dict:
    return {"phone_number_id": PHONE_NUMBER_ID, "recipient": recipient, "message": "session"}


def recipient(i: int) -> str:
    return f"1650{i:07d}"


class CallCounter:
    """Counts the API calls a botocore client makes (one per operation, whatever its retries)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.calls: list[str] = []

    def __call__(self, model=None, **_kwargs) -> None:
        with self._lock:
            self.calls.append(model.name if model is not None else "?")

    @property
    def total(self) -> int:
        return len(self.calls)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()


def store_clients(store) -> list:
    """Every botocore client a LimitStore holds (one today; more if it ever splits its calls)."""
    found = []
    for value in vars(store).values():
        if hasattr(value, "meta") and hasattr(value.meta, "events") and all(value is not f for f in found):
            found.append(value)
    assert found, "the store holds no botocore client"
    return found


@contextmanager
def hooked(store, event: str, handler) -> Iterator[None]:
    """`handler` on `event` of every client of `store`, for the duration of the block."""
    clients = store_clients(store)
    for client in clients:
        client.meta.events.register(event, handler)
    try:
        yield
    finally:
        for client in clients:
            client.meta.events.unregister(event, handler)


@contextmanager
def counting(store) -> Iterator[CallCounter]:
    """Counts the DynamoDB API calls a LimitStore makes."""
    counter = CallCounter()
    with hooked(store, "before-call.dynamodb", counter):
        yield counter


# ---- Meta's count, recomputed from the answers ------------------------------------------------

DAY = 86_400
COUNTED_DECISIONS = frozenset({"ALLOWED_NEW_RECIPIENT", "ALLOWED_ALREADY_COUNTED"})


@dataclass
class Answered:
    at: int
    payload: dict
    answer: dict
    faulted: bool = False

    def per_recipient(self) -> list[tuple[str, str]]:
        """(recipient, decision) for a single check or every entry of a batch."""
        if "results" in self.answer:
            return [(r["recipient"], r["decision"]) for r in self.answer["results"]]
        return [(self.payload["recipient"], self.answer["decision"])]


class Ledger:
    """Every answer with the time it was given; Meta's count of unique recipients recomputed from them.

    The sender sends exactly when an answer allows a counted send (a new recipient or a repeat);
    Meta counts a recipient from each such send until 24 h after it. Nothing here reads the store.
    """

    def __init__(self):
        self.entries: list[Answered] = []

    def add(self, at: int, payload: dict, answer: dict, faulted: bool = False) -> dict:
        self.entries.append(Answered(at, payload, answer, faulted))
        return answer

    def counted_sends(self) -> list[tuple[int, str]]:
        return [
            (e.at, r) for e in self.entries for r, decision in e.per_recipient() if decision in COUNTED_DECISIONS
        ]

    def meta_count(self, at: int) -> int:
        return len({r for sent, r in self.counted_sends() if sent <= at < sent + DAY})

    def max_meta_count(self) -> int:
        """The most unique recipients Meta counted at any moment (it changes only when a send happens)."""
        return max((self.meta_count(sent) for sent, _ in self.counted_sends()), default=0)

    def decisions(self, *, faulted: bool | None = None) -> list[str]:
        return [d for e in self.entries if faulted is None or e.faulted == faulted for _, d in e.per_recipient()]
