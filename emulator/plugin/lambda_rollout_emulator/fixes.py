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


# Below the default priority: runs after fix_update_alias_routing, so that its
# lock is the outermost wrapper of update_alias and covers that fix's reads too.
@hooks.on_infra_start(priority=-10)
def fix_alias_writes_atomic():
    """Concurrent alias writes lose updates; a compare-and-swap is undone.

    Upstream defect: LambdaProvider.update_alias reads the alias, checks the
    RevisionId, builds the new alias from the one it read and stores it, with
    no lock, and requests run in a thread pool. An UpdateAlias without
    RevisionId (a human in the console) that read the alias before a
    concurrent compare-and-swap stored its write then stores the old alias
    with its own change: the compare-and-swap applied, was answered 200, and
    is gone. AWS serializes writes to an alias. We hold one lock over every
    alias write (create, update, delete); they are in-memory and short.
    """
    from localstack.services.lambda_.provider import LambdaProvider
    from localstack.utils.patch import patch

    lock = threading.Lock()

    def serialized(method):
        @patch(method)
        def write(fn, self, *args, **kwargs):
            with lock:
                return fn(self, *args, **kwargs)

    for method in (
        LambdaProvider.create_alias,
        LambdaProvider.update_alias,
        LambdaProvider.delete_alias,
    ):
        serialized(method)


@hooks.on_infra_start()
def fix_dimension_value_prefix_match():
    """A query for ExecutedVersion=1 also returns ExecutedVersion=12's data.

    Upstream defect: CloudwatchDatabase searches stored dimensions with
    LIKE '%Name=Value%', so a value matches every value it is a prefix of
    (version 1 of 10, 11, 12...; function "hello" of "hello-2"). Stored
    dimensions end each Name=Value with a tab; the search pattern now does too.
    """
    from localstack.services.cloudwatch.cloudwatch_database_helper import CloudwatchDatabase
    from localstack.utils.patch import patch

    @patch(CloudwatchDatabase._get_ordered_dimensions_with_separator)
    def _get_ordered_dimensions_with_separator(fn, self, dims, for_search=False):
        if not for_search or not dims:
            return fn(self, dims, for_search)
        dims.sort(key=lambda d: d["Name"])
        return "".join(f"%{d.get('Name')}={d.get('Value', '')}\t" for d in dims) + "%"



