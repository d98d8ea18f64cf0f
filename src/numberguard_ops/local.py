"""Local mode: the template's functions and tables on this machine, with no AWS account.

`numberguard local` (what `make run` runs) starts a list of services in order and stops them in
reverse order on Ctrl-C (SIGINT), SIGTERM or SIGHUP, or when one of them dies:

1. DynamoDB Local (persisted in the data folder) with the tables of template.yaml;
2. moto's server (SNS, S3, SSM, SQS) with the template's buckets, topics and queues and the SSM
   parameters its functions read secrets from; a mailbox queue subscribed to the topics;
3. the functions of template.yaml, imported in this process with their template environment
   pointed at the local endpoints (the way `sam local` runs them, without containers);
4. the Lambda invoke API on 127.0.0.1 (boto3's lambda client works unchanged against it);
5. the API of the functions' Api events (API Gateway proxy events), the timers of their schedules,
   topic deliveries to functions with SNS events, and the mailbox printing each notification.

Everything is read from template.yaml by resource and event type: a function, table, bucket,
topic, route or schedule added there is served here with no second list. Each part implements
`Service`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import socketserver
import sys
import threading
import uuid
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from numberguard_ops import embedded_aws, template
from numberguard_ops.api_gateway import ApiServer
from numberguard_ops.ddb_local import DynamoDBLocal, DynamoDBLocalError, find_jar
from numberguard_ops.lambda_api import InvokeServer
from numberguard_ops.meta_double import MetaDouble
from numberguard_ops.runtime import REGION, FunctionRuntime, FunctionSpec, specs_from_template
from numberguard_ops.serving import ServedThread

HOST = "127.0.0.1"
# DynamoDB Local and the local Lambda API accept any credentials; these never leave the machine.
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
DEFAULT_API_PORT = 3000
DEFAULT_LAMBDA_PORT = 3001
DEFAULT_DYNAMODB_PORT = 8000
DEFAULT_MOTO_PORT = 5000
DEFAULT_META_PORT = 3002
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
        """Launch java only: the JVM boots while moto and its resources start (`DynamoDBTablesService`)."""
        try:
            self.db.launch()
        except DynamoDBLocalError as err:
            raise LocalModeError(f"{err} (its log: {self.db.log_path})") from None

    def finish(self) -> None:
        try:
            self.db.wait(timeout=120)
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


class DynamoDBTablesService:
    """Waits for DynamoDB Local (launched earlier) and creates or upgrades the template's tables."""

    name = "DynamoDB tables"

    def __init__(self, dynamodb: DynamoDBService):
        self.dynamodb = dynamodb

    def preflight(self) -> None:
        pass

    def start(self) -> None:
        self.dynamodb.finish()

    def stop(self) -> None:
        pass  # DynamoDBService stops the process

    def describe(self) -> list[str]:
        return []  # DynamoDBService describes the tables

    def problem(self) -> str | None:
        return None


# ---- the functions, in this process -----------------------------------------------------------


def local_aws_environment(dynamodb_endpoint: str, aws_endpoint: str | None = None) -> dict[str, str]:
    """What local mode adds to the functions' environment: the local endpoints and fake credentials.

    `aws_endpoint` (moto's server) becomes AWS_ENDPOINT_URL, which every boto3 client honours: SNS,
    S3, SSM and anything else the functions call stay on this machine; DynamoDB goes to DynamoDB Local.
    """
    env = {
        "DYNAMODB_ENDPOINT": dynamodb_endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        # Local mode never talks to AWS: any profile or session token of the shell is ignored.
        "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
        "AWS_SAM_LOCAL": "true",  # Powertools: no X-Ray outside Lambda
        "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
    }
    if aws_endpoint:
        env["AWS_ENDPOINT_URL"] = aws_endpoint
        env["AWS_ENDPOINT_URL_DYNAMODB"] = dynamodb_endpoint
    return env


