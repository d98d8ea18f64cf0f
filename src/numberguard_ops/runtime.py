"""Runs the template's Lambda handlers in this process, the way `sam local` runs them in containers.

Each AWS::Serverless::Function is imported from `<CodeUri>/<module>.py` by path under a unique
module name, and invoked with a Lambda-like context. The result mirrors what the Lambda service
returns: the handler's JSON, or an error document `{"errorMessage", "errorType", "requestId",
"stackTrace"}` flagged as a function error (`Unhandled`), including Lambda's own runtime errors
(`Runtime.ImportModuleError`, `Runtime.HandlerNotFound`, `Runtime.MarshalError`,
`Sandbox.Timedout`).

The local Lambda invoke API serves this runtime today; the webhook API and the evaluator timer
of local mode invoke functions through the same `FunctionRuntime`.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from numberguard_ops import template

ACCOUNT_ID = "123456789012"  # the account id sam local shows in ARNs
REGION = "us-east-1"
DEFAULT_TIMEOUT = 3  # Lambda's default when the template says nothing
DEFAULT_MEMORY = 128


@dataclass(frozen=True)
class FunctionSpec:
    """One function of the template: where its code is and how it is configured."""

    name: str  # the logical id, e.g. LimitCheckFunction
    code_uri: Path
    handler: str  # module.attribute, e.g. app.lambda_handler
    environment: dict[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT
    memory_mb: int = DEFAULT_MEMORY

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.name}"


def _setting(logical_id: str, name: str, default: Any, doc: dict) -> Any:
    props = doc["Resources"][logical_id].get("Properties", {})
    globals_ = doc.get("Globals", {}).get("Function", {})
    value = props.get(name, globals_.get(name, default))
    return value if isinstance(value, int | float) else default


def specs_from_template(doc: dict | None = None, overrides: dict[str, str] | None = None) -> list[FunctionSpec]:
    """Every AWS::Serverless::Function of template.yaml, with its environment as deployed (parameters
    at their defaults, or `overrides`, as `sam local --parameter-overrides`)."""
    doc = doc or template.load()
    return [
        FunctionSpec(
            name=logical_id,
            code_uri=Path(fn["code_uri"]),
            handler=fn["handler"],
            environment=template.function_environment(logical_id, doc, overrides),
            timeout=_setting(logical_id, "Timeout", DEFAULT_TIMEOUT, doc),
            memory_mb=_setting(logical_id, "MemorySize", DEFAULT_MEMORY, doc),
        )
        for logical_id, fn in template.functions(doc).items()
    ]


class LambdaContext:
    """The context object a Python handler receives on Lambda (the attributes handlers use)."""

    def __init__(self, spec: FunctionSpec, request_id: str, deadline: float):
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = "local/[$LATEST]numberguard"
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Invocation:
    """What the Lambda service would answer: the payload (JSON text) and whether it is an error."""

    request_id: str
    payload: str
    function_error: str | None = None  # "Unhandled" when the payload is an error document
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.function_error is None

    def json(self) -> Any:
        return json.loads(self.payload)


def error_document(error_type: str, message: str, request_id: str, stack: list[str] | None = None) -> str:
    return json.dumps(
        {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack or []}
    )


class LoadedFunction:
    """A function's handler, imported once (a warm container), or the error that stopped it."""

    def __init__(self, spec: FunctionSpec):
        self.spec = spec
        self.handler: Callable[[Any, Any], Any] | None = None
        self.load_error: tuple[str, str] | None = None  # (errorType, errorMessage)
        self.module: ModuleType | None = None

    def load(self) -> None:
        module_name, _, attribute = self.spec.handler.rpartition(".")
        if not module_name or not attribute:
            self.load_error = ("Runtime.MalformedHandlerName", f"Bad handler '{self.spec.handler}': not enough values")
            return
        path = self.spec.code_uri / (module_name.replace(".", "/") + ".py")
        unique = f"numberguard_local_{self.spec.name}_{module_name.replace('.', '_')}"
        try:
            spec = importlib.util.spec_from_file_location(unique, path)
            if spec is None or spec.loader is None or not path.is_file():
                raise ModuleNotFoundError(f"No module named '{module_name}' ({path.name} not found in CodeUri)")
            module = importlib.util.module_from_spec(spec)
            sys.modules[unique] = module
            # Lambda puts the code folder first on sys.path: sibling modules import as on AWS.
            code_dir = str(self.spec.code_uri)
            sys.path.insert(0, code_dir)
            try:
                spec.loader.exec_module(module)
            finally:
                if code_dir in sys.path:
                    sys.path.remove(code_dir)
        except Exception as err:
            sys.modules.pop(unique, None)
            self.load_error = ("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {err}")
            return
        handler = getattr(module, attribute, None)
        if not callable(handler):
            self.load_error = ("Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'")
            return
        self.module = module
        self.handler = handler


