"""Trend scoring, decay and bucketing with a controlled `now` (no DynamoDB:
compute's Queries are answered by a stand-in that records what was asked),
and how hashtag items and trend counters choose their shards."""
import collections
import types

import pytest

from chalicelib import settings
from chalicelib.discovery import hashtags, trends
from chalicelib.discovery.trends import TagCount
from chalicelib.storage.ids import EPOCH_MS, SEQUENCE_BITS, WORKER_BITS, IdGenerator

NOW = 1_800_000_000.0  # a moment on a bucket boundary (Unix seconds)
assert NOW % (settings.TREND_BUCKET_MINUTES * 60) == 0


def minutes_ago(minutes: float, now: float = NOW) -> int:
    """The bucket a use `minutes` before `now` is counted in."""
    return trends.bucket_of(now - minutes * 60)


def tweet_id_at(seconds: float, sequence: int = 0) -> int:
    return (int(seconds * 1000) - EPOCH_MS) << (WORKER_BITS + SEQUENCE_BITS) | sequence


@pytest.fixture(autouse=True)
def defaults(monkeypatch):
    """The settings these tests were worked out for, whatever the environment says."""
    for name, value in {"TREND_WINDOW_MINUTES": 60, "TREND_HALF_LIFE_MINUTES": 20, "TREND_BUCKET_MINUTES": 5,
                        "TREND_SHARDS": 4, "TRENDS_LISTED": 10}.items():
        monkeypatch.setattr(settings, name, value)


# --- buckets -----------------------------------------------------------------------------------

