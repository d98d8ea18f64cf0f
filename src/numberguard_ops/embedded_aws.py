"""moto's server as the embedded AWS of local mode (SNS, S3, SSM, SQS), filled from template.yaml.

- `MotoServer`: moto's WSGI app on 127.0.0.1:<port>, served from a thread of local mode.
- `create_resources`: the template's buckets, topics and queues, and the SSM parameters its
  functions read their secrets from (SecureString, local values), all by resource type.
- `Mailbox`: an SQS queue subscribed to the notification topics; each notification is printed
  as one line and kept as a mail file (`.eml`, the email text) plus its JSON document.
- `TopicDelivery`: a topic that a function subscribes to (an SNS event) delivers to it, as SNS
  would, through a queue that local mode drains.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from numberguard_ops import template
from numberguard_ops.serving import ServedThread
from numberguard_ops.template import REGION, Resolver

# What local mode stores in the SSM parameters a function reads, by the variable that names them.
APP_SECRET_VARIABLE = "APP_SECRET_PARAMETER"  # noqa: S105 - a variable name, not a secret
VERIFY_TOKEN_VARIABLE = "VERIFY_TOKEN_PARAMETER"  # noqa: S105
DEFAULT_APP_SECRET = "local-app-secret"  # noqa: S105 - local mode's documented default, never used on AWS
DEFAULT_VERIFY_TOKEN = "local-verify-token"  # noqa: S105
META_TOKEN_VARIABLE = "META_ACCESS_TOKEN_PARAMETER"  # noqa: S105 - a variable name, not a secret
DEFAULT_META_TOKEN = "local-access-token"  # noqa: S105 - the local Meta double's token (DESIGN §6)
MAILBOX_QUEUE = "numberguard-local-mailbox"
# moto's services local mode serves: requirements-run.txt installs exactly these extras of moto.
SERVICES = ("s3", "sns", "sqs", "ssm")
FAKE_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def client(service: str, endpoint: str | None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        config=Config(retries={"total_max_attempts": 2}), **FAKE_CREDENTIALS)


class MotoServer:
    """moto's server app (the one `moto_server` runs) on a port of this process."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.host = host
        self.port = port
        self._served = ServedThread("moto-server")

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass  # one line per AWS call would drown the notifications

        app = DomainDispatcherApplication(create_backend_app)
        self.port = self._served.start(make_server(self.host, self.port, app, threaded=True, request_handler=Quiet))

    def alive(self) -> bool:
        return self._served.alive()

    def stop(self) -> None:
        self._served.stop()


@dataclass
class Secrets:
    app_secret: str = DEFAULT_APP_SECRET
    verify_token: str = DEFAULT_VERIFY_TOKEN
    meta_token: str = DEFAULT_META_TOKEN

    def value_for(self, variable: str) -> str:
        if variable == APP_SECRET_VARIABLE:
            return self.app_secret
        if variable == VERIFY_TOKEN_VARIABLE:
            return self.verify_token
        if variable == META_TOKEN_VARIABLE:
            return self.meta_token
        # A secret local mode does not know: a recognisable local value, printed at start.
        return f"local-{variable.lower().removesuffix('_parameter').replace('_', '-')}"


@dataclass
class Created:
    buckets: list[str] = field(default_factory=list)
    topics: dict[str, str] = field(default_factory=dict)  # logical id → ARN
    queues: dict[str, str] = field(default_factory=dict)  # logical id → URL
    subscriptions: list[str] = field(default_factory=list)  # logical ids of queue subscriptions
    parameters: dict[str, tuple[str, str]] = field(default_factory=dict)  # variable → (name, value)


def create_resources(endpoint: str | None, secrets: Secrets, resolver: Resolver | None = None) -> Created:
    """Everything of template.yaml that moto stands in for, by resource type (idempotent)."""
    resolver = resolver or Resolver()
    made = Created()
    s3 = client("s3", endpoint)
    for logical_id in template.active_resources("AWS::S3::Bucket", resolver):
        name = resolver.physical_name(logical_id)
        s3.create_bucket(Bucket=name)  # us-east-1: no location constraint; existing → no error in moto
        made.buckets.append(name)
    sns = client("sns", endpoint)
    for logical_id, res in template.active_resources("AWS::SNS::Topic", resolver).items():
        props = res.get("Properties") or {}
        attributes = {"FifoTopic": "true"} if resolver.resolve(props.get("FifoTopic")) in (True, "true") else {}
        made.topics[logical_id] = sns.create_topic(Name=resolver.physical_name(logical_id),
                                                   Attributes=attributes)["TopicArn"]
    sqs = client("sqs", endpoint)
    for logical_id, res in template.active_resources("AWS::SQS::Queue", resolver).items():
        props = res.get("Properties") or {}
        attributes = {"FifoQueue": "true"} if resolver.resolve(props.get("FifoQueue")) in (True, "true") else {}
        made.queues[logical_id] = sqs.create_queue(QueueName=resolver.physical_name(logical_id),
                                                   Attributes=attributes)["QueueUrl"]
    # Queues subscribed to topics (the notification receipts): email and lambda protocols have no
    # local endpoint (the mailbox and the topic deliveries stand in for them).
    for logical_id, res in template.active_resources("AWS::SNS::Subscription", resolver).items():
        props = res.get("Properties") or {}
        if resolver.resolve(props.get("Protocol")) != "sqs":
            continue
        raw = resolver.resolve(props.get("RawMessageDelivery")) in (True, "true")
        sns.subscribe(TopicArn=resolver.resolve(props.get("TopicArn")), Protocol="sqs",
                      Endpoint=resolver.resolve(props.get("Endpoint")),
                      Attributes={"RawMessageDelivery": "true" if raw else "false"})
        made.subscriptions.append(logical_id)
    ssm = client("ssm", endpoint)
    for variable, name in template.secure_parameters(resolver).items():
        value = secrets.value_for(variable)
        ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
        made.parameters[variable] = (name, value)
    return made


