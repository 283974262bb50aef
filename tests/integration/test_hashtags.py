"""Hashtags: their timelines and the trends made of them, both kept from the
tweets stream (chalicelib.hashtags indexes a tweet and counts its tags in
one transaction per batch of tags).

GET /hashtags/{tag}/tweets: every tweet using a tag, found case-insensitively,
newest first, paginated; written over HASHTAG_SHARDS partitions (so a
trending tag is no hot partition) and merged on read.

GET /trends: the hashtags used most in the last TREND_WINDOW_MINUTES, with
decay, from time-bucketed counters; the list read is one stored item,
recomputed at most every TREND_REFRESH_SECONDS. Counters for the past are
written directly (trends.count_step with a tweet id made at that moment);
`clock` moves the trends module's time. (Scoring, decay, bucketing and
shard choice alone: tests/unit/test_trends.py.)

Tests act through the API, then run the streams with `pump.drain()`."""
import collections
import time
import types

import pytest
from support import assert_error, run_concurrently

from chalicelib import settings
from chalicelib.discovery import hashtags, trends
from chalicelib.events import streams
from chalicelib.storage.ids import EPOCH_MS, SEQUENCE_BITS, WORKER_BITS
from chalicelib.storage.tables import HashtagModel, NotificationModel, TrendModel
from chalicelib.storage.transactions import transact_write
from devstack.metering import DynamoDBCalls

