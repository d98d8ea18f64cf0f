"""Builds the use cases from settings, once per process (handlers and local mode share it)."""

from __future__ import annotations

from functools import lru_cache

from numberguard.config import Settings, settings
from numberguard.store import models
from numberguard.store.client import dynamodb_client
from numberguard.store.limits import LimitStore
from numberguard.usecases.limit_check import LimitChecker


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
    models.bind(cfg)
    return LimitChecker(limit_store(cfg), cfg)


def reset() -> None:
    """Forget everything built from the environment (tests and local mode change it)."""
    from numberguard import config
    from numberguard.store.client import reset_clients

    config.settings.cache_clear()
    limit_checker.cache_clear()
    reset_clients()
