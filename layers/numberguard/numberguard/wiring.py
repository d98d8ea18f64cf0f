"""The composition root: `build(settings, ...)` assembles every part from its inputs, lazily.

Handlers reach their use case through the cached getters at the bottom (one `Parts` per process, built
from the environment's settings); the CLI, local mode, `simulate` and tests call `build` with their own
settings, clock and fakes. Nothing else assembles parts, and no use case imports this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from numberguard.config import Settings, settings

if TYPE_CHECKING:
    from numberguard.meta_secrets import Secrets
    from numberguard.notify.publisher import Publisher
    from numberguard.notify.receipts import ReceiptQueue
    from numberguard.store.archive import Archive
    from numberguard.store.limits import LimitStore
    from numberguard.store.pairs import PairStore
    from numberguard.store.people import PeopleStore
    from numberguard.store.registry import RegistryStore
    from numberguard.usecases.evaluator import Evaluator
    from numberguard.usecases.facets import Facets
    from numberguard.usecases.intake import Intake
    from numberguard.usecases.limit_check import LimitChecker
    from numberguard.usecases.meta_sync import Graph, MetaSync
    from numberguard.usecases.numbers import Numbers
    from numberguard.usecases.ports import Stores
    from numberguard.usecases.refusals import Refusals
    from numberguard.usecases.webhook import WebhookReceiver

Clock = Callable[[], float]


class Parts:
    """Everything built from one set of inputs; each part is made on first use (cold start pays only
    for what its handler uses: the limit check never imports pynamodb, SNS or S3 clients)."""

    def __init__(self, settings: Settings, *, clock: Clock = time.time, publisher: Publisher | None = None,
                 receipt_queue: ReceiptQueue | None = None, archive: Archive | None = None,
                 secrets: Secrets | None = None, graph: Graph | None = None):
        self.settings = settings
        self.clock = clock
        self._graph = graph
        self._publisher = publisher
        self._receipt_queue = receipt_queue
        self._archive = archive
        self._secrets = secrets

    # ---- stores -----------------------------------------------------------------------------

    # Each client's timeouts and attempts end its calls inside the function's Timeout (budgets.py).

    @cached_property
    def client(self) -> Any:
        """The stores' DynamoDB client (webhook, evaluator, CLI, local mode)."""
        from numberguard.budgets import STORES_DYNAMODB
        from numberguard.store.client import dynamodb_client

        return dynamodb_client(self.settings, STORES_DYNAMODB.config(max_pool_connections=64))

    @cached_property
    def check_client(self) -> Any:
        """The check's DynamoDB client: a hung DynamoDB still gets the sender an answer within 5 s."""
        from numberguard.budgets import CHECK_DYNAMODB
        from numberguard.store.client import dynamodb_client

        return dynamodb_client(self.settings, CHECK_DYNAMODB.config(max_pool_connections=64))

    @cached_property
    def limit_store(self) -> LimitStore:
        from numberguard.store.limits import LimitStore

        cfg = self.settings
        return LimitStore(self.check_client, numbers_table=cfg.numbers_table,
                          recipients_table=cfg.recipients_table, limits_table=cfg.limits_table)

    @cached_property
    def pair_store(self) -> PairStore:
        """The check's pair items (Meta's 131056 backoffs, the PairRateGuard buckets), on the check's client."""
        from numberguard.store.pairs import PairStore

        return PairStore(self.check_client, self.settings.recipients_table)

    @cached_property
    def stores(self) -> Stores:
        """One store per aggregate: numbers, scope limits, service windows, WABAs, history, facet logs,
        templates, first arrivals."""
        from numberguard.store.arrivals import ArrivalStore
        from numberguard.store.facetlogs import FacetLogStore
        from numberguard.store.history import HistoryStore
        from numberguard.store.numbers import NumberStore
        from numberguard.store.scopes import ScopeStore
        from numberguard.store.templates import TemplateStore
        from numberguard.store.wabas import WabaStore
        from numberguard.store.windows import WindowStore
        from numberguard.usecases.ports import Stores

        cfg, client = self.settings, self.client
        return Stores(numbers=NumberStore(client, cfg.numbers_table), scopes=ScopeStore(client, cfg.limits_table),
                      windows=WindowStore(client, cfg.recipients_table), wabas=WabaStore(client, cfg.numbers_table),
                      history=HistoryStore(client, cfg.history_table), logs=FacetLogStore(client, cfg.numbers_table),
                      templates=TemplateStore(client, cfg.numbers_table),
                      arrivals=ArrivalStore(client, cfg.recipients_table))

    @cached_property
    def people_store(self) -> PeopleStore:
        """People and their linked ids (recipients table), and the folds that count each once."""
        from numberguard.store.people import PeopleStore

        cfg = self.settings
        return PeopleStore(self.client, recipients_table=cfg.recipients_table, limits_table=cfg.limits_table,
                           history_table=cfg.history_table)

    @cached_property
    def registry(self) -> RegistryStore:
        from numberguard.store.registry import RegistryStore

        return RegistryStore(self.settings)

    # ---- outside services ---------------------------------------------------------------------

    @cached_property
    def publisher(self) -> Publisher:
        """The given publisher, SNS when a topic is configured, else one that leaves every change in
        the outbox (the CLI without a stack: the evaluator publishes it later)."""
        if self._publisher is not None:
            return self._publisher
        if not self.settings.notification_topic_arn:
            from numberguard.usecases.facets import KeepInOutbox

            return KeepInOutbox()
        import boto3

        from numberguard.budgets import NOTIFY_SNS
        from numberguard.notify.publisher import SnsPublisher

        return SnsPublisher(boto3.client("sns", region_name=self.settings.region, config=NOTIFY_SNS.config()),
                            self.settings.notification_topic_arn)

    @cached_property
    def receipt_queue(self) -> ReceiptQueue | None:
        """The queue SNS copies every notification to (None where the template gives none)."""
        if self._receipt_queue is not None or not self.settings.notification_receipt_queue_url:
            return self._receipt_queue
        import boto3

        from numberguard.budgets import RECEIPTS_SQS
        from numberguard.notify.receipts import SqsReceiptQueue

        sqs = boto3.client("sqs", region_name=self.settings.region, config=RECEIPTS_SQS.config())
        return SqsReceiptQueue(sqs, self.settings.notification_receipt_queue_url)

    @cached_property
    def archive(self) -> Archive:
        if self._archive is not None:
            return self._archive
        import boto3

        from numberguard.budgets import WEBHOOK_S3
        from numberguard.store.archive import S3Archive

        s3 = boto3.client("s3", region_name=self.settings.region, config=WEBHOOK_S3.config())
        return S3Archive(s3, self.settings.archive_bucket)

    @cached_property
    def secrets(self) -> Secrets:
        if self._secrets is not None:
            return self._secrets
        from numberguard.meta_secrets import ParameterSecrets

        return ParameterSecrets.from_env()

    @cached_property
    def graph(self) -> Graph:
        """Meta's Graph API (MetaGraphUrl), the token read from SSM when a run starts; or the given one."""
        if self._graph is not None:
            return self._graph
        from numberguard.graph.client import GraphClient
        from numberguard.meta_secrets import MetaAccessToken

        cfg = self.settings
        return GraphClient(cfg.meta_graph_url, cfg.meta_graph_version, MetaAccessToken.from_env())

    # ---- use cases ----------------------------------------------------------------------------

    @cached_property
    def limit_checker(self) -> LimitChecker:
        from numberguard.usecases.limit_check import LimitChecker

        return LimitChecker(self.limit_store, self.settings, clock=self.clock, pairs=self.pair_store)

    @cached_property
    def facets(self) -> Facets:
        from numberguard.usecases.facets import Facets

        return Facets(self.stores, self.publisher, self.clock, self.settings.window)

    @cached_property
    def intake(self) -> Intake:
        from numberguard.store.pairs import PairStore
        from numberguard.usecases.intake import Intake
        from numberguard.usecases.pairrate import PairStrikes
        from numberguard.usecases.people import People

        people = People(self.people_store, self.stores.numbers, self.stores.windows, self.clock,
                        cooldowns=self.refusals.store)
        pairs = PairStrikes(PairStore(self.client, self.settings.recipients_table), self.people_store,
                            self.stores.numbers, self.clock)
        return Intake(self.facets, self.limit_checker, self.settings, people, pairs=pairs,
                      refusals=self.refusals)

    @cached_property
    def refusals(self) -> Refusals:
        """What Meta's refusals teach: holds, cooldowns, the WABA's refusal block (the intake's, the sync's)."""
        from numberguard.domain.refusals import hold_seconds
        from numberguard.store.refusals import RefusalStore
        from numberguard.usecases.refusals import Refusals

        cfg = self.settings
        store = RefusalStore(self.client, numbers_table=cfg.numbers_table, recipients_table=cfg.recipients_table,
                             history_table=cfg.history_table)
        return Refusals(self.facets, store, self.people_store, hold_seconds(cfg.spam_hold_minutes), self.clock)

    @cached_property
    def evaluator(self) -> Evaluator:
        from numberguard.usecases.evaluator import Evaluator
        from numberguard.usecases.outbox import Outbox

        outbox = Outbox(self.stores.history, self.publisher, self.receipt_queue)
        return Evaluator(self.facets, self.settings, clock=self.clock, outbox=outbox, people=self.people_store)

    @cached_property
    def webhook_receiver(self) -> WebhookReceiver:
        from numberguard.usecases.webhook import WebhookReceiver

        return WebhookReceiver(self.intake, self.archive, self.secrets)

    @cached_property
    def numbers(self) -> Numbers:
        """Registration, adoption of what Meta reported before it, and the registry's views."""
        from numberguard.usecases.numbers import Numbers

        return Numbers(self.registry, self.stores, lambda: self.intake, self.settings, self.clock)


    @cached_property
    def meta_sync(self) -> MetaSync:
        """Meta's own word (DESIGN §5b): the Graph reads applied through the facet logs, history and outbox."""
        from numberguard.store.sync import SyncStatusStore
        from numberguard.usecases.meta_sync import MetaSync
        from numberguard.usecases.meta_sync_store import FacetSyncStore

        cfg = self.settings
        store = FacetSyncStore(self.facets, SyncStatusStore(self.client, cfg.numbers_table, cfg.limits_table),
                               self.numbers, self.registry, self.clock, self.refusals)
        return MetaSync(self.graph, store, cfg.policy, clock=self.clock)


