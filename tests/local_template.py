"""template.yaml as local mode will serve it once the webhook intake and the evaluator are in it.

Until WebhookFunction and EvaluatorFunction land in template.yaml, the tests of local mode add them
here the way their issues declare them (Api events on /webhook, SSM parameter names, an archive
bucket, a ScheduleV2 rate with a dead-letter queue); whatever template.yaml already has is kept as is.
An EchoFunction behind `ANY /echo/{proxy+}` shows what API Gateway hands a function.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _has(doc: dict, logical_id: str) -> bool:
    return logical_id in doc["Resources"]


def preview_template(folder: Path, echo: bool = True) -> Path:
    from numberguard_ops.template import load

    doc = {k: v for k, v in load(ROOT / "template.yaml").items() if k != "__dir__"}
    doc = yaml.safe_load(yaml.safe_dump(doc))  # a copy: the loaded template is cached
    params = doc.setdefault("Parameters", {})
    resources = doc["Resources"]
    for res in resources.values():  # CodeUri stays valid from another folder
        props = res.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = str(ROOT / props[key])
    if not _has(doc, "WebhookFunction"):
        params.setdefault("AppSecretParameterName", {"Type": "String", "Default": "/numberguard/meta-app-secret"})
        params.setdefault("VerifyTokenParameterName",
                          {"Type": "String", "Default": "/numberguard/webhook-verify-token"})
        resources.setdefault("ArchiveBucket", {"Type": "AWS::S3::Bucket", "Properties": {}})
        resources["WebhookFunction"] = {"Type": "AWS::Serverless::Function", "Properties": {
            "CodeUri": str(ROOT / "functions" / "webhook"), "Handler": "app.lambda_handler",
            "Environment": {"Variables": {
                "APP_SECRET_PARAMETER": {"Ref": "AppSecretParameterName"},
                "VERIFY_TOKEN_PARAMETER": {"Ref": "VerifyTokenParameterName"},
                "ARCHIVE_BUCKET": {"Ref": "ArchiveBucket"}}},
            "Events": {"Verify": {"Type": "Api", "Properties": {"Path": "/webhook", "Method": "get"}},
                       "Receive": {"Type": "Api", "Properties": {"Path": "/webhook", "Method": "post"}}},
        }}
    if not _has(doc, "EvaluatorFunction"):
        params.setdefault("EvaluatorSchedule", {"Type": "String", "Default": "rate(5 minutes)"})
        resources.setdefault("EvaluatorDeadLetterQueue", {"Type": "AWS::SQS::Queue", "Properties": {}})
        resources["EvaluatorFunction"] = {"Type": "AWS::Serverless::Function", "Properties": {
            "CodeUri": str(ROOT / "functions" / "evaluator"), "Handler": "app.lambda_handler", "Timeout": 60,
            "Events": {"Every": {"Type": "ScheduleV2", "Properties": {
                "ScheduleExpression": {"Ref": "EvaluatorSchedule"},
                "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["EvaluatorDeadLetterQueue", "Arn"]}}}}},
        }}
    if echo:
        resources["EchoFunction"] = {"Type": "AWS::Serverless::Function", "Properties": {
            "CodeUri": str(ROOT / "tests" / "fixtures" / "echo"), "Handler": "app.lambda_handler",
            "Events": {"Echo": {"Type": "Api", "Properties": {"Path": "/echo/{proxy+}", "Method": "any"}}},
        }}
    path = folder / "template.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
