"""Start-up fixes for defects of localstack-core 2026.3.0 (the pinned version).

Each one is small, patches one method, and names the defect it works around.
"""

import threading

from localstack.runtime import hooks

# The FunctionVersion an UpdateAlias call will point at, handed from the patched
# update_alias to the patched routing-config builder of the same request.
_target = threading.local()


@hooks.on_infra_start()
def fix_update_alias_routing():
    """UpdateAlias with a non-empty RoutingConfig answers 500.

    Upstream defect: LambdaProvider.update_alias calls
    self._create_routing_config_model(routing_config_dict) without its second
    argument, the FunctionVersion the alias points at after the update
    ("missing 1 required positional argument: 'function_version'"); create_alias
    passes it. We resolve that version the way create_alias does (the request's
    FunctionVersion if given, else the alias's current one) and supply it.
    """
    from localstack.services.lambda_ import api_utils
    from localstack.services.lambda_.provider import LambdaProvider
    from localstack.services.lambda_.provider_utils import get_function_version
    from localstack.utils.patch import patch

    @patch(LambdaProvider._create_routing_config_model)
    def _create_routing_config_model(fn, self, routing_config_dict, function_version=None):
        if function_version is None:
            function_version = getattr(_target, "version", None)
        return fn(self, routing_config_dict, function_version)

    @patch(LambdaProvider.update_alias)
    def update_alias(fn, self, context, function_name, name, *args, **kwargs):
        routing = kwargs.get("routing_config") or {}
        _target.version = None
        if routing.get("AdditionalVersionWeights"):
            account_id, region = api_utils.get_account_and_region(function_name, context)
            plain_name = api_utils.get_function_name(function_name, context)
            qualifier = kwargs.get("function_version")
            if qualifier is None:
                function = self._get_function(
                    function_name=plain_name, region=region, account_id=account_id
                )
                alias = function.aliases.get(name)
                qualifier = alias.function_version if alias else None
            if qualifier is not None:
                _target.version = get_function_version(
                    function_name=plain_name,
                    qualifier=qualifier,
                    region=region,
                    account_id=account_id,
                )
        try:
            return fn(self, context, function_name, name, *args, **kwargs)
        finally:
            _target.version = None
