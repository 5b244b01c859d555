"""A Lambda runtime client for the python3.x runtimes, run as the function's
process by the host executor: it imports the handler named by _HANDLER from
LAMBDA_TASK_ROOT, then loops on the Runtime API at AWS_LAMBDA_RUNTIME_API,
calling the handler with each event and a context, as AWS's own runtime does.

Standard library only: it runs outside LocalStack, in a process of its own.
"""

import importlib
import json
import os
import sys
import time
import traceback
import urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"


def post(path, body, error_type=None):
    data = json.dumps(body).encode()
    req = urllib.request.Request(API + path, data=data, method="POST")
    req.add_header("Content-Type", "application/json")
    if error_type:
        req.add_header("Lambda-Runtime-Function-Error-Type", error_type)
    urllib.request.urlopen(req).read()


def error_body(e, error_type=None):
    return {
        "errorMessage": str(e),
        "errorType": error_type or type(e).__name__,
        "stackTrace": traceback.format_tb(e.__traceback__),
    }


class Context:
    """The context object AWS's Python runtime passes to a handler."""

    def __init__(self, request_id, arn, deadline_ms):
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


def load_handler():
    module_name, _, function_name = os.environ.get("_HANDLER", "").rpartition(".")
    if not module_name or not function_name:
        raise ValueError(f"Bad handler '{os.environ.get('_HANDLER', '')}': use module.function")
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as e:
        raise ImportError(f"Unable to import module '{module_name}': {e}") from e
    handler = getattr(module, function_name, None)
    if handler is None:
        raise AttributeError(
            f"Handler '{function_name}' missing on module '{module_name}'"
        )
    return handler


def main():
    try:
        handler = load_handler()
    except ImportError as e:
        post("/init/error", error_body(e, "Runtime.ImportModuleError"), "Runtime.ImportModuleError")
        return 1
    except Exception as e:
        post("/init/error", error_body(e, "Runtime.HandlerNotFound"), "Runtime.HandlerNotFound")
        return 1
    while True:
        with urllib.request.urlopen(API + "/invocation/next") as r:
            request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
            arn = r.headers.get("Lambda-Runtime-Invoked-Function-Arn", "")
            deadline = int(r.headers.get("Lambda-Runtime-Deadline-Ms") or 0)
            body = r.read()
        try:
            event = json.loads(body) if body else {}
            result = handler(event, Context(request_id, arn, deadline))
            post(f"/invocation/{request_id}/response", result)
        except Exception as e:
            print(f"[ERROR] {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            post(f"/invocation/{request_id}/error", error_body(e), "Unhandled")


if __name__ == "__main__":
    sys.exit(main())
