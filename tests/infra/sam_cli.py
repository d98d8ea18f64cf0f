"""The pinned SAM CLI of .tools/sam (`make test` installs it) and the runtime's Python, for tests/infra."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

from tests.infra.conftest import ROOT

RUNTIME = "python3.13"
SAM_VENV = ROOT / ".tools" / "sam"
SAM = SAM_VENV / "bin" / "sam"
BUILD = ROOT / ".aws-sam" / "build"


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
