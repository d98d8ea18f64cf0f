"""`python -m bench [--only a,b] [--quick] [...]`: runs the sections on a DynamoDB Local of its own."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import report
from bench.context import Context, Sizes
from bench.harness import fake_aws_environment

SECTIONS = {  # name → module with run(ctx) -> Section
    "scaling": "bench.scaling",
    "throughput": "bench.throughput",
    "batch": "bench.batch",
    "webhook": "bench.webhook",
    "coldstart": "bench.coldstart",
    "evaluator": "bench.evaluator",
    "templates": "bench.templates",
    "meta_sync": "bench.meta_sync",
    "people": "bench.people",
    "pair_rate": "bench.pair_rate",
}
NEEDS_DYNAMODB = {"scaling", "throughput", "batch", "webhook", "evaluator", "templates", "meta_sync", "people",
                  "pair_rate"}


def _ints(text: str) -> list[int]:
    try:
        values = [int(v.replace("_", "").replace("k", "000").replace("K", "000")) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive numbers, got {text!r}")
    return values


def _sections(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SECTIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {', '.join(unknown) or '(none given)'}: choose from {', '.join(SECTIONS)}")
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=(
        "numberguard's benchmarks on DynamoDB Local (started here unless --endpoint is given). Prints a table "
        "and writes latest.json and latest.md."))
    p.add_argument("--only", type=_sections, default=list(SECTIONS),
                   help=f"comma-separated sections to run (default: all): {', '.join(SECTIONS)}")
    p.add_argument("--quick", action="store_true", help="smaller sizes (about a fifth of the full run's time)")
    p.add_argument("--records", type=_ints, help="scaling: recipient records stored, e.g. 1000,10000,100000")
    p.add_argument("--threads", type=_ints, help="throughput: thread counts, e.g. 1,4,16")
    p.add_argument("--checks", type=int, help="throughput: checks per thread count")
    p.add_argument("--numbers", type=int, help="evaluator: numbers stored")
    p.add_argument("--sync-wabas", type=int, help="meta_sync: WABAs the Meta double serves (default 10)")
    p.add_argument("--sync-numbers", type=int, help="meta_sync: numbers per WABA (default 100)")
    p.add_argument("--sync-templates", type=int, help="meta_sync: templates per WABA (default 20)")
    p.add_argument("--import-runs", type=int, help="cold start: fresh interpreters per module")
    p.add_argument("--layer-size", choices=("pip", "venv"), default="pip",
                   help="cold start: measure the layer with pip install --target (default) or from the venv")
    p.add_argument("--endpoint", help="use this DynamoDB Local instead of starting one")
    p.add_argument("--out", type=Path, default=report.RESULTS,
                   help="folder for latest.json and latest.md (default: bench/results)")
    p.add_argument("--no-write", action="store_true", help="print only; write no result files")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p


def sizes_from(args: argparse.Namespace) -> Sizes:
    sizes = Sizes.quick() if args.quick else Sizes.full()
    if args.records:
        sizes.records = args.records
    if args.threads:
        sizes.threads = args.threads
    if args.checks:
        sizes.throughput_checks = args.checks
    if args.numbers:
        sizes.numbers = args.numbers
    if args.sync_wabas:
        sizes.sync_wabas = args.sync_wabas
    if args.sync_numbers:
        sizes.sync_numbers = args.sync_numbers
    if args.sync_templates is not None:
        sizes.sync_templates = args.sync_templates
    if args.import_runs:
        sizes.import_runs = args.import_runs
    return sizes


def run(names: Sequence[str], ctx: Context) -> list[report.Section]:
    done = []
    for name in names:
        module = importlib.import_module(SECTIONS[name])
        ctx.say(f"{name}: start")
        began = time.perf_counter()
        section = module.run(ctx)
        section.seconds = round(time.perf_counter() - began, 1)
        report.print_section(section)
        done.append(section)
    return done


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    fake_aws_environment()
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    began = time.perf_counter()
    sizes = sizes_from(args)
    machine = report.machine()
    ddb = None
    endpoint = args.endpoint
    if endpoint is None and NEEDS_DYNAMODB.intersection(args.only):
        from numberguard_ops.ddb_local import DynamoDBLocal, DynamoDBLocalError

        try:
            ddb = DynamoDBLocal().start()
        except DynamoDBLocalError as err:
            print(f"bench: {err}", file=sys.stderr)
            return 2
        endpoint = ddb.endpoint
    ctx = Context(endpoint or "", sizes, quick=args.quick, layer_size_method=args.layer_size,
                  verbose=not args.quiet)
    try:
        sections = run(args.only, ctx)
    finally:
        if ddb is not None:
            ddb.stop()
    result = {
        "machine": machine,
        "run": {"started_at": started_at, "quick": args.quick, "sections": list(args.only),
                "seconds": round(time.perf_counter() - began, 1), "sizes": sizes.__dict__},
    }
    if not args.no_write:
        json_path, md_path = report.write(result, sections, args.out)
        print(f"\nwrote {json_path.relative_to(Path.cwd()) if json_path.is_relative_to(Path.cwd()) else json_path}"
              f" and {md_path.name}")
    return 0
