"""Runs one handler of `sam build`'s output the way Lambda runs it, and reports what it imported.

Started by tests/infra/test_built_artifact.py as `python3.13 -I -S -B built_handler.py SPEC_JSON`: no
site-packages of that interpreter, no project path; only the function's folder, the layer's
`python/` folder and the standard library, in Lambda's order. Every AWS endpoint is a closed
loopback port, so each call fails at once: the handler's answer does not matter, only that nothing
it reaches is missing from the build. Prints one JSON line: the error, if an import failed, and
the top-level modules imported from the build.
"""

import importlib
import json
import os
import sys
import sysconfig
import time


class Context:
    def __init__(self, name: str, timeout: float):
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = "built-artifact-check"
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "built"
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> None:
    spec = json.loads(sys.argv[1])
    sys.path[:0] = [spec["function_dir"], spec["layer_dir"]]  # /var/task, then /opt/python
    os.environ.update(spec["environment"])
    module_name, attribute = spec["handler"].rsplit(".", 1)
    error = None
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
        for event in spec["events"]:
            try:
                handler(event, Context(spec["name"], spec["timeout"]))
            except ImportError:
                raise
            except Exception:  # noqa: S112 - every AWS call fails here; only a missing module matters
                continue
    except ImportError as err:
        error = f"{type(err).__name__}: {err}"
    stdlib = {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
    built, outside = set(), set()
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not path or name.startswith("__"):  # the script itself (__main__, __mp_main__)
            continue
        if path.startswith((spec["layer_dir"], spec["function_dir"])):
            built.add(name.split(".")[0])
        elif not any(path.startswith(root) for root in stdlib):
            outside.add(f"{name} ({path})")
    print(json.dumps({"error": error, "built": sorted(built), "outside": sorted(outside),
                      "python": sys.version.split()[0]}))


if __name__ == "__main__":
    main()
