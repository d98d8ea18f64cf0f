"""Builds the use cases from settings, once per process (handlers and local mode share it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache

from numberguard.config import Settings, settings
from numberguard.store import bind_models
from numberguard.store.client import dynamodb_client
from numberguard.store.limits import LimitStore
from numberguard.usecases.limit_check import LimitChecker

# The one wall clock of the functions. Tests (and local mode's simulated time) swap it for a fake:
# `monkeypatch.setattr(wiring, "clock", fake)`; everything built here reads time through now().
clock: Callable[[], float] = time.time


def now() -> float:
    return clock()


def limit_store(cfg: Settings) -> LimitStore:
    return LimitStore(
        dynamodb_client(cfg),
        numbers_table=cfg.numbers_table,
        recipients_table=cfg.recipients_table,
        limits_table=cfg.limits_table,
    )


@lru_cache(maxsize=1)
def limit_checker() -> LimitChecker:
    cfg = settings()
    bind_models(cfg)  # pynamodb is imported only if something uses the models
    return LimitChecker(limit_store(cfg), cfg, clock=now)


def state_store(cfg: Settings):
    from numberguard.store.state import StateStore

    return StateStore(
        dynamodb_client(cfg),
        numbers_table=cfg.numbers_table,
        recipients_table=cfg.recipients_table,
        limits_table=cfg.limits_table,
        history_table=cfg.history_table,
    )


def publisher(cfg: Settings):
    import boto3
    from botocore.config import Config

    from numberguard.notify.publisher import SnsPublisher

    if not cfg.notification_topic_arn:
        raise RuntimeError("NOTIFICATION_TOPIC_ARN is not set: the template sets it on every function")
    # Bounded: a publish ends well inside the outbox's grace, so the outbox never publishes again what
    # a slow writer is still publishing. One SDK attempt: SnsPublisher retries only what SNS refused.
    bounded = Config(connect_timeout=3, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 1})
    return SnsPublisher(boto3.client("sns", region_name=cfg.region, config=bounded), cfg.notification_topic_arn)


def receipt_queue(cfg: Settings):
    """The queue SNS copies every notification to (None where the template gives none: local CLI use)."""
    if not cfg.notification_receipt_queue_url:
        return None
    import boto3
    from botocore.config import Config

    from numberguard.notify.receipts import SqsReceiptQueue

    config = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})
    return SqsReceiptQueue(boto3.client("sqs", region_name=cfg.region, config=config),
                           cfg.notification_receipt_queue_url)


def facets(cfg: Settings, publish, clock=now):
    from numberguard.store.state import FacetLogStore
    from numberguard.usecases.facets import Facets

    return Facets(state_store(cfg), FacetLogStore(dynamodb_client(cfg), cfg.numbers_table), publish, clock,
                  cfg.window)


def people_store(cfg: Settings):
    from numberguard.store.people import PeopleStore

    return PeopleStore(dynamodb_client(cfg), recipients_table=cfg.recipients_table, limits_table=cfg.limits_table,
                       history_table=cfg.history_table)


def intake(cfg: Settings, clock=now):
    from numberguard.usecases.intake import Intake
    from numberguard.usecases.people import People

    parts = facets(cfg, publisher(cfg), clock)
    return Intake(parts, limit_checker(), cfg, People(people_store(cfg), parts.state, clock))


@lru_cache(maxsize=1)
def evaluator():
    from numberguard.usecases.evaluator import Evaluator

    cfg = settings()
    bind_models(cfg)  # pynamodb is imported only if something uses the models
    from numberguard.usecases.outbox import Outbox

    parts = facets(cfg, publisher(cfg))
    return Evaluator(parts, cfg, clock=now, outbox=Outbox(parts.state, parts.publisher, receipt_queue(cfg)),
                     people=people_store(cfg))


@lru_cache(maxsize=1)
def webhook_receiver():
    import boto3

    from numberguard.meta_secrets import ParameterSecrets
    from numberguard.store.archive import S3Archive
    from numberguard.usecases.webhook import WebhookReceiver

    cfg = settings()
    bind_models(cfg)  # pynamodb is imported only if something uses the models
    archive = S3Archive(boto3.client("s3", region_name=cfg.region), cfg.archive_bucket)
    return WebhookReceiver(intake(cfg), archive, ParameterSecrets.from_env())


def reset() -> None:
    """Forget everything built from the environment (tests and local mode change it)."""
    from numberguard import config
    from numberguard.store.client import reset_clients

    config.settings.cache_clear()
    limit_checker.cache_clear()
    webhook_receiver.cache_clear()
    evaluator.cache_clear()
    reset_clients()
