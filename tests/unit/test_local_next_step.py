"""Given local mode just started with no number registered, when it prints its one `Next:` line, then the
command it suggests is the README quick start's first one (import the Meta double's WABA); with the
functions pointed at another Graph server (whose WABAs local mode does not know) it suggests `numbers add`."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

README = Path(__file__).resolve().parents[2] / "README.md"


def quick_start_first_command() -> str:
    block = README.read_text().split("Then, in another terminal", 1)[1]
    line = next(x for x in block.splitlines() if x.startswith(".venv/bin/numberguard "))
    return line.removeprefix(".venv/bin/").split("#", 1)[0].strip()


def next_line(monkeypatch, *, double_used: bool) -> str:
    from numberguard import wiring

    from numberguard_ops import local

    def nothing_registered(*_args, **_kwargs):
        raise ConnectionError("no DynamoDB here")  # the hint is best effort: as on a first start

    monkeypatch.setattr(wiring, "build", nothing_registered)
    monkeypatch.setattr(local, "cli_command", lambda: "numberguard")
    dynamodb = SimpleNamespace(db=SimpleNamespace(port=local.DEFAULT_DYNAMODB_PORT), endpoint="http://127.0.0.1:8000")
    lambda_api = SimpleNamespace(port=local.DEFAULT_LAMBDA_PORT, endpoint="http://127.0.0.1:3001")
    meta = local.MetaDoubleService(local.DEFAULT_META_PORT, used=double_used)
    return local.next_step(dynamodb, lambda_api, meta=meta)  # type: ignore[arg-type]


def test_the_next_line_suggests_the_readme_quick_starts_first_command(monkeypatch):
    command = quick_start_first_command()
    assert re.fullmatch(r"numberguard numbers import --waba-id \d+", command), command
    assert f"`{command}`" in next_line(monkeypatch, double_used=True)


def test_with_another_graph_server_the_next_line_registers_a_number_by_hand(monkeypatch):
    line = next_line(monkeypatch, double_used=False)
    assert "numberguard numbers add --phone-number-id " in line and "numbers import" not in line