UNSET_LOCALLY = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")


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
                 log: Callable[[str], None] = _say, aws_endpoint: Callable[[], str | None] = lambda: None):
        self.specs = specs if specs is not None else specs_from_template()
        self.dynamodb_endpoint = dynamodb_endpoint
        self.aws_endpoint = aws_endpoint
        self.runtime = FunctionRuntime(self.specs)
        self.log = log
        self.environment: dict[str, str] = {}
        self._saved: dict[str, str | None] = {}

    def preflight(self) -> None:
        if not self.specs:
            raise LocalModeError("template.yaml has no AWS::Serverless::Function to serve")

    def start(self) -> None:
        env, conflicts = merged_environment(self.specs)
        env.update(local_aws_environment(self.dynamodb_endpoint, self.aws_endpoint()))
        for line in conflicts:
            self.log(f"warning: {line}; local mode runs every function in one process and uses the first value")
        for key in (*env, *UNSET_LOCALLY):
            self._saved.setdefault(key, os.environ.get(key))
        for key in UNSET_LOCALLY:
            os.environ.pop(key, None)
        os.environ.update(env)
        self.environment = env
        _reset_numberguard(env)
        for line in self.runtime.load():
            self.log(f"warning: {line} (invoking it answers this error)")

    def stop(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved.clear()
        _reset_numberguard(None)

    def describe(self) -> list[str]:
        from numberguard.config import ConfigError, Settings

        try:
            cfg = Settings.from_env(self.environment)
        except ConfigError as err:
            return [f"settings        invalid: {err}"]
        level = self.environment.get("POWERTOOLS_LOG_LEVEL")
        return [
            f"policy          {cfg.policy.value} (LimitPolicy), buckets of {cfg.bucket_minutes} min (BucketMinutes), "
            f"fail {cfg.fail_mode.value} (FailMode), pair rate guard {'on' if cfg.pair_rate_guard else 'off'} "
            "(PairRateGuard)" + (f", function logs at {level} (--log-level)" if level else "")
        ]

    def problem(self) -> str | None:
        return None


def _reset_numberguard(env: dict[str, str] | None) -> None:
    """Serve the in-process functions from parts built with the template's settings (`env`); None:
    forget them (the layer's parts and clients built for an older local mode)."""
    if env is None and "numberguard.wiring" not in sys.modules:
        return
    from numberguard import wiring
    from numberguard.config import ConfigError, Settings

    wiring.reset()
    if env is None:
        return
    try:
        settings = Settings.from_env(env)
    except ConfigError as err:
        raise LocalModeError(f"template.yaml gives the functions invalid settings: {err}") from None
    wiring.install(wiring.build(settings, clock=wiring.now))


# ---- the Lambda invoke API ----------------------------------------------------------------------


class _HttpService:
    """An HTTP server of local mode served from a thread (the Lambda API, the API of Api events)."""

    name = "HTTP"
    port_flag = "--port"

    def __init__(self, port: int, host: str):
        self.host = host
        self.port = port
        self.served: ServedThread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def serving(self) -> bool:
        return self.served is not None and self.served.server is not None

    def _serve(self, make_server: Callable[[], socketserver.TCPServer], thread_name: str) -> None:
        try:
            server = make_server()
        except OSError as err:
            raise LocalModeError(f"cannot listen on {self.host}:{self.port} ({err.strerror}): "
                                 f"choose another port with {self.port_flag}") from None
        self.served = ServedThread(thread_name)
        self.port = self.served.start(server)

    def stop(self) -> None:
        if self.served is not None:
            self.served.stop()

    def problem(self) -> str | None:
        if self.served is not None and self.served.thread is not None and not self.served.alive():
            return f"the {self.name} stopped serving"
        return None


class LambdaApiService(_HttpService):
    name = "Lambda API"
    port_flag = "--lambda-port"

    def __init__(self, runtime: FunctionRuntime, port: int, host: str = HOST):
        super().__init__(port, host)
        self.runtime = runtime

    def preflight(self) -> None:
        if self.port and not port_free(self.port, self.host):
            raise LocalModeError(f"port {self.port} is already in use: choose another with --lambda-port")

    def start(self) -> None:
        self._serve(lambda: InvokeServer((self.host, self.port), self.runtime), "lambda-api")

    def describe(self) -> list[str]:
        return [f"Lambda API      {self.endpoint}  invoke {', '.join(self.runtime.names)}"]


# ---- moto's server and the template's SNS / S3 / SSM / SQS resources -----------------------------


class MetaDoubleService:
    """Meta's Graph API double (DESIGN §6): local mode's default MetaGraphUrl; `numberguard meta ...` changes it."""

    name = "Meta Graph API double"

    def __init__(self, port: int, host: str = HOST, used: bool = True):
        self.double = MetaDouble(port, host)
        self.used = used  # False: --parameter MetaGraphUrl points the functions at another server

    @property
    def endpoint(self) -> str:
        return self.double.endpoint

    def preflight(self) -> None:
        if not port_free(self.double.port, self.double.host):
            raise LocalModeError(f"port {self.double.port} is taken (the Meta double's --meta-port)")

    def start(self) -> None:
        self.double.start()

    def stop(self) -> None:
        self.double.stop()

    def describe(self) -> list[str]:
        wabas = ", ".join(self.double.state.wabas)
        use = "" if self.used else " (not used: --parameter MetaGraphUrl names another server)"
        return [f"Meta Graph API  {self.endpoint} (the double; token {self.double.state.token!r}, WABA(s) {wabas})"
                + use]

    def problem(self) -> str | None:
        return None if self.double.alive() else "the Meta double stopped"


class MotoService:
    name = "moto server"

    def __init__(self, port: int, host: str = HOST):
        self.server = embedded_aws.MotoServer(port, host)

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def preflight(self) -> None:
        if self.server.port and not port_free(self.server.port, self.server.host):
            raise LocalModeError(f"port {self.server.port} is already in use: choose another with --moto-port")

    def start(self) -> None:
        try:
            self.server.start()
        except OSError as err:
            raise LocalModeError(f"cannot listen on {self.server.host}:{self.server.port} ({err.strerror}): "
                                 "choose another port with --moto-port") from None

    def stop(self) -> None:
        self.server.stop()

    def describe(self) -> list[str]:
        return [f"moto server     {self.endpoint}  SNS, S3, SSM, SQS (in memory; AWS_ENDPOINT_URL of the functions)"]

    def problem(self) -> str | None:
        return None if self.server.alive() else "moto's server stopped serving"


class AwsResourcesService:
    """The template's buckets, topics, queues and secret parameters in moto; the mailbox; topic deliveries."""

    name = "AWS resources"

    def __init__(self, moto: MotoService, secrets: embedded_aws.Secrets, mailbox: Path, runtime: FunctionRuntime,
                 resolver: template.Resolver | None = None, say: Callable[[str], None] = _say):
        self.moto = moto
        self.secrets = secrets
        self.mailbox = mailbox
        self.runtime = runtime
        self.resolver = resolver or template.Resolver()
        self.say = say
        self.created = embedded_aws.Created()
        self.pollers: list[embedded_aws.QueuePoller] = []
        self.mailbox_topics: list[str] = []
        self.deliveries: list[str] = []

    def preflight(self) -> None:
        try:
            self.mailbox.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise LocalModeError(f"mailbox {self.mailbox}: cannot create it ({err.strerror})") from None

    def start(self) -> None:
        endpoint = self.moto.endpoint
        try:
            self.created = embedded_aws.create_resources(endpoint, self.secrets, self.resolver)
        except template.TemplateError as err:
            raise LocalModeError(f"template.yaml: {err}") from None
        consumed = {sub.topic for sub in template.topic_subscriptions(self.resolver)}
        # Topics that functions read (an SNS event) deliver to them; every other topic to the mailbox.
        for sub in template.topic_subscriptions(self.resolver):
            fn = self.runtime.resolve(sub.function)
            topic_arn = self.created.topics.get(sub.topic)
            if topic_arn is None:  # a topic from outside the template (a parameter): made here, by its name
                name = sub.topic.rsplit(":", 1)[-1]
                topic_arn = embedded_aws.client("sns", endpoint).create_topic(Name=name)["TopicArn"]
            label = sub.topic if sub.topic in self.created.topics else topic_arn
            url = embedded_aws.subscribe_queue(endpoint, topic_arn,
                                               f"numberguard-local-{sub.function}-{topic_arn.rsplit(':', 1)[-1]}")
            self._poll(url, self._deliver(fn, f"{topic_arn}:local-{sub.function}"), f"{label}→{sub.function}")
            self.deliveries.append(f"{label} → {sub.function} (publish to it to reach the function)")
        for logical_id, arn in self.created.topics.items():
            if logical_id in consumed:
                continue
            url = embedded_aws.subscribe_queue(endpoint, arn, embedded_aws.MAILBOX_QUEUE)
            if logical_id not in self.mailbox_topics:
                self.mailbox_topics.append(logical_id)
            if len(self.mailbox_topics) == 1:
                self._poll(url, self._to_mailbox, "mailbox")

    def _poll(self, url: str, handle: Callable[[dict], None], name: str) -> None:
        poller = embedded_aws.QueuePoller(self.moto.endpoint, url, handle, name,
                                          lambda line: print(f"numberguard local: {line}", file=sys.stderr, flush=True))
        poller.start()
        self.pollers.append(poller)

    def _to_mailbox(self, envelope: dict) -> None:
        mail = embedded_aws.write_mail(self.mailbox, envelope)
        self.say(f"notification {embedded_aws.one_line(mail.document)}  [mailbox/{mail.eml.name}]")

    def _deliver(self, fn, subscription_arn: str) -> Callable[[dict], None]:
        def handle(envelope: dict) -> None:
            result = self.runtime.invoke(fn, embedded_aws.sns_event(envelope, subscription_arn))
            if not result.ok:  # SNS retries a failed delivery: the message stays in the queue
                raise RuntimeError(f"{fn.spec.name} failed on an SNS message: {result.json().get('errorMessage')}")

        return handle

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        self.pollers.clear()

    def describe(self) -> list[str]:
        made = self.created
        lines = []
        if made.buckets:
            lines.append(f"S3 buckets      {', '.join(made.buckets)}")
        for logical_id, arn in made.topics.items():
            lines.append(f"SNS topic       {arn} ({logical_id})")
        for logical_id, url in made.queues.items():
            lines.append(f"SQS queue       {url} ({logical_id})")
        for logical_id in made.subscriptions:
            lines.append(f"SNS → SQS       {logical_id}")
        for variable, (name, value) in made.parameters.items():
            lines.append(f"SSM parameter   {name} = {value!r} (SecureString, the functions' {variable})")
        for line in self.deliveries:
            lines.append(f"SNS delivery    {line}")
        if self.mailbox_topics:
            lines.append(f"mailbox         {self.mailbox} (notifications of {', '.join(self.mailbox_topics)}: "
                         "one line here, an .eml and a .json file there)")
        return lines

    def problem(self) -> str | None:
        for poller in self.pollers:
            if not poller.alive():
                return f"the {poller.name} reader stopped"
        return None


# ---- the API of the functions' Api events ---------------------------------------------------------


class ApiService(_HttpService):
    name = "API"
    port_flag = "--api-port"

    def __init__(self, runtime: FunctionRuntime, routes: list[template.Route], port: int, host: str = HOST,
                 say: Callable[[str], None] = _say):
        super().__init__(port, host)
        self.runtime = runtime
        self.routes = routes
        self.say = say

    def preflight(self) -> None:
        if self.routes and self.port and not port_free(self.port, self.host):
            raise LocalModeError(f"port {self.port} is already in use: choose another with --api-port")

    def start(self) -> None:
        if self.routes:
            self._serve(lambda: ApiServer((self.host, self.port), self.routes, self.runtime, log=self.say), "api")

    def describe(self) -> list[str]:
        if not self.routes:
            return ["API             none (no function of template.yaml has an Api event yet)"]
        routes = ", ".join(f"{r.method} {r.path} → {r.function}" for r in self.routes)
        return [f"API             {self.endpoint}  {routes}"]


# ---- schedules ------------------------------------------------------------------------------------


def parse_rate(text: str) -> float:
    """`rate(1 minute)`, `90s`, `5m`, `1h` or plain seconds → seconds (the --schedule-rate flag)."""
    value = text.strip().lower()
    if value.startswith("rate("):
        return template.rate_seconds(value)
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (value[:-1], value[-1]) if value and value[-1] in units else (value, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        raise ValueError(f"not a rate: {text!r} (try rate(1 minute), 30s, 5m)") from None
    if seconds <= 0:
        raise ValueError(f"a rate must be positive, got {text!r}")
    return max(1, round(seconds)) if seconds >= 1 else seconds


def scheduled_event(schedule: template.Schedule) -> dict:
    """What EventBridge sends a scheduled target (the evaluator reads nothing of it)."""
    from datetime import UTC, datetime

    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": template.ACCOUNT_ID, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION, "resources": [f"arn:aws:scheduler:{REGION}:{template.ACCOUNT_ID}:schedule/default/"
                                        f"{schedule.source}"], "detail": {},
    }


