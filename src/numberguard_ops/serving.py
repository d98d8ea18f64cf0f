"""A server of this process served from a daemon thread: local mode's HTTP servers, moto's and the Meta double's.

The server is bound before the thread starts (a taken port is an error at once, not a hang in the
thread), so port 0 asks the system for a free port and `start` returns the one bound.
"""

from __future__ import annotations

import threading
from typing import Protocol


class Server(Protocol):
    """What socketserver's servers (and werkzeug's, built on them) offer."""

    server_address: tuple

    def serve_forever(self, poll_interval: float = 0.5) -> None: ...
    def shutdown(self) -> None: ...
    def server_close(self) -> None: ...


class ServedThread:
    def __init__(self, name: str):
        self.name = name  # the thread's name
        self.server: Server | None = None
        self.thread: threading.Thread | None = None

    def start(self, server: Server) -> int:
        """Serve the bound `server` from a daemon thread; returns its port."""
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                       name=self.name, daemon=True)
        self.thread.start()
        return int(server.server_address[1])

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def stop(self) -> None:
        """Stop serving and close the port; waits up to 5 s for the thread."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self.thread is not None:
            self.thread.join(timeout=5)
            self.thread = None
