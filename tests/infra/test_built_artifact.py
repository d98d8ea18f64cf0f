"""What deploys is what was tested: `sam build` of template.yaml (the pinned SAM CLI of .tools/sam,
`make test` installs it), every handler run from `.aws-sam/build` under the runtime's Python with
nothing but the build and the standard library, the built layer's packages at the tested pins, and
`sam validate --lint`. No python3.13 on the machine: the build and its handlers are skipped (one
line in pytest's summary); the rest still runs.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from numberguard_ops import layer_lock
from numberguard_ops.runtime import specs_from_template
from tests.infra.conftest import ROOT, of_type

RUNTIME = "python3.13"
SAM_VENV = ROOT / ".tools" / "sam"
SAM = SAM_VENV / "bin" / "sam"
BUILD = ROOT / ".aws-sam" / "build"
CLOSED_PORT = "http://127.0.0.1:9"  # discard: nothing listens, every AWS call is refused at once


def find_runtime_python() -> str | None:
    """python3.13 on PATH (a pyenv shim only if it runs), else the newest of pyenv's 3.13 versions."""
    on_path = shutil.which(RUNTIME)
    if on_path and subprocess.run([on_path, "-c", ""], capture_output=True).returncode == 0:
        return on_path
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")]
    for root in filter(None, roots):
        found = sorted(glob.glob(f"{root}/versions/3.13*/bin/{RUNTIME}"), reverse=True)
        if found:
            return found[0]
    return None


def sam_environment(python_dir: str | None = None) -> dict[str, str]:
    """SAM CLI offline but for the package index: no telemetry, no update check (its config folder is
    ours, with the last check in the future), any region (nothing is deployed)."""
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "__SAM_CLI_APP_DIR": str(SAM_VENV / "app"),
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}
    if python_dir:
        env["PATH"] = f"{python_dir}{os.pathsep}{env['PATH']}"
    return env


@pytest.fixture(scope="module")
def sam_cli() -> Path:
    if not SAM.exists():
        pytest.skip("the pinned SAM CLI is not installed: `make test` installs it in .tools/sam")
    return SAM


@pytest.fixture(scope="module")
def runtime_python() -> str:
    python = find_runtime_python()
    if python is None:
        pytest.skip(f"no {RUNTIME} on this machine (PATH or pyenv): sam build and the built handlers are not checked")
    return python


@pytest.fixture(scope="module")
def built(sam_cli, runtime_python) -> Path:
    """`sam build` as a user runs it (samconfig.toml's options), with the runtime's Python first on PATH."""
    run = subprocess.run([str(sam_cli), "build"], cwd=ROOT, capture_output=True, text=True, timeout=900,
                         env=sam_environment(str(Path(runtime_python).parent)))
    assert run.returncode == 0, f"sam build failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return BUILD


