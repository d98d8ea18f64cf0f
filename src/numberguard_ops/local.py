"""Local mode: the template's functions and tables on this machine, with no AWS account.

`numberguard local` (what `make run` runs) starts a list of services in order and stops them in
reverse order on Ctrl-C (SIGINT), SIGTERM or SIGHUP, or when one of them dies:

1. DynamoDB Local (persisted in the data folder) with the tables of template.yaml;
2. the functions of template.yaml, imported in this process with their template environment
   pointed at DynamoDB Local (the way `sam local` runs them, without containers);
3. the Lambda invoke API on 127.0.0.1 (boto3's lambda client works unchanged against it).

Later services (moto server for SNS/S3/SSM, the webhook API on port 3000, the evaluator timer)
are more entries of the same list: each one implements `Service`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import threading
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from numberguard_ops import template
from numberguard_ops.ddb_local import DynamoDBLocal, DynamoDBLocalError, find_jar
from numberguard_ops.lambda_api import InvokeServer
from numberguard_ops.runtime import REGION, FunctionRuntime, FunctionSpec, specs_from_template

HOST = "127.0.0.1"
# DynamoDB Local and the local Lambda API accept any credentials; these never leave the machine.
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
DEFAULT_LAMBDA_PORT = 3001
DEFAULT_DYNAMODB_PORT = 8000
DEFAULT_DATA_DIR = template.ROOT / ".local"
READY = "numberguard local is ready"

# Example ids used in the hint printed at start (the same as the events/ and the docs).
EXAMPLE_NUMBER = {
    "phone_number_id": "106540352242922",
    "waba_id": "102290129340398",
    "display_phone_number": "+15550783881",
    "tier": "TIER_1K",
}
EXAMPLE_RECIPIENT = "16505551234"


class LocalModeError(RuntimeError):
    """Local mode cannot start or keep running; the message says what to do."""


class Service(Protocol):
    name: str

    def preflight(self) -> None:
        """Cheap checks before anything starts (ports free, tools installed); raise LocalModeError."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def describe(self) -> list[str]:
        """Lines for the start banner: where the service is."""

    def problem(self) -> str | None:
        """None while healthy; otherwise why the service stopped working."""


def port_free(port: int, host: str = HOST) -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _say(line: str = "") -> None:
    print(line, flush=True)


# ---- DynamoDB Local ---------------------------------------------------------------------------


def dynamodb_client(endpoint: str):
    import boto3

    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION, **LOCAL_CREDENTIALS)


def upgrade_tables(client, definitions: list[dict], data_dir: str) -> list[str]:
    """Tables kept from an older template.yaml: add the indexes they lack, refuse a changed key schema.

    `definitions` are CreateTable arguments of existing tables; returns `table.index` of each index added.
    """
    added = []
    for spec in definitions:
        name = spec["TableName"]
        found = client.describe_table(TableName=name)["Table"]
        if found["KeySchema"] != spec["KeySchema"]:
            raise LocalModeError(
                f"table {name} in {data_dir} has another key than template.yaml gives it: "
                "delete that folder (or choose another --data-dir) to recreate the tables"
            )
        have = {index["IndexName"] for index in found.get("GlobalSecondaryIndexes", [])}
        for index in spec.get("GlobalSecondaryIndexes", []):
            if index["IndexName"] in have:
                continue
            keys = {k["AttributeName"] for k in index["KeySchema"]}
            client.update_table(
                TableName=name,
                AttributeDefinitions=[a for a in spec["AttributeDefinitions"] if a["AttributeName"] in keys],
                GlobalSecondaryIndexUpdates=[{"Create": {
                    "IndexName": index["IndexName"], "KeySchema": index["KeySchema"], "Projection": index["Projection"],
                }}],
            )
            added.append(f"{name}.{index['IndexName']}")
    return added


