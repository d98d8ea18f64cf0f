"""WebhookFunction: Meta's webhooks through API Gateway, and AWS End User Messaging Social via SNS."""

import base64
import json
from typing import Any, Protocol

from numberguard.observability import logger
from numberguard.wiring import webhook_receiver

JSON = {"Content-Type": "application/json"}


class Answer(Protocol):
    """What the receiver answers (usecases.webhook.HttpAnswer): the handler only shapes it for API Gateway."""

    @property
    def status(self) -> int: ...
    @property
    def body(self) -> Any: ...
    @property
    def is_text(self) -> bool: ...


def _response(answer: Answer) -> dict[str, Any]:
    if answer.is_text:
        return {"statusCode": answer.status, "headers": {"Content-Type": "text/plain"}, "body": answer.body}
    return {"statusCode": answer.status, "headers": JSON, "body": json.dumps(answer.body)}


def _error(status: int, message: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": JSON, "body": json.dumps({"error": message})}


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return value
    return None


class BadBody(ValueError):
    pass


def _raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except ValueError:  # binascii.Error, or characters outside ASCII
            raise BadBody("the body is not valid base64") from None
    try:
        # surrogateescape: bytes that were not UTF-8 come back as they were sent (the signature covers them)
        return body.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise BadBody("the body is not valid text (a lone surrogate)") from None


def _sns(event: dict[str, Any]) -> dict[str, Any]:
    """SNS-subscribed path (EUM Social): a failure raises so that SNS retries the delivery."""
    results = []
    for record in event["Records"]:
        answer = webhook_receiver().receive_eum(record["Sns"]["Message"])
        if answer.status >= 500:
            raise RuntimeError(f"EUM Social message not applied: {answer.body}")
        results.append(answer.status)
    return {"applied": results}


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and event.get("Records") and "Sns" in event["Records"][0]:
        return _sns(event)
    method = (event.get("httpMethod") or event.get("requestContext", {}).get("http", {}).get("method") or "").upper()
    if method == "GET":
        return _response(webhook_receiver().verify(event.get("queryStringParameters")))
    if method != "POST":
        return _error(405, f"method {method or '?'} not allowed: use GET or POST")
    try:
        raw = _raw_body(event)
    except BadBody as err:
        return _error(400, str(err))
    return _response(webhook_receiver().receive(raw, _header(event, "x-hub-signature-256")))