def build(settings: Settings, *, clock: Clock = time.time, publisher: Publisher | None = None,
          receipt_queue: ReceiptQueue | None = None, archive: Archive | None = None,
          secrets: Secrets | None = None, graph: Graph | None = None) -> Parts:
    return Parts(settings, clock=clock, publisher=publisher, receipt_queue=receipt_queue, archive=archive,
                 secrets=secrets, graph=graph)


# ---- the handlers' process-wide parts -----------------------------------------------------------

# The one wall clock of the functions. Tests (and local mode's simulated time) swap it for a fake:
# `monkeypatch.setattr(wiring, "clock", fake)`; the process's parts read time through now().
clock: Clock = time.time


def now() -> float:
    return clock()


_parts: Parts | None = None


def parts() -> Parts:
    """The process's parts: built from the environment's settings on first use (or as installed)."""
    global _parts
    if _parts is None:
        _parts = build(settings(), clock=now)
    return _parts


def install(given: Parts | None) -> None:
    """Serve the handlers from `given` (local mode builds its parts itself); None: from the environment."""
    global _parts
    _parts = given


def limit_checker() -> LimitChecker:
    return parts().limit_checker


def evaluator() -> Evaluator:
    return parts().evaluator


def webhook_receiver() -> WebhookReceiver:
    return parts().webhook_receiver


def meta_sync() -> MetaSync:
    return parts().meta_sync


def reset() -> None:
    """Forget everything built from the environment (tests and local mode change it)."""
    from numberguard import config
    from numberguard.store.client import reset_clients

    config.settings.cache_clear()
    install(None)
    reset_clients()