pytestmark = pytest.mark.usefixtures("cheap_passwords")
BUCKETS_READ = (60 // 5 + 1) * 4  # Queries to recompute the trends: 13 buckets of 4 shards


def ids(tweets) -> list[str]:
    return [t["id"] for t in tweets]


def stored_items() -> dict[str, list[str]]:
    """The hashtags table: partition -> tweet ids."""
    items = collections.defaultdict(list)
    for item in HashtagModel.scan(consistent_read=True):
        items[item.tag_shard].append(str(int(item.tweet_id)))
    return dict(items)


def trend_counts() -> dict[str, int]:
    """Every counter of the trends table, summed per tag over buckets and shards."""
    counts = collections.Counter()
    for item in TrendModel.scan(consistent_read=True):
        if item.uses is not None:
            counts[item.tag] += int(item.uses)
    return dict(counts)


@pytest.fixture
def read_all(api):
    """Reads a whole hashtag timeline through the API by cursor; returns the
    tweets newest first (and checks each page's contract on the way)."""

    def read(tag: str, limit: int = 100, **params) -> list[dict]:
        tweets, cursor = [], None
        for _ in range(100):
            query = "&".join([f"limit={limit}", *(f"{k}={v}" for k, v in params.items())]
                             if cursor is None else [f"limit={limit}", f"cursor={cursor}"])
            reply = api.get(f"/hashtags/{tag}/tweets?{query}")
            assert reply.status == 200, reply.json
            page = reply.json
            assert set(page) == {"data", "meta"}
            assert len(page["data"]) <= limit
            if page["data"]:
                assert page["meta"]["newest_id"] == page["data"][0]["id"]
                assert page["meta"]["oldest_id"] == page["data"][-1]["id"]
            tweets += page["data"]
            cursor = page["meta"]["next_cursor"]
            if cursor is None:
                assert len(set(ids(tweets))) == len(tweets)
                return tweets
        raise AssertionError("the hashtag timeline never ended")

    return read


@pytest.fixture
def alice(make_user):
    return make_user("alice")[1]


# --- what a timeline holds -------------------------------------------------------------------

def test_a_tag_in_any_case_is_one_timeline(api, alice, make_tweet, pump, read_all):
    first = make_tweet(alice, "#Chirp one")
    second = make_tweet(alice, "two #CHIRP")
    both = make_tweet(alice, "#chirp and #ChIrP again")  # one tag, used twice: listed once
    other = make_tweet(alice, "#chirpy is another tag")
    make_tweet(alice, "no tag at all, chirp")
    composed = make_tweet(alice, "#Café au lait")
    decomposed = make_tweet(alice, "#CAFE\u0301 noir")  # stored as sent, matched after NFC
    pump.drain()

    expected = [both["id"], second["id"], first["id"]]
    for tag in ("chirp", "CHIRP", "%23Chirp", "%EF%BC%83cHIRP"):
        assert ids(api.get(f"/hashtags/{tag}/tweets").json["data"]) == expected, tag
    assert ids(read_all("chirpy")) == [other["id"]]
    assert read_all("nothing") == []
    for tag in ("caf%C3%A9", "CAFE%CC%81"):
        assert ids(api.get(f"/hashtags/{tag}/tweets").json["data"]) == [decomposed["id"], composed["id"]], tag
    assert decomposed["text"] == "#CAFE\u0301 noir"

    page = api.get("/hashtags/chirp/tweets").json
    assert page["data"][0] == api.get(f"/tweets/{both['id']}").json  # the tweet shape, hydrated
    assert page["meta"] == {"next_cursor": None, "newest_id": both["id"], "oldest_id": first["id"]}

    # A cursor belongs to its tag (in any case), not to another.
    cursor = api.get("/hashtags/chirp/tweets?limit=1").json["meta"]["next_cursor"]
    assert ids(api.get(f"/hashtags/%23CHIRP/tweets?limit=5&cursor={cursor}").json["data"]) == expected[1:]
    assert_error(api.get(f"/hashtags/chirpy/tweets?cursor={cursor}"), 400, "invalid_cursor")


def test_invalid_tags_and_page_parameters_are_400(api):
    for tag in ("%23", "%23%23chirp", "123", "chirp%20two", "chirp!", "%24cash", "%40someone", "a-b",
                "%F0%9F%90%A6", "x" * 20 + "%00"):
        error = assert_error(api.get(f"/hashtags/{tag}/tweets"), 404, "invalid_hashtag", tag)
        assert "hashtag" in error["message"]
    for query in ("limit=0", "limit=101", "limit=x", "max_id=abc", "since_id=-1", "cursor=nope",
                  "cursor=x.y", "cursor=a&max_id=5"):
        assert_error(api.get(f"/hashtags/chirp/tweets?{query}"), 400, what=query)


def test_retweets_are_no_use_of_a_tag(api, alice, make_user, make_tweet, pump, read_all):
    _, bob = make_user("bob")
    original = make_tweet(alice, "#news today")
    retweet = api.post(f"/tweets/{original['id']}/retweet", token=bob)
    assert retweet.status == 201
    reply = make_tweet(bob, "#news indeed", reply_to_id=original["id"])
    quote = make_tweet(bob, "#News quoted", quote_of_id=original["id"])
    pump.drain()
    timeline = read_all("news")
    assert ids(timeline) == [quote["id"], reply["id"], original["id"]]
    assert [t["retweet_of"] for t in timeline] == [None, None, None]
    assert retweet.json["id"] not in {i for items in stored_items().values() for i in items}
    assert trend_counts() == {"news": 3}


def test_deleting_a_tweet_removes_it(api, alice, make_tweet, pump, read_all):
    keep = make_tweet(alice, "#keep #gone")
    gone = make_tweet(alice, "#gone #Keep")
    brief = [make_tweet(alice, f"#brief {n}") for n in range(2)]
    pump.drain()
    assert ids(read_all("keep")) == [gone["id"], keep["id"]]

    for tweet in (gone, *brief):
        assert api.delete(f"/tweets/{tweet['id']}", token=alice).status == 204
    # Before the stream catches up, hydration already leaves it out.
    assert ids(read_all("keep")) == [keep["id"]]
    assert ids(read_all("gone")) == [keep["id"]]
    assert len(stored_items()["keep#" + hashtags.partition("keep", int(gone["id"])).split("#")[1]]) >= 1
    pump.drain()
    assert ids(read_all("keep")) == [keep["id"]]
    assert read_all("brief") == []
    assert sorted(i for items in stored_items().values() for i in items) == [keep["id"], keep["id"]]


# --- shards and pages -------------------------------------------------------------------------

def test_a_tag_is_spread_over_every_shard_and_pages_merge_them(api, monkeypatch, alice, make_tweet, pump,
                                                             read_all):
    """At least 10 tweets, more until every one of 4 shards holds some (a
    shard of 10 tweets is empty one time in 20)."""
    monkeypatch.setattr(settings, "HASHTAG_SHARDS", 4)
    posted = []
    for n in range(40):
        posted.append(make_tweet(alice, f"#Spread number {n}")["id"])
        if len(posted) >= 10:
            pump.drain()
            if len(stored_items()) == 4:
                break
    tweets = sorted(posted, key=int, reverse=True)

    items = stored_items()
    assert sorted(items) == [f"spread#{shard}" for shard in range(4)]
    assert sorted(i for shard in items.values() for i in shard) == sorted(tweets)
    for partition, tweet_ids in items.items():  # each where the module looks for it
        assert {hashtags.partition("spread", int(i)) for i in tweet_ids} == {partition}

    for limit in (1, 3, len(tweets) - 1, len(tweets)):
        assert ids(read_all("spread", limit)) == tweets, limit
    # The last page is the last: a full page with nothing older has no cursor.
    reply = api.get(f"/hashtags/spread/tweets?limit={len(tweets)}").json
    assert ids(reply["data"]) == tweets and reply["meta"]["next_cursor"] is None
    reply = api.get(f"/hashtags/spread/tweets?limit={len(tweets) - 1}").json
    assert ids(reply["data"]) == tweets[:-1] and reply["meta"]["next_cursor"] is not None

    middle = tweets[len(tweets) // 2]
    assert ids(read_all("spread", 3, max_id=middle)) == [i for i in tweets if int(i) < int(middle)]
    assert ids(read_all("spread", 3, since_id=middle)) == [i for i in tweets if int(i) > int(middle)]
    assert ids(read_all("spread", 2, max_id=tweets[1], since_id=tweets[-2])) == tweets[2:-2]
    # since_id alone gives the newest ones above it, newest first.
    page = api.get(f"/hashtags/spread/tweets?limit=2&since_id={tweets[-1]}").json
    assert ids(page["data"]) == tweets[:2]
    empty = api.get(f"/hashtags/spread/tweets?max_id={tweets[3]}&since_id={tweets[4]}").json
    assert empty == {"data": [], "meta": {"next_cursor": None, "newest_id": None, "oldest_id": None}}


def test_a_page_costs_one_query_per_shard_and_one_batch_get(api, monkeypatch, alice, make_tweet, pump):
    monkeypatch.setattr(settings, "HASHTAG_SHARDS", 5)
    for n in range(6):
        make_tweet(alice, f"#costly {n}")
    pump.drain()
    for path in ("/hashtags/costly/tweets?limit=3", "/hashtags/costly/tweets",
                 "/hashtags/%23COSTLY/tweets?limit=100"):
        with DynamoDBCalls() as meter:
            assert len(api.get(path).json["data"]) in (3, 6)
        assert dict(meter.counts) == {"Query": 5, "BatchGetItem": 1}, path
    with DynamoDBCalls() as meter:
        assert api.get("/hashtags/unused/tweets").json["data"] == []
    assert dict(meter.counts) == {"Query": 5}


# --- redelivery ---------------------------------------------------------------------------------

class Recorder:
    """Wraps the tweets stream handler and keeps every record it was given."""

    def __init__(self):
        self.records = []

    def wrap(self, name, handler):
        def invoke(event, context):
            if name == "on_tweet_change":
                self.records += event["Records"]
            return handler(event, context)
        return invoke


def test_a_redelivered_record_neither_duplicates_nor_counts_twice(
        api, alice, make_user, make_tweet, pump_factory, read_all):
    make_user("bob")
    recorder = Recorder()
    pump = pump_factory(wrap=recorder.wrap)
    first = make_tweet(alice, "#Twice #once @bob")
    second = make_tweet(alice, "#twice @Bob")
    pump.drain()
    state = (stored_items(), trend_counts(), NotificationModel.count())
    assert state[1:] == ({"twice": 2, "once": 1}, 2)

    for record in recorder.records * 2:
        streams.on_tweet_record(record)
    assert (stored_items(), trend_counts(), NotificationModel.count()) == state
    assert ids(read_all("twice")) == [second["id"], first["id"]]

    # The deletion, delivered three times, uncounts once.
    recorder.records.clear()
    assert api.delete(f"/tweets/{first['id']}", token=alice).status == 204
    pump.drain()
    assert [r["eventName"] for r in recorder.records] == ["REMOVE"]
    for record in recorder.records * 2:
        streams.on_tweet_record(record)
    assert trend_counts() == {"twice": 1, "once": 0}
    assert NotificationModel.count() == 1
    assert ids(read_all("twice")) == [second["id"]]


def test_a_partly_applied_delivery_completes_without_counting_twice(
        monkeypatch, alice, make_tweet, pump, dynamodb_hooks, read_all):
    """Two tags per transaction; the handler dies after indexing (and
    counting) the first two tags. The redelivery finds them done, indexes
    the rest and counts each tag once."""
    monkeypatch.setattr(hashtags.settings, "HASHTAGS_PER_TRANSACTION", 2)
    calls = []

    def fail_the_second(request, operation):
        if any(settings.TABLE_NAMES["hashtags"] in str(step) for step in request["TransactItems"]):
            calls.append(len(request["TransactItems"]))
            if len(calls) == 2:
                raise dynamodb_hooks.error("InternalServerError", operation)

    dynamodb_hooks.on("TransactWriteItems", fail_the_second)
    tweet = make_tweet(alice, "#a1 #b2 #c3 #d4 #e5 #A1")
    pump.drain()
    # 3 transactions of 2 tags (item and counter each), the 2nd failing once;
    # then the redelivery: the 1st finds both tags done and is dropped.
    assert calls[:2] == [4, 4] and calls[-2:] == [4, 2]
    assert trend_counts() == {"a1": 1, "b2": 1, "c3": 1, "d4": 1, "e5": 1}
    for tag in ("a1", "b2", "c3", "d4", "e5"):
        assert ids(read_all(tag)) == [tweet["id"]]


# --- GET /trends ---------------------------------------------------------------------------------

@pytest.fixture
def clock(monkeypatch):
    """The trends module's clock, from the real time on; `clock.now` moves it."""
    fake = types.SimpleNamespace(now=time.time())
    fake.time = lambda: fake.now
    monkeypatch.setattr(trends, "time", fake)
    return fake


def tweet_id_at(seconds: float, sequence: int) -> int:
    return (int(seconds * 1000) - EPOCH_MS) << (WORKER_BITS + SEQUENCE_BITS) | sequence


def count_uses(tag: str, uses: int, minutes_ago: float, now: float) -> None:
    """`uses` uses of `tag` by tweets made `minutes_ago`, counted as the
    stream would count them."""
    for n in range(uses):
        tweet_id = tweet_id_at(now - minutes_ago * 60, n)
        transact_write({"count": trends.count_step(tag.casefold(), tag, tweet_id, +1)})


def listed(api, fold=False) -> list[tuple[str, int]]:
    """(tag, count) of GET /trends; `fold` lower-cases tags used in several
    forms (each of a tag's counters keeps the form that first reached it)."""
    reply = api.get("/trends")
    assert reply.status == 200, reply.json
    return [(t["tag"].casefold() if fold else t["tag"], t["count"]) for t in reply.json["data"]]


def test_trends_in_the_contract_shape_most_used_first(api, monkeypatch, clock, alice, make_tweet, pump):
    assert api.get("/trends").json == {"data": [], "meta": {"window_minutes": 60}}
    for text in ("#Chirp one", "#chirp #PyThon two", "#CHIRP three", "#PyThon", "#rare #chirp #CHIRP",
                 "no tags"):
        make_tweet(alice, text)
    pump.drain()
    clock.now += settings.TREND_REFRESH_SECONDS
    reply = api.get("/trends")
    assert reply.status == 200
    assert set(reply.json) == {"data", "meta"} and reply.json["meta"] == {"window_minutes": 60}
    assert all(set(trend) == {"tag", "count"} for trend in reply.json["data"])
    # A tag in any case is one trend, shown as written (in one of its forms);
    # one tweet using a tag twice is one use.
    assert reply.json["data"][1:] == [{"tag": "PyThon", "count": 2}, {"tag": "rare", "count": 1}]
    assert reply.json["data"][0]["tag"] in {"Chirp", "chirp", "CHIRP"}
    assert reply.json["data"][0]["count"] == 4

    monkeypatch.setattr(settings, "TRENDS_LISTED", 2)
    clock.now += settings.TREND_REFRESH_SECONDS
    assert listed(api, fold=True) == [("chirp", 4), ("python", 2)]


def test_a_trending_tag_is_counted_on_several_counters(api, clock):
    """Its counters are spread over the bucket's shards, and summed on read."""
    count_uses("Hot", 16, minutes_ago=1, now=clock.now)
    counters = [c for c in TrendModel.scan(consistent_read=True) if c.tag == "hot"]
    assert sum(int(c.uses) for c in counters) == 16
    assert len({c.bucket for c in counters}) >= 2
    assert listed(api) == [("Hot", 16)]


def test_tags_drop_out_of_the_window_and_decay(api, clock):
    count_uses("ancient", 2, minutes_ago=90, now=clock.now)  # long gone
    count_uses("stale", 2, minutes_ago=66, now=clock.now)  # before the bucket holding the window's start
    count_uses("recent", 3, minutes_ago=30, now=clock.now)
    count_uses("fresh", 1, minutes_ago=1, now=clock.now)
    # recent's 3 uses half an hour ago weigh more than fresh's one now.
    assert listed(api) == [("recent", 3), ("fresh", 1)]

    # Twenty minutes on, 2 new uses of "late" outweigh recent's 3, now 50
    # minutes old; 36 minutes on, "recent" has left the window too.
    clock.now += 20 * 60
    count_uses("late", 2, minutes_ago=0, now=clock.now)
    assert listed(api) == [("late", 2), ("recent", 3), ("fresh", 1)]
    clock.now += 16 * 60
    assert listed(api) == [("late", 2), ("fresh", 1)]
    clock.now += 70 * 60
    assert listed(api) == []


def test_a_recent_burst_outranks_an_older_larger_count_and_fresh_reads_are_one_get_item(
        api, clock, alice, make_tweet, pump):
    count_uses("Yesterday", 10, minutes_ago=55, now=clock.now)
    for n in range(3):
        make_tweet(alice, f"#burst {n}")
    pump.drain()
    with DynamoDBCalls() as meter:
        assert listed(api) == [("burst", 3), ("Yesterday", 10)]
    assert dict(meter.counts) == {"GetItem": 1, "Query": BUCKETS_READ, "PutItem": 1}  # the first read
    for _ in range(2):
        with DynamoDBCalls() as meter:
            assert listed(api) == [("burst", 3), ("Yesterday", 10)]
        assert dict(meter.counts) == {"GetItem": 1}


def test_the_list_refreshes_after_trend_refresh_seconds(api, monkeypatch, clock, alice, make_tweet, pump):
    monkeypatch.setattr(settings, "TREND_REFRESH_SECONDS", 60)
    make_tweet(alice, "#first")
    pump.drain()
    assert listed(api) == [("first", 1)]
    make_tweet(alice, "#second #Second")
    make_tweet(alice, "#second")
    pump.drain()
    clock.now += 59
    assert listed(api) == [("first", 1)]  # still the stored list
    clock.now += 1
    with DynamoDBCalls() as meter:
        assert listed(api) == [("second", 2), ("first", 1)]
    # The stale read claims the refresh (a conditional put), recomputes and stores.
    assert dict(meter.counts) == {"GetItem": 1, "PutItem": 2, "Query": BUCKETS_READ}
    assert int(TrendModel.get(*trends.TOP).computed_at) == int(clock.now)


def test_one_reader_refreshes_a_stale_list_while_the_others_serve_it(monkeypatch, clock):
    """A reader that finds the list stale and loses the claim to another
    serves the stale list (two calls) instead of recomputing too; so does one
    that reads while the refresh runs (one call)."""
    count_uses("old", 1, minutes_ago=1, now=clock.now)
    assert trends.current() == [{"tag": "old", "count": 1}]
    count_uses("new", 2, minutes_ago=0, now=clock.now)
    clock.now += settings.TREND_REFRESH_SECONDS
    fresh = [{"tag": "new", "count": 2}, {"tag": "old", "count": 1}]

    computed, during = [], []
    compute = trends.compute

    def compute_watched(now):
        computed.append(now)
        with DynamoDBCalls() as meter:
            during.append(trends.current())  # a reader arriving mid-refresh
        assert dict(meter.counts) == {"GetItem": 1}
        return compute(now)

    claim = trends._claim_refresh
    overtaken = []

    def claim_after_another(top, now):
        """The first claimant is overtaken: another reader claims and
        refreshes between its GetItem and its claim."""
        if not overtaken:
            overtaken.append(None)
            overtaken[0] = trends.current()
        return claim(top, now)

    monkeypatch.setattr(trends, "compute", compute_watched)
    monkeypatch.setattr(trends, "_claim_refresh", claim_after_another)
    with DynamoDBCalls() as meter:
        loser = trends.current()
    assert loser == [{"tag": "old", "count": 1}]  # the stale list, served
    assert overtaken == [fresh]  # the other reader's refresh
    assert during == [[{"tag": "old", "count": 1}]]
    assert len(computed) == 1
    assert meter.counts["Query"] == BUCKETS_READ  # one recomputation in all
    assert trends.current() == fresh


def test_concurrent_stale_readers_recompute_once(api, clock):
    count_uses("busy", 3, minutes_ago=1, now=clock.now)
    assert listed(api) == [("busy", 3)]
    count_uses("busier", 4, minutes_ago=1, now=clock.now)
    clock.now += settings.TREND_REFRESH_SECONDS
    with DynamoDBCalls() as meter:
        replies = run_concurrently([lambda: api.get("/trends")] * 6)
    assert all(r.status == 200 for r in replies)
    assert {tuple(t["tag"] for t in r.json["data"]) for r in replies} <= {("busy",), ("busier", "busy")}
    assert meter.counts["Query"] == BUCKETS_READ
    assert listed(api) == [("busier", 4), ("busy", 3)]


def test_deleting_a_tweet_uncounts_it_while_its_bucket_is_read(api, clock, alice, make_tweet, pump):
    first = make_tweet(alice, "#Gone #kept")
    second = make_tweet(alice, "#gone")
    old = make_tweet(alice, "#history")
    pump.drain()
    assert listed(api, fold=True) == [("gone", 2), ("history", 1), ("kept", 1)]

    for tweet in (first, second):
        assert api.delete(f"/tweets/{tweet['id']}", token=alice).status == 204
        pump.drain()
    clock.now += settings.TREND_REFRESH_SECONDS
    assert listed(api) == [("history", 1)]
    assert trend_counts() == {"gone": 0, "kept": 0, "history": 1}

    # Two hours on, the counters have expired (TTL): deleting the old tweet
    # must not bring its counter back as -1.
    clock.now += 2 * 3600
    for counter in TrendModel.scan():
        if counter.uses is not None:
            counter.delete()
    assert api.delete(f"/tweets/{old['id']}", token=alice).status == 204
    pump.drain()
    assert trend_counts() == {}
    assert listed(api) == []
