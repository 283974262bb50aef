"""The benchmark's pure parts: the synthetic graph and the capacity rules."""
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench import capacity, graph
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
