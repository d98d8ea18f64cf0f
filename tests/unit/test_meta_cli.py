"""`numberguard numbers import` and `numberguard meta ...`: bad input and an unreachable service give one
clear line and a non-zero exit, never a trace; the double's control API changes what it answers."""

from __future__ import annotations

import json

from numberguard_ops.cli import main
from numberguard_ops.cli.meta import import_lines
from numberguard_ops.ddb_local import free_port
from numberguard_ops.local import change_words
from numberguard_ops.meta_double import MetaDouble


def test_import_refuses_a_waba_id_that_is_not_digits(capsys, monkeypatch):
    monkeypatch.delenv("META_SYNC_FUNCTION", raising=False)
    assert main(["numbers", "import", "--waba-id", "abc"]) == 2
    assert "--waba-id must be the WhatsApp Business Account's numeric id" in capsys.readouterr().err
    assert main(["numbers", "import", "--waba-id", "102290129340398", "--aws"]) == 2
    assert "MetaSyncFunctionName" in capsys.readouterr().err


def test_import_without_local_mode_says_what_to_start(capsys):
    port = free_port()
    assert main(["numbers", "import", "--waba-id", "1", "--endpoint", f"http://127.0.0.1:{port}"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "make run" in err


def test_import_lines_say_what_was_registered_and_changed():
    lines = import_lines("1", {"registered": ["10", "11"], "changes": [
        {"phone_number_id": "10", "type": "QUALITY_CHANGED", "from": "GREEN", "to": "RED"}],
        "failed": {}, "throttled": True, "access": None})
    assert lines[0] == "WABA 1: 2 number(s) registered: 10, 11"
    assert "10 QUALITY_CHANGED: GREEN → RED" in lines[1] and "next scheduled run" in lines[-1]
    assert import_lines("1", {"error": "waba_id must be digits"}) == ["not imported: waba_id must be digits"]


def test_import_and_schedule_lines_name_a_template_change_by_name_language_and_waba():
    change = {"template": {"waba_id": "1", "name": "order_confirmation", "language": "en_US"},
              "type": "TEMPLATE_STATUS_CHANGED", "from": "APPROVED", "to": "PAUSED"}
    lines = import_lines("1", {"registered": [], "changes": [change], "failed": {}})
    assert lines[1] == "  template 'order_confirmation' (en_US) of WABA 1 TEMPLATE_STATUS_CHANGED: APPROVED → PAUSED"
    assert change_words(change) == lines[1].strip() and "TPL#" not in lines[1]
    # the evaluator answers its changes' types only
    assert change_words("FLAG_OUTCOME") == "FLAG_OUTCOME"


def test_meta_commands_change_the_double_and_name_bad_input(capsys):
    double = MetaDouble(port=0)
    double.start()
    url = ["meta", "--meta-url", double.endpoint]
    try:
        assert main([*url, "quality", "106540352242922", "RED"]) == 0
        assert main([*url, "health", "--waba", "102290129340398", "BLOCKED", "--error-code", "141006"]) == 0
        assert main([*url, "token", "refuse"]) == 0
        capsys.readouterr()
        assert main([*url, "show"]) == 0
        state = json.loads(capsys.readouterr().out)
        waba = state["wabas"]["102290129340398"]
        assert waba["numbers"]["106540352242922"]["quality"] == "RED" and waba["health"] == "BLOCKED"
        assert state["token_refused"] is True
        assert main([*url, "quality", "999", "RED"]) == 1
        assert "no number '999'" in capsys.readouterr().err
        assert main([*url, "throttle", "12345"]) == 1
        assert "throttle code must be one of" in capsys.readouterr().err
        # A template paused, un-paused, its quality changed
        waba_id = "102290129340398"
        assert main([*url, "template", waba_id, "order_confirmation", "en_US", "paused"]) == 0
        assert json.loads(capsys.readouterr().out)["status"] == "PAUSED"
        assert main([*url, "template", waba_id, "order_confirmation", "en_US", "APPROVED", "--quality", "red"]) == 0
        assert json.loads(capsys.readouterr().out) == {"template": "order_confirmation", "status": "APPROVED",
                                                       "quality": "RED"}
        assert main([*url, "template", waba_id, "no_such", "en_US", "PAUSED"]) == 1
        assert "no template 'no_such'" in capsys.readouterr().err
        assert main([*url, "template", waba_id, "order_confirmation", "en_US"]) == 2
        assert "give a status" in capsys.readouterr().err
        assert main([*url, "seed", "--wabas", "1", "--numbers", "2", "--templates", "3"]) == 0
        capsys.readouterr()
        assert main([*url, "show"]) == 0
        seeded = json.loads(capsys.readouterr().out)["wabas"]["90000000000001"]
        assert seeded["templates"] == [f"template_{t}/en_US: APPROVED, quality GREEN" for t in range(3)]
    finally:
        double.stop()
    assert main([*url, "show"]) == 1
    assert "does not answer" in capsys.readouterr().err
