"""The limit check's cold start: its handler and checker never import pynamodb (store/models/).

pynamodb was most of the handler's import time and only the registry uses it; wiring builds the
registry lazily, and store/models/ binds a subclass of each model per Settings.
"""

from tests.fresh import run_fresh

BUILD = """
import json, sys
import app
from numberguard import wiring

after_import = sorted(m for m in sys.modules if m.split(".")[0] == "pynamodb")
answer = wiring.limit_checker().handle({"phone_number_id": "106540352242922", "message": "template"})
print(json.dumps({"after_import": after_import, "decision": answer["decision"],
                  "after_build": sorted(m for m in sys.modules if m.split(".")[0] == "pynamodb"),
                  "models": "numberguard.store.models" in sys.modules}))
"""


def test_importing_the_limit_check_handler_and_building_its_checker_does_not_import_pynamodb():
    found = run_fresh(BUILD)
    assert found["decision"] == "INVALID_REQUEST"  # built and answering (no recipient: no DynamoDB call)
    assert found["after_import"] == []
    assert found["after_build"] == []
    assert found["models"] is False


EVERY_STORE = """
import json, sys
import app
from numberguard import wiring

getattr(wiring, "{builder}")()
wiring.parts().stores  # every raw store the functions use, schema_names included
print(json.dumps({{"pynamodb": sorted(m for m in sys.modules if m.split(".")[0] == "pynamodb"),
                  "schema": "numberguard.store.schema_names" in sys.modules}}))
"""


def test_the_webhook_and_the_evaluator_with_every_store_built_do_not_import_pynamodb():
    # Neither registers numbers (the Meta sync does, through the registry: see docs/decision_log.md).
    for function, folder, builder in (("WebhookFunction", "webhook", "webhook_receiver"),
                                      ("EvaluatorFunction", "evaluator", "evaluator")):
        found = run_fresh(EVERY_STORE.format(builder=builder), function=function, folder=folder)
        assert found["pynamodb"] == [], function
        assert found["schema"] is True, function


BIND = """
import json, os
from numberguard import wiring
from numberguard.config import Settings

wiring.limit_checker()
from numberguard.store.models import models_for

first = models_for(Settings.from_env())
second = models_for(Settings.from_env({**os.environ, "NUMBERS_TABLE": "second-numbers"}))
print(json.dumps({"first": [first.number.Meta.table_name, first.limit.Meta.table_name, first.number.Meta.host,
                            first.limit.Meta.region],
                  "second": second.number.Meta.table_name, "first_after": first.number.Meta.table_name,
                  "index": first.number.by_waba._model is first.number}))
"""


def test_models_are_bound_to_the_settings_they_are_built_for():
    found = run_fresh(BIND, extra_env={"NUMBERS_TABLE": "lazy-numbers", "LIMITS_TABLE": "lazy-limits",
                                       "DYNAMODB_ENDPOINT": "http://127.0.0.1:1"})
    assert found["first"] == ["lazy-numbers", "lazy-limits", "http://127.0.0.1:1", "us-east-1"]
    assert found["second"] == "second-numbers"
    assert found["first_after"] == "lazy-numbers"  # two settings in one process never rebind each other
    assert found["index"] is True
