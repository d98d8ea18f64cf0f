"""Local mode as a user runs it: `numberguard local` started, driven with the CLI and boto3, then stopped.

Given local mode on free ports with a fresh data folder, when a sender invokes LimitCheckFunction
through boto3's lambda client, then it gets the handler's answers, Lambda's error semantics, and
Ctrl-C (SIGINT) or SIGTERM leaves no process behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from numberguard_ops.ddb_local import free_port

pytestmark = pytest.mark.e2e

READY = "numberguard local is ready"
NUMBER = "106540352242922"
WABA = "102290129340398"


ROOT = Path(__file__).resolve().parents[2]
# What the venv's .pth and editable install give; set here too so any interpreter running the tests works.
IMPORT_PATH = [ROOT / "src", ROOT / "layers" / "numberguard", ROOT / "functions"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([*map(str, IMPORT_PATH), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("NUMBERGUARD_DEBUG", None)
    return env


def numberguard(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """The `numberguard` command, as the console script runs it."""
    return subprocess.run(
        [sys.executable, "-m", "numberguard_ops.cli", *args],
        capture_output=True, text=True, timeout=60, env=_env(), input=stdin,
    )


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


@dataclass
class Local:
    process: subprocess.Popen
    lambda_port: int
    dynamodb_port: int
    data_dir: Path
    log: Path
    api_port: int = 0
    moto_port: int = 0
    meta_port: int = 0

    @property
    def meta_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.meta_port}"

    @property
    def api_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def moto_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def lambda_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.lambda_port}"

    @property
    def dynamodb_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.dynamodb_port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def lambda_client(self):
        return boto3.client(
            "lambda", endpoint_url=self.lambda_endpoint, region_name="us-east-1",
            aws_access_key_id="local", aws_secret_access_key="local",
            config=Config(retries={"total_max_attempts": 1}, max_pool_connections=50),
        )

    def invoke(self, payload, **kwargs) -> dict:
        response = self.lambda_client().invoke(FunctionName="LimitCheckFunction", Payload=json.dumps(payload),
                                               **kwargs)
        assert response.get("FunctionError") is None, json.loads(response["Payload"].read())
        return json.loads(response["Payload"].read())

    def register(self, phone_number_id: str, tier: str = "TIER_1K", *extra: str) -> subprocess.CompletedProcess:
        return numberguard("numbers", "add", "--dynamodb-endpoint", self.dynamodb_endpoint,
                           "--phone-number-id", phone_number_id, "--waba-id", WABA,
                           "--display-phone-number", "+15550783881", "--tier", tier, *extra)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                for child in children(self.process.pid):
                    os.kill(child, signal.SIGKILL)
                self.process.kill()
                self.process.wait(10)
                raise
        return self.process.returncode


def free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def start_local(data_dir: Path, log: Path, *extra: str) -> Local:
    lambda_port, dynamodb_port, api_port, moto_port, meta_port = free_ports(5)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "numberguard_ops.cli", "local", "--lambda-port", str(lambda_port),
             "--dynamodb-port", str(dynamodb_port), "--api-port", str(api_port), "--moto-port", str(moto_port),
             "--meta-port", str(meta_port), "--data-dir", str(data_dir), *extra],
            stdout=out, stderr=subprocess.STDOUT, env=_env(),
        )
    local = Local(process, lambda_port, dynamodb_port, data_dir, log, api_port, moto_port, meta_port)
    deadline = time.monotonic() + 90
    while READY not in local.output():
        if process.poll() is not None:
            pytest.fail(f"numberguard local exited with {process.returncode} before it was ready:\n{local.output()}")
        if time.monotonic() > deadline:
            local.stop()
            pytest.fail(f"numberguard local was not ready in time:\n{local.output()}")
        time.sleep(0.1)
    return local


@pytest.fixture(scope="module")
def local_mode(tmp_path_factory):
    base = tmp_path_factory.mktemp("local-mode")
    local = start_local(base / "data", base / "local.out")
    try:
        yield local
    finally:
        local.stop()


# ---- start banner -------------------------------------------------------------------------------


def test_banner_says_where_everything_is_and_what_to_do_next(local_mode):
    out = local_mode.output()
    assert local_mode.lambda_endpoint in out
    assert local_mode.dynamodb_endpoint in out
    assert str(local_mode.data_dir) in out
    assert "per-number" in out
    for table in ("numberguard-numbers", "numberguard-recipients", "numberguard-limits", "numberguard-history"):
        assert table in out
    next_lines = [line for line in out.splitlines() if line.startswith("Next:")]
    assert len(next_lines) == 1
    # the README's first step (with --endpoint: this test's ports are not the defaults)
    assert "numberguard numbers import --endpoint " in next_lines[0] and "--waba-id 102290129340398" in next_lines[0]


# ---- the check through boto3 -----------------------------------------------------------------------


def test_check_through_boto3_new_repeat_unknown_invalid(local_mode):
    added = local_mode.register(NUMBER, "TIER_1K", "--quality", "GREEN")
    assert added.returncode == 0, added.stderr
    assert NUMBER in added.stdout

    send = {"phone_number_id": NUMBER, "recipient": "16505551234", "message": "template"}
    first = local_mode.invoke(send)
    assert first["allowed"] is True
    assert first["decision"] == "ALLOWED_NEW_RECIPIENT"
    assert (first["limit"], first["used"], first["remaining"]) == (1000, 1, 999)
    assert first["tier"] == "TIER_1K" and first["status"] == "CONNECTED" and first["quality"] == "GREEN"

    again = local_mode.invoke(send)
    assert again["decision"] == "ALLOWED_ALREADY_COUNTED"
    assert again["used"] == 1

    unknown = local_mode.invoke({**send, "phone_number_id": "999000111"})
    assert unknown["allowed"] is False
    assert unknown["decision"] == "DENIED_UNKNOWN_NUMBER"

    invalid = local_mode.invoke({"phone_number_id": NUMBER, "message": "template"})
    assert invalid["allowed"] is False
    assert invalid["decision"] == "INVALID_REQUEST"
    assert "recipient" in invalid["error"]


def test_unknown_function_is_resource_not_found(local_mode):
    client = local_mode.lambda_client()
    with pytest.raises(client.exceptions.ResourceNotFoundException) as raised:
        client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")
    assert "NoSuchFunction" in str(raised.value)


def test_function_arn_event_and_dry_run(local_mode):
    client = local_mode.lambda_client()
    arn = "arn:aws:lambda:us-east-1:123456789012:function:LimitCheckFunction"
    by_arn = client.invoke(FunctionName=arn, Payload=json.dumps({"phone_number_id": NUMBER}))
    assert json.loads(by_arn["Payload"].read())["decision"] == "INVALID_REQUEST"
    assert client.invoke(FunctionName="LimitCheckFunction", InvocationType="DryRun", Payload=b"{}")["StatusCode"] == 204
    queued = client.invoke(FunctionName="LimitCheckFunction", InvocationType="Event",
                           Payload=json.dumps({"phone_number_id": NUMBER, "recipient": "16505550009",
                                               "message": "template"}))
    assert queued["StatusCode"] == 202
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName="LimitCheckFunction", Payload=b"{not json")


def test_concurrent_invokes_never_admit_more_than_the_limit(local_mode):
    number = "106540352240020"
    added = local_mode.register(number, "20")
    assert added.returncode == 0, added.stderr
    client = local_mode.lambda_client()

    def send(i: int) -> str:
        response = client.invoke(FunctionName="LimitCheckFunction", Payload=json.dumps(
            {"phone_number_id": number, "recipient": f"1777555{i:04d}", "message": "template"}))
        answer = json.loads(response["Payload"].read())
        # A busy machine may run an invoke past the template's Timeout: Lambda's answer, never a false allow.
        return answer["errorType"] if response.get("FunctionError") else answer["decision"]

    with ThreadPoolExecutor(max_workers=20) as pool:
        decisions = list(pool.map(send, range(40)))
    allowed = decisions.count("ALLOWED_NEW_RECIPIENT")
    assert allowed <= 20
    assert allowed + decisions.count("DENIED_LIMIT_REACHED") + decisions.count("Sandbox.Timedout") == 40
    time.sleep(1)  # a timed-out handler finishes its writes in the background, as on Lambda
    final = local_mode.invoke({"phone_number_id": number, "recipient": "17775559999", "message": "template",
                               "dry_run": True})
    assert final["used"] <= 20 and (final["used"] == 20 or "Sandbox.Timedout" in decisions)


# ---- the CLI against local mode --------------------------------------------------------------------


def test_cli_numbers_and_check(local_mode):
    registered = local_mode.register("106540352240030", "TIER_250")
    assert registered.returncode == 0, registered.stderr

    listed = numberguard("numbers", "list", "--json", "--dynamodb-endpoint", local_mode.dynamodb_endpoint)
    assert listed.returncode == 0, listed.stderr
    assert "106540352240030" in {n["phone_number_id"] for n in json.loads(listed.stdout)}

    shown = numberguard("numbers", "show", "106540352240030", "--dynamodb-endpoint", local_mode.dynamodb_endpoint)
    assert shown.returncode == 0, shown.stderr
    assert "TIER_250" in shown.stdout

    allowed = numberguard("check", "--endpoint", local_mode.lambda_endpoint, "--phone-number-id", "106540352240030",
                          "--recipient", "16505551234", "--json")
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["decision"] == "ALLOWED_NEW_RECIPIENT"

    session = numberguard("check", "--endpoint", local_mode.lambda_endpoint, "--phone-number-id", "106540352240030",
                          "--recipient", "16505559999", "--message", "session")
    assert session.returncode == 3
    assert "DENIED_WINDOW_CLOSED" in session.stdout

    from_file = numberguard("check", "--endpoint", local_mode.lambda_endpoint, "--payload", "-", "--json",
                            stdin=json.dumps({"phone_number_id": "106540352240030", "recipient": "16505551234",
                                              "message": "template", "dry_run": True}))
    assert from_file.returncode == 0, from_file.stderr
    assert json.loads(from_file.stdout)["decision"] == "ALLOWED_ALREADY_COUNTED"


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_cli_unknown_number_is_one_line(local_mode):
    line = _one_line_error(numberguard("numbers", "show", "555000111",
                                       "--dynamodb-endpoint", local_mode.dynamodb_endpoint))
    assert "555000111" in line and "not registered" in line


def test_cli_bad_tier_is_one_line(local_mode):
    line = _one_line_error(local_mode.register("106540352240040", "TIER_3Q"))
    assert "--tier" in line


def test_cli_already_registered_is_one_line(local_mode):
    assert local_mode.register("106540352240050").returncode == 0
    line = _one_line_error(local_mode.register("106540352240050"))
    assert "already registered" in line


def test_cli_bad_quality_is_one_line():
    line = _one_line_error(numberguard("numbers", "add", "--phone-number-id", "1", "--waba-id", "2",
                                       "--display-phone-number", "+15550783881", "--tier", "TIER_1K",
                                       "--quality", "PURPLE"))
    assert "--quality" in line


def test_cli_dynamodb_local_not_running_is_one_line():
    line = _one_line_error(numberguard("numbers", "list", "--dynamodb-endpoint", f"http://127.0.0.1:{free_port()}"))
    assert "not running" in line


def test_cli_lambda_api_not_running_is_one_line():
    line = _one_line_error(numberguard("check", "--endpoint", f"http://127.0.0.1:{free_port()}",
                                       "--phone-number-id", NUMBER, "--recipient", "16505551234"))
    assert "not running" in line


def test_cli_unreadable_payload_file_is_one_line(tmp_path):
    line = _one_line_error(numberguard("check", "--payload", str(tmp_path / "missing.json")))
    assert "--payload" in line


# ---- Lambda's error semantics (handlers that fail), in process -------------------------------------


@pytest.fixture
def failing_functions(tmp_path):
    from numberguard_ops.local import LambdaApiService
    from numberguard_ops.runtime import FunctionRuntime, FunctionSpec

    code = tmp_path / "failing"
    code.mkdir()
    (code / "app.py").write_text(textwrap.dedent("""
        import time

        def boom(event, context):
            raise ValueError(f"no {event['what']} for {context.function_name}")

        def slow(event, context):
            time.sleep(5)

        def not_json(event, context):
            return {"at": object()}
    """))
    specs = [
        FunctionSpec("BoomFunction", code, "app.boom"),
        FunctionSpec("SlowFunction", code, "app.slow", timeout=0.2),
        FunctionSpec("NotJsonFunction", code, "app.not_json"),
        FunctionSpec("MissingModuleFunction", code, "nothere.handler"),
        FunctionSpec("MissingHandlerFunction", code, "app.nothere"),
    ]
    runtime = FunctionRuntime(specs, log=lambda line: None)
    assert len(runtime.load()) == 2  # the two broken ones, reported at load
    api = LambdaApiService(runtime, port=0)
    api.start()
    try:
        yield boto3.client("lambda", endpoint_url=api.endpoint, region_name="us-east-1",
                           aws_access_key_id="local", aws_secret_access_key="local",
                           config=Config(retries={"total_max_attempts": 1}))
    finally:
        api.stop()


@pytest.mark.parametrize(
    ("function", "error_type", "message_part"),
    [
        ("BoomFunction", "ValueError", "no bananas for BoomFunction"),
        ("SlowFunction", "Sandbox.Timedout", "Task timed out after 0.20 seconds"),
        ("NotJsonFunction", "Runtime.MarshalError", "Unable to marshal response"),
        ("MissingModuleFunction", "Runtime.ImportModuleError", "Unable to import module 'nothere'"),
        ("MissingHandlerFunction", "Runtime.HandlerNotFound", "Handler 'nothere' missing"),
    ],
)
def test_handler_failure_is_a_function_error_like_lambda(failing_functions, function, error_type, message_part):
    response = failing_functions.invoke(FunctionName=function, Payload=json.dumps({"what": "bananas"}))
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    body = json.loads(response["Payload"].read())
    assert body["errorType"] == error_type
    assert message_part in body["errorMessage"]
    assert isinstance(body["stackTrace"], list)
    if function == "BoomFunction":
        assert any("app.py" in frame and "boom" in frame for frame in body["stackTrace"])


# ---- data kept from an older template.yaml ---------------------------------------------------------


def test_kept_tables_get_the_indexes_the_template_added(local_mode):
    from numberguard_ops.local import LocalModeError, upgrade_tables

    client = boto3.client("dynamodb", endpoint_url=local_mode.dynamodb_endpoint, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    client.create_table(TableName="older-numbers", KeySchema=keys, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    now = {
        "TableName": "older-numbers", "KeySchema": keys, "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "waba_id", "AttributeType": "S"}],
        "GlobalSecondaryIndexes": [{"IndexName": "ByWaba", "KeySchema": [{"AttributeName": "waba_id",
                                                                          "KeyType": "HASH"}],
                                    "Projection": {"ProjectionType": "ALL"}}],
    }
    assert upgrade_tables(client, [now], "the data folder") == ["older-numbers.ByWaba"]
    indexes = client.describe_table(TableName="older-numbers")["Table"]["GlobalSecondaryIndexes"]
    assert [i["IndexName"] for i in indexes] == ["ByWaba"]
    assert upgrade_tables(client, [now], "the data folder") == []  # idempotent

    changed_key = {**now, "KeySchema": [{"AttributeName": "waba_id", "KeyType": "HASH"}]}
    with pytest.raises(LocalModeError, match="delete that folder"):
        upgrade_tables(client, [changed_key], "the data folder")


# ---- stopping ---------------------------------------------------------------------------------------


def test_sigint_and_sigterm_stop_everything_and_data_persists(tmp_path):
    data = tmp_path / "data"
    first = start_local(data, tmp_path / "first.out")
    try:
        java = children(first.process.pid)
        assert java, "DynamoDB Local should run as a child of local mode"
        assert first.register("106540352240060").returncode == 0
    finally:
        code = first.stop(signal.SIGINT)
    assert code == 0, first.output()
    assert "local mode stopped" in first.output()
    for pid in java:
        assert wait_gone(pid), f"process {pid} was left behind"

    second = start_local(data, tmp_path / "second.out")
    try:
        java = children(second.process.pid)
        assert "1 number(s) registered already" in second.output()
        shown = numberguard("numbers", "show", "106540352240060", "--dynamodb-endpoint", second.dynamodb_endpoint)
        assert shown.returncode == 0, shown.stderr
    finally:
        code = second.stop(signal.SIGTERM)
    assert code == 0, second.output()
    for pid in java:
        assert wait_gone(pid), f"process {pid} was left behind"


def test_a_template_meta_paused_is_denied_through_boto3_and_listed(local_mode):
    # Given a number, and Meta's PAUSED webhook for one of its WABA's templates, signed and sent now
    assert local_mode.register("106540352240040", "TIER_250").returncode == 0
    sample = ROOT / "events" / "meta-webhooks" / "message_template_status_update.paused-first.json"
    sent = numberguard("send-webhook", "--now", "--url", f"{local_mode.api_endpoint}/webhook", str(sample))
    assert sent.returncode == 0 and sent.stdout.startswith("200 "), sent.stdout + sent.stderr
    # When the sender checks a send naming it (any spelling of the language), then it is denied for the
    # pause (3 h: the sample's end names another day, so the first pause's length applies), nothing counted
    named = {"phone_number_id": "106540352240040", "recipient": "16505551234", "message": "template",
             "template": {"name": "order_confirmation", "language": "en-us"}}
    answer = local_mode.invoke(named)
    assert answer["decision"] == "DENIED_TEMPLATE_PAUSED"
    assert 3 * 3600 - 120 <= answer["retry_after_seconds"] <= 3 * 3600
    assert answer["used"] == 0 and answer["category"] == "utility"
    # and another template of the WABA, never heard of, is allowed with a warning
    other = local_mode.invoke({**named, "template": {"name": "spring_sale", "language": "en"}})
    assert other["decision"] == "ALLOWED_NEW_RECIPIENT" and other["warnings"][0].startswith("TEMPLATE_UNKNOWN")
    # And the operator sees it
    listed = numberguard("templates", "list", "--json", "--dynamodb-endpoint", local_mode.dynamodb_endpoint)
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in json.loads(listed.stdout) if r["name"] == "order_confirmation")
    assert (row["status"], row["check"]) == ("PAUSED", "DENIED_TEMPLATE_PAUSED")
