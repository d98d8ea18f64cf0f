"""`numberguard simulate`: a scenario through the real use cases on a fake clock, in this process."""

from __future__ import annotations

import argparse
from pathlib import Path

from numberguard_ops.cli.common import EXIT_ERROR, EXIT_OK, CliError, Commands, Parents, print_json, writable, write


def add_parsers(commands: Commands, parents: Parents) -> None:
    sim = commands.add_parser(
        "simulate", help="run a scenario through the real use cases on a fake clock",
        description="Run the intake, the limit check and the evaluator of the layer on a fake clock over a scenario "
                    "file (quality changes, sends per hour, webhooks) in this process, on moto: no server needed. "
                    "Prints the timeline: statuses, limits, denials, notifications. Exit code 1 when the "
                    "scenario's expectations do not hold.")
    sim.add_argument("scenario", type=Path, help="a scenario file, e.g. events/scenarios/flagged-downgrades.json")
    sim.add_argument("--json", action="store_true", help="print the timeline as JSON")
    sim.add_argument("--html", metavar="FILE", type=Path,
                     help="also write the report page (as `report --html`) as of the scenario's end")
    sim.set_defaults(handler=cmd_simulate)


def cmd_simulate(args: argparse.Namespace) -> int:
    from numberguard_ops.simulate import ScenarioError, simulate, timeline_lines

    if args.html is not None:
        writable(args.html)
    try:
        result = simulate(args.scenario)
    except ScenarioError as err:
        raise CliError(f"scenario {args.scenario}: {err}") from None
    if args.html is not None:
        write(args.html, result.html or "")
    if args.json:
        print_json(result.as_dict())
    else:
        print("\n".join(timeline_lines(result)))
    return EXIT_ERROR if result.failures else EXIT_OK
