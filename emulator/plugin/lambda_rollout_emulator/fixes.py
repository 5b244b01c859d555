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
