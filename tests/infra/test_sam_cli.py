"""The SAM CLI's own view of the project (the pinned one of .tools/sam, no python3.13 needed):
`sam validate --lint` passes and samconfig.toml holds only options its commands read."""

from __future__ import annotations

import json
import subprocess
import tomllib

import pytest

from tests.infra.conftest import ROOT, of_type
from tests.infra.sam_cli import RUNTIME, SAM, SAM_VENV, sam_environment

pytestmark = pytest.mark.skipif(not SAM.exists(), reason="the pinned SAM CLI is not installed: `make test` installs it")


def test_sam_validate_lint_finds_nothing():
    run = subprocess.run([str(SAM), "validate", "--lint"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, env=sam_environment())
    assert run.returncode == 0, run.stdout + run.stderr



def test_samconfig_holds_only_options_its_commands_read():
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
