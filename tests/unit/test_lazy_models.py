"""The limit check's cold start: its handler and checker never import pynamodb (store/models.py).

pynamodb was most of the handler's import time and only the registry uses it; wiring asks for the
models' bind without importing them, and the models apply it when something imports them.
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


BIND = """
import json, os
from numberguard import wiring

wiring.limit_checker()  # asks for the bind before the models are imported
from numberguard.store import models

deferred = [models.NumberModel.Meta.table_name, models.LimitModel.Meta.table_name,
            models.NumberModel.Meta.host, models.LimitModel.Meta.region]
wiring.reset()
os.environ["NUMBERS_TABLE"] = "second-numbers"
wiring.limit_checker()  # the models are imported now: binds at once
print(json.dumps({"deferred": deferred, "now": models.NumberModel.Meta.table_name}))
"""


def test_models_imported_after_the_checker_was_built_are_bound_to_its_settings():
    found = run_fresh(BIND, extra_env={"NUMBERS_TABLE": "lazy-numbers", "LIMITS_TABLE": "lazy-limits",
                                       "DYNAMODB_ENDPOINT": "http://127.0.0.1:1"})
    assert found["deferred"] == ["lazy-numbers", "lazy-limits", "http://127.0.0.1:1", "us-east-1"]
    assert found["now"] == "second-numbers"
