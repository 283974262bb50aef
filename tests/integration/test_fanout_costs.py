"""DynamoDB calls of fan-out and of the home read path, counted per
operation (devstack.metering): the costs in docs/architecture.md, held.

Fan-out is measured over `pump.drain()`, so the calls of every page's job
count too. Trimming is switched off (TRIM_EVERY huge) where exact totals
are asserted: which deliveries trim is a hash of (user, tweet)."""
import math

import pytest
from support import timeline_entries

from chalicelib import settings
from chalicelib.home import celebrities
from chalicelib.storage.tables import UserModel
from devstack.metering import DynamoDBCalls

FOLLOWERS = 60


@pytest.fixture
def no_trims(monkeypatch):
    monkeypatch.setattr(settings, "TRIM_EVERY", 10**12)


def drained_calls(pump) -> dict:
    with DynamoDBCalls() as meter:
        pump.drain()
    return dict(meter.counts)


@pytest.fixture
def audience(api, make_user, pump, cheap_passwords):
    """An author with FOLLOWERS active followers; returns (author, token, followers)."""
    author, token = make_user("author")
    followers = []
    for n in range(FOLLOWERS):
        follower, follower_token = make_user(f"follower{n}")
        assert api.post("/users/author/follow", token=follower_token).status == 200
        followers.append(follower)
    pump.drain()
    return author, token, followers


def test_fan_out_costs_ceil_of_active_followers_plus_author_over_25(monkeypatch, make_tweet, audience, pump,
                                                                    no_trims):
    author, token, followers = audience
    batches = math.ceil((FOLLOWERS + 1) / 25)
    assert batches == 3

    first = make_tweet(token, "one page")["id"]
    assert drained_calls(pump) == {
        "GetItem": 2,  # the author's celebrity state; the tweet still exists
        "Query": 1,  # one page of followers
        "BatchGetItem": 1,  # their activity
        "BatchWriteItem": batches,
    }

    monkeypatch.setattr(settings, "FANOUT_PAGE_SIZE", 7)  # 9 pages: 8 of 7 followers and one of 4
    second = make_tweet(token, "nine pages")["id"]
    pages = math.ceil(FOLLOWERS / 7)
    assert drained_calls(pump) == {
        "GetItem": 1 + pages,  # the author once; the tweet on every page
        "Query": pages,
        "BatchGetItem": pages,
        "BatchWriteItem": batches,  # the carry between pages keeps it exact
    }
    for user in (author, *followers):
        assert timeline_entries(user["id"]) == [second, first]

    # Inactive followers are not written to, and not counted.
    away = followers[:20]
    for follower in away:
        away_since = UserModel.last_active_day.add(-settings.ACTIVE_DAYS - 1)
        UserModel(id=int(follower["id"])).update(actions=[away_since])
    third = make_tweet(token, "to the active ones")["id"]
    assert drained_calls(pump)["BatchWriteItem"] == math.ceil((FOLLOWERS - 20 + 1) / 25) == 2
    assert all(timeline_entries(f["id"]) == [second, first] for f in away)
    assert all(timeline_entries(f["id"]) == [third, second, first] for f in followers[20:])

    # On the celebrity path: only the author's own entry is written.
    monkeypatch.setattr(settings, "CELEBRITY_THRESHOLD", FOLLOWERS)
    celebrities.check_transition(int(author["id"]))  # the threshold moved under an existing author
    pump.drain()
    assert celebrities.state_of(int(author["id"])) == celebrities.CELEBRITY
    pulled = make_tweet(token, "pulled, not pushed")["id"]
    assert drained_calls(pump) == {"GetItem": 1, "BatchWriteItem": 1}
    assert timeline_entries(author["id"]) == [pulled, third, second, first]
    assert all(pulled not in timeline_entries(f["id"]) for f in followers)


@pytest.fixture
def readers(api, make_user, make_tweet, pump, cheap_passwords, monkeypatch):
    """50 authors with one tweet each; `few` follows 5 of them and `many`
    all 50. Returns (few_token, many_token, author tokens)."""
    monkeypatch.setattr(settings, "CELEBRITY_CACHE_SECONDS", 0)
    _, few = make_user("few")
    _, many = make_user("many")
    authors = []
    for n in range(50):
        _, token = make_user(f"author{n}")
        assert api.post(f"/users/author{n}/follow", token=many).status == 200
        if n < 5:
            assert api.post(f"/users/author{n}/follow", token=few).status == 200
        authors.append(token)
    pump.drain()  # (follows first: their backfills find nothing to copy, which is quicker)
    for n, token in enumerate(authors):
        make_tweet(token, f"tweet {n}")
    pump.drain()
    for token in (few, many):  # this day's activity mark is written once, on the first request
        assert api.get("/timelines/home", token=token).status == 200
    return few, many, authors


