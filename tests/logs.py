"""Capture what Powertools' Logger writes (one JSON object a line), exactly as CloudWatch gets it."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager


class CapturedLogs:
    def __init__(self, stream: io.StringIO):
        self._stream = stream

    @property
    def text(self) -> str:
        return self._stream.getvalue()

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]


@contextmanager
def captured_logs(level: str = "DEBUG") -> Iterator[CapturedLogs]:
    """Point the package's Logger at a buffer (and lower its level) for the duration."""
    from numberguard.observability import logger

    buffer = io.StringIO()
    handler = logger.registered_handler
    old_stream = handler.setStream(buffer)
    old_level = logger.log_level
    logger.setLevel(level)
    try:
        yield CapturedLogs(buffer)
    finally:
        handler.setStream(old_stream)
        logger.setLevel(old_level)
