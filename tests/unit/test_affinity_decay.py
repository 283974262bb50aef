"""Affinity's decay (chalicelib.home.affinity.value) and the pure helpers
around it: a half-life halves, weights by kind, a sum, never negative, the
future counts as now, the top contributor's kind; properties (hypothesis):
more engagements never lower it, older ones never raise it."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import settings as chirp_settings
from chalicelib.home.affinity import attribute_name, beyond_cap, engagements, kind_of, value
from tests import profiles

NOW = 1_800_000_000  # Unix seconds
DAY = 86_400

DEFAULTS = {
    "AFFINITY_HALF_LIFE_DAYS": 14.0,
    "AFFINITY_WEIGHTS": {"like": 1.0, "retweet": 1.0, "reply": 1.5, "quote": 1.5},
    "AFFINITY_PREFIXES": {"like": "l", "retweet": "t", "reply": "r", "quote": "q"},
    "AFFINITY_MAX_ENGAGEMENTS": 32,
}
KINDS = tuple(DEFAULTS["AFFINITY_WEIGHTS"])


@pytest.fixture(autouse=True, scope="module")
def defaults():
    """The settings these numbers were worked out for (module-scoped, so the
    hypothesis tests share it)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, setting in DEFAULTS.items():
            patch.setattr(chirp_settings, name, setting)
        yield


def at(days_ago: float) -> float:
    return NOW - days_ago * DAY


def test_a_new_like_is_worth_its_weight_and_a_half_life_halves_it():
    assert value({"l1": NOW}, NOW).value == pytest.approx(1.0)
    assert value({"l1": at(14)}, NOW).value == pytest.approx(0.5)
    assert value({"l1": at(28)}, NOW).value == pytest.approx(0.25)
    assert value({"l1": at(7)}, NOW).value == pytest.approx(2 ** -0.5)


def test_kinds_are_weighted_and_engagements_add_up():
    assert value({"r5": NOW}, NOW).value == pytest.approx(1.5)
    assert value({"q5": NOW}, NOW).value == pytest.approx(1.5)
    assert value({"t5": NOW}, NOW).value == pytest.approx(1.0)
    both = value({"l1": NOW, "l2": at(14), "r3": at(14), "t4": at(28)}, NOW)
    assert both.value == pytest.approx(1.0 + 0.5 + 0.75 + 0.25)


def test_the_future_counts_as_now_and_nothing_is_negative():
    assert value({"l1": NOW + 10 * DAY}, NOW).value == pytest.approx(1.0)  # not 2**(10/14)
    ancient = value({"l1": at(100_000)}, NOW)
    assert ancient is not None and ancient.value >= 0.0


def test_no_engagements_is_none_and_keys_are_not_engagements():
    assert value({}, NOW) is None
    # `reader_id` starts like a reply ("r<id>"): only a prefix followed by digits counts.
    assert value({"reader_id": NOW, "author_id": NOW}, NOW) is None
    item = {"reader_id": {"N": "7"}, "author_id": {"N": "8"}, "l12": {"N": "100"}, "r13": {"N": "200"}}
    assert engagements(item) == {"l12": 100, "r13": 200}
    assert [kind_of(attribute_name(kind, 42)) for kind in KINDS] == list(KINDS)
    assert kind_of("lx") is None and kind_of("l") is None and kind_of("vseq_0") is None


def test_kind_is_the_top_contributor_not_the_most_frequent():
    # Three old likes (3 · 0.125) against one new reply (1.5): the reply says more.
    engaged = {"l1": at(42), "l2": at(42), "l3": at(42), "r4": NOW}
    assert value(engaged, NOW).kind == "reply"
    assert value({"l1": NOW, "l2": NOW, "r4": NOW}, NOW).kind == "like"  # 2 against 1.5
    # A tie goes to the first kind in settings' order, whatever the items' order.
    assert value({"t1": NOW, "l2": NOW}, NOW).kind == "like"


def test_the_cap_drops_the_oldest():
    engaged = {f"l{i}": 1000 + i for i in range(35)}
    assert sorted(beyond_cap(engaged)) == ["l0", "l1", "l2"]
    assert beyond_cap({f"l{i}": i for i in range(32)}) == []
    # In the same second the older id goes first, by number, not by the name's letters.
    same_second = {f"r{i}": 1000 for i in range(30)} | {"r99": 1000, "l100": 1000, "q98": 1000}
    assert sorted(beyond_cap(same_second)) == ["r0"]


engaged_sets = st.dictionaries(
    st.builds(attribute_name, st.sampled_from(KINDS), st.integers(1, 2**63 - 1)),
    st.integers(NOW - 3650 * DAY, NOW + DAY), max_size=40)


@settings(max_examples=profiles.examples(400))
@given(engaged=engaged_sets, more=engaged_sets)
def test_more_engagements_never_lower_it(engaged, more):
    before = value(engaged, NOW)
    after = value({**more, **engaged}, NOW)  # the same engagements, and maybe others
    assert after is not None or not (engaged or more)
    assert (before.value if before else 0.0) <= (after.value if after else 0.0)


@settings(max_examples=profiles.examples(400))
@given(engaged=engaged_sets.filter(bool), data=st.data())
def test_older_never_raises_it(engaged, data):
    name = data.draw(st.sampled_from(sorted(engaged)))
    older = {**engaged, name: engaged[name] - data.draw(st.integers(0, 3650 * DAY))}
    assert value(older, NOW).value <= value(engaged, NOW).value
    assert value(engaged, NOW + data.draw(st.integers(0, 3650 * DAY))).value <= value(engaged, NOW).value