def test_sam_validate_lint_finds_nothing(sam_cli):
    run = subprocess.run([str(sam_cli), "validate", "--lint"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, env=sam_environment())
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_built_layer_holds_exactly_the_tested_pins(built):
    layer = built / "NumberguardLayer" / "python"
    shipped = {layer_lock.canonical(d.metadata["Name"]): d.version for d in metadata.distributions(path=[str(layer)])}
    pinned = {name: version for name, (version, _) in layer_lock.read_pins(layer_lock.LOCK).items()}
    assert shipped == pinned
    tested = {name: metadata.version(name) for name in pinned}
    assert shipped == tested, "the build ships other versions than the tests run"


def _spec(fn, built: Path) -> dict:
    folder = fn.code_uri.name
    events = [json.loads(Path(p).read_text()) for p in sorted(glob.glob(str(ROOT / "events" / f"{folder}.*.json")))]
    assert events, f"no sample event events/{folder}.*.json for {fn.name}"
    environment = {**fn.environment, "DYNAMODB_ENDPOINT": CLOSED_PORT, "AWS_ENDPOINT_URL": CLOSED_PORT,
                   "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "built",
                   "AWS_SECRET_ACCESS_KEY": "built", "POWERTOOLS_METRICS_DISABLED": "true",
                   "POWERTOOLS_LOG_LEVEL": "CRITICAL"}
    return {"name": fn.name, "handler": fn.handler, "timeout": fn.timeout, "events": events,
            "environment": environment, "function_dir": str(built / fn.name),
            "layer_dir": str(built / "NumberguardLayer" / "python")}


@pytest.fixture(scope="module")
def handler_runs(built, runtime_python) -> dict[str, dict]:
    """Each function's report from built_handler.py, run under the runtime's Python in the build."""
    script = Path(__file__).with_name("built_handler.py")
    reports = {}
    for fn in specs_from_template():
        run = subprocess.run([runtime_python, "-I", "-S", str(script), json.dumps(_spec(fn, built))],
                             capture_output=True, text=True, timeout=300, cwd=built)
        assert run.returncode == 0, run.stderr[-3000:]
        reports[fn.name] = json.loads(run.stdout.strip().splitlines()[-1])
    return reports


@pytest.mark.parametrize("function", [fn.name for fn in specs_from_template()])
def test_every_handler_runs_from_the_build_under_the_runtimes_python(handler_runs, function):
    report = handler_runs[function]
    assert report["python"].startswith("3.13")
    assert report["error"] is None, f"{function} cannot import from the build: {report['error']}"
    assert report["outside"] == [], "imported from outside the build and the standard library"


def test_the_layer_ships_only_what_some_handler_imports(built, handler_runs):
    imported = set().union(*(set(report["built"]) for report in handler_runs.values()))
    used = _distributions_of(imported, built / "NumberguardLayer" / "python")
    top_level = set(layer_lock.read_pins(layer_lock.TOP_LEVEL))
    assert top_level <= used, f"shipped but imported by no handler: {sorted(top_level - used)}"


def _distributions_of(modules: set[str], layer: Path) -> set[str]:
    """The distributions of the layer that provide any of these top-level modules."""
    found = set()
    for dist in metadata.distributions(path=[str(layer)]):
        tops = {path.parts[0].removesuffix(".py") for path in dist.files or [] if path.parts}
        if tops & modules:
            found.add(layer_lock.canonical(dist.metadata["Name"]))
    return found


def test_samconfig_holds_only_options_its_commands_read(sam_cli):
    import tomllib

    config = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]
    commands = {name: sorted(table["parameters"]) for name, table in config.items() if name != "global"}
    probe = (
        "import json,sys,click\n"
        "from samcli.cli.main import cli\n"
        "ctx = click.Context(cli, obj=True)  # SAM imports a command only under a context\n"
        "out = {}\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    cmd, words = cli, name.split('_')\n"  # local_start_lambda: `sam local start-lambda`
        "    while words and cmd is not None:\n"
        "        for n in range(len(words), 0, -1):\n"
        "            sub = cmd.get_command(ctx, '-'.join(words[:n])) if hasattr(cmd, 'get_command') else None\n"
        "            if sub is not None:\n"
        "                cmd, words = sub, words[n:]\n"
        "                break\n"
        "        else:\n"
        "            cmd = None\n"
        "    out[name] = sorted(p.name for p in cmd.params if p.name) if cmd else None\n"
        "print(json.dumps(out))\n"
    )
    run = subprocess.run([str(SAM_VENV / "bin" / "python"), "-c", probe, json.dumps(list(commands))],
                         capture_output=True, text=True, timeout=120, env=sam_environment())
    assert run.returncode == 0, run.stderr[-2000:]
    options = json.loads(run.stdout)
    for name, keys in commands.items():
        assert options[name] is not None, f"samconfig.toml: `sam {name.replace('_', ' ')}` is no command"
        unknown = set(keys) - set(options[name])
        assert not unknown, f"samconfig.toml: `sam {name.replace('_', ' ')}` has no option {sorted(unknown)}"


def test_functions_declare_the_runtime_the_build_uses(sam):
    runtimes = {fn["Properties"].get("Runtime", sam["Globals"]["Function"]["Runtime"])
                for fn in of_type(sam, "AWS::Serverless::Function").values()}
    assert runtimes == {RUNTIME}
    assert sam["Resources"]["NumberguardLayer"]["Metadata"]["BuildMethod"] == RUNTIME
