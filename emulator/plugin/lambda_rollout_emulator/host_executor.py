"""A Lambda runtime executor that runs functions as local processes.

There is no Docker engine on our machines. Each execution environment here is
a process on this machine speaking the Lambda Runtime API to a small server of
its own on 127.0.0.1 (runtime_api.py): for the python3.x runtimes our runtime
client (python_runtime.py) under LocalStack's own interpreter, for
provided.al2023 / provided.al2 the function's `bootstrap`, which must be built
for this machine. What AWS does and this does too: the function's environment
variables, its timeout (an overrun is an error, and the environment is
replaced), warm reuse of a started process, init errors reported on invoke,
a raising handler as a function error. Every process is started in a session
of its own and stopped by its PID (its whole group) when the environment
stops; nothing listens beyond loopback.
"""

import fcntl
import json
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
import uuid
from pathlib import Path

from localstack.services.lambda_.invocation.lambda_models import InvocationResult
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

from .runtime_api import RuntimeApi

PYTHON_CLIENT = Path(__file__).with_name("python_runtime.py")
PROVIDED = ("provided.al2023", "provided.al2", "provided")
# How long a process may take to reach its first GET /next (AWS: 10 s init).
INIT_TIMEOUT_S = 10.0
# Logs kept per environment.
MAX_LOG_BYTES = 1 << 20
# Where each running function process leaves its PID, so that stopping the
# emulator (scripts/emulator.sh down) can stop any LocalStack left behind,
# even when LocalStack itself had to be killed.
PID_DIR = os.environ.get("LAMBDA_ROLLOUT_PID_DIR")


def supported(runtime: str | None) -> bool:
    return bool(runtime) and (runtime.startswith("python3") or runtime in PROVIDED)