def read_calls(api, token, query="", items=None) -> dict:
    """The calls of one page read, which must hold `items` tweets."""
    with DynamoDBCalls() as meter:
        reply = api.get(f"/timelines/home{query}", token=token)
    assert reply.status == 200, reply.json
    assert len(reply.json["data"]) == items
    return dict(meter.counts)


PAGE_READ = {"GetItem": 1, "Query": 1, "BatchGetItem": 1}  # the reader; their timeline; tweets and follows


def test_a_home_page_costs_the_same_for_5_or_50_followees(api, monkeypatch, make_tweet, readers, pump):
    few, many, authors = readers
    assert read_calls(api, few, items=5) == PAGE_READ
    assert read_calls(api, many, items=20) == PAGE_READ
    assert read_calls(api, many, "?limit=100", items=50) == PAGE_READ  # 50 tweets, 50 follows: 100 keys
    cursor = api.get("/timelines/home?limit=20", token=many).json["meta"]["next_cursor"]
    assert read_calls(api, many, f"?limit=20&cursor={cursor}", items=20) == PAGE_READ

    # Each followed celebrity adds one Query, unless the container's cache has it.
    monkeypatch.setattr(settings, "CELEBRITY_THRESHOLD", 2)
    for n in (0, 1):  # both readers follow authors 0 and 1, now above the (lowered) threshold
        celebrities.check_transition(int(api.get(f"/users/author{n}").json["id"]))
    pump.drain()
    for n in (0, 1):
        make_tweet(authors[n], f"celebrity {n} again")
    pump.drain()
    for token, items in ((few, 5 + 2), (many, 20)):
        assert read_calls(api, token, items=items) == {**PAGE_READ, "Query": 1 + 2}

    monkeypatch.setattr(settings, "CELEBRITY_CACHE_SECONDS", 60)
    assert read_calls(api, few, items=7) == {**PAGE_READ, "Query": 3}  # fills the container's cache...
    assert read_calls(api, many, items=20) == PAGE_READ  # ...which serves every reader after
    assert read_calls(api, few, items=7) == PAGE_READ


def test_a_delivered_entry_costs_one_write_unit(api, audience, pump, no_trims):
    """The timelines table has no index a plain entry enters (an unfollow
    finds the author's entries by key), so fan-out writes exactly one unit
    per timeline: F followers and the author. A retweet's entry also enters
    the sparse by-original index: two."""
    from bench.capacity import CapacityMeter
    from chalicelib.storage.tables import TimelineModel

    _, token, followers = audience
    api.post("/tweets", {"text": "one unit each"}, token=token)
    with CapacityMeter() as meter:
        pump.drain()
    assert meter.write_units == len(followers) + 1
    table = TimelineModel.Meta.table_name
    plain = {"user_id": {"N": "1"}, "tweet_id": {"N": "2"}, "author_id": {"N": "3"}}
    assert meter.schema.index_count(table, plain) == 0
    assert meter.schema.index_count(table, {**plain, "original_id": {"N": "4"}}) == 1


def test_an_unfollow_finds_the_authors_entries_by_key(api, make_user, make_tweet, follow, unfollow, pump):
    """No by-author index: the author's tweets since the reader's oldest entry
    (1 Query for that entry, 1 on the author's tweets), looked up in 1
    BatchGetItem, and only those there deleted. The author's retweets go too."""
    _, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    _, carol_token = make_user("carol")
    carols = make_tweet(carol_token, "stays")["id"]
    follow(bob_token, "carol")
    pump.drain()
    follow(bob_token, "alice")
    for n in range(3):
        make_tweet(alice_token, f"alice {n}")
    pump.drain()
    assert api.post(f"/tweets/{carols}/retweet", token=alice_token).status == 201
    pump.drain()
    assert len(timeline_entries(bob["id"])) == 5

    unfollow(bob_token, "alice")
    calls = drained_calls(pump)
    assert timeline_entries(bob["id"]) == [carols]
    assert calls["Query"] == 2 and calls["BatchGetItem"] == 1


def test_entries_an_unfollow_misses_are_never_shown_and_go_on_read(api, make_user, make_tweet, follow,
                                                                   unfollow, pump, home, monkeypatch):
    """Past the author's newest TIMELINE_MAX tweets the unfollow looks no
    further: the read path's follow check is the backstop."""
    _, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    follow(bob_token, "alice")
    hers = [make_tweet(alice_token, f"alice {n}")["id"] for n in range(3)]
    own = make_tweet(bob_token, "mine")["id"]
    pump.drain()
    monkeypatch.setattr(settings, "TIMELINE_MAX", 1)
    unfollow(bob_token, "alice")
    pump.drain()
    assert timeline_entries(bob["id"]) == [own, hers[1], hers[0]]  # the newest of hers went
    assert home(bob_token) == [own]
    assert timeline_entries(bob["id"]) == [own]
