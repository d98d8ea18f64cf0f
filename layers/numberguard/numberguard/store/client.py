"""The DynamoDB client: one per process, created lazily, pointed at DynamoDB Local when configured."""

from __future__ import annotations

import threading

import botocore.session
from botocore.config import Config

from numberguard.config import Settings

_lock = threading.Lock()
_clients: dict[tuple, object] = {}

# The check sits in front of every send: fail fast rather than hang the sender.
CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "max_attempts": 3},
    max_pool_connections=64,
)


def dynamodb_client(settings: Settings):
    key = (settings.dynamodb_endpoint, settings.region)
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
                    config=CLIENT_CONFIG,
                )
                _clients[key] = client
    return client


def reset_clients() -> None:
    """Forget cached clients (tests switch between moto and DynamoDB Local)."""
    with _lock:
        _clients.clear()
