"""Everything that touches DynamoDB."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

# pynamodb (store/models.py) costs most of a handler's import time and only the registry
# (registration, the CLI, local mode) uses it; the handlers only need the models bound to their
# settings if something imports them. bind_models() binds now when the models are imported, and
# otherwise keeps the settings for models.py to apply when it is imported: either way the models
# end up bound to the settings of the latest call, in the order of the calls.
_lock = threading.Lock()
_pending: Any = None
_bind: Callable[[Any], None] | None = None


def bind_models(settings: Any) -> None:
    """models.bind(settings), without importing pynamodb: deferred until the models are imported."""
    global _pending
    with _lock:
        if _bind is not None:
            _bind(settings)
        else:
            _pending = settings


def _models_imported(bind: Callable[[Any], None]) -> None:
    """Called once by store/models.py when it has defined its models: applies a deferred bind."""
    global _bind, _pending
    with _lock:
        if _pending is not None:
            bind(_pending)
            _pending = None
        _bind = bind

