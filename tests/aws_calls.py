"""Every AWS call this process makes through botocore, recorded, and faults injected at the Nth one.

Sits in BaseClient._make_api_call, above botocore's retries and above moto: an injected fault is
what the code sees once the SDK has given up (retries exhausted). Pynamodb goes through the same
method, so its calls are seen too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from botocore.client import BaseClient
from botocore.exceptions import ClientError, ReadTimeoutError

THROTTLE_CODE = {
    "dynamodb": ("ProvisionedThroughputExceededException", 400),
    "s3": ("SlowDown", 503),
    "sns": ("Throttled", 400),
    "ssm": ("ThrottlingException", 400),
}
SERVER_CODE = {
    "dynamodb": ("InternalServerError", 500),
    "s3": ("InternalError", 500),
    "sns": ("InternalError", 500),
    "ssm": ("InternalServerError", 500),
}


@dataclass(frozen=True)
class Call:
    service: str  # the IAM prefix: dynamodb, s3, sns, ssm, secretsmanager
    operation: str  # PutItem, Publish, ...
    params: dict

    @property
    def action(self) -> str:
        return f"{self.service}:{self.operation}"


def _error(service: str, operation: str, code: str, status: int) -> ClientError:
    response = {"Error": {"Code": code, "Message": f"injected {code}"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


# A fault: (kind, whether the call is made first). "after" faults are the ambiguous ones: the
# write landed but the caller never heard (a lost response, or the SDK's retry hitting its own write).
FAULTS: dict[str, bool] = {
    "throttle": False,
    "server": False,
    "timeout": False,
    "timeout_after": True,
    "conditional_after": True,  # DynamoDB conditional writes only: the retry sees its own write
}


def make_fault(kind: str, call: Call) -> Exception:
    if kind == "throttle":
        return _error(call.service, call.operation, *THROTTLE_CODE.get(call.service, ("ThrottlingException", 400)))
    if kind == "server":
        return _error(call.service, call.operation, *SERVER_CODE.get(call.service, ("InternalError", 500)))
    if kind in ("timeout", "timeout_after"):
        return ReadTimeoutError(endpoint_url=f"https://{call.service}.us-east-1.amazonaws.com/")
    if kind == "conditional_after":
        return _error(call.service, call.operation, "ConditionalCheckFailedException", 400)
    raise ValueError(kind)


def is_conditional_write(call: Call) -> bool:
    return call.service == "dynamodb" and "ConditionExpression" in call.params


@dataclass
class AwsCalls:
    calls: list[Call] = field(default_factory=list)
    fault_at: int | None = None  # index into the calls that match `where`
    fault_kind: str = "throttle"
    where: Callable[[Call], bool] = lambda call: True
    injected: list[Call] = field(default_factory=list)
    _seen: int = 0

    def arm(self, n: int, kind: str, where: Callable[[Call], bool] | None = None) -> None:
        self.fault_at, self.fault_kind, self._seen = n, kind, 0
        self.where = where or (lambda call: True)

    def disarm(self) -> None:
        self.fault_at = None

    def actions(self) -> list[str]:
        return [c.action for c in self.calls]

    def handle(self, call: Call, proceed: Callable[[], dict]) -> dict:
        self.calls.append(call)
        if self.fault_at is not None and self.where(call):
            index, self._seen = self._seen, self._seen + 1
            if index == self.fault_at:
                self.fault_at = None  # one fault per arming: the retry must be able to succeed
                self.injected.append(call)
                if FAULTS[self.fault_kind]:
                    proceed()
                raise make_fault(self.fault_kind, call)
        return proceed()


@contextmanager
def aws_calls() -> Iterator[AwsCalls]:
    recorder = AwsCalls()
    original = BaseClient._make_api_call

    def _make_api_call(client, operation_name, api_params):
        service = client.meta.service_model.signing_name
        call = Call(service, operation_name, dict(api_params))
        return recorder.handle(call, lambda: original(client, operation_name, api_params))

    BaseClient._make_api_call = _make_api_call
    try:
        yield recorder
    finally:
        BaseClient._make_api_call = original
