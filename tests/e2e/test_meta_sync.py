"""Meta's own word, end to end in local mode: the Meta double changed from the CLI, `numbers import`,
the scheduled Meta sync, the history and the limit check (DESIGN §5b, §6).

Given local mode on free ports (its Meta double serving the reference WABA of events/graph/), when a
user imports the WABA and changes the double, then the numbers are registered with Meta's limit
(every page read), a quality change reaches the history from the source `graph` after one scheduled
run, a template paused in the double denies checks naming it after one scheduled run, a BLOCKED WABA
denies checks naming 141006, and a refused token changes no stored item and is
announced once.
"""

from __future__ import annotations

import json
import time

import boto3
import pytest

from tests.e2e.test_local_mode import Local, numberguard, start_local

pytestmark = pytest.mark.e2e

WABA, NUMBER, SUPPORT, GARDEN = "102290129340398", "106540352242922", "110200345501442", "117835072280431"
SCHEDULE_SECONDS = 2


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    base = tmp_path_factory.mktemp("meta-sync")
    mode = start_local(base / "data", base / "local.out", "--schedule-rate", f"{SCHEDULE_SECONDS}s")
    try:
        yield mode
    finally:
        mode.stop()


def meta(local: Local, *args: str) -> dict:
    done = numberguard("meta", "--meta-url", local.meta_endpoint, *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def import_waba(local: Local, *extra: str):
    return numberguard("numbers", "import", "--waba-id", WABA, "--endpoint", local.lambda_endpoint, *extra)


def dynamodb(local: Local):
    return boto3.client("dynamodb", endpoint_url=local.dynamodb_endpoint, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def items(local: Local) -> dict[str, list]:
    """Every item of the numbers and limits tables but the sync's own status item, in a stable order."""
    ddb = dynamodb(local)
    out = {}
    for table in ("numberguard-numbers", "numberguard-limits"):
        found = [i for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
                 for i in page["Items"] if i.get("pk", {}).get("S") != "SYNC#meta"]
        out[table] = sorted(json.dumps(i, sort_keys=True) for i in found)
    return out


def history(local: Local, key: str) -> list[dict]:
    """The history documents of a number (or of `WABA#id`: notices about a WABA or the token)."""
    reply = dynamodb(local).query(TableName="numberguard-history", KeyConditionExpression="phone_number_id = :p",
                                  ExpressionAttributeValues={":p": {"S": key}}, ConsistentRead=True)
    return [json.loads(i["document"]["S"]) for i in reply["Items"] if "document" in i]


def check(local: Local, recipient: str = "16505551234") -> dict:
    return local.invoke({"phone_number_id": NUMBER, "recipient": recipient, "message": "template"})


def wait_for(condition, timeout: float = 45.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    return condition()


def test_numbers_import_registers_the_doubles_numbers_with_their_limits_across_pages(local):
    # Given the double answers at most two numbers a page (the reference WABA has three)
    meta(local, "paging", "2")
    calls_before = meta(local, "show")["calls"]
    # When the user imports the WABA
    done = import_waba(local)
    assert done.returncode == 0, done.stdout + done.stderr
    # Then every number of both pages is registered with Meta's limit, status and quality
    assert "3 number(s) registered" in done.stdout
    listed = numberguard("numbers", "list", "--dynamodb-endpoint", local.dynamodb_endpoint, "--json")
    numbers = {n["phone_number_id"]: n for n in json.loads(listed.stdout)}
    assert set(numbers) == {NUMBER, SUPPORT, GARDEN}
    assert {(n["tier"], n["limit"]) for n in numbers.values()} == {("TIER_250", 250)}
    assert (numbers[SUPPORT]["connection"], numbers[SUPPORT]["quality"]) == ("OFFLINE", "YELLOW")
    assert numbers[GARDEN]["connection"] == "PENDING"
    assert numbers[NUMBER]["display_phone_number"] == "15550783881"
    # And the read cost the WABA node and two pages (scheduled runs may add their own reads)
    assert meta(local, "show")["calls"] - calls_before >= 3
    # And a number the check knows now answers with Meta's limit
    answer = check(local)
    assert answer["decision"] == "ALLOWED_NEW_RECIPIENT" and answer["limit"] == 250


def test_a_quality_change_in_the_double_reaches_the_history_after_one_scheduled_run(local):
    # When Meta's quality of the number drops to RED (nobody sends a webhook)
    meta(local, "quality", NUMBER, "RED")

    def changed():
        return [e for e in history(local, NUMBER) if e.get("type") == "QUALITY_CHANGED"]

    # Then the next scheduled Meta sync run records it, from the source graph, once
    found = wait_for(changed)
    assert found, "no QUALITY_CHANGED after the scheduled runs"
    entry = found[0]
    assert (entry["from"], entry["to"]) == ("GREEN", "RED") and "graph" in entry["reason"]
    time.sleep(3 * SCHEDULE_SECONDS)
    assert len(changed()) == 1  # later runs read the same RED: no second entry


def check_template(local: Local, name: str, recipient: str) -> dict:
    return local.invoke({"phone_number_id": NUMBER, "recipient": recipient, "message": "template",
                         "template": {"name": name, "language": "en_US"}})


def test_a_template_paused_in_the_double_denies_checks_naming_it_after_one_scheduled_run(local):
    # Given the imported template order_confirmation, approved at Meta: a check naming it is allowed
    assert check_template(local, "order_confirmation", "16505550010")["allowed"] is True
    # When Meta pauses it (nobody sends a webhook)
    meta(local, "template", WABA, "order_confirmation", "en_US", "PAUSED")

    def denied():
        answer = check_template(local, "order_confirmation", "16505550011")
        return answer if answer["decision"] == "DENIED_TEMPLATE_PAUSED" else None

    # Then after the next scheduled Meta sync run a check naming it is denied, naming the template
    answer = wait_for(denied)
    assert answer, check_template(local, "order_confirmation", "16505550011")
    assert "order_confirmation" in answer["error"] and answer["retry_after_seconds"] is None
    # And the pause is in the template's history once, from the source graph, and in the mailbox
    key = f"TPL#{WABA}#order_confirmation#en_us"
    paused = [e for e in history(local, key) if (e.get("to") or "").startswith("PAUSED")]
    assert len(paused) == 1 and "graph" in paused[0]["reason"]
    assert any("order_confirmation" in m.read_text()
               for m in (local.data_dir / "mailbox").glob("*TEMPLATE_STATUS_CHANGED*.json"))
    # When Meta un-pauses it, the next run lets checks naming it through again
    meta(local, "template", WABA, "order_confirmation", "en_US", "APPROVED")
    assert wait_for(lambda: check_template(local, "order_confirmation", "16505550012")["allowed"])
    time.sleep(3 * SCHEDULE_SECONDS)
    assert len([e for e in history(local, key) if (e.get("to") or "").startswith("PAUSED")]) == 1


def test_a_blocked_waba_denies_checks_naming_metas_code(local):
    meta(local, "health", "--waba", WABA, "BLOCKED", "--error-code", "141006", "--description",
         "There is an error with the payment method. This will block business initiated conversations.",
         "--solution", "There was an error with your payment method. Please add a new payment method to the account.")
    done = import_waba(local)
    assert done.returncode == 0, done.stdout + done.stderr
    answer = wait_for(lambda: (a := check(local, "16505550042"))["decision"] == "DENIED_BLOCKED_BY_META" and a)
    assert answer, check(local, "16505550042")
    assert not answer["allowed"] and "141006" in answer["error"] and answer["status"] == "BLOCKED"
    health = [e for e in history(local, NUMBER) if e.get("type") == "HEALTH_CHANGED"]
    assert health and health[0]["to"] == "BLOCKED (WABA 141006)"
    mails = list((local.data_dir / "mailbox").glob("*HEALTH_CHANGED*.eml"))
    assert any("Please add a new payment method" in m.read_text() for m in mails)
    # And the WABA available again lets sends through
    meta(local, "health", "--waba", WABA, "AVAILABLE")
    assert import_waba(local).returncode == 0
    assert check(local, "16505550043")["allowed"] is True


def test_a_refused_token_changes_no_stored_item_and_is_announced_once(local):
    # Given the stored state after the earlier reads
    meta(local, "token", "refuse")
    time.sleep(SCHEDULE_SECONDS + 1)  # a run that began before the refusal finishes
    before = items(local)
    # When Meta's state changes but every read is refused, over several scheduled runs and an import
    meta(local, "quality", NUMBER, "YELLOW")
    meta(local, "limit", "506914307656634", "TIER_2K")
    refused = import_waba(local)
    assert refused.returncode != 0 and "190" in refused.stdout
    assert "local-access-token" not in refused.stdout + refused.stderr
    time.sleep(3 * SCHEDULE_SECONDS)
    # Then no number, scope or facet item changed
    assert items(local) == before
    # And the outage is announced exactly once
    failed = [e for e in history(local, f"WABA#{WABA}") if e.get("type") == "META_ACCESS_FAILED"]
    assert len(failed) == 1
    mails = list((local.data_dir / "mailbox").glob("*META_ACCESS_FAILED*.json"))
    assert len(mails) == 1 and json.loads(mails[0].read_text())["waba_id"] == WABA
    # And once the token is accepted again: restored once, and what changed meanwhile applied
    meta(local, "token", "accept")
    assert wait_for(lambda: [e for e in history(local, f"WABA#{WABA}") if e.get("type") == "META_ACCESS_RESTORED"])
    assert wait_for(lambda: check(local, "16505550044").get("limit") == 2000)
    # The banner prints local mode's own secrets (DESIGN §6); nothing after it ever shows the token
    assert "local-access-token" not in local.output().split("numberguard local is ready", 1)[1]
