"""`make run` installs requirements-run.txt only: it must hold every moto service local mode serves,
and nothing of the test tools, or a fresh clone's local mode breaks (or installs slowly)."""

import re
from pathlib import Path

from numberguard_ops.embedded_aws import SERVICES

ROOT = Path(__file__).resolve().parents[2]


def _pins(name: str) -> list[str]:
    """The pins of a requirements file, those of the files it includes (`-r`) among them."""
    pins = []
    for line in (ROOT / name).read_text().splitlines():
        line = line.strip()
        if line.startswith("-r "):
            pins += _pins(line[3:].strip())
        elif line and not line.startswith("#"):
            pins.append(line)
    return pins


def test_local_mode_installs_moto_with_the_extras_of_every_service_it_serves():
    moto = [pin for pin in _pins("requirements-run.txt") if pin.startswith("moto")]
    assert len(moto) == 1, moto
    extras = set(re.fullmatch(r"moto\[([a-z0-9,]+)\]==[\d.]+", moto[0]).group(1).split(","))
    assert extras == set(SERVICES), f"requirements-run.txt installs moto[{','.join(sorted(extras))}]"


def test_local_mode_installs_the_flask_app_of_motos_server_but_no_test_tool():
    names = {re.split(r"[\[=<>]", pin)[0].lower() for pin in _pins("requirements-run.txt")}
    assert {"flask", "flask-cors", "boto3", "pyyaml"} <= names
    assert not names & {"pytest", "hypothesis", "ruff", "cfn-lint", "aws-sam-translator"}


def test_the_test_install_pins_the_same_moto_as_local_mode():
    run = next(pin for pin in _pins("requirements-run.txt") if pin.startswith("moto"))
    dev = next(pin for pin in _pins("requirements-dev.txt") if pin.startswith("moto"))
    assert run.split("==")[1] == dev.split("==")[1]