def subscribe_queue(endpoint: str | None, topic_arn: str, queue_name: str) -> str:
    """A queue subscribed to a topic (SNS envelope kept, as SNS delivers to SQS); returns its URL."""
    sqs = client("sqs", endpoint)
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client("sns", endpoint).subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return url


# ---- the mailbox --------------------------------------------------------------------------------


def _attribute(envelope: dict, name: str) -> str | None:
    value = (envelope.get("MessageAttributes") or {}).get(name)
    return value.get("Value") if isinstance(value, dict) else None


def email_text(document: dict) -> str:
    """The `email` text the layer publishes with this document (SQS subscribers get the document only)."""
    from numberguard.notify.messages import email_text as layer_email_text

    return layer_email_text(document)


def one_line(document: dict) -> str:
    who = document.get("display_phone_number")
    who = f"+{who}" if who and not str(who).startswith("+") else (who or "")
    moved = f" {document.get('from') or '-'} → {document.get('to') or '-'}" if document.get("from") or \
        document.get("to") else ""
    subject = f"{who} ({document.get('phone_number_id')})" if document.get("phone_number_id") else \
        f"WABA {document.get('waba_id')}"
    return (f"{document.get('at')} {document.get('severity', 'INFO'):<8} {document.get('type')} "
            f"{subject}{moved}: {document.get('reason')}")


@dataclass(frozen=True)
class Mail:
    eml: Path
    document: dict


def write_mail(folder: Path, envelope: dict) -> Mail:
    """One notification as `<time>-<type>-<id>.eml` (what an email subscriber reads) and `.json`."""
    try:
        document = json.loads(envelope.get("Message") or "{}")
    except json.JSONDecodeError:
        document = {"type": _attribute(envelope, "event_type") or "UNKNOWN", "message": envelope.get("Message")}
    if not isinstance(document, dict):
        document = {"message": document}
    body = str(envelope.get("Message") or "")
    if document.get("type") and (document.get("phone_number_id") or document.get("waba_id")):
        try:
            body = email_text(document)
        except Exception:  # a document the layer's text cannot be made from: keep it readable anyway
            body = json.dumps(document, indent=2, sort_keys=True)
    msg = EmailMessage()
    msg["From"] = "numberguard <no-reply@sns.local>"
    msg["To"] = "operator@localhost"
    msg["Subject"] = envelope.get("Subject") or f"numberguard: {document.get('type')}"
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = f"<{envelope.get('MessageId') or uuid.uuid4()}@sns.local>"
    for header, attribute in (("X-Event-Type", "event_type"), ("X-Severity", "severity"),
                              ("X-Phone-Number-Id", "phone_number_id")):
        if _attribute(envelope, attribute):
            msg[header] = _attribute(envelope, attribute)
    msg.set_content(body, cte="8bit")  # readable as a file, not quoted-printable
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    kind = re.sub(r"[^A-Za-z0-9_]", "", str(document.get("type") or "NOTIFICATION"))
    base = folder / f"{stamp}-{kind}-{str(document.get('id') or envelope.get('MessageId') or uuid.uuid4())[:12]}"
    json_path = base.with_suffix(".json")
    json_path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    eml = base.with_suffix(".eml")
    eml.write_bytes(bytes(msg))  # the .eml last: a reader that sees it finds the .json too
    return Mail(eml, document)


class QueuePoller:
    """Drains one queue in a thread; `handle` gets each SNS envelope; failures stay for a retry."""

    def __init__(self, endpoint: str, queue_url: str, handle: Callable[[dict], None], name: str,
                 log: Callable[[str], None]):
        self.sqs = client("sqs", endpoint)
        self.queue_url = queue_url
        self.handle = handle
        self.name = name
        self.log = log
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                reply = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                                 VisibilityTimeout=30)
            except Exception as err:
                if not self.stopping.is_set():
                    self.log(f"{self.name}: cannot read {self.queue_url}: {err}")
                    self.stopping.wait(1)
                continue
            for message in reply.get("Messages", []):
                try:
                    self.handle(json.loads(message["Body"]))
                except Exception as err:  # left in the queue: seen again after the visibility timeout
                    self.log(f"{self.name}: {type(err).__name__}: {err}")
                    continue
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
            self.thread = None


def sns_event(envelope: dict, subscription_arn: str) -> dict[str, Any]:
    """The event Lambda receives from an SNS subscription, from the envelope SNS puts on SQS."""
    sns = {k: envelope.get(k) for k in ("Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp",
                                        "SignatureVersion", "Signature", "SigningCertURL", "UnsubscribeURL")}
    sns["Type"] = sns["Type"] or "Notification"
    sns["Timestamp"] = sns["Timestamp"] or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    sns["SigningCertUrl"] = sns.pop("SigningCertURL")
    sns["UnsubscribeUrl"] = sns.pop("UnsubscribeURL")
    sns["MessageAttributes"] = envelope.get("MessageAttributes") or {}
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                         "EventSubscriptionArn": subscription_arn, "Sns": sns}]}


def wait_for(predicate: Callable[[], Any], timeout: float, step: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)
