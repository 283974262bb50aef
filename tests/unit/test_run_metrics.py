"""What `make run` prints at Ctrl-C (devstack.run_metrics): the percentiles,
means and counts from known values, and the hook that collects chalicelib's
metrics without EMF in text mode."""
import json

import pytest

from chalicelib.observe import metrics
from devstack import run_metrics
from devstack.run_metrics import RunMetrics, mean, percentile, summary


def test_nearest_rank_percentiles():
    values = [float(v) for v in range(100, 0, -1)]  # 1..100, in any order
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99 and percentile(values, 100) == 100
    assert percentile([7.0], 50) == percentile([7.0], 99) == 7.0
    # ceil(p/100 * n)-th smallest: of four, p50 is the 2nd and p99 the 4th (always a value measured).
    assert percentile([40, 10, 30, 20], 50) == 20 and percentile([40, 10, 30, 20], 99) == 40
    assert percentile([5, 1, 3], 50) == 3 and percentile([5, 1, 3], 1) == 1
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1], 0)


def test_mean():
    assert mean([3, 4, 8]) == 5
    with pytest.raises(ValueError):
        mean([])


def test_the_summary_from_known_values():
    run = RunMetrics()
    for lag in [120, 80, 100, 2000, 90, 110, 95, 105, 85, 115]:  # p50 100 (5th of 10), p99 2000 (10th)
        run.add("FanoutLag", lag)
    for calls in [3, 4, 8]:
        run.add("HomeReadCalls", calls)
    run.add("StreamRecordFailures", 1)
    run.add("StreamRecordFailures", 2)
    run.add("QueueMessageFailures", 1)
    run.add("Jobs", 1, "deliver")
    run.add("Jobs", 1, "deliver")
    run.add("Jobs", 1, "promote")
    for status in (200, 201, 404, 500, 503):
        run.response(status)
    assert summary(run) == [
        "This run's metrics, from start (the demo world included) to Ctrl-C:",
        "  fan-out lag: p50 100 ms, p99 2000 ms, max 2000 ms over 10 tweets fanned out (nearest rank)",
        "  home timeline reads: 3 pages, 5.0 DynamoDB calls a page (mean)",
        "  jobs run: 3 (deliver 2, promote 1)",
        "  requests: 5; errors: 3 failed stream records, 1 failed queue message, 2 5xx responses",
    ]


def test_the_summary_says_none_when_nothing_was_measured():
    assert summary(RunMetrics()) == [
        "This run's metrics, from start (the demo world included) to Ctrl-C:",
        "  fan-out lag: none (no tweet fanned out)",
        "  home timeline reads: none",
        "  jobs run: 0",
        "  requests: 0; errors: 0 failed stream records, 0 failed queue messages, 0 5xx responses",
    ]


def test_small_lags_keep_a_decimal_and_ranked_reads_show_when_there_are_some():
    run = RunMetrics()
    run.add("FanoutLag", 4.25)
    run.add("RankedReadCalls", 7)
    lines = summary(run)
    assert lines[1] == ("  fan-out lag: p50 4.2 ms, p99 4.2 ms, max 4.2 ms over 1 tweet fanned out"
                        " (nearest rank)")
    assert lines[2] == "  home timeline reads: none; ranked: 1 page, 7.0 DynamoDB calls a page (mean)"


@pytest.fixture
def observed(monkeypatch):
    """run_metrics.observe on a fresh RunMetrics; chalicelib's listeners as they were afterwards."""
    monkeypatch.setattr(metrics, "listeners", list(metrics.listeners))
    metrics.metrics.clear_metrics()  # what an earlier test in this process added and did not flush
    run = RunMetrics()
    run_metrics.observe(run)
    yield run
    run_metrics.observe(None)
    metrics.metrics.clear_metrics()


def test_observe_records_every_value_chalicelib_adds(observed, capsys):
    metrics.count("HomeReadCalls", 4)
    metrics.count("StreamRecordFailures")
    metrics.milliseconds("FanoutLag", 12.5)
    metrics.count_by("Jobs", "job_kind", "deliver")
    metrics.flush()
    assert observed.get("HomeReadCalls") == [4.0] and observed.get("StreamRecordFailures") == [1.0]
    assert observed.get("FanoutLag") == [12.5]
    assert observed.by("Jobs") == {"deliver": 1}
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # enabled: EMF as before
    assert [line["FanoutLag"] for line in emf if "FanoutLag" in line] == [[12.5]]


def test_in_text_mode_values_are_recorded_and_no_emf_line_is_ever_written(observed, capsys, monkeypatch):
    """Disabled, Powertools' flush neither writes nor clears; add_metric would
    write the pile once a metric has 100 values. The hook clears each flush."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for _ in range(150):
        metrics.count("HomeReadCalls", 3)
        metrics.count_by("Jobs", "job_kind", "rebuild")
        metrics.flush()
    assert capsys.readouterr().out == ""
    assert len(observed.get("HomeReadCalls")) == 150 and observed.by("Jobs") == {"rebuild": 150}
    assert not metrics.metrics.metric_set


def test_observe_listens_once_and_none_stops_recording(observed):
    other = RunMetrics()
    run_metrics.observe(other)
    assert metrics.listeners.count(run_metrics._record) == 1
    metrics.count("HomeReadCalls", 2)
    run_metrics.observe(None)
    metrics.count("HomeReadCalls", 5)
    assert other.get("HomeReadCalls") == [2.0] and observed.get("HomeReadCalls") == []