class DynamoDBService:
    name = "DynamoDB Local"

    def __init__(self, port: int, data_dir: Path):
        self.data_dir = data_dir
        self.db = DynamoDBLocal(port=port, data_dir=data_dir, log_path=data_dir / "dynamodb-local.log")
        self.tables: list[str] = []
        self.created: list[str] = []
        self.upgraded: list[str] = []

    @property
    def endpoint(self) -> str:
        return self.db.endpoint

    def preflight(self) -> None:
        if shutil.which("java") is None:
            raise LocalModeError("DynamoDB Local needs Java 17 or newer on PATH ('java' was not found)")
        try:
            find_jar()
        except DynamoDBLocalError as err:
            raise LocalModeError(str(err)) from None
        if not port_free(self.db.port):
            raise LocalModeError(f"port {self.db.port} is already in use: choose another with --dynamodb-port")
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise LocalModeError(f"--data-dir {self.data_dir}: cannot create it ({err.strerror})") from None

    def start(self) -> None:
        try:
            self.db.start()
        except DynamoDBLocalError as err:
            raise LocalModeError(f"{err} (its log: {self.db.log_path})") from None
        client = dynamodb_client(self.endpoint)
        self.created = template.create_tables(client)  # the template's tables: never a second list
        definitions = [t["create"] for t in template.table_definitions()]
        self.tables = [d["TableName"] for d in definitions]
        kept = [d for d in definitions if d["TableName"] not in self.created]
        self.upgraded = upgrade_tables(client, kept, str(self.data_dir))

    def stop(self) -> None:
        self.db.stop()

    def describe(self) -> list[str]:
        made = f", created {len(self.created)} now" if self.created else ""
        lines = [
            f"DynamoDB Local  {self.endpoint}  data in {self.data_dir}{made}",
            f"                tables {', '.join(self.tables)}",
        ]
        if self.upgraded:
            lines.append(f"                added to the kept data (template.yaml changed): {', '.join(self.upgraded)}")
        return lines

    def problem(self) -> str | None:
        process = self.db.process
        if process is not None and process.poll() is not None:
            return f"DynamoDB Local exited (code {process.returncode}); its log: {self.db.log_path}"
        return None


# ---- the functions, in this process -----------------------------------------------------------


def local_aws_environment(dynamodb_endpoint: str) -> dict[str, str]:
    """What local mode adds to the functions' environment: the local endpoints and fake credentials."""
    return {
        "DYNAMODB_ENDPOINT": dynamodb_endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        # Local mode never talks to AWS: any profile or session token of the shell is ignored.
        "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
        "AWS_SAM_LOCAL": "true",  # Powertools: no X-Ray outside Lambda
        "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
    }


UNSET_LOCALLY = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")


def merged_environment(specs: list[FunctionSpec]) -> tuple[dict[str, str], list[str]]:
    """One process runs every function: their environments merged, with the conflicts named."""
    env: dict[str, str] = {}
    owner: dict[str, str] = {}
    conflicts = []
    for spec in specs:
        for key, value in spec.environment.items():
            if key in env and env[key] != value:
                conflicts.append(f"{key} is {env[key]!r} for {owner[key]} but {value!r} for {spec.name}")
                continue
            env[key] = value
            owner.setdefault(key, spec.name)
    return env, conflicts


