"""Builds the use cases from settings, once per process (handlers and local mode share it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache

from numberguard import budgets
from numberguard.budgets import CallBudget
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


def _dynamodb(cfg: Settings, budget: CallBudget):
    return dynamodb_client(cfg, budget.config(max_pool_connections=64))


def limit_store(cfg: Settings) -> LimitStore:
    return LimitStore(
        _dynamodb(cfg, budgets.CHECK_DYNAMODB),
        numbers_table=cfg.numbers_table,
        recipients_table=cfg.recipients_table,
        limits_table=cfg.limits_table,
    )


@lru_cache(maxsize=1)
def limit_checker() -> LimitChecker:
    cfg = settings()
    bind_models(cfg)  # pynamodb is imported only if something uses the models
    return LimitChecker(limit_store(cfg), cfg, clock=now)


def state_store(cfg: Settings, budget: CallBudget = budgets.STORES_DYNAMODB):
    from numberguard.store.state import StateStore

    return StateStore(
        _dynamodb(cfg, budget),
        numbers_table=cfg.numbers_table,
        recipients_table=cfg.recipients_table,
        limits_table=cfg.limits_table,
        history_table=cfg.history_table,
    )


def publisher(cfg: Settings):
    import boto3

    from numberguard.notify.publisher import SnsPublisher

    if not cfg.notification_topic_arn:
        raise RuntimeError("NOTIFICATION_TOPIC_ARN is not set: the template sets it on every function")
    sns = boto3.client("sns", region_name=cfg.region, config=budgets.NOTIFY_SNS.config())
    return SnsPublisher(sns, cfg.notification_topic_arn)


def receipt_queue(cfg: Settings):
    """The queue SNS copies every notification to (None where the template gives none: local CLI use)."""
    if not cfg.notification_receipt_queue_url:
        return None
    import boto3

    from numberguard.notify.receipts import SqsReceiptQueue

    return SqsReceiptQueue(boto3.client("sqs", region_name=cfg.region, config=budgets.RECEIPTS_SQS.config()),
                           cfg.notification_receipt_queue_url)


def facets(cfg: Settings, publish, clock=now, budget: CallBudget = budgets.STORES_DYNAMODB):
    from numberguard.store.state import FacetLogStore
    from numberguard.usecases.facets import Facets

    return Facets(state_store(cfg, budget), FacetLogStore(_dynamodb(cfg, budget), cfg.numbers_table), publish,
                  clock, cfg.window)


def intake(cfg: Settings, clock=now):
    from numberguard.usecases.intake import Intake

    return Intake(facets(cfg, publisher(cfg), clock), limit_checker(), cfg)


@lru_cache(maxsize=1)
def evaluator():
    from numberguard.usecases.evaluator import Evaluator

    cfg = settings()
    bind_models(cfg)  # pynamodb is imported only if something uses the models
    from numberguard.usecases.outbox import Outbox

    parts = facets(cfg, publisher(cfg))
    return Evaluator(parts, cfg, clock=now, outbox=Outbox(parts.state, parts.publisher, receipt_queue(cfg)))


@lru_cache(maxsize=1)
def webhook_receiver():
    import boto3

    from numberguard.meta_secrets import ParameterSecrets
    from numberguard.store.archive import S3Archive
    from numberguard.usecases.webhook import WebhookReceiver

    cfg = settings()
    bind_models(cfg)  # pynamodb is imported only if something uses the models
    s3 = boto3.client("s3", region_name=cfg.region, config=budgets.WEBHOOK_S3.config())
    return WebhookReceiver(intake(cfg), S3Archive(s3, cfg.archive_bucket), ParameterSecrets.from_env())


def reset() -> None:
    """Forget everything built from the environment (tests and local mode change it)."""
    from numberguard import config
    from numberguard.store.client import reset_clients

    config.settings.cache_clear()
    limit_checker.cache_clear()
    webhook_receiver.cache_clear()
    evaluator.cache_clear()
    reset_clients()
