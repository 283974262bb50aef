"""Alarms, the dashboard and tracing for one stage: what an operator watches.

The same resources serve both ways of deploying the app (infra/README.md):
merged into `chalice package` output (infra/api-<stage>.json, with the
functions named as `chalice deploy` names them), or deployed alone as
infra/monitoring-<stage>.json after `chalice deploy`. So everything is
found by name: functions `chirp-<stage>[-<function>]`, the REST API
`chirp-<stage>` (after-deploy renames the one `chalice deploy` made), tables
and queues by settings.NAME_PATTERN. The runbook in docs/operations.md says
what each alarm means and what to do.

The alarms on the dead-letter, on-failure and parked queues are the data
stack's (deploy.cloudformation.queue_alarm); these are the rest.
"""
import json

from chalice.utils import to_cfn_resource_name

from chalicelib import settings
from deploy.iam import FUNCTION_GRANTS, STREAM_FUNCTIONS
from deploy.naming import camel, resource_name
from deploy.project import stage_config

PERIOD = 60

# name: (why it matters, threshold, minutes it must hold). Thresholds are
# starting points for a small deployment; the runbook says how to tune them.
THRESHOLDS = {
    "iterator-age": ("fan-out (or another stream handler) is falling behind its stream", 60_000, 5),
    "errors": ("a function fails: its events are retried, an API request answered 500", 1, 5),
    "throttles": ("Lambda refuses invocations: concurrency is exhausted", 1, 5),
    "jobs-age": ("background jobs (later fan-out pages, transitions) wait in the queue", 300, 5),
    "api-5xx": ("more than 1% of API requests fail on the server side", 0.01, 5),
    "api-p99": ("the slowest 1% of API requests take longer than 2 s", 2000, 5),
    "dynamodb-throttles": ("DynamoDB throttles a table's reads or writes", 1, 5),
}


def functions() -> list[str]:
    """Every function of the app: the API handler and the ones config.json
    gives a policy of their own (deploy.iam)."""
    return ["api_handler"] + sorted(f for f in FUNCTION_GRANTS if f is not None)


def function_name(stage: str, function: str) -> str:
    """What `chalice deploy` names a function; the merge template gives the
    packaged functions the same names."""
    app = stage_config(stage).app_name
    return f"{app}-{stage}" if function == "api_handler" else f"{app}-{stage}-{function}"


def function_logical_id(function: str) -> str:
    """The function's logical id in `chalice package` output."""
    return "APIHandler" if function == "api_handler" else to_cfn_resource_name(function)


def api_name(stage: str) -> str:
    """The REST API's name, per stage: API Gateway's metrics are by name and
    stage name, and every stage's API stage is called the same ("api")."""
    return f"{stage_config(stage).app_name}-{stage}"


def api_stage(stage: str) -> str:
    return stage_config(stage).api_gateway_stage or "api"


def _alarm(stage: str, name: str, subject: str, metric: dict, statistic: dict) -> dict:
    why, threshold, minutes = THRESHOLDS[name]
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": f"chirp-{stage}-{subject}-{name}",
        "AlarmDescription": f"{subject}: {why} (docs/operations.md, '{name}')",
        **metric, **statistic,
        "Period": PERIOD, "EvaluationPeriods": minutes, "DatapointsToAlarm": minutes,
        "Threshold": threshold, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]},
    }}


def _metric(namespace: str, metric_name: str, **dimensions: str) -> dict:
    return {"Namespace": namespace, "MetricName": metric_name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]}


def alarms(stage: str) -> dict:
    resources = {}
    for function in functions():
        name = function_name(stage, function)
        for kind, metric_name in (("errors", "Errors"), ("throttles", "Throttles")):
            resources[f"{camel(function)}{camel(kind)}Alarm"] = _alarm(
                stage, kind, function, _metric("AWS/Lambda", metric_name, FunctionName=name),
                {"Statistic": "Sum"})
    for function in STREAM_FUNCTIONS:
        resources[f"{camel(function)}IteratorAgeAlarm"] = _alarm(
            stage, "iterator-age", function,
            _metric("AWS/Lambda", "IteratorAge", FunctionName=function_name(stage, function)),
            {"Statistic": "Maximum"})
    resources["JobsAgeAlarm"] = _alarm(
        stage, "jobs-age", "jobs", _metric("AWS/SQS", "ApproximateAgeOfOldestMessage",
                                           QueueName=resource_name("jobs", stage)), {"Statistic": "Maximum"})
    api = {"ApiName": api_name(stage), "Stage": api_stage(stage)}
    resources["Api5xxAlarm"] = _alarm(stage, "api-5xx", "api", _metric("AWS/ApiGateway", "5XXError", **api),
                                      {"Statistic": "Average"})  # 0 or 1 per request: the rate
    resources["ApiP99Alarm"] = _alarm(stage, "api-p99", "api", _metric("AWS/ApiGateway", "Latency", **api),
                                      {"ExtendedStatistic": "p99"})
    for table in settings.TABLE_NAMES:
        resources[f"{camel(table)}TableThrottlesAlarm"] = _table_throttles(stage, table)
    return resources