def test_bucket_of_is_the_start_of_its_five_minutes_in_unix_minutes():
    base = int(NOW // 60)
    assert trends.bucket_of(NOW) == base
    assert trends.bucket_of(NOW + 59) == base
    assert trends.bucket_of(NOW + 4 * 60 + 59.999) == base
    assert trends.bucket_of(NOW + 5 * 60) == base + 5
    assert trends.bucket_of(NOW - 0.001) == base - 5
    assert trends.bucket_of(0) == 0


def test_bucket_size_is_a_setting(monkeypatch):
    monkeypatch.setattr(settings, "TREND_BUCKET_MINUTES", 15)
    base = int(NOW // 60)
    assert base % 15 == 0
    assert trends.bucket_of(NOW + 14 * 60) == base
    assert trends.bucket_of(NOW + 15 * 60) == base + 15


def test_the_window_reads_thirteen_buckets_back_to_the_one_holding_its_start():
    base = int(NOW // 60)
    assert trends.window_buckets(NOW) == list(range(base - 60, base + 1, 5))
    later = NOW + 2 * 60  # inside a bucket: the window's start is inside one too
    assert trends.window_buckets(later) == list(range(base - 60, base + 1, 5))
    assert trends.window_buckets(NOW + 5 * 60) == list(range(base - 55, base + 6, 5))


def test_a_counter_belongs_to_its_tweet_creation_bucket():
    old_tweet = tweet_id_at(NOW - 30 * 60 + 1)
    step = trends.count_step("chirp", "Chirp", old_tweet, +1)
    kind, (item,), _ = step
    assert kind == "update"
    bucket = int(item.bucket.split("#")[0])
    assert bucket == trends.bucket_of(NOW - 30 * 60) == int(NOW // 60) - 30
    assert item.tag == "chirp"


def test_the_shard_of_a_hashtag_item_does_not_follow_the_id_sequence(monkeypatch):
    """Snowflake ids restart their sequence every millisecond, so most ids
    end in the same low bits: `id % shards` would put nearly every tweet on
    one shard. The shard must depend on the whole id."""
    monkeypatch.setattr(settings, "HASHTAG_SHARDS", 4)
    clock = iter(range(1_700_000_000_000, 1_700_000_004_000))
    generator = IdGenerator(worker_id=7, clock_ms=lambda: next(clock))  # a new millisecond each time
    tweet_ids = [generator.next_id() for _ in range(4000)]
    assert {i % 4 for i in tweet_ids} == {0}
    shards = collections.Counter(hashtags.partition("t", i) for i in tweet_ids)
    assert sorted(shards) == [f"t#{n}" for n in range(4)]
    assert all(800 <= count <= 1200 for count in shards.values()), shards
    assert hashtags.partition("t", tweet_ids[0]) == hashtags.partition("t", tweet_ids[0])
    monkeypatch.setattr(settings, "HASHTAG_SHARDS", 7)
    assert {hashtags.partition("t", i) for i in tweet_ids} == {f"t#{n}" for n in range(7)}


def test_counters_of_one_tag_spread_over_every_shard():
    """A trending tag is the one whose single counter would take every write."""
    shards = collections.Counter(trends.partition(100, tweet_id_at(NOW + ms / 1000)) for ms in range(4000))
    assert sorted(shards) == [f"100#{n}" for n in range(4)]
    assert all(800 <= count <= 1200 for count in shards.values()), shards
    # ...and the same tweet always finds its counter again (for uncounting).
    tweet = tweet_id_at(NOW, 5)
    assert trends.partition(100, tweet) == trends.partition(100, tweet)


def test_counts_in_window_keeps_counting_while_the_bucket_may_be_read():
    tweet = tweet_id_at(NOW)
    assert trends.counts_in_window(tweet, NOW)
    assert trends.counts_in_window(tweet, NOW + 60 * 60)
    assert trends.counts_in_window(tweet, NOW + 64 * 60)  # the window starts in its bucket
    assert trends.counts_in_window(tweet, NOW + 69 * 60)  # a bucket's margin
    assert not trends.counts_in_window(tweet, NOW + 70 * 60)
    assert not trends.counts_in_window(tweet, NOW + 24 * 3600)
    # Whenever a window reads the tweet's bucket, its uses (and their
    # removal, on deletion) are still counted: a deleted tweet never
    # lingers in a list.
    for later in range(0, 75 * 60, 37):
        if trends.bucket_of(NOW) in trends.window_buckets(NOW + later):
            assert trends.counts_in_window(tweet, NOW + later), later


# --- scoring -----------------------------------------------------------------------------------

def test_weight_halves_every_half_life_and_never_exceeds_one():
    assert trends.weight(minutes_ago(0), NOW + 2.5 * 60) == 1.0  # the bucket's middle
    assert trends.weight(minutes_ago(0), NOW) == 1.0  # a bucket still filling
    assert trends.weight(minutes_ago(0), NOW + 22.5 * 60) == pytest.approx(0.5)
    assert trends.weight(minutes_ago(0), NOW + 42.5 * 60) == pytest.approx(0.25)


def test_most_used_first_with_plain_counts():
    counters = [TagCount(minutes_ago(1), "b", "B", 3), TagCount(minutes_ago(1), "a", "a", 5),
                TagCount(minutes_ago(1), "c", "c", 1)]
    assert trends.rank(counters, NOW) == [{"tag": "a", "count": 5}, {"tag": "B", "count": 3},
                                          {"tag": "c", "count": 1}]


def test_counters_of_one_tag_are_summed_over_shards_and_buckets():
    counters = [TagCount(minutes_ago(1), "chirp", "Chirp", 2), TagCount(minutes_ago(1), "chirp", "chirp", 3),
                TagCount(minutes_ago(20), "chirp", "CHIRP", 1), TagCount(minutes_ago(1), "other", "other", 5)]
    # chirp: 6 uses (5 now, 1 twenty minutes ago) beats other's 5 now.
    assert trends.rank(counters, NOW) == [{"tag": "chirp", "count": 6}, {"tag": "other", "count": 5}]


def test_the_display_form_is_that_of_the_biggest_counter_then_the_oldest():
    counters = [TagCount(minutes_ago(1), "chirp", "chirp", 1), TagCount(minutes_ago(30), "chirp", "ChIrP", 1)]
    assert trends.rank(counters, NOW)[0]["tag"] == "ChIrP"
    counters.append(TagCount(minutes_ago(10), "chirp", "CHIRP", 2))
    assert trends.rank(counters, NOW)[0]["tag"] == "CHIRP"


def test_a_recent_burst_outranks_an_older_larger_count():
    old = TagCount(minutes_ago(55), "old", "old", 10)  # weight ~ 0.5 ** (52.5 / 20) = 0.16: 1.6
    burst = TagCount(minutes_ago(1), "burst", "burst", 3)  # weight 1: 3
    assert [t["tag"] for t in trends.rank([old, burst], NOW)] == ["burst", "old"]
    # ...but not without decay: twice as many uses twenty minutes back still win.
    steady = TagCount(minutes_ago(21), "steady", "steady", 7)  # weight 0.5 ** (17.5 / 20) = 0.55: 3.8
    assert [t["tag"] for t in trends.rank([steady, burst], NOW)] == ["steady", "burst"]


def test_ties_are_broken_by_tag_and_the_list_is_capped(monkeypatch):
    monkeypatch.setattr(settings, "TRENDS_LISTED", 3)
    counters = [TagCount(minutes_ago(1), tag, tag, 1) for tag in "edcba"]
    assert trends.rank(counters, NOW) == [{"tag": t, "count": 1} for t in "abc"]


def test_counters_at_zero_or_below_are_not_trends():
    counters = [TagCount(minutes_ago(1), "gone", "gone", 0), TagCount(minutes_ago(1), "odd", "odd", -1),
                TagCount(minutes_ago(1), "here", "here", 1)]
    assert trends.rank(counters, NOW) == [{"tag": "here", "count": 1}]
    assert trends.rank([], NOW) == []


# --- compute: which counters it reads ------------------------------------------------------------

class FakeTrendModel:
    """Answers compute's Queries from {partition: [(tag, display, uses)]},
    recording the partitions asked for."""

    def __init__(self, counters):
        self.counters = counters
        self.queried = []

    def query(self, partition):
        self.queried.append(partition)
        return [types.SimpleNamespace(tag=tag, display=display, uses=uses)
                for tag, display, uses in self.counters.get(partition, [])]


def test_compute_reads_every_shard_of_every_bucket_in_the_window(monkeypatch):
    base = int(NOW // 60)
    fake = FakeTrendModel({
        f"{base}#0": [("now", "Now", 2)],
        f"{base}#3": [("now", "now", 1)],
        f"{base - 60}#2": [("edge", "edge", 1)],  # the bucket holding the window's start
        f"{base - 65}#1": [("gone", "gone", 50)],  # older than the window
        f"{base + 5}#1": [("future", "future", 50)],  # not yet
    })
    monkeypatch.setattr(trends, "TrendModel", fake)
    assert trends.compute(NOW) == [{"tag": "Now", "count": 3}, {"tag": "edge", "count": 1}]
    assert len(fake.queried) == 13 * 4 == len(set(fake.queried))
    assert {p.split("#")[0] for p in fake.queried} == {str(b) for b in range(base - 60, base + 1, 5)}


def test_compute_drops_a_tag_once_its_bucket_leaves_the_window(monkeypatch):
    base = int(NOW // 60)
    fake = FakeTrendModel({f"{base - 30}#0": [("fading", "fading", 4)]})
    monkeypatch.setattr(trends, "TrendModel", fake)
    assert trends.compute(NOW) == [{"tag": "fading", "count": 4}]
    assert trends.compute(NOW + 34 * 60) == [{"tag": "fading", "count": 4}]  # window starts in its bucket
    assert trends.compute(NOW + 35 * 60) == []