class FunctionRuntime:
    """The template's functions, loaded in this process, invoked with Lambda's semantics."""

    def __init__(self, specs: list[FunctionSpec], log: Callable[[str], None] | None = None):
        self.functions = {s.name: LoadedFunction(s) for s in specs}
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))

    @property
    def names(self) -> list[str]:
        return list(self.functions)

    def load(self) -> list[str]:
        """Import every handler (call after the environment is set); returns one line per failure."""
        problems = []
        for fn in self.functions.values():
            fn.load()
            if fn.load_error:
                problems.append(f"{fn.spec.name}: {fn.load_error[0]}: {fn.load_error[1]}")
        return problems

    def require(self, name: str) -> LoadedFunction:
        """A function the template itself names (a route's, a schedule's, a subscription's): always there."""
        fn = self.resolve(name)
        if fn is None:
            raise LookupError(f"the template names a function it does not define: {name}")
        return fn

    def resolve(self, name_or_arn: str) -> LoadedFunction | None:
        """A function by name, full ARN or partial ARN (`123456789012:function:Name`), as Lambda accepts."""
        name = name_or_arn
        if name.startswith("arn:"):
            parts = name.split(":")
            if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
                return None
            name = parts[6]
            if len(parts) == 8 and parts[7] != "$LATEST":
                return None
        elif ":function:" in name:
            name = name.split(":function:", 1)[1]
            if ":" in name:
                name, qualifier = name.split(":", 1)
                if qualifier != "$LATEST":
                    return None
        elif ":" in name:
            name, qualifier = name.split(":", 1)
            if qualifier != "$LATEST":
                return None
        return self.functions.get(name)

    def invoke(self, fn: LoadedFunction, event: Any, request_id: str | None = None) -> Invocation:
        request_id = request_id or str(uuid.uuid4())
        started = time.monotonic()
        handler = fn.handler
        if fn.load_error or handler is None:
            error_type, message = fn.load_error or ("Runtime.HandlerNotFound", "the handler is not loaded")
            self.log(f"[ERROR] {fn.spec.name} {request_id}: {error_type}: {message}")
            return Invocation(request_id, error_document(error_type, message, request_id), "Unhandled")
        deadline = started + fn.spec.timeout
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["result"] = handler(event, LambdaContext(fn.spec, request_id, deadline))
            except BaseException as err:  # everything a handler raises is a function error
                outcome["error"] = err

        # Run in a worker so a handler that overruns its Timeout gets Lambda's timeout answer.
        worker = threading.Thread(target=run, name=f"{fn.spec.name}-{request_id[:8]}", daemon=True)
        worker.start()
        worker.join(fn.spec.timeout)
        duration = (time.monotonic() - started) * 1000
        if worker.is_alive():
            message = f"RequestId: {request_id} Error: Task timed out after {fn.spec.timeout:.2f} seconds"
            self.log(f"[ERROR] {fn.spec.name} {message}")
            return Invocation(request_id, error_document("Sandbox.Timedout", message, request_id), "Unhandled",
                              duration)
        if "error" in outcome:
            err = outcome["error"]
            frames = traceback.extract_tb(err.__traceback__)[1:]  # drop this runtime's own frame
            stack = traceback.format_list(frames)
            error_type = type(err).__name__
            self.log(f"[ERROR] {fn.spec.name} {request_id}: {error_type}: {err}\n" + "".join(stack).rstrip())
            return Invocation(request_id, error_document(error_type, str(err), request_id, stack), "Unhandled",
                              duration)
        try:
            payload = json.dumps(outcome.get("result"))
        except (TypeError, ValueError) as err:
            message = f"Unable to marshal response: {err}"
            self.log(f"[ERROR] {fn.spec.name} {request_id}: Runtime.MarshalError: {message}")
            return Invocation(request_id, error_document("Runtime.MarshalError", message, request_id), "Unhandled",
                              duration)
        return Invocation(request_id, payload, None, duration)
