"""The Lambda Runtime API for one execution environment, on loopback.

A function's process (our Python runtime client, or a provided.al2023
bootstrap such as lambda-rollout itself) polls GET /invocation/next, and
answers with POST /invocation/<id>/response or /error, or /init/error if it
cannot start: the interface AWS documents at
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html. The executor
hands each invocation in with `invoke` and waits for its answer.
"""

import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


class Answer:
    """What the function said about one invocation, or about its start."""

    def __init__(self, body: bytes, is_error: bool, error_type: str | None = None):
        self.body = body
        self.is_error = is_error
        self.error_type = error_type


class RuntimeApi:
    """One environment's Runtime API server on 127.0.0.1, an ephemeral port."""

    def __init__(self, function_arn: str):
        self.function_arn = function_arn
        self._next = queue.Queue()
        self._answers = {}
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        # Set when the process first asks for work (ready) or reports an init error.
        self.ready = threading.Event()
        self.init_error: Answer | None = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _reply(self, status: int, body: bytes = b"", headers=None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != f"{PREFIX}/invocation/next":
                    return self._reply(404)
                api.ready.set()
                inv = api._next.get()
                if inv is None:  # shutting down
                    return self._reply(500, b'{"errorMessage":"environment stopping"}')
                self._reply(
                    200,
                    inv["payload"],
                    {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": inv["id"],
                        "Lambda-Runtime-Deadline-Ms": str(inv["deadline_ms"]),
                        "Lambda-Runtime-Invoked-Function-Arn": inv["arn"],
                        "Lambda-Runtime-Trace-Id": inv.get("trace", ""),
                    },
                )

            def do_POST(self):
                body = self._body()
                path = self.path
                if path == f"{PREFIX}/init/error":
                    api.init_error = Answer(
                        body, True, self.headers.get("Lambda-Runtime-Function-Error-Type")
                    )
                    api.ready.set()
                    return self._reply(202, b'{"status":"OK"}')
                parts = path[len(PREFIX) :].strip("/").split("/")
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    is_error = parts[2] == "error"
                    answer = Answer(
                        body, is_error, self.headers.get("Lambda-Runtime-Function-Error-Type")
                    )
                    with api._cond:
                        api._answers[parts[1]] = answer
                        api._cond.notify_all()
                    return self._reply(202, b'{"status":"OK"}')
                self._reply(404)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                # The function's process was stopped mid-request (a timeout,
                # the environment stopping): nothing to report.
                pass

        self._server = Server(("127.0.0.1", 0), Handler)
        # A short poll: stopping an environment waits for the loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="lambda-runtime-api",
            daemon=True,
        )
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def invoke(self, request_id: str, payload: bytes, arn: str, timeout_s: float, alive) -> Answer | None:
        """Hands the invocation to the process; its answer, or None if it gave
        none within `timeout_s` or `alive()` turned false (the process died)."""
        deadline = time.time() + timeout_s
        self._next.put(
            {
                "id": request_id,
                "payload": payload,
                "arn": arn,
                "deadline_ms": int(deadline * 1000),
            }
        )
        with self._cond:
            while request_id not in self._answers:
                left = deadline - time.time()
                if left <= 0 or not alive():
                    return None
                self._cond.wait(timeout=min(left, 0.05))
            return self._answers.pop(request_id)

    def shutdown(self):
        self._next.put(None)
        self._server.shutdown()
        self._server.server_close()
