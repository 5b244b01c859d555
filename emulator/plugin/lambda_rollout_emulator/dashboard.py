"""AWS::CloudWatch::Dashboard for the emulator's CloudFormation.

Upstream defect: localstack-core 2026.3.0 has no resource provider for
AWS::CloudWatch::Dashboard; its CloudFormation marks the resource
CREATE_COMPLETE "as a fallback" with the physical id "unknown", so a stack's
dashboard (and an output naming it) only seems to deploy. This provider puts
the dashboard with the emulator's own PutDashboard and, as AWS's PutDashboard
does and the emulator's does not, refuses a body that is not a JSON object
with a widgets array.
"""

import json

from localstack.services.cloudformation.provider_utils import generate_default_name
from localstack.services.cloudformation.resource_provider import (
    CloudFormationResourceProviderPlugin,
    OperationStatus,
    ProgressEvent,
    ResourceProvider,
)


def _body_problem(body):
    """Why AWS's PutDashboard would refuse the body, or None."""
    try:
        doc = json.loads(body)
    except (TypeError, ValueError) as e:
        return f"DashboardBody is not JSON: {e}"
    if not isinstance(doc, dict) or not isinstance(doc.get("widgets"), list):
        return "DashboardBody must be a JSON object with a widgets array"
    if len(doc["widgets"]) > 500:
        return "a dashboard holds at most 500 widgets"
    return None


class DashboardProvider(ResourceProvider):
    TYPE = "AWS::CloudWatch::Dashboard"
    SCHEMA = {
        "typeName": "AWS::CloudWatch::Dashboard",
        "additionalProperties": False,
        "properties": {
            "DashboardName": {"type": "string"},
            "DashboardBody": {"type": "string"},
        },
        "required": ["DashboardBody"],
        "createOnlyProperties": ["/properties/DashboardName"],
        "primaryIdentifier": ["/properties/DashboardName"],
    }

    def _put(self, request):
        model = request.desired_state
        problem = _body_problem(model.get("DashboardBody"))
        if problem:
            return ProgressEvent(
                status=OperationStatus.FAILED, resource_model=model, message=problem
            )
        if not model.get("DashboardName"):
            model["DashboardName"] = generate_default_name(
                stack_name=request.stack_name, logical_resource_id=request.logical_resource_id
            )
        request.aws_client_factory.cloudwatch.put_dashboard(
            DashboardName=model["DashboardName"], DashboardBody=model["DashboardBody"]
        )
        return ProgressEvent(
            status=OperationStatus.SUCCESS,
            resource_model=model,
            custom_context=request.custom_context,
        )

    def create(self, request):
        return self._put(request)

    def update(self, request):
        # The name is create-only: an update puts a new body under it.
        request.desired_state["DashboardName"] = request.previous_state.get("DashboardName")
        return self._put(request)

    def delete(self, request):
        model = request.desired_state
        request.aws_client_factory.cloudwatch.delete_dashboards(
            DashboardNames=[model["DashboardName"]]
        )
        return ProgressEvent(
            status=OperationStatus.SUCCESS,
            resource_model=model,
            custom_context=request.custom_context,
        )

    def read(self, request):
        raise NotImplementedError


class DashboardProviderPlugin(CloudFormationResourceProviderPlugin):
    name = "AWS::CloudWatch::Dashboard"

    def __init__(self):
        self.factory = None

    def load(self):
        self.factory = DashboardProvider
