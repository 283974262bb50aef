"""The benchmark's pure parts: the synthetic graph, the capacity rules and
the delivery benchmark's expectations and summary."""
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench import capacity, delivery, graph
from bench.run import binned, p


def test_the_graph_is_seeded_and_heavy_tailed():
    first, again, other = graph.build(2000, 7), graph.build(2000, 7), graph.build(2000, 8)
    assert first.following == again.following
    assert first.following != other.following
    followers = sorted(first.follower_counts(), reverse=True)
    # A few accounts gather a large share of the follows; the median account has few.
    assert followers[0] > 20 * statistics.median(followers)
    assert sum(followers[:20]) > 0.15 * first.edges
    following = sorted(len(f) for f in first.following)
    assert following[-1] > 4 * statistics.median(following)  # following is heavy-tailed too
    assert following[0] >= graph.FOLLOWING_MIN
    for user, followees in enumerate(first.following):
        assert user not in followees and len(set(followees)) == len(followees)


@pytest.mark.parametrize(("value", "size"), [
    ({"S": "abc"}, 3), ({"S": "é"}, 2), ({"N": "123"}, 3), ({"N": "1"}, 2), ({"N": "100"}, 2),
    ({"N": "911887782780350464"}, 10), ({"BOOL": True}, 1), ({"NULL": True}, 1),
    ({"NS": ["1", "22"]}, 4), ({"L": [{"S": "ab"}]}, 6), ({"M": {"k": {"S": "ab"}}}, 7)])
def test_attribute_sizes_follow_dynamodbs_rules(value, size):
    assert capacity.value_size(value) == size


def test_item_size_counts_names_too():
    assert capacity.item_size({"id": {"N": "123"}, "text": {"S": "hello"}}) == 2 + 3 + 4 + 5


@pytest.mark.parametrize(("size", "consistent", "units"), [
    (1, False, 0.5), (4096, False, 0.5), (4097, False, 1.0), (4096, True, 1), (4097, True, 2)])
def test_read_units(size, consistent, units):
    assert capacity.read_units(size, consistent) == units


@pytest.mark.parametrize(("size", "units"), [(1, 1), (1024, 1), (1025, 2), (3000, 3)])
def test_write_units(size, units):
    assert capacity.write_units(size) == units


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=200))
def test_quantiles_are_values_in_order(values):
    assert p(values, 0.5) in values and p(values, 0.99) in values
    assert min(values) <= p(values, 0.5) <= p(values, 0.99) <= max(values)
    assert p(values, 1.0) == max(values)


@given(st.lists(st.tuples(st.integers(0, 5000), st.floats(0, 1e4)), min_size=1, max_size=100))
def test_bins_cover_every_sample_once(pairs):
    bins = binned([x for x, _ in pairs], [y for _, y in pairs])
    assert sum(b["n"] for b in bins) == len(pairs)
    for b in bins:
        inside = [y for x, y in pairs if b["from"] <= x <= b["to"]]
        assert len(inside) == b["n"] and b["mean"] == pytest.approx(statistics.fmean(inside))


@pytest.mark.parametrize(("active", "calls"), [(0, 1), (24, 1), (25, 2), (49, 2), (50, 3), (9_000, 361),
                                               (10_000, 401)])
def test_a_fanout_costs_one_batch_per_25_entries_the_authors_included(active, calls):
    assert delivery.expected_batches(active) == calls


@pytest.mark.parametrize(("followers", "jobs"), [(0, 0), (1, 0), (1_000, 0), (1_001, 1), (2_000, 1),
                                                 (10_000, 9), (10_001, 10)])
def test_every_page_of_followers_after_the_first_is_a_job(followers, jobs):
    assert delivery.expected_jobs(followers, 1_000) == jobs


def test_every_tenth_follower_idle_leaves_nine_in_ten_active():
    assert delivery.active_count(10_000, 10) == 9_000 and delivery.active_count(2_005, 10) == 1_805
    assert delivery.active_count(500, 0) == 500


def test_the_delivery_summary_checks_every_post_against_the_formulas():
    size = delivery.Size(followers=2_000, active=1_800, peak_bytes=5_000_000, invocations=2,
                         posts=[delivery.Post(73, 1_801, 1, lag) for lag in (1.0, 3.0, 2.0)])
    result = delivery.summary(size)
    assert result["batch_write_calls"] == [73] and result["batch_write_calls_expected"] == 73
    assert result["batch_writes_match"] and result["jobs_match"] and result["jobs"] == [1]
    assert result["timeline_entries_per_post"] == [1_801]
    assert (result["lag_s_p50"], result["lag_s_p99"]) == (2.0, 3.0)
    size.posts.append(delivery.Post(74, 1_801, 2, 1.0))  # one post off the formulas fails both checks
    off = delivery.summary(size)
    assert not off["batch_writes_match"] and not off["jobs_match"] and off["batch_write_calls"] == [73, 74]


def test_the_delivery_follower_counts_come_from_the_preset_or_bench_delivery():
    assert delivery.follower_counts(None, False) == (list(delivery.SIZES), delivery.CELEBRITY_FOLLOWERS)
    quick = (list(delivery.QUICK_SIZES), delivery.QUICK_CELEBRITY_FOLLOWERS)
    assert delivery.follower_counts("", True) == quick
    assert delivery.follower_counts("300,1200:400", False) == ([300, 1200], 400)
