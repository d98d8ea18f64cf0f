"""Section 5: import time of each handler module over fresh interpreters, and the layer's size.

Each sample is a new `python -c` that times one `import` statement (interpreter start-up not
counted), run from the function's folder as Lambda runs it (the layer's package on the path), with
the environment the template gives that function. Samples of every module are interleaved, so a
busy moment of the shared machine weighs on all alike; the median counts. The baseline imports
boto3, pynamodb's models and every module of Powertools that imports with the layer's extras.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bench.context import Context
from bench.report import ROOT, Goal, Section, no_paths

LAYER = ROOT / "layers" / "numberguard"
TIMER = "import time; t = time.perf_counter(); {stmt}; print(repr(time.perf_counter() - t))"
DISCOVER = """
import importlib, json, pkgutil, aws_lambda_powertools as p
ok = []
for info in pkgutil.walk_packages(p.__path__, p.__name__ + ".", onerror=lambda name: None):
    try:
        importlib.import_module(info.name)
        ok.append(info.name)
    except Exception:
        pass
print(json.dumps(ok))
"""


def handler_modules() -> list[Path]:
    return sorted(ROOT.glob("functions/*/app.py"))


def function_env(function_dir: Path) -> dict[str, str]:
    """The environment the template gives the function whose CodeUri is this folder (Globals otherwise)."""
    from numberguard_ops import template

    tpl = template.load()
    for logical_id, spec in template.functions(tpl).items():
        if Path(spec["code_uri"]).resolve() == function_dir.resolve():
            return template.function_environment(logical_id, tpl)
    env = tpl.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    resolver = template.Resolver(tpl)
    return {k: str(resolver.resolve(v)) for k, v in env.items()}


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(extra)
    env.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                "PYTHONDONTWRITEBYTECODE": "1"})
    return env


def _sample(stmt: str, cwd: Path, env: dict[str, str]) -> tuple[float | None, str | None]:
    try:
        out = subprocess.run([sys.executable, "-c", TIMER.format(stmt=stmt)], cwd=cwd, env=env,
                             capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None, "import took over 120 s"
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["exit code " + str(out.returncode)])[-1]
        return None, no_paths(last)
    return float(out.stdout.strip().splitlines()[-1]), None


def powertools_modules() -> list[str]:
    out = subprocess.run([sys.executable, "-c", DISCOVER], capture_output=True, text=True, timeout=300,
                         env=_child_env({"POWERTOOLS_TRACE_DISABLED": "true"}), cwd=ROOT)
    if out.returncode != 0:
        return ["aws_lambda_powertools"]
    return json.loads(out.stdout.strip().splitlines()[-1])


def import_times(ctx: Context) -> tuple[list[dict], dict, int]:
    modules = powertools_modules()
    baseline_stmt = "import boto3, pynamodb.models, pynamodb.attributes; " + "; ".join(
        f"import {m}" for m in modules)
    targets = [{"module": f"functions/{p.parent.name}/app.py", "stmt": "import app", "cwd": p.parent,
                "env": _child_env(function_env(p.parent))} for p in handler_modules()]
    baseline = {"module": "baseline: boto3 + pynamodb + all of Powertools", "stmt": baseline_stmt, "cwd": ROOT,
                "env": _child_env({"POWERTOOLS_TRACE_DISABLED": "true"})}
    everything = [*targets, baseline]
    for t in everything:
        t["samples"], t["error"] = [], None
    for run in range(ctx.sizes.import_runs):
        for t in everything:
            if t["error"]:
                continue
            seconds, error = _sample(t["stmt"], t["cwd"], t["env"])
            if error:
                t["error"] = error
            else:
                t["samples"].append(seconds)
        ctx.say(f"coldstart: import run {run + 1} of {ctx.sizes.import_runs}")
    for t in everything:
        t["median_ms"] = round(1000 * statistics.median(t["samples"]), 1) if t["samples"] else None
    return targets, baseline, len(modules)


# ---- layer size -------------------------------------------------------------------------------


def tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts)


def zipped_bytes(path: Path) -> int:
    with tempfile.TemporaryFile() as fh:
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(path.rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts:
                    z.write(f, f.relative_to(path))
        return fh.tell()


def _pip_target(folder: Path) -> str | None:
    """pip install --target, as `sam build` installs the layer's requirements; None on success."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
         "--target", str(folder), "-r", str(LAYER / "requirements.txt")],
        capture_output=True, text=True, timeout=900,
    )
    if out.returncode != 0:
        return no_paths((out.stderr.strip().splitlines() or ["pip failed"])[-1])
    return None


def _venv_distributions() -> dict[str, int]:
    """Installed size of the layer's requirements and their dependencies, from the venv's RECORD files."""
    from importlib import metadata

    from packaging.requirements import Requirement

    sizes: dict[str, int] = {}
    wanted = [Requirement(line.split("#")[0].strip()) for line in (LAYER / "requirements.txt").read_text().splitlines()
              if line.split("#")[0].strip()]
    while wanted:
        req = wanted.pop()
        name = req.name.lower().replace("_", "-")
        if name in sizes:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        total = 0
        for f in dist.files or []:
            located = Path(dist.locate_file(f))
            if located.is_file() and "__pycache__" not in located.parts:
                total += located.stat().st_size
        sizes[name] = total
        for raw in dist.requires or []:
            dep = Requirement(raw)
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in (req.extras or {""})):
                wanted.append(dep)
    return sizes


