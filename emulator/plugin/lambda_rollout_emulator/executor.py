"""A Lambda runtime executor that never starts anything.

There is no Docker engine on our machines, and the emulator is only our control
plane (functions, versions, aliases) and metrics store: with the default docker
executor every CreateFunction ends in state Failed. With this one, versions become
Active at once; Invoke fails with a clear message, which no test relies on.
"""

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)


class NoopRuntimeExecutor(RuntimeExecutor):
    def start(self, env_vars):
        raise LambdaRuntimeException(
            "the lambda-rollout emulator runs no function code (no-op runtime executor)"
        )

    def stop(self):
        pass

    def get_address(self):
        return "127.0.0.1"

    def get_endpoint_from_executor(self):
        return "127.0.0.1"

    def get_runtime_endpoint(self):
        return "http://127.0.0.1:4566/_localstack_lambda/" + self.id

    def invoke(self, payload):
        raise LambdaRuntimeException("the lambda-rollout emulator runs no function code")

    def get_logs(self):
        return ""

    @classmethod
    def prepare_version(cls, function_version):
        pass

    @classmethod
    def cleanup_version(cls, function_version):
        pass


class NoopRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "lambda-rollout-noop"

    def load(self, *args, **kwargs):
        return NoopRuntimeExecutor
