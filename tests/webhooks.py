"""Webhook test material: the reference bodies (the shared folder, else the copies in events/), signing,
and API Gateway / SNS events shaped as Lambda receives them."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from numberguard.webhooks import sign

from tests.conftest import EVENTS, REFERENCE

LOCAL_APP_SECRET = "local-app-secret"  # local mode's defaults (docs/contracts.md §6)
LOCAL_VERIFY_TOKEN = "local-verify-token"
COPIES = EVENTS / "meta-webhooks"
SHARED = REFERENCE / "meta-webhooks"


def bodies_folder() -> Path:
    """The shared reference bodies when this checkout sits next to them, else the copies kept in events/."""
    return SHARED if SHARED.is_dir() else COPIES


def reference_names() -> list[str]:
    return sorted(p.name for p in bodies_folder().glob("*.json"))


def reference_body(name: str) -> bytes:
    return (bodies_folder() / name).read_bytes()


def api_event(method: str, body: bytes | None = None, headers: dict | None = None, query: dict | None = None,
              base64_body: bool = False) -> dict:
    """An API Gateway REST (proxy) event for /webhook."""
    if body is not None and not base64_body:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            base64_body = True  # API Gateway hands over bodies that are not text as base64
    if body is None:
        text = None
    elif base64_body:
        text = base64.b64encode(body).decode()
    else:
        text = body.decode("utf-8")
    return {
        "resource": "/webhook",
        "path": "/webhook",
        "httpMethod": method,
        "headers": headers or {},
        "multiValueHeaders": {k: [v] for k, v in (headers or {}).items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"resourcePath": "/webhook", "httpMethod": method, "stage": "prod",
                           "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "path": "/prod/webhook"},
        "body": text,
        "isBase64Encoded": base64_body,
    }


def signed_post(body: bytes, secret: str = LOCAL_APP_SECRET, base64_body: bool = False) -> dict:
    return api_event("POST", body, {"Content-Type": "application/json",
                                    "X-Hub-Signature-256": sign(body, secret)}, base64_body=base64_body)


def sns_event(message: str, topic: str = "arn:aws:sns:us-east-1:123456789012:eum-social-waba") -> dict:
    return {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": f"{topic}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
        "Sns": {"Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e", "TopicArn": topic,
                "Subject": None, "Message": message, "Timestamp": "2025-01-08T23:30:43.500Z",
                "SignatureVersion": "1", "MessageAttributes": {}},
    }]}


def envelope(waba: str, changes: list[dict], time: int | None = None) -> bytes:
    entry: dict = {"id": waba, "changes": changes}
    if time is not None:
        entry["time"] = time
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()
