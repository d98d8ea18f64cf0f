"""The DynamoDB client: one per process, created lazily, pointed at DynamoDB Local when configured."""

from __future__ import annotations

import threading

import botocore.session
from botocore.config import Config

from numberguard.config import Settings

_lock = threading.Lock()
_clients: dict[tuple, object] = {}

# What a client gets when its caller names no budget: the stores' (numberguard/budgets.py
# STORES_DYNAMODB, which wiring passes); the check passes its own, shorter one.
CLIENT_CONFIG = Config(
    connect_timeout=1,
    read_timeout=3,
    retries={"mode": "standard", "total_max_attempts": 3},
    max_pool_connections=64,
)


def dynamodb_client(settings: Settings, config: Config = CLIENT_CONFIG):
    """One client per endpoint, region and budget, shared by every store of the process."""
    key = (settings.dynamodb_endpoint, settings.region, config.connect_timeout, config.read_timeout,
           repr(sorted((config.retries or {}).items())))
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                session = botocore.session.get_session()
                client = session.create_client(
                    "dynamodb",
                    region_name=settings.region,
                    endpoint_url=settings.dynamodb_endpoint,
                    config=config,
                )
                _clients[key] = client
    return client


def reset_clients() -> None:
    """Forget cached clients (tests switch between moto and DynamoDB Local)."""
    with _lock:
        _clients.clear()