def layer_size(method: str) -> dict:
    code = LAYER / "numberguard"
    found: dict = {"package_bytes": tree_bytes(code), "package_zip_bytes": zipped_bytes(code)}
    if method == "pip":
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "python"
            error = _pip_target(target)
            if error is None:
                shutil.copytree(code, target / "numberguard")
                found["method"] = ("pip install --target of layers/numberguard/requirements.txt plus the layer's "
                                   "package (what sam build packages)")
                found["total_bytes"] = tree_bytes(target)
                found["zip_bytes"] = zipped_bytes(target)
                tops: dict[str, int] = {}
                for entry in target.iterdir():
                    name = entry.name.split("-")[0] if entry.name.endswith(".dist-info") else entry.name
                    tops[name] = tops.get(name, 0) + (tree_bytes(entry) if entry.is_dir() else entry.stat().st_size)
                found["largest"] = dict(sorted(tops.items(), key=lambda kv: -kv[1])[:6])
                return found
            found["pip_error"] = error
    dists = _venv_distributions()
    found["method"] = ("installed size of the layer's requirements (and their dependencies) in the venv, "
                       "plus the layer's package" + (" (pip could not run)" if method == "pip" else ""))
    found["total_bytes"] = sum(dists.values()) + found["package_bytes"]
    found["zip_bytes"] = None
    found["largest"] = dict(sorted(dists.items(), key=lambda kv: -kv[1])[:6])
    return found


def _verdict(worst: float | None, failed: list) -> bool | None:
    """Not met when a measured handler is over half; not measured while a handler cannot import."""
    if worst is not None and worst > 0.5:
        return False
    return None if failed or worst is None else True


def _mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1_000_000:.1f} MB"


def run(ctx: Context) -> Section:
    section = Section("coldstart", "5. Cold start: handler import time vs boto3 + pynamodb + all of Powertools",
                      ["module", "median ms", "x baseline", "runs", "min ms", "max ms", "error"])
    targets, baseline, modules = import_times(ctx)
    base = baseline["median_ms"]
    for t in [*targets, baseline]:
        section.rows.append({
            "module": t["module"], "median ms": t["median_ms"],
            "x baseline": round(t["median_ms"] / base, 2) if t["median_ms"] and base else None,
            "runs": len(t["samples"]),
            "min ms": round(1000 * min(t["samples"]), 1) if t["samples"] else None,
            "max ms": round(1000 * max(t["samples"]), 1) if t["samples"] else None,
            "error": t["error"],
        })
    ctx.say("coldstart: measuring the layer's size")
    size = layer_size(ctx.layer_size_method)
    section.data = {"imports": [{k: v for k, v in t.items() if k not in ("env", "cwd")} for t in
                                [*targets, baseline]], "powertools_modules": modules, "layer": size}
    section.tables.append({"title": "layer size", "columns": ["what", "unzipped", "zipped"], "rows": [
        {"what": "layer package (numberguard/)", "unzipped": _mb(size["package_bytes"]),
         "zipped": _mb(size["package_zip_bytes"])},
        {"what": "layer as packaged (package + requirements)", "unzipped": _mb(size["total_bytes"]),
         "zipped": _mb(size.get("zip_bytes"))},
        *({"what": f"  of which {name}", "unzipped": _mb(n), "zipped": ""} for name, n in size["largest"].items()),
    ]})
    measured = [t for t in targets if t["median_ms"] is not None]
    failed = [t for t in targets if t["median_ms"] is None]
    worst = max((t["median_ms"] / base for t in measured), default=None) if base else None
    section.headline = (
        f"baseline {base} ms ({modules} Powertools modules + boto3 + pynamodb); handlers: "
        + ", ".join(f"{t['module']} {t['median_ms']} ms" if t["median_ms"] is not None else
                    f"{t['module']} does not import ({t['error']})" for t in targets)
        + f". Layer: {_mb(size['total_bytes'])} unzipped, {_mb(size.get('zip_bytes'))} zipped ({size['method']}).")
    section.goals.append(Goal(
        "each handler's import ≤ half of the all-imports baseline",
        ", ".join(f"{t['module'].split('/')[1]} {round(t['median_ms'] / base, 2) if base else '-'}x" for t in measured)
        + "".join(f"; {t['module'].split('/')[1]}: import fails" for t in failed),
        _verdict(worst, failed)))
    section.notes.append("Medians of fresh interpreters per module (interpreter start-up excluded). Lambda "
                         "imports the same modules; its file system and CPU differ, so compare the ratios.")
    section.notes.append("pip installs wheels for this machine's Python; sam build for python3.13 picks the same "
                         "packages (a few compiled ones differ slightly in size).")
    return section
