"""The cost model (bench.costmodel): its fits, its population and the
invariants a bill across workloads must keep."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench import costmodel

COSTS = costmodel.PerOperation(
    post_write_units=6, own_entry_write_units=1, write_units_per_follower=1, home_read_units=4.4,
    pull_read_units_base=1.0, pull_read_units_per_followee=0.5, read_units_per_celebrity=0.5,
    post_seconds=0.01, home_read_seconds=0.02, pull_read_seconds_base=0.01,
    pull_read_seconds_per_followee=0.002,
    seconds_per_celebrity=0.002, fanout_seconds_base=0.01, fanout_seconds_per_follower=0.0002)
SMALL = {**costmodel.WORKLOAD, "daily_active_users": 20_000, "following_mean": 50}


def population(**changes):
    workload = {**SMALL, **changes}
    return costmodel.Population.at(workload), workload


def test_a_line_is_fitted_exactly_and_a_constant_x_gives_a_flat_line():
    assert costmodel.fit_line([1, 2, 3, 4], [7, 9, 11, 13]) == pytest.approx((5, 2))
    assert costmodel.fit_line([3, 3, 3], [1, 2, 6]) == (3, 0)


def test_per_operation_costs_are_recovered_from_samples_that_follow_them():
    followers = [0, 5, 40, 300, 1200]
    following = [10, 20, 40, 80, 160]
    celebrities = [0, 1, 2, 4, 8]
    pull = SimpleNamespace(post_write_units=[6] * 5, reader_following=following,
                           read_units=[1 + 0.5 * k for k in following], post_seconds=[0.01] * 5,
                           read_seconds=[0.01 + 0.002 * k for k in following])
    shown = [0, 2, 5, 9, 20]  # tweets on each page: a full page is priced at 0.4 + 0.2 x 20 = 4.4 units
    push = SimpleNamespace(author_followers=followers, post_write_units=[7 + f for f in followers],
                           page_tweets=shown, read_units=[0.4 + 0.2 * n for n in shown],
                           read_seconds=[0.02] * 5,
                           fanout_seconds=[0.01 + 0.0002 * f for f in followers])
    hybrid = SimpleNamespace(reader_celebrities=celebrities,
                             cold_read_seconds=[0.02 + 0.002 * c for c in celebrities])
    # 20 tweets of 200 bytes are one 4 KB read unit, halved (eventually consistent); 50 are three, halved
    measured = costmodel.per_operation({"pull": pull, "push": push, "hybrid": hybrid}, tweet_bytes=200)
    expected = {**vars(COSTS), "pull_read_units_per_followee": 0.5, "read_units_per_celebrity": 1.5}
    for name, value in expected.items():
        assert getattr(measured, name) == pytest.approx(value, abs=1e-9), name


@given(users=st.integers(50, 5_000), mean=st.floats(1, 400))
@settings(max_examples=40, deadline=None)
def test_expected_follower_counts_keep_the_mean_nobody_past_everyone_and_most_popular_first(users, mean):
    counts = costmodel.follower_counts(users, min(mean, users - 1))
    assert counts.sum() == pytest.approx(users * min(mean, users - 1), rel=1e-6)
    assert counts.max() <= users - 1 + 1e-9
    assert (np.diff(counts) <= 1e-9).all()


def test_push_is_hybrid_with_nobody_past_the_threshold():
    people, workload = population()
    push = costmodel.bill("push", people, COSTS, workload)
    above_everyone = costmodel.bill("hybrid", people, COSTS, workload, people.followers.max() + 1)
    assert push == above_everyone


@given(low=st.floats(2, 20_000), high=st.floats(2, 20_000))
@settings(max_examples=40, deadline=None)
def test_a_lower_threshold_writes_less_and_queries_more(low, high):
    low, high = sorted((low, high))
    people, workload = population()
    at_low = costmodel.bill("hybrid", people, COSTS, workload, low)
    at_high = costmodel.bill("hybrid", people, COSTS, workload, high)
    assert at_low["write_units_per_post"] <= at_high["write_units_per_post"] + 1e-9
    assert at_low["celebrity_queries_per_home_read"] >= at_high["celebrity_queries_per_home_read"] - 1e-9


def test_pull_pays_per_followee_and_push_pays_per_follower():
    sparse, workload = population(following_mean=25)
    dense, _ = population(following_mean=200)
    for strategy, grows in (("pull", "read_units_per_home_read"), ("push", "write_units_per_post")):
        assert (costmodel.bill(strategy, dense, COSTS, workload)[grows]
                > costmodel.bill(strategy, sparse, COSTS, workload)[grows])
    pull_writes = costmodel.bill("pull", dense, COSTS, workload)["write_units_per_post"]
    push_reads = costmodel.bill("push", dense, COSTS, workload)["read_units_per_home_read"]
    assert pull_writes == pytest.approx(COSTS.post_write_units)
    assert push_reads == pytest.approx(COSTS.home_read_units)


def test_the_cache_never_queries_a_celebrity_more_than_its_readers_ask_and_a_longer_ttl_less():
    people, workload = population()
    threshold = 500
    followed = float(people.followers[people.followers >= threshold].sum()) / people.users
    short = costmodel.bill("hybrid", people, COSTS, {**workload, "celebrity_cache_seconds": 1}, threshold)
    long = costmodel.bill("hybrid", people, COSTS, {**workload, "celebrity_cache_seconds": 600}, threshold)
    assert long["celebrity_queries_per_home_read"] < short["celebrity_queries_per_home_read"] <= followed


def test_a_bill_is_the_sum_of_its_lines():
    people, workload = population()
    for strategy in ("pull", "push", "hybrid"):
        result = costmodel.bill(strategy, people, COSTS, workload, 1_000)
        assert result["total_usd_per_month"] == pytest.approx(sum(result["usd_per_month"].values()), abs=0.05)


def test_the_best_threshold_is_no_dearer_than_any_searched():
    people, workload = population()
    best, bill = costmodel.best_threshold(people, COSTS, workload)
    assert all(bill["total_usd_per_month"]
               <= costmodel.bill("hybrid", people, COSTS, workload, t)["total_usd_per_month"]
               for t in costmodel.THRESHOLDS)
    assert best in costmodel.THRESHOLDS


def test_a_crossing_is_interpolated_on_a_log_axis_and_none_when_the_sign_holds():
    assert costmodel._crossing([(1, -1), (100, 1)]) == pytest.approx(10)
    assert costmodel._crossing([(1, 1), (10, 2)]) is None
    assert costmodel._crossing([(1, -2), (10, -1)]) is None


def test_more_reads_per_post_favour_materialised_timelines_over_pull():
    """Pull's bill grows with reads faster than push's and hybrid's, so past
    a crossover they win; the map finds it where the bills say it is."""
    cells = []
    for reads in costmodel.READS_PER_POST:
        people, workload = population(home_reads_per_post=reads)
        usd = {name: costmodel.bill(name, people, COSTS, workload, 1_000)["total_usd_per_month"]
               for name in ("pull", "push", "hybrid")}
        cells.append({"following_mean": SMALL["following_mean"], "home_reads_per_post": reads,
                      "usd_per_month": usd})
    crossing = costmodel.crossovers(cells)[0]["hybrid_beats_pull_above_reads_per_post"]
    assert crossing is not None
    for cell in cells:
        usd = cell["usd_per_month"]
        if cell["home_reads_per_post"] > crossing * 1.01:
            assert usd["hybrid"] < usd["pull"]
        elif cell["home_reads_per_post"] < crossing * 0.99:
            assert usd["hybrid"] > usd["pull"]
    assert not math.isnan(crossing)