def change_words(change: object) -> str:
    """A change a scheduled function answered: the evaluator's type, or the Meta sync's entry (a number's by its
    id, a template's by its name, language and WABA: never its history key)."""
    if not isinstance(change, dict):
        return str(change)
    template = change.get("template")
    if isinstance(template, dict):
        who = (f"template {template.get('name')!r} ({template.get('language')}) of WABA "
               f"{template.get('waba_id')}")
    else:
        who = str(change.get("phone_number_id"))
    return f"{who} {change.get('type')}: {change.get('from') or '-'} → {change.get('to') or '-'}"


def _every(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


class ScheduleService:
    """One timer per schedule of the template, invoking its function in this process (never overlapping)."""

    name = "schedules"

    def __init__(self, runtime: FunctionRuntime, schedules: list[template.Schedule], rate: float | None = None,
                 say: Callable[[str], None] = _say):
        self.runtime = runtime
        self.schedules = schedules
        self.rate = rate
        self.say = say
        self.intervals: list[float] = []
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.runs = 0

    def preflight(self) -> None:
        self.intervals = []
        for schedule in self.schedules:
            if self.rate is not None:
                self.intervals.append(self.rate)
                continue
            try:
                self.intervals.append(template.rate_seconds(schedule.expression))
            except template.TemplateError as err:
                raise LocalModeError(f"{schedule.source}: {err}; give local mode one with --schedule-rate") from None

    def start(self) -> None:
        self.stopping.clear()
        for schedule, interval in zip(self.schedules, self.intervals, strict=True):
            thread = threading.Thread(target=self._run, args=(schedule, interval), name=f"timer-{schedule.function}",
                                      daemon=True)
            thread.start()
            self.threads.append(thread)

    def _run(self, schedule: template.Schedule, interval: float) -> None:
        fn = self.runtime.require(schedule.function)
        while not self.stopping.wait(interval):
            result = self.runtime.invoke(fn, scheduled_event(schedule))
            self.runs += 1
            if not result.ok:
                self.say(f"schedule {schedule.function}: failed ({result.json().get('errorType')}: "
                         f"{result.json().get('errorMessage')})")
                continue
            answer = result.json()
            changes = answer.get("changes") if isinstance(answer, dict) else None
            if changes:
                self.say(f"schedule {schedule.function}: {len(changes)} change(s): "
                         f"{', '.join(map(change_words, changes))}")

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)
        self.threads.clear()

    def describe(self) -> list[str]:
        if not self.schedules:
            return ["schedules       none (no function of template.yaml has a schedule yet)"]
        return [f"schedule        {s.function} every {_every(i)}"
                + (f" (--schedule-rate; the template says {s.expression})" if self.rate is not None
                   else f" ({s.expression}, {s.source})")
                for s, i in zip(self.schedules, self.intervals, strict=True)]

    def problem(self) -> str | None:
        if any(not t.is_alive() for t in self.threads) and not self.stopping.is_set():
            return "a schedule timer stopped"
        return None


