"""Metrics: CloudWatch's embedded metric format (EMF), through Powertools Metrics.

One namespace (settings.METRICS_NAMESPACE), dimensioned by service and
stage. What an invocation adds is written as one JSON line when the
invocation ends (the middleware in chalicelib.web.access_log flushes it),
and CloudWatch Logs turns that line into metrics: no PutMetricData call, no
latency on the request. The names, units and where each comes from are in
the README ("Metrics").
"""
from collections.abc import Callable

from aws_lambda_powertools import Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from chalicelib import settings

metrics = Metrics(namespace=settings.METRICS_NAMESPACE, service="chirp")
metrics.set_default_dimensions(stage=settings.STAGE)
_cold = True  # this process has not run an invocation yet

# Called with (name, value, dimension value or None) for every value added,
# written to CloudWatch or not: the local stack's summary (devstack.run_metrics).
Listener = Callable[[str, float, str | None], None]
listeners: list[Listener] = []


def _heard(name: str, value: float, dimension_value: str | None = None) -> None:
    for listener in listeners:
        listener(name, value, dimension_value)


def started() -> None:
    """An invocation begins: the process's first counts a cold start."""
    global _cold
    if _cold:
        _cold = False
        count("ColdStart")


def flush() -> None:
    """Writes what this invocation added as one EMF line (nothing if nothing).
    Disabled (POWERTOOLS_METRICS_DISABLED, the local console), drops it:
    Powertools would keep it, and write the pile once a metric had 100 values."""
    if not metrics.metric_set:
        return
    if is_metrics_disabled():
        metrics.clear_metrics()
    else:
        metrics.flush_metrics()


def count(name: str, value: float = 1) -> None:
    _heard(name, value)
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def milliseconds(name: str, value: float) -> None:
    _heard(name, value)
    metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=value)


def count_by(name: str, dimension: str, value: str) -> None:
    """A count with one more dimension (a job's kind), as its own EMF line:
    a dimension added to the invocation's set would apply to all its metrics.
    (single_metric writes even when POWERTOOLS_METRICS_DISABLED says not to.)"""
    _heard(name, 1, value)
    if is_metrics_disabled():
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=settings.METRICS_NAMESPACE,
                       default_dimensions={"service": "chirp", "stage": settings.STAGE}) as metric:
        metric.add_dimension(name=dimension, value=value)