class FunctionsService:
    """Imports the template's handlers here, with the template's environment and DynamoDB Local's endpoint."""

    name = "functions"

    def __init__(self, dynamodb_endpoint: str, specs: list[FunctionSpec] | None = None,
                 log: Callable[[str], None] = _say):
        self.specs = specs if specs is not None else specs_from_template()
        self.dynamodb_endpoint = dynamodb_endpoint
        self.runtime = FunctionRuntime(self.specs)
        self.log = log
        self.environment: dict[str, str] = {}
        self._saved: dict[str, str | None] = {}

    def preflight(self) -> None:
        if not self.specs:
            raise LocalModeError("template.yaml has no AWS::Serverless::Function to serve")

    def start(self) -> None:
        env, conflicts = merged_environment(self.specs)
        env.update(local_aws_environment(self.dynamodb_endpoint))
        for line in conflicts:
            self.log(f"warning: {line}; local mode runs every function in one process and uses the first value")
        for key in (*env, *UNSET_LOCALLY):
            self._saved.setdefault(key, os.environ.get(key))
        for key in UNSET_LOCALLY:
            os.environ.pop(key, None)
        os.environ.update(env)
        self.environment = env
        _reset_numberguard()
        for line in self.runtime.load():
            self.log(f"warning: {line} (invoking it answers this error)")

    def stop(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved.clear()
        _reset_numberguard(bind=False)

    def describe(self) -> list[str]:
        from numberguard.config import ConfigError, Settings

        try:
            cfg = Settings.from_env(self.environment)
        except ConfigError as err:
            return [f"settings        invalid: {err}"]
        return [
            f"policy          {cfg.policy.value} (LimitPolicy), buckets of {cfg.bucket_minutes} min (BucketMinutes), "
            f"fail {cfg.fail_mode.value} (FailMode)"
        ]

    def problem(self) -> str | None:
        return None


def _reset_numberguard(bind: bool = True) -> None:
    """Make the layer forget clients and settings built from an older environment."""
    if "numberguard.wiring" in sys.modules:
        sys.modules["numberguard.wiring"].reset()
    if not bind:
        return
    from numberguard.config import ConfigError, Settings
    from numberguard.store import models

    try:
        models.bind(Settings.from_env())
    except ConfigError as err:
        raise LocalModeError(f"template.yaml gives the functions invalid settings: {err}") from None


# ---- the Lambda invoke API ----------------------------------------------------------------------


class LambdaApiService:
    name = "Lambda API"

    def __init__(self, runtime: FunctionRuntime, port: int, host: str = HOST):
        self.runtime = runtime
        self.host = host
        self.port = port
        self.server: InvokeServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def preflight(self) -> None:
        if self.port and not port_free(self.port, self.host):
            raise LocalModeError(f"port {self.port} is already in use: choose another with --lambda-port")

    def start(self) -> None:
        try:
            self.server = InvokeServer((self.host, self.port), self.runtime)
        except OSError as err:
            raise LocalModeError(f"cannot listen on {self.host}:{self.port} ({err.strerror}): "
                                 "choose another port with --lambda-port") from None
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                       name="lambda-api", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self.thread is not None:
            self.thread.join(timeout=5)
            self.thread = None

    def describe(self) -> list[str]:
        return [f"Lambda API      {self.endpoint}  invoke {', '.join(self.runtime.names)}"]

    def problem(self) -> str | None:
        if self.thread is not None and not self.thread.is_alive():
            return "the Lambda API stopped serving"
        return None


# ---- local mode -----------------------------------------------------------------------------------


@dataclass
class LocalOptions:
    lambda_port: int = DEFAULT_LAMBDA_PORT
    dynamodb_port: int = DEFAULT_DYNAMODB_PORT
    data_dir: Path = field(default_factory=lambda: DEFAULT_DATA_DIR)


class LocalMode:
    """Starts services in order, stops them in reverse order, whatever happens in between."""

    def __init__(self, services: list[Service], next_step: Callable[[], str] | None = None,
                 say: Callable[[str], None] = _say):
        self.services = services
        self.next_step = next_step
        self.say = say
        self.started: list[Service] = []
        self.stopping = threading.Event()

    def start(self) -> None:
        for service in self.services:
            service.preflight()
        for service in self.services:
            if self.stopping.is_set():
                return
            try:
                service.start()
            except BaseException:
                try:  # a half-started service (e.g. java up, tables failed) is stopped too
                    service.stop()
                except Exception as err:
                    print(f"numberguard local: stopping {service.name}: {err}", file=sys.stderr, flush=True)
                raise
            self.started.append(service)

    def stop(self) -> list[str]:
        """Stop what was started, newest first; returns the problems met (never raises)."""
        problems = []
        while self.started:
            service = self.started.pop()
            try:
                service.stop()
            except Exception as err:  # keep stopping the others
                problems.append(f"stopping {service.name}: {err}")
        return problems

    def banner(self) -> None:
        self.say("numberguard local mode: the functions and tables of template.yaml on this machine (no AWS)")
        for service in self.started:
            for line in service.describe():
                self.say(f"  {line}")
        if self.next_step:
            self.say(f"Next: {self.next_step()}")
        self.say(f"{READY} (Ctrl-C stops everything)")

    def wait(self) -> str | None:
        """Block until asked to stop (None) or until a service fails (its problem)."""
        while not self.stopping.wait(0.5):
            for service in self.started:
                problem = service.problem()
                if problem and not self.stopping.wait(0.2):
                    return problem
        return None

    def run(self) -> int:
        """The whole life of local mode in the foreground, with signal handling; returns the exit code."""
        handled = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
        previous = {sig: signal.signal(sig, lambda *_: self.stopping.set()) for sig in handled}
        code = 0
        try:
            try:
                self.start()
                if not self.stopping.is_set():
                    self.banner()
                    problem = self.wait()
                    if problem:
                        print(f"numberguard local: {problem}; stopping", file=sys.stderr, flush=True)
                        code = 1
            except LocalModeError as err:
                print(f"numberguard local: {err}", file=sys.stderr, flush=True)
                code = 1
            finally:
                if self.started:
                    self.say("stopping local mode ...")
                for line in self.stop():
                    print(f"numberguard local: {line}", file=sys.stderr, flush=True)
            if code == 0:
                self.say("local mode stopped")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return code


def build(options: LocalOptions) -> LocalMode:
    dynamodb = DynamoDBService(options.dynamodb_port, options.data_dir)
    functions = FunctionsService(dynamodb.endpoint)
    lambda_api = LambdaApiService(functions.runtime, options.lambda_port)
    services: list[Service] = [dynamodb, functions, lambda_api]
    return LocalMode(services, next_step=lambda: next_step(dynamodb, lambda_api))


def cli_command() -> str:
    """How the user can type the CLI from here: `numberguard` when on PATH, else its path in the venv."""
    on_path = shutil.which("numberguard")
    if on_path and sys.argv and sys.argv[0] and Path(on_path).resolve() == Path(sys.argv[0]).resolve():
        return "numberguard"
    script = Path(sys.executable).parent / "numberguard"
    if script.exists():
        try:
            return os.path.relpath(script)
        except ValueError:  # another drive (Windows)
            return str(script)
    return "numberguard"


def next_step(dynamodb: DynamoDBService, lambda_api: LambdaApiService) -> str:
    """The one line telling the user what to do now (depends on what is registered already)."""
    cli = cli_command()
    ddb_flag = "" if dynamodb.db.port == DEFAULT_DYNAMODB_PORT else f" --dynamodb-endpoint {dynamodb.endpoint}"
    api_flag = "" if lambda_api.port == DEFAULT_LAMBDA_PORT else f" --endpoint {lambda_api.endpoint}"
    try:
        from numberguard.store import registry

        numbers = [n.pk for n in registry.list_numbers()]
    except Exception:  # the hint is best effort
        numbers = []
    check = f"{cli} check{api_flag} --phone-number-id {{}} --recipient {EXAMPLE_RECIPIENT}"
    if numbers:
        return (f"{len(numbers)} number(s) registered already ({cli} numbers list{ddb_flag}); check a send with "
                f"`{check.format(numbers[0])}` or invoke LimitCheckFunction with boto3 at {lambda_api.endpoint}")
    ex = EXAMPLE_NUMBER
    return (f"in another terminal, register a number with `{cli} numbers add{ddb_flag} --phone-number-id "
            f"{ex['phone_number_id']} --waba-id {ex['waba_id']} --display-phone-number {ex['display_phone_number']} "
            f"--tier {ex['tier']}`, then check a send with `{check.format(ex['phone_number_id'])}` "
            f"(or invoke LimitCheckFunction with boto3 at {lambda_api.endpoint})")


def run(options: LocalOptions) -> int:
    return build(options).run()
