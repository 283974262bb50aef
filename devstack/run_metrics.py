"""What `make run` measured: the metrics chalicelib emits, kept in the process
for the summary printed at Ctrl-C.

On Lambda, chalicelib.observe.metrics writes what an invocation added as one
EMF line for CloudWatch. The local stack, in text mode, writes none
(POWERTOOLS_METRICS_DISABLED: they are JSON for CloudWatch, not for a
person), yet the run's numbers are worth seeing. So `observe` has every
value chalicelib adds (`count`, `milliseconds`, `count_by`) recorded in a
RunMetrics as well, whatever the log format, and the HTTP server reports
each response's status to it (devstack.gateway). `summary` turns that into
a few lines: fan-out lag percentiles, DynamoDB calls per home page, the
failures.

chalicelib.observe.metrics tells its listeners of every value added,
written to CloudWatch or not. Dev-only: never shipped to Lambda.
"""
from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class RunMetrics:
    """The values of every metric added in this process, by name; the
    counts of a metric with its own dimension (Jobs, by job_kind), by the
    dimension's value; the HTTP responses, by status. Thread-safe: requests
    and the event pump add from their own threads."""

    values: dict[str, list[float]] = field(default_factory=dict)
    by_dimension: dict[str, Counter[str]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, value: float, dimension_value: str | None = None) -> None:
        with self._lock:
            self.values.setdefault(name, []).append(float(value))
            if dimension_value is not None:
                self.by_dimension.setdefault(name, Counter())[dimension_value] += int(value)

    def response(self, status: int) -> None:
        with self._lock:
            self.statuses[status] += 1

    def get(self, name: str) -> list[float]:
        with self._lock:
            return list(self.values.get(name, ()))

    def total(self, name: str) -> float:
        return sum(self.get(name))

    def by(self, name: str) -> dict[str, int]:
        """A count_by metric's counts by its dimension's value, sorted by value."""
        with self._lock:
            return dict(sorted(self.by_dimension.get(name, Counter()).items()))

    def requests(self) -> int:
        with self._lock:
            return sum(self.statuses.values())

    def server_errors(self) -> int:
        with self._lock:
            return sum(count for status, count in self.statuses.items() if status >= 500)


# --- observing chalicelib's metrics ----------------------------------------------------------------------

_current: list[RunMetrics] = []  # the RunMetrics that chalicelib's metrics go to (one, or none)


def _record(name: str, value: float, dimension_value: str | None) -> None:
    for run in _current:
        run.add(name, value, dimension_value)


def observe(run: RunMetrics | None) -> None:
    """Records every metric chalicelib adds from now on in `run` (None:
    stop recording), through chalicelib.observe.metrics' listeners; import
    it only once the environment is set (devstack.stack)."""
    from chalicelib.observe import metrics

    _current[:] = [run] if run is not None else []
    if _record not in metrics.listeners:
        metrics.listeners.append(_record)


# --- the summary ---------------------------------------------------------------------------------------

def percentile(values: Iterable[float], p: float) -> float:
    """The nearest-rank percentile: the smallest value that at least p% of
    the values are less than or equal to (sorted[ceil(p/100 * n) - 1]).
    Always one of the values; ValueError for none."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    if not 0 < p <= 100:
        raise ValueError(f"a percentile is in (0, 100], not {p}")
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def mean(values: Iterable[float]) -> float:
    values = list(values)
    if not values:
        raise ValueError("no values")
    return sum(values) / len(values)


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _n(count: float, one: str, many: str | None = None) -> str:
    count = int(count)
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _reads(values: list[float], what: str) -> str:
    if not values:
        return f"{what}: none"
    return f"{what}: {_n(len(values), 'page')}, {mean(values):.1f} DynamoDB calls a page (mean)"


def summary(run: RunMetrics) -> list[str]:
    """A few readable lines: what the run measured ("none" where nothing was)."""
    lag = run.get("FanoutLag")
    if lag:
        fanout = (f"fan-out lag: p50 {_ms(percentile(lag, 50))}, p99 {_ms(percentile(lag, 99))}, "
                  f"max {_ms(max(lag))} over {_n(len(lag), 'tweet')} fanned out (nearest rank)")
    else:
        fanout = "fan-out lag: none (no tweet fanned out)"
    ranked = run.get("RankedReadCalls")
    reads = _reads(run.get("HomeReadCalls"), "home timeline reads")
    if ranked:
        reads += "; " + _reads(ranked, "ranked")
    jobs = run.by("Jobs")
    kinds = " (" + ", ".join(f"{kind} {n}" for kind, n in jobs.items()) + ")" if jobs else ""
    errors = [_n(run.total("StreamRecordFailures"), "failed stream record"),
              _n(run.total("QueueMessageFailures"), "failed queue message"),
              _n(run.server_errors(), "5xx response")]
    return [
        "This run's metrics, from start (the demo world included) to Ctrl-C:",
        f"  {fanout}",
        f"  {reads}",
        f"  jobs run: {sum(jobs.values())}{kinds}",
        f"  requests: {run.requests()}; errors: {', '.join(errors)}",
    ]
