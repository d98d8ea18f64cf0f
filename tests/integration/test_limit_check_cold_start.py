"""The limit check answers from DynamoDB (here moto) without ever importing pynamodb."""

from tests.fresh import run_fresh

CHECK = """
import json, sys
import boto3
from moto import mock_aws

with mock_aws():
    import app
    from numberguard import wiring
    from numberguard_ops import template

    template.create_tables(boto3.client("dynamodb"))
    answer = wiring.limit_checker().handle({"phone_number_id": "106540352242922", "recipient": "16505551234",
                                            "message": "template"})
    print(json.dumps({"decision": answer["decision"],
                      "pynamodb": sorted(m for m in sys.modules if m.split(".")[0] == "pynamodb")}))
"""


def test_a_limit_check_that_reads_dynamodb_does_not_import_pynamodb():
    found = run_fresh(CHECK)
    assert found["decision"] == "DENIED_UNKNOWN_NUMBER"  # the checker read the number from DynamoDB
    assert found["pynamodb"] == []