# ---- local mode -----------------------------------------------------------------------------------


@dataclass
class LocalOptions:
    lambda_port: int = DEFAULT_LAMBDA_PORT
    dynamodb_port: int = DEFAULT_DYNAMODB_PORT
    data_dir: Path = field(default_factory=lambda: DEFAULT_DATA_DIR)
    api_port: int = DEFAULT_API_PORT
    moto_port: int = DEFAULT_MOTO_PORT
    app_secret: str = embedded_aws.DEFAULT_APP_SECRET
    verify_token: str = embedded_aws.DEFAULT_VERIFY_TOKEN
    schedule_rate: float | None = None  # seconds; None: each schedule's own rate from template.yaml
    log_level: str = "WARNING"  # the template's LogLevel parameter (INFO logs every invocation)
    parameters: dict[str, str] = field(default_factory=dict)  # template parameters, as --parameter-overrides
    meta_port: int = DEFAULT_META_PORT


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
    doc = template.load()
    overrides = {"LogLevel": options.log_level} if "LogLevel" in doc.get("Parameters", {}) else {}
    meta = MetaDoubleService(options.meta_port, used="MetaGraphUrl" not in options.parameters)
    if "MetaGraphUrl" in doc.get("Parameters", {}):
        overrides["MetaGraphUrl"] = meta.endpoint  # the double, unless --parameter MetaGraphUrl=... says otherwise
    overrides.update(options.parameters)
    resolver = template.Resolver(doc, overrides)
    dynamodb = DynamoDBService(options.dynamodb_port, options.data_dir)
    moto = MotoService(options.moto_port)
    functions = FunctionsService(dynamodb.endpoint, specs_from_template(resolver.template, overrides),
                                 aws_endpoint=lambda: moto.endpoint)
    secrets = embedded_aws.Secrets(options.app_secret, options.verify_token)
    resources = AwsResourcesService(moto, secrets, options.data_dir / "mailbox", functions.runtime, resolver)
    lambda_api = LambdaApiService(functions.runtime, options.lambda_port)
    api = ApiService(functions.runtime, template.api_routes(resolver), options.api_port)
    schedules = ScheduleService(functions.runtime, template.schedules(resolver), options.schedule_rate)
    # java boots while moto and its resources start; the tables are made once it listens
    services: list[Service] = [dynamodb, moto, resources, DynamoDBTablesService(dynamodb), meta, functions,
                               lambda_api, api, schedules]
    return LocalMode(services, next_step=lambda: next_step(dynamodb, lambda_api, api, resources, meta))


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