@hooks.on_infra_start()
def fix_percentile_statistics():
    """GetMetricData with a percentile statistic (p99, p90.5, ...) answers 500.

    Upstream defect: CloudwatchDatabase.get_metric_data_stat looks the
    statistic up in a table of Sum/Average/Minimum/Maximum/SampleCount only
    (KeyError). For pNN we compute the nearest-rank percentile of the raw values
    stored per period (values put with Value or Values/Counts; a StatisticSet
    carries no distribution, as in AWS).
    """
    import math
    import re
    import sqlite3

    from localstack.services.cloudwatch.cloudwatch_database_helper import CloudwatchDatabase
    from localstack.utils.patch import patch

    percentile = re.compile(r"^p(\d{1,2}(\.\d+)?)$")

    @patch(CloudwatchDatabase.get_metric_data_stat)
    def get_metric_data_stat(fn, self, account_id, region, query, start_time, end_time, scan_by):
        stat = query.get("MetricStat", {}).get("Stat", "")
        m = percentile.match(stat)
        if not m:
            return fn(self, account_id, region, query, start_time, end_time, scan_by)
        p = float(m.group(1))
        metric = query["MetricStat"]["Metric"]
        period = int(query["MetricStat"]["Period"])
        start = self._convert_timestamp_to_unix(start_time)
        end = self._convert_timestamp_to_unix(end_time)
        dims = metric.get("Dimensions", [])
        sql = (
            f"SELECT timestamp, value FROM {self.TABLE_SINGLE_METRICS} "
            "WHERE account_id = ? AND region = ? AND namespace = ? AND metric_name = ? "
            + ("AND dimensions LIKE ? " if dims else "AND dimensions is null ")
            + "AND timestamp >= ? AND timestamp < ?"
        )
        args = [account_id, region, metric.get("Namespace"), metric.get("MetricName")]
        if dims:
            args.append(self._get_ordered_dimensions_with_separator(dims, for_search=True))
        args += [start, end]
        with self.DATABASE_LOCK, sqlite3.connect(self.METRICS_DB_READ_ONLY, uri=True) as conn:
            rows = conn.execute(sql, args).fetchall()
        buckets = {}
        for ts, value in rows:
            buckets.setdefault(start + (int(ts) - start) // period * period, []).append(value)
        timestamps = sorted(buckets)
        values = []
        for t in timestamps:
            vs = sorted(buckets[t])
            values.append(vs[max(0, math.ceil(p / 100 * len(vs)) - 1)])
        if scan_by is None or scan_by == "TimestampDescending":
            timestamps, values = timestamps[::-1], values[::-1]
        return {"timestamps": timestamps, "values": values}


@hooks.on_infra_start()
def fix_metric_math_expressions():
    """GetMetricData with a metric-math query (Expression) answers 500.

    Upstream defect: CloudwatchProvider.get_metric_data reads
    query["MetricStat"] of every query (KeyError on an Expression query) and
    evaluates none; it also returns queries with ReturnData false. We answer
    the MetricStat queries upstream, then evaluate each expression per
    timestamp over the series it names, the way CloudWatch aligns them: a
    timestamp missing from any named series has no result. Arithmetic only
    (+ - * / and parentheses over ids and numbers), which is what the tests
    use; functions such as SUM or IF are refused with a clear message.
    """
    import re

    from localstack.aws.api import CommonServiceException
    from localstack.services.cloudwatch.provider_v2 import CloudwatchProvider
    from localstack.utils.patch import patch

    token = re.compile(r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|([A-Za-z_][A-Za-z0-9_]*)|(.))")

    def parse(expression):
        """Tokens into a tree: ("num", x) | ("id", name) | (op, left, right) | ("neg", e)."""
        tokens = []
        for number, name, other in token.findall(expression):
            if number:
                tokens.append(("num", float(number)))
            elif name:
                tokens.append(("id", name))
            elif other.strip():
                tokens.append(("op", other))
        pos = 0

        def peek():
            return tokens[pos] if pos < len(tokens) else ("end", None)

        def take():
            nonlocal pos
            pos += 1
            return tokens[pos - 1]

        def refuse(why):
            raise CommonServiceException(
                "ValidationError",
                f"the emulator's metric math supports + - * / ( ) over ids and numbers: {why} "
                f"in {expression!r}",
            )

        def atom():
            kind, value = peek()
            if kind == "num":
                take()
                return ("num", value)
            if kind == "id":
                take()
                if peek() == ("op", "("):
                    refuse(f"function {value}")
                return ("id", value)
            if (kind, value) == ("op", "("):
                take()
                e = sum_()
                if take() != ("op", ")"):
                    refuse("unbalanced parentheses")
                return e
            if (kind, value) == ("op", "-"):
                take()
                return ("neg", atom())
            refuse(f"unexpected {value!r}")

        def product():
            e = atom()
            while peek() in (("op", "*"), ("op", "/")):
                e = (take()[1], e, atom())
            return e

        def sum_():
            e = product()
            while peek() in (("op", "+"), ("op", "-")):
                e = (take()[1], e, product())
            return e

        tree = sum_()
        if pos != len(tokens):
            refuse(f"unexpected {tokens[pos][1]!r}")
        return tree

    def names(tree):
        if tree[0] == "id":
            return {tree[1]}
        if tree[0] == "num":
            return set()
        return set().union(*(names(t) for t in tree[1:]))

    def evaluate(tree, values):
        kind = tree[0]
        if kind == "num":
            return tree[1]
        if kind == "id":
            return values[tree[1]]
        if kind == "neg":
            return -evaluate(tree[1], values)
        a, b = evaluate(tree[1], values), evaluate(tree[2], values)
        if kind == "+":
            return a + b
        if kind == "-":
            return a - b
        if kind == "*":
            return a * b
        return a / b if b != 0 else float("nan")

    @patch(CloudwatchProvider.get_metric_data)
    def get_metric_data(fn, self, context, metric_data_queries, *args, **kwargs):
        expressions = [q for q in metric_data_queries if q.get("Expression")]
        if not expressions:
            return fn(self, context, metric_data_queries, *args, **kwargs)
        stats = [q for q in metric_data_queries if not q.get("Expression")]
        out = fn(self, context, stats, *args, **kwargs) if stats else {
            "MetricDataResults": [],
            "Messages": [],
        }
        series = {
            r["Id"]: dict(zip(r.get("Timestamps", []), r.get("Values", [])))
            for r in out.get("MetricDataResults", [])
        }
        for q in expressions:
            tree = parse(q["Expression"])
            used = names(tree)
            unknown = used - series.keys()
            if unknown:
                raise CommonServiceException(
                    "ValidationError",
                    f"expression {q['Expression']!r} names unknown ids {sorted(unknown)}",
                )
            times = set.intersection(*(set(series[n]) for n in used)) if used else set()
            points = []
            for t in sorted(times):
                v = evaluate(tree, {n: series[n][t] for n in used})
                if v is not None and v == v:  # NaN (0/0, x/0) has no point, as in CloudWatch
                    points.append((t, v))
            series[q["Id"]] = dict(points)
            out["MetricDataResults"].append(
                {
                    "Id": q["Id"],
                    "Label": q.get("Label") or q["Id"],
                    "StatusCode": "Complete",
                    "Timestamps": [t for t, _ in points],
                    "Values": [v for _, v in points],
                }
            )
        wanted = {q["Id"] for q in metric_data_queries if q.get("ReturnData", True)}
        out["MetricDataResults"] = [r for r in out["MetricDataResults"] if r["Id"] in wanted]
        return out


@hooks.on_infra_start()
def fix_lambda_metrics_dimensions():
    """Lambda's metrics carry only the FunctionName dimension.

    Upstream defect: localstack/services/lambda_/invocation/metrics.py publishes
    Invocations and Errors per FunctionName only, and no Duration or Throttles.
    AWS publishes each per function, per version or alias (Resource =
    function:qualifier) and, for an invocation through an alias, per executed
    version (FunctionName, Resource, ExecutedVersion): the set lambda-rollout
    reads to tell green from blue. We wrap the version manager's invoke and
    publish those sets (Invocations, Errors, Duration in ms, Throttles), besides
    what upstream publishes per FunctionName. Duration is the time the code
    spent on the event (the host executor measures it), no start-up in it.
    """
    import threading
    import time
    from datetime import datetime, timezone

    from localstack.aws.api.lambda_ import TooManyRequestsException
    from localstack.aws.connect import connect_to
    from localstack.services.lambda_.invocation.version_manager import LambdaVersionManager
    from localstack.utils.patch import patch

    def dimension_sets(invoked_arn, function_name, executed):
        # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
        parts = (invoked_arn or "").split(":")
        qualifier = parts[7] if len(parts) > 7 else None
        sets = []
        if qualifier:
            resource = f"{function_name}:{qualifier}"
            sets.append([("FunctionName", function_name), ("Resource", resource)])
            if not qualifier.isdigit() and qualifier != "$LATEST":
                sets.append(
                    [
                        ("FunctionName", function_name),
                        ("Resource", resource),
                        ("ExecutedVersion", executed),
                    ]
                )
        return sets

    def publish(version_id, sets, values):
        data = []
        now = datetime.now(timezone.utc)
        for dims in sets:
            for name, value, unit in values:
                data.append(
                    {
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                        "Timestamp": now,
                        "Value": value,
                        "Unit": unit,
                    }
                )
        if not data:
            return
        client = connect_to(
            aws_access_key_id=version_id.account, region_name=version_id.region
        ).cloudwatch
        client.put_metric_data(Namespace="AWS/Lambda", MetricData=data)

    def in_background(version_id, sets, values):
        # As upstream does: an invocation does not wait for its metrics.
        threading.Thread(
            target=publish, args=(version_id, sets, values), daemon=True
        ).start()

    @patch(LambdaVersionManager.invoke)
    def invoke(fn, self, *args, **kwargs):
        invocation = kwargs.get("invocation") or args[0]
        version_id = self.function_version.id
        name = version_id.function_name
        sets = dimension_sets(invocation.invoked_arn, name, version_id.qualifier)
        started = time.perf_counter()
        try:
            result = fn(self, *args, **kwargs)
        except TooManyRequestsException:
            in_background(version_id, [[("FunctionName", name)]] + sets[:1], [("Throttles", 1, "Count")])
            raise
        # The executor's own measure excludes starting the environment, as
        # AWS's Duration does; the wall time only if it has none.
        duration_ms = getattr(result, "duration_ms", None)
        if duration_ms is None:
            duration_ms = (time.perf_counter() - started) * 1000
        values = [
            ("Invocations", 1, "Count"),
            ("Errors", 1 if result.is_error else 0, "Count"),
            ("Duration", duration_ms, "Milliseconds"),
        ]
        # Upstream publishes Invocations and Errors per FunctionName already.
        in_background(version_id, sets, values)
        in_background(version_id, [[("FunctionName", name)]], values[2:])
        return result



@hooks.on_infra_start()
def fix_references_to_sam_generated_resources():
    """A Ref or Fn::GetAtt to a resource the SAM transform generates fails.

    Upstream defect: the v2 engine's ChangeSetModelTransform walks the
    template *before* the transform has generated anything, and resolving a
    reference to a resource SAM will generate (RolloutFunctionAlarmFired, the
    rule of an EventBridgeRule event, as template.yaml's queue policy names
    it) raises "Unresolved resource dependencies"; CloudFormation resolves
    such references after the transform. Upstream already leaves unresolvable
    references alone in that walk when they raise RuntimeError; we do the same
    for this ValidationError. The transformed template is validated again
    afterwards, so a reference to a resource that does not exist at all is
    still refused.
    """
    from localstack.services.cloudformation.engine.v2.change_set_model_transform import (
        ChangeSetModelTransform,
    )
    from localstack.services.cloudformation.engine.validations import ValidationError
    from localstack.utils.patch import patch

    def unresolved(e):
        return "Unresolved resource dependencies" in str(e)

    @patch(ChangeSetModelTransform.visit_node_intrinsic_function_fn_get_att)
    def visit_node_intrinsic_function_fn_get_att(fn, self, node_intrinsic_function):
        try:
            return fn(self, node_intrinsic_function)
        except ValidationError as e:
            if not unresolved(e):
                raise
            return self.visit(node_intrinsic_function.arguments)

    # Ref is inherited from the preprocessor, which also validates the
    # transformed template: override it on the transform visitor only.
    inherited_ref = ChangeSetModelTransform.visit_node_intrinsic_function_ref

    def visit_node_intrinsic_function_ref(self, node_intrinsic_function):
        try:
            return inherited_ref(self, node_intrinsic_function)
        except ValidationError as e:
            if not unresolved(e):
                raise
            return self.visit(node_intrinsic_function.arguments)

    ChangeSetModelTransform.visit_node_intrinsic_function_ref = visit_node_intrinsic_function_ref


@hooks.on_infra_start()
def fix_list_parameters_before_an_update():
    """Updating a stack whose Fn::Join reads a CommaDelimitedList fails.

    Upstream defect: the v2 engine's ChangeSetModelPreproc.visit_node_parameter
    splits a list parameter's new value into a list but leaves its previous
    value a string, so describing the change set of an update evaluates
    Fn::Join over a string ("Invalid arguments list definition for Fn::Join")
    and answers 500; `aws cloudformation deploy` then fails on a second run.
    We split the previous value the same way.
    """
    import re

    from localstack.services.cloudformation.engine.v2.change_set_model import is_nothing
    from localstack.services.cloudformation.engine.v2.change_set_model_preproc import (
        ChangeSetModelPreproc,
    )
    from localstack.utils.patch import patch

    @patch(ChangeSetModelPreproc.visit_node_parameter)
    def visit_node_parameter(fn, self, node_parameter):
        delta = fn(self, node_parameter)
        before = delta.before
        if is_nothing(before) or not isinstance(before, str):
            return delta
        type_before = self.visit(node_parameter.type_).before
        if isinstance(type_before, str) and (
            type_before == "CommaDelimitedList" or re.match(r"List<[^>]+>", type_before)
        ):
            delta.before = [item.strip() for item in before.split(",")]
        return delta


@hooks.on_infra_start()
def fix_tagging_api_sees_lambda_functions():
    """GetResources never returns a Lambda function, tagged or not.

    Upstream defect: LocalStack serves the Resource Groups Tagging API with
    moto's backend, which lists Lambda functions from moto's own Lambda
    backend; LocalStack's Lambda provider keeps its functions (and their tags)
    in its own store, so moto's is always empty. We also yield the provider's
    functions of the account and region asked, with their tags, under the
    same type and tag filters as AWS (filters ANDed; a filter's values ORed;
    no values: the key alone).
    """
    from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend
    from localstack.services.lambda_.api_utils import unqualified_lambda_arn
    from localstack.services.lambda_.invocation.models import lambda_stores
    from localstack.utils.patch import patch

    def wanted(tags, tag_filters):
        for f in tag_filters or []:
            key, values = f["Key"], f.get("Values") or []
            if key not in tags or (values and tags[key] not in values):
                return False
        return True

    @patch(ResourceGroupsTaggingAPIBackend._get_resources_generator)
    def _get_resources_generator(fn, self, tag_filters=None, resource_type_filters=None):
        yield from fn(self, tag_filters=tag_filters, resource_type_filters=resource_type_filters)
        types = resource_type_filters or []
        if types and "lambda" not in types and "lambda:function" not in types:
            return
        store = lambda_stores[self.account_id][self.region_name]
        for name in list(store.functions):
            arn = unqualified_lambda_arn(name, self.account_id, self.region_name)
            tags = store.tags.get_tags(arn) or {}
            if not tags or not wanted(tags, tag_filters):
                continue
            yield {
                "ResourceARN": arn,
                "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
            }
