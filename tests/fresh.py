"""Run code in a fresh interpreter as Lambda runs a handler: from the function's folder, the layer's
package on the path, the environment the template gives the function. What the other tests imported
cannot hide (or add) an import there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from numberguard_ops import template

ROOT = Path(__file__).resolve().parents[1]


def run_fresh(code: str, function: str = "LimitCheckFunction", folder: str = "limit_check",
              extra_env: dict[str, str] | None = None) -> dict:
    """Runs `code` and returns the JSON document its last printed line holds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_"))}
    env.update(template.function_environment(function))
    env.update({
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "numberguard"), str(ROOT / "functions" / folder),
                                       str(ROOT / "src")]),
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true", "POWERTOOLS_TRACE_DISABLED": "true",
        **(extra_env or {}),
    })
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "functions" / folder, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])