def _table_throttles(stage: str, table: str) -> dict:
    """Reads and writes throttled on one table (and its indexes), summed."""
    alarm = _alarm(stage, "dynamodb-throttles", f"{table}-table", {}, {})
    name = resource_name(table, stage)
    alarm["Properties"]["Metrics"] = [
        {"Id": "throttled", "Expression": "reads + writes", "Label": f"{name} throttle events"},
        *({"Id": label, "ReturnData": False, "MetricStat": {
            "Metric": _metric("AWS/DynamoDB", metric_name, TableName=name), "Period": PERIOD, "Stat": "Sum"}}
          for label, metric_name in (("reads", "ReadThrottleEvents"), ("writes", "WriteThrottleEvents")))]
    del alarm["Properties"]["Period"]
    return alarm


def dashboard(stage: str) -> dict:
    """One CloudWatch dashboard: fan-out lag, home-read cost, error rates and
    queue depths, on Chirp's metrics (chalicelib.observe.metrics) and AWS's."""
    region = "${AWS::Region}"  # the body is an Fn::Sub

    def ours(name: str, stat: str, label: str) -> list:
        return [settings.METRICS_NAMESPACE, name, "service", "chirp", "stage", stage,
                {"stat": stat, "label": label}]

    def widget(title: str, metrics: list, x: int, y: int, **extra) -> dict:
        return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6,
                "properties": {"title": title, "region": region, "view": "timeSeries", "period": PERIOD,
                               "metrics": metrics, **extra}}

    queues = ["jobs", "jobs-dlq", "stream-failures", "parked", "views", "views-dlq"]
    widgets = [
        widget("Fan-out lag (ms): tweet written to the last follower's entry",
               [ours("FanoutLag", "p50", "p50"), ours("FanoutLag", "p99", "p99")], 0, 0),
        widget("Home read cost per page",
               [ours("HomeReadCalls", "Average", "DynamoDB calls"),
                ours("HomeReadRounds", "Average", "rounds"),
                ours("RankedReadCalls", "Average", "ranked page calls")], 12, 0),
        widget("Fan-out writes",
               [ours("FanoutRecipients", "Sum", "timelines written"),
                ours("FanoutBatchWrites", "Sum", "BatchWriteItem calls"),
                ours("FanoutUnprocessedRetries", "Sum", "UnprocessedItems retries")], 0, 6),
        widget("Stream iterator age (ms)",
               [["AWS/Lambda", "IteratorAge", "FunctionName", function_name(stage, f),
                 {"stat": "Maximum", "label": f}] for f in STREAM_FUNCTIONS], 12, 6),
        widget("Function errors",
               [["AWS/Lambda", "Errors", "FunctionName", function_name(stage, f), {"stat": "Sum", "label": f}]
                for f in functions()], 0, 12),
        widget("API 5xx rate and p99 latency",
               [["AWS/ApiGateway", "5XXError", "ApiName", api_name(stage), "Stage", api_stage(stage),
                 {"stat": "Average", "label": "5xx rate"}],
                ["AWS/ApiGateway", "Latency", "ApiName", api_name(stage), "Stage", api_stage(stage),
                 {"stat": "p99", "label": "p99 latency (ms)", "yAxis": "right"}]], 12, 12),
        widget("Queue depths (messages visible)",
               [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", resource_name(q, stage),
                 {"stat": "Maximum", "label": q}] for q in queues], 0, 18),
        widget("Stream and queue failures",
               [ours("StreamRecordFailures", "Sum", "stream records failed"),
                ours("QueueMessageFailures", "Sum", "job messages failed"),
                ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", resource_name("jobs", stage),
                 {"stat": "Maximum", "label": "oldest job (s)", "yAxis": "right"}]], 12, 18),
    ]
    body = json.dumps({"widgets": widgets}, separators=(",", ":"))
    return {"ChirpDashboard": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {
        "DashboardName": f"chirp-{stage}", "DashboardBody": {"Fn::Sub": body}}}}


PARAMETERS = {"AlarmTopicArn": {"Type": "String", "Default": "",
                                "Description": "An SNS topic the alarms notify (optional)"}}
CONDITIONS = {"HasAlarmTopic": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}}


def monitoring_fragment(stage: str) -> dict:
    """For the merge template: the alarms and dashboard, active tracing on the
    API stage, the REST API and the functions named as above."""
    named = {function_logical_id(f): {"Properties": {"FunctionName": function_name(stage, f)}}
             for f in functions()}
    return {"Parameters": PARAMETERS, "Conditions": CONDITIONS,
            "Resources": {**named, **alarms(stage), **dashboard(stage),
                          "RestAPI": {"Properties": {"Name": api_name(stage), "TracingEnabled": True}}}}


def monitoring_template(stage: str) -> dict:
    """infra/monitoring-<stage>.json: the same alarms and dashboard, alone,
    for a stage deployed with `chalice deploy`."""
    return {"AWSTemplateFormatVersion": "2010-09-09",
            "Description": f"Chirp's alarms and dashboard for stage {stage}, for an app deployed with "
                           "`chalice deploy` (a packaged app has them already). Generated by `make infra`.",
            "Parameters": PARAMETERS, "Conditions": CONDITIONS,
            "Resources": {**alarms(stage), **dashboard(stage)}}