SAMPLE_WEBHOOK = "events/webhooks/quality-flagged.json"


def next_step(dynamodb: DynamoDBService, lambda_api: LambdaApiService, api: ApiService | None = None,
              resources: AwsResourcesService | None = None, meta: MetaDoubleService | None = None) -> str:
    """The one line telling the user what to do now (depends on what is registered and served).

    With no number yet: import the Meta double's WABA, as the README's quick start does (`numbers add`
    when the functions read another Graph server, whose WABAs local mode does not know)."""
    cli = cli_command()
    ddb_flag = "" if dynamodb.db.port == DEFAULT_DYNAMODB_PORT else f" --dynamodb-endpoint {dynamodb.endpoint}"
    api_flag = "" if lambda_api.port == DEFAULT_LAMBDA_PORT else f" --endpoint {lambda_api.endpoint}"
    try:
        from numberguard.config import Settings
        from numberguard.wiring import build

        numbers = build(Settings.from_env()).registry.number_ids()
    except Exception:  # the hint is best effort
        numbers = []
    pnid = numbers[0] if numbers else EXAMPLE_NUMBER["phone_number_id"]
    check = (f"`{cli} check{api_flag} --phone-number-id {pnid} --recipient {EXAMPLE_RECIPIENT}` "
             f"(or boto3's lambda client invoke LimitCheckFunction at {lambda_api.endpoint})")
    webhook = ""
    if api is not None and api.serving and any(r.path == "/webhook" for r in api.routes):
        url_flag = "" if api.port == DEFAULT_API_PORT else f" --url {api.endpoint}/webhook"
        webhook = f", post a signed sample webhook with `{cli} send-webhook --now{url_flag} {SAMPLE_WEBHOOK}`"
    if numbers:
        return (f"{len(numbers)} number(s) registered already ({cli} numbers list{ddb_flag}); check a send with "
                f"{check}{webhook}")
    ex = EXAMPLE_NUMBER
    wabas = list(meta.double.state.wabas) if meta is not None and meta.used else []
    if wabas:
        return (f"in another terminal, register the Meta double's numbers with `{cli} numbers import{api_flag} "
                f"--waba-id {wabas[0]}`, then check a send with {check}{webhook}")
    return (f"in another terminal, register a number with `{cli} numbers add{ddb_flag} --phone-number-id "
            f"{ex['phone_number_id']} --waba-id {ex['waba_id']} --display-phone-number {ex['display_phone_number']} "
            f"--tier {ex['tier']}`, then check a send with {check}{webhook}")


def run(options: LocalOptions) -> int:
    return build(options).run()