def error_payload(message: str, error_type: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


class HostRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id, function_version):
        super().__init__(id, function_version)
        self.env_vars: dict[str, str] = {}
        self.process: subprocess.Popen | None = None
        self.api: RuntimeApi | None = None
        self.logs = bytearray()
        self.lock = threading.Lock()

    # --- lifecycle -------------------------------------------------------
    def start(self, env_vars):
        runtime = self.function_version.config.runtime
        if not supported(runtime):
            raise LambdaRuntimeException(
                f"runtime {runtime!r} cannot run in the lambda-rollout emulator: its host "
                f"executor runs python3.x and provided.al2023 (a bootstrap built for this machine)"
            )
        self.env_vars = {k: str(v) for k, v in env_vars.items()}
        with self.lock:
            self._spawn()

    def _code_dir(self) -> Path:
        code = self.function_version.config.code
        code.prepare_for_execution()
        return code.get_unzipped_code_location()

    def _command(self, code_dir: Path) -> list[str]:
        runtime = self.function_version.config.runtime
        if runtime in PROVIDED:
            bootstrap = code_dir / "bootstrap"
            if not bootstrap.is_file():
                raise LambdaRuntimeException(
                    f"a {runtime} function needs an executable named bootstrap at the root of "
                    f"its zip; {self.function_version.qualified_arn} has none"
                )
            bootstrap.chmod(bootstrap.stat().st_mode | 0o111)
            return [str(bootstrap)]
        return [sys.executable, "-u", str(PYTHON_CLIENT)]

    def _spawn(self):
        """A fresh process and Runtime API; waits until it asks for work, fails
        to start (its init error is kept for the next invoke), or exits."""
        self._teardown()
        code_dir = self._code_dir()
        self.api = RuntimeApi(self.function_version.qualified_arn)
        env = dict(self.env_vars)
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": self.api.address,
                "LAMBDA_TASK_ROOT": str(code_dir),
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": os.environ.get("HOME", "/tmp"),
            }
        )
        # AWS_ENDPOINT_URL points functions at LocalStack itself, as in its
        # containers; on loopback here.
        self.process = subprocess.Popen(
            self._command(code_dir),
            cwd=code_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if PID_DIR:
            Path(PID_DIR).mkdir(parents=True, exist_ok=True)
            (Path(PID_DIR) / str(self.process.pid)).write_text(self.id)
        threading.Thread(target=self._collect_logs, args=(self.process,), daemon=True).start()
        deadline = time.time() + INIT_TIMEOUT_S
        while time.time() < deadline and not self.api.ready.is_set():
            if self.process.poll() is not None:
                break
            self.api.ready.wait(0.02)

    def _collect_logs(self, process):
        # Raw reads of the pipe (never its buffered reader), so that what is
        # still unread is what the pipe holds: _drain can see it.
        fd = process.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                self.logs += chunk
                if len(self.logs) > MAX_LOG_BYTES:
                    del self.logs[: len(self.logs) - MAX_LOG_BYTES]

    def _drain(self):
        """Waits until what the function wrote before it answered is read.

        Lambda's log of an invocation (and Invoke's LogType Tail) holds all
        the function wrote before its answer; the reader thread may still be
        behind when the answer arrives (a DEBUG-level function writes
        kilobytes just before it). The pipe holds nothing unread, twice a
        few milliseconds apart, or half a second has passed.
        """
        process = self.process
        if process is None or process.stdout is None:
            return
        fd = process.stdout.fileno()
        deadline = time.monotonic() + 0.5
        quiet = 0
        while time.monotonic() < deadline and quiet < 2:
            try:
                unread = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
            except OSError:
                return
            quiet = quiet + 1 if unread == 0 else 0
            time.sleep(0.005)

    def _teardown(self):
        if self.process is not None and self.process.poll() is None:
            try:
                # As Lambda does on shutdown: SIGTERM, then SIGKILL shortly after.
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=0.5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait()
        if self.process is not None and PID_DIR:
            (Path(PID_DIR) / str(self.process.pid)).unlink(missing_ok=True)
        self.process = None
        if self.api is not None:
            self.api.shutdown()
            self.api = None

    def stop(self):
        with self.lock:
            self._teardown()

    # --- invocations -----------------------------------------------------
    def _alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _failed_start(self) -> bytes | None:
        """Why the process is not ready to take an invocation, if it is not."""
        if self.api.init_error is not None:
            return self.api.init_error.body
        if not self._alive():
            code = self.process.returncode if self.process else None
            return error_payload(
                f"Runtime exited with error: exit status {code} before it asked for an "
                f"invocation (Runtime.ExitError)",
                "Runtime.ExitError",
            )
        if not self.api.ready.is_set():
            return error_payload(
                f"the function did not reach the Runtime API within {INIT_TIMEOUT_S:.0f} s",
                "Runtime.InitTimeout",
            )
        return None

    def invoke(self, payload):
        request_id = payload.get("invoke-id") or str(uuid.uuid4())
        timeout_s = float(self.function_version.config.timeout or 3)
        with self.lock:
            if self.api is None or not self._alive() or self.api.init_error is not None:
                self._spawn()
            log_start = len(self.logs)
            failed = self._failed_start()
            api = self.api
        if failed is not None:
            # As in AWS, a failed init is the invocation's error, and the next
            # invocation starts the function again.
            with self.lock:
                self._teardown()
            return self._result(request_id, failed, True, log_start)
        arn = payload.get("invoked-function-arn") or self.function_version.qualified_arn
        body = (payload.get("payload") or "").encode()
        handed = time.perf_counter()
        answer = api.invoke(request_id, body, arn, timeout_s, self._alive)
        if answer is not None:
            self._drain()
            result = self._result(request_id, answer.body, answer.is_error, log_start)
            # Lambda's Duration metric is the time the code spent on the
            # event: from handing it over to the answer, no start-up in it.
            result.duration_ms = (time.perf_counter() - handed) * 1000
            return result
        timed_out = self._alive()
        with self.lock:
            code = self.process.returncode if self.process else None
            self._teardown()
        if timed_out:
            message = f"Task timed out after {timeout_s:.2f} seconds"
            return self._result(request_id, error_payload(message, "Sandbox.Timedout"), True, log_start)
        message = f"Runtime exited with error: exit status {code} (Runtime.ExitError)"
        return self._result(request_id, error_payload(message, "Runtime.ExitError"), True, log_start)

    def _result(self, request_id, body, is_error, log_start):
        with self.lock:
            logs = bytes(self.logs[log_start:]).decode(errors="replace")
        return InvocationResult(request_id, body, is_error=is_error, logs=logs)

    # --- the rest of the interface ---------------------------------------
    def get_address(self):
        return "127.0.0.1"

    def get_endpoint_from_executor(self):
        return "127.0.0.1"

    def get_runtime_endpoint(self):
        return f"http://127.0.0.1/_localstack_lambda/{self.id}"

    def get_logs(self):
        with self.lock:
            return bytes(self.logs).decode(errors="replace")

    @classmethod
    def prepare_version(cls, function_version):
        runtime = function_version.config.runtime
        if not supported(runtime):
            raise LambdaRuntimeException(
                f"runtime {runtime!r} cannot run in the lambda-rollout emulator: its host "
                f"executor runs python3.x and provided.al2023 (a bootstrap built for this machine)"
            )
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version):
        pass


class HostRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "lambda-rollout-host"

    def load(self, *args, **kwargs):
        return HostRuntimeExecutor
