"""The webhook function's world on moto: the template's tables, its archive bucket, its two SecureString
parameters (local mode's values) and the notification topic, with the environment the template gives it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.webhooks import LOCAL_APP_SECRET, LOCAL_VERIFY_TOKEN


@pytest.fixture(autouse=True)
def one_write_at_a_time(monkeypatch):
    """moto is not thread-safe (a transaction deep-copies the table while another thread writes to it):
    on moto the intake writes one at a time. DynamoDB Local (bench, tests/dynamodb) runs them side by side."""
    from numberguard.usecases import intake

    monkeypatch.setattr(intake, "PARALLEL_WRITES", 1)


@dataclass
class WebhookWorld:
    stack: object  # tests.conftest.Stack
    s3: object
    bucket: str
    topic_arn: str

    def archived(self) -> list[str]:
        reply = self.s3.list_objects_v2(Bucket=self.bucket)
        return sorted(o["Key"] for o in reply.get("Contents", []))

    def archived_body(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def invoke(self, event: dict, context=None) -> dict:
        from webhook.app import lambda_handler

        from tests.conftest import LambdaContext

        return lambda_handler(event, context or LambdaContext())

    def number(self, phone_number_id: str = "106540352242922") -> dict:
        from numberguard.wiring import build

        return build(self.stack.settings).numbers.show(phone_number_id)

    def history(self, phone_number_id: str = "106540352242922") -> list[dict]:
        from numberguard.wiring import build

        return build(self.stack.settings).stores.history.history(phone_number_id)


@pytest.fixture
def webhook_world(moto_stack, monkeypatch) -> WebhookWorld:
    import boto3
    from aws_lambda_powertools.utilities import parameters
    from numberguard import wiring

    from numberguard_ops.template import function_environment

    env = function_environment("WebhookFunction")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=env["ARCHIVE_BUCKET"])
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=env["APP_SECRET_PARAMETER"], Value=LOCAL_APP_SECRET, Type="SecureString")
    ssm.put_parameter(Name=env["VERIFY_TOKEN_PARAMETER"], Value=LOCAL_VERIFY_TOKEN, Type="SecureString")
    # The template resolves the topic to its local ARN; moto creates it under the same name.
    topic_name = env["NOTIFICATION_TOPIC_ARN"].rsplit(":", 1)[-1]
    env["NOTIFICATION_TOPIC_ARN"] = boto3.client("sns").create_topic(Name=topic_name)["TopicArn"]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    moto_stack.env = {**moto_stack.env, **env}
    parameters.clear_caches()
    wiring.reset()
    yield WebhookWorld(moto_stack, s3, env["ARCHIVE_BUCKET"], env["NOTIFICATION_TOPIC_ARN"])
    parameters.clear_caches()
    wiring.reset()
