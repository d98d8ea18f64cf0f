"""What deploys is what was tested: `sam build` of template.yaml with the pinned SAM CLI, every handler
run from `.aws-sam/build` under the runtime's Python with nothing but the build and the standard
library, and the built layer's packages at the tested pins. Without a python3.13 on the machine this
module is skipped (one line in pytest's summary); tests/infra/test_sam_cli.py still runs.
"""

from __future__ import annotations

import glob
import json
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from numberguard_ops import layer_lock
from numberguard_ops.runtime import specs_from_template
from tests.infra.conftest import ROOT
from tests.infra.sam_cli import BUILD, RUNTIME, SAM, find_runtime_python, sam_environment

RUNTIME_PYTHON = find_runtime_python()
if RUNTIME_PYTHON is None:
    pytest.skip(f"no {RUNTIME} on this machine (PATH or pyenv): sam build and the built handlers are not checked",
                allow_module_level=True)
if not SAM.exists():
    pytest.skip("the pinned SAM CLI is not installed: `make test` installs it in .tools/sam", allow_module_level=True)
CLOSED_PORT = "http://127.0.0.1:9"  # discard: nothing listens, every AWS call is refused at once


@pytest.fixture(scope="module")
def built() -> Path:
    """`sam build` as a user runs it (samconfig.toml's options), with the runtime's Python first on PATH."""
    run = subprocess.run([str(SAM), "build"], cwd=ROOT, capture_output=True, text=True, timeout=900,
                         env=sam_environment(str(Path(RUNTIME_PYTHON).parent)))
    assert run.returncode == 0, f"sam build failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return BUILD


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
def handler_runs(built) -> dict[str, dict]:
    """Each function's report from built_handler.py, run under the runtime's Python in the build."""
    script = Path(__file__).with_name("built_handler.py")
    reports = {}
    for fn in specs_from_template():
        # -B: no bytecode written into the build, which `sam deploy` ships as it is
        run = subprocess.run([RUNTIME_PYTHON, "-I", "-S", "-B", str(script), json.dumps(_spec(fn, built))],
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


def test_running_the_handlers_left_the_build_as_sam_built_it(built, handler_runs):
    assert not list(built.rglob("__pycache__")), "bytecode written into .aws-sam/build would be deployed"
