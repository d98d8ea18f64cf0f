"""Given bad input to the operator's commands, when they run, then the user reads one clear line naming what
is wrong (never a trace) and the exit code is non-zero. (Unknown numbers against a running local mode are in
tests/e2e: test_cli_unknown_number_is_one_line and test_walkthrough.)"""

from __future__ import annotations

import os

import pytest

from numberguard_ops.cli import main
from numberguard_ops.ddb_local import free_port


def one_line(capsys, argv: list[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors (usage): one line too
        code = exit_.code
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return code, err


@pytest.mark.parametrize(("argv", "names"), [
    (["numbers", "add", "--phone-number-id", "1", "--waba-id", "2", "--display-phone-number", "+15550783881",
      "--tier", "TIER_3Q"], "--tier"),
    (["send-webhook", "events/webhooks/no-such-body.json"], "no-such-body.json"),
    (["simulate", "events/scenarios/no-such-scenario.json"], "no-such-scenario.json"),
    (["check", "--payload", "no-such-payload.json"], "--payload"),
    (["report", "--html", "no-such-folder/report.html"], "no-such-folder"),
    (["simulate", "events/scenarios/flagged-recovers.json", "--html", "no-such-folder/r.html"], "no-such-folder"),
    (["local", "--api-port", "3001"], "--api-port and --lambda-port must differ"),
    (["local", "--schedule-rate", "cron(0 * * * ? *)"], "--schedule-rate"),
    (["local", "--template", "no-such-template.yaml"], "--template"),
    (["local", "--parameter", "NoSuchParameter=1"], "--parameter NoSuchParameter"),
    (["local", "--parameter", "novalue"], "NAME=VALUE"),
    (["history", "555", "--limit", "0"], "--limit"),
])
def test_bad_input_is_one_clear_line(capsys, argv, names):
    _, line = one_line(capsys, argv)
    assert names in line


def test_an_unreadable_file_is_one_line(capsys, tmp_path):
    body = tmp_path / "body.json"
    body.write_text("{}")
    body.chmod(0)
    if os.access(body, os.R_OK):  # root reads anything: a folder cannot be read as a file by anyone
        body.chmod(0o600)
        body.unlink()
        body.mkdir()
    _, line = one_line(capsys, ["send-webhook", str(body)])
    assert str(body) in line


def test_webhook_to_a_local_api_that_is_not_running_says_what_to_do(capsys, tmp_path):
    body = tmp_path / "body.json"
    body.write_text('{"object": "whatsapp_business_account", "entry": []}')
    _, line = one_line(capsys, ["send-webhook", "--url", f"http://127.0.0.1:{free_port()}/webhook", str(body)])
    assert "make run" in line


def test_usage_against_a_dynamodb_local_that_is_not_running_says_what_to_do(capsys):
    _, line = one_line(capsys, ["usage", "106540352242922", "--dynamodb-endpoint",
                                f"http://127.0.0.1:{free_port()}"])
    assert "not running" in line and "make run" in line
