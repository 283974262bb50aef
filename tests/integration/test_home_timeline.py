"""GET /timelines/home over the real event handlers: fan-out on the tweets
stream, backfill and removal on the follows stream, the celebrity path,
active-only delivery, rebuilds, caps and paged fan-out jobs.

Tests act through the API, then run the streams and the fan-out queue to
the end with `pump.drain()`. What a timeline holds is checked twice: in the
table (`timeline_entries`, which does not mark anyone active) and through
the API (`home`, every page)."""
import pytest
from support import assert_error, celebrity_followees, timeline_entries, user_item

from chalicelib import settings
from chalicelib.accounts import activity
from chalicelib.home import celebrities, reading
from devstack.metering import DynamoDBCalls


def ids(tweets) -> list[str]:
    return [t["id"] for t in tweets]


def newest_first(*groups) -> list[str]:
    return sorted((i for group in groups for i in group), key=int, reverse=True)


# --- delivery ---------------------------------------------------------------

def test_a_tweet_reaches_its_followers_and_its_author(api, make_user, make_tweet, follow, pump):
    alice, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    carol, carol_token = make_user("carol")
    dave, dave_token = make_user("dave")
    follow(bob_token, "alice")
    follow(carol_token, "alice")
    pump.drain()

    tweet = make_tweet(alice_token, "hello followers")
    assert timeline_entries(bob["id"]) == []  # delivery is the stream's job, not the request's
    pump.drain()

    for user in (alice, bob, carol):
        assert timeline_entries(user["id"]) == [tweet["id"]]
    assert timeline_entries(dave["id"]) == []
    for token in (alice_token, bob_token, carol_token):
        body = api.get("/timelines/home", token=token).json
        assert body == {"data": [tweet], "meta": {"next_cursor": None, "newest_id": tweet["id"],
                                                  "oldest_id": tweet["id"], "ranked": False,
                                                  "partial": False}}
    assert api.get("/timelines/home", token=dave_token).json == {
        "data": [], "meta": {"next_cursor": None, "newest_id": None, "oldest_id": None, "ranked": False,
                             "partial": False}}


def test_home_needs_a_token(api):
    assert_error(api.get("/timelines/home"), 401, "unauthorized")


def test_newest_first_across_authors_and_own_tweets(make_user, make_tweet, follow, pump, home):
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    _, carol_token = make_user("carol")
    follow(carol_token, "alice")
    follow(carol_token, "bob")
    pump.drain()
    posted = {"alice": [], "bob": [], "carol": []}
    for n in range(3):
        for handle, token in (("bob", bob_token), ("carol", carol_token), ("alice", alice_token)):
            posted[handle].append(make_tweet(token, f"{handle} {n}")["id"])
    pump.drain()

    assert home(carol_token) == newest_first(*posted.values())
    assert home(alice_token) == newest_first(posted["alice"])
    assert home(bob_token) == newest_first(posted["bob"])


# --- pagination ---------------------------------------------------------------

@pytest.fixture
def paged_home(make_user, make_tweet, follow, pump):
    """bob follows alice; 7 tweets of hers and 5 of his, interleaved.
    Returns bob's token and the 12 ids newest first."""
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    follow(bob_token, "alice")
    posted = [make_tweet(alice_token if n % 5 < 3 else bob_token, f"tweet {n}")["id"] for n in range(12)]
    pump.drain()
    return bob_token, posted[::-1]


def home_page(api, token, query):
    reply = api.get(f"/timelines/home?{query}", token=token)
    assert reply.status == 200, reply.json
    assert set(reply.json["meta"]) == {"next_cursor", "newest_id", "oldest_id", "ranked", "partial"}
    return reply.json


def test_home_pages_by_limit_and_cursor(api, paged_home):
    token, expected = paged_home
    assert ids(home_page(api, token, "")["data"]) == expected  # the default limit, 20, holds all 12

    pages = [home_page(api, token, "limit=5")]
    while pages[-1]["meta"]["next_cursor"]:
        assert len(pages) < 5
        pages.append(home_page(api, token, f"limit=5&cursor={pages[-1]['meta']['next_cursor']}"))
    assert [ids(p["data"]) for p in pages] == [expected[0:5], expected[5:10], expected[10:12]]
    assert [(p["meta"]["newest_id"], p["meta"]["oldest_id"]) for p in pages] == [
        (expected[0], expected[4]), (expected[5], expected[9]), (expected[10], expected[11])]

    exact = home_page(api, token, "limit=12")
    assert ids(exact["data"]) == expected and exact["meta"]["next_cursor"] is None
    short = home_page(api, token, "limit=11")
    assert ids(short["data"]) == expected[:11]
    last = home_page(api, token, f"limit=11&cursor={short['meta']['next_cursor']}")
    assert ids(last["data"]) == expected[11:] and last["meta"]["next_cursor"] is None


def test_home_max_id_and_since_id(api, paged_home):
    token, expected = paged_home
    assert ids(home_page(api, token, f"max_id={expected[3]}&limit=4")["data"]) == expected[4:8]
    assert ids(home_page(api, token, f"since_id={expected[8]}")["data"]) == expected[:8]
    assert ids(home_page(api, token, f"since_id={expected[7]}&max_id={expected[2]}")["data"]) == expected[3:7]
    assert home_page(api, token, f"since_id={expected[0]}")["data"] == []
    assert home_page(api, token, f"max_id={expected[-1]}")["data"] == []

    # since_id pages newest first, and the cursor keeps the lower bound.
    first = home_page(api, token, f"since_id={expected[8]}&limit=3")
    assert ids(first["data"]) == expected[:3]
    second = home_page(api, token, f"limit=3&cursor={first['meta']['next_cursor']}")
    assert ids(second["data"]) == expected[3:6]
    third = home_page(api, token, f"limit=3&cursor={second['meta']['next_cursor']}")
    assert ids(third["data"]) == expected[6:8] and third["meta"]["next_cursor"] is None


def test_home_rejects_bad_page_parameters(api, make_user, paged_home):
    token, expected = paged_home
    cursor = home_page(api, token, "limit=2")["meta"]["next_cursor"]
    for query in ("limit=0", "limit=101", "limit=x", "max_id=abc", "since_id=0",
                  f"cursor=nonsense&max_id={expected[0]}", "cursor=nonsense"):
        assert_error(api.get(f"/timelines/home?{query}", token=token), 400, what=query)
    # A cursor belongs to its list: not another reader's home, not a user timeline.
    _, other_token = make_user("other")
    assert_error(api.get(f"/timelines/home?cursor={cursor}", token=other_token), 400, "invalid_cursor")
    user_cursor = api.get("/users/alice/tweets?limit=1").json["meta"]["next_cursor"]
    assert_error(api.get(f"/timelines/home?cursor={user_cursor}", token=token), 400, "invalid_cursor")


# --- follows: backfill and removal ------------------------------------------------

def test_follow_backfills_the_followees_recent_tweets(monkeypatch, make_user, make_tweet, follow, pump, home):
    assert settings.BACKFILL_TWEETS == 200  # the contract's number; a smaller one keeps this test quick
    monkeypatch.setattr(settings, "BACKFILL_TWEETS", 4)
    _, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    hers = [make_tweet(alice_token, f"old {n}")["id"] for n in range(6)]
    own = make_tweet(bob_token, "mine")["id"]
    pump.drain()
    assert timeline_entries(bob["id"]) == [own]

    follow(bob_token, "alice")
    pump.drain()
    assert timeline_entries(bob["id"]) == newest_first(hers[-4:], [own])
    assert home(bob_token) == newest_first(hers[-4:], [own])

    later = make_tweet(alice_token, "new")["id"]  # and from now on, fan-out
    pump.drain()
    assert home(bob_token) == newest_first(hers[-4:], [own, later])


def test_unfollow_removes_the_followees_tweets(api, make_user, make_tweet, follow, unfollow, pump, home):
    _, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    _, carol_token = make_user("carol")
    follow(bob_token, "alice")
    follow(bob_token, "carol")
    hers = [make_tweet(alice_token, f"alice {n}")["id"] for n in range(3)]
    carols = [make_tweet(carol_token, f"carol {n}")["id"] for n in range(2)]
    own = make_tweet(bob_token, "bob")["id"]
    pump.drain()
    assert home(bob_token) == newest_first(hers, carols, [own])

    unfollow(bob_token, "alice")
    # Served right at once: the read checks the follows it reads through.
    assert home(bob_token) == newest_first(carols, [own])
    pump.drain()
    assert timeline_entries(bob["id"]) == newest_first(carols, [own])

    follow(bob_token, "alice")  # and back: the backfill brings them again
    pump.drain()
    assert home(bob_token) == newest_first(hers, carols, [own])


def test_an_unfollow_before_the_streams_run_leaves_nothing_behind(make_user, make_tweet, follow, unfollow,
                                                                   pump, home):
    """The fan-out of a tweet and the follow's backfill may both run after
    the unfollow: neither may leave the tweet in the timeline."""
    _, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    follow(bob_token, "alice")
    make_tweet(alice_token, "in flight")
    unfollow(bob_token, "alice")
    pump.drain()
    assert timeline_entries(bob["id"]) == []
    assert home(bob_token) == []


# --- deletes ------------------------------------------------------------------------

def test_a_deleted_tweet_is_never_served_and_then_removed_everywhere(api, make_user, make_tweet, follow, pump,
                                                                     home):
    alice, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    carol, carol_token = make_user("carol")
    follow(bob_token, "alice")
    follow(carol_token, "alice")
    doomed, kept = make_tweet(alice_token, "doomed")["id"], make_tweet(alice_token, "kept")["id"]
    pump.drain()
    assert timeline_entries(carol["id"]) == [kept, doomed]

    assert api.delete(f"/tweets/{doomed}", token=alice_token).status == 204
    # Before the retraction runs: still materialised, never served.
    assert timeline_entries(carol["id"]) == [kept, doomed]
    assert home(bob_token) == [kept]
    assert home(alice_token) == [kept]
    pump.drain()
    for user in (alice, bob, carol):
        assert timeline_entries(user["id"]) == [kept]
    assert home(carol_token) == [kept]


def test_a_tweet_deleted_before_its_fan_out_reaches_nobody(api, make_user, make_tweet, follow, pump):
    alice, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    follow(bob_token, "alice")
    pump.drain()
    tweet = make_tweet(alice_token, "gone at once")["id"]
    assert api.delete(f"/tweets/{tweet}", token=alice_token).status == 204
    pump.drain()
    assert timeline_entries(alice["id"]) == [] and timeline_entries(bob["id"]) == []


# --- activity ------------------------------------------------------------------------

def test_inactive_followers_get_no_fan_out_and_a_rebuild_when_they_return(api, monkeypatch, make_user,
                                                                         make_tweet, follow, pump, home):
    alice, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    carol, carol_token = make_user("carol")
    follow(bob_token, "alice")
    follow(carol_token, "alice")
    before = make_tweet(alice_token, "before the break")["id"]
    pump.drain()
    signed_up = activity.today()
    assert user_item(bob["id"]).last_active_day == signed_up

    later = signed_up + settings.ACTIVE_DAYS + 1
    monkeypatch.setattr(activity, "today", lambda: later)
    assert api.get("/me", token=carol_token).status == 200  # carol is back; bob is not
    after = make_tweet(alice_token, "after the break")["id"]
    pump.drain()
    assert timeline_entries(carol["id"]) == [after, before]
    assert timeline_entries(bob["id"]) == [before]  # skipped: away for longer than ACTIVE_DAYS
    assert user_item(bob["id"]).last_active_day == signed_up

    # bob comes back: his first request starts the rebuild, reads say partial meanwhile.
    first = api.get("/timelines/home", token=bob_token).json
    assert first["meta"]["partial"] is True
    assert ids(first["data"]) == [before]
    assert user_item(bob["id"]).last_active_day == later
    pump.drain()
    again = api.get("/timelines/home", token=bob_token).json
    assert again["meta"]["partial"] is False
    assert ids(again["data"]) == [after, before]
    assert user_item(bob["id"]).timeline_rebuilding is None

    newest = make_tweet(alice_token, "and now bob is active")["id"]
    pump.drain()
    assert timeline_entries(bob["id"]) == [newest, after, before]


def test_a_rebuild_over_several_pages_stays_partial_until_the_last(api, monkeypatch, make_user, make_tweet,
                                                                  follow, pump, sent_jobs, cheap_passwords):
    monkeypatch.setattr(settings, "FANOUT_PAGE_SIZE", 2)
    reader, reader_token = make_user("reader")
    authors = [make_user(f"author{n}") for n in range(5)]
    for author, _ in authors:
        follow(reader_token, author["handle"])
    pump.drain()
    later = activity.today() + settings.ACTIVE_DAYS + 1
    monkeypatch.setattr(activity, "today", lambda: later)
    posted = [make_tweet(token, f"while away {n}")["id"] for n, (_, token) in enumerate(authors)]
    pump.drain()
    assert timeline_entries(reader["id"]) == []  # the fan-out skipped the reader, who is away
    own = make_tweet(reader_token, "back")["id"]  # this request starts the rebuild
    pump.drain()  # the rebuild runs in 3 pages of followees
    # The authors were away too (their own rebuilds have one page each); the reader follows 5.
    assert sum(kind == "rebuild" and job["user_id"] == int(reader["id"]) for kind, job in sent_jobs) == 3
    assert timeline_entries(reader["id"]) == newest_first(posted, [own])
    assert api.get("/timelines/home", token=reader_token).json["meta"]["partial"] is False

    # Step through a second rebuild one page at a time.
    away_again = later + settings.ACTIVE_DAYS + 1
    monkeypatch.setattr(activity, "today", lambda: away_again)
    sent_jobs.clear()
    assert api.post("/auth/login", {"handle": "reader", "password": "correct horse"}).status == 200
    partial_after_each_page = []
    while pump.poll_once():
        partial_after_each_page.append(user_item(reader["id"]).timeline_rebuilding)
    assert [kind for kind, _ in sent_jobs] == ["rebuild"] * 3
    assert partial_after_each_page == [True, True, None]


def test_activity_costs_at_most_one_write_per_user_per_day(api, monkeypatch, make_user):
    alice, token = make_user("alice")
    tomorrow = activity.today() + 1
    monkeypatch.setattr(activity, "today", lambda: tomorrow)
    with DynamoDBCalls() as first:
        api.get("/me", token=token)
    with DynamoDBCalls() as second:
        api.get("/me", token=token)
        api.get("/timelines/home", token=token)
    assert first.counts["UpdateItem"] == 1
    assert user_item(alice["id"]).last_active_day == tomorrow
    assert second.counts["UpdateItem"] == 0
    # Another container has not marked her yet: its conditional update writes nothing.
    monkeypatch.setattr(activity, "_marked_today", {})
    with DynamoDBCalls() as other:
        api.get("/me", token=token)
    assert other.counts["UpdateItem"] == 1
    with DynamoDBCalls() as again:
        api.get("/me", token=token)
    assert again.counts["UpdateItem"] == 0


# --- caps -----------------------------------------------------------------------------

def test_timelines_keep_only_the_newest_timeline_max_entries(monkeypatch, make_user, make_tweet, follow,
                                                             pump, home):
    monkeypatch.setattr(settings, "TIMELINE_MAX", 5)
    monkeypatch.setattr(settings, "TRIM_EVERY", 1)
    alice, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    carol, carol_token = make_user("carol")
    follow(bob_token, "alice")
    hers = [make_tweet(alice_token, f"alice {n}")["id"] for n in range(8)]
    pump.drain()
    assert timeline_entries(alice["id"]) == newest_first(hers)[:5]
    assert timeline_entries(bob["id"]) == newest_first(hers)[:5]
    assert home(bob_token) == newest_first(hers)[:5]

    follow(carol_token, "alice")  # a backfill of 8 is trimmed to 5 too
    pump.drain()
    assert timeline_entries(carol["id"]) == newest_first(hers)[:5]

    own = make_tweet(bob_token, "mine")["id"]
    pump.drain()
    assert home(bob_token) == [own] + newest_first(hers)[:4]


def test_a_celebritys_own_timeline_is_capped_too(monkeypatch, make_user, make_tweet, follow, pump, home,
                                                 cheap_passwords):
    monkeypatch.setattr(settings, "CELEBRITY_THRESHOLD", 2)
    monkeypatch.setattr(settings, "CELEBRITY_CACHE_SECONDS", 0)
    monkeypatch.setattr(settings, "TIMELINE_MAX", 3)
    monkeypatch.setattr(settings, "TRIM_EVERY", 1)
    star, star_token = make_user("star")
    for n in range(2):
        follow(make_user(f"fan{n}")[1], "star")
    pump.drain()
    assert user_item(star["id"]).celebrity_state == celebrities.CELEBRITY
    posted = [make_tweet(star_token, f"pulled {n}")["id"] for n in range(5)]
    pump.drain()
    assert timeline_entries(star["id"]) == newest_first(posted)[:3]
    assert home(star_token) == newest_first(posted)[:3]


# --- the celebrity path ----------------------------------------------------------------------

@pytest.fixture
def low_threshold(monkeypatch, cheap_passwords):
    """Five followers make a celebrity, fewer than four (80%) an ordinary
    author again; pulled tweets are not cached."""
    monkeypatch.setattr(settings, "CELEBRITY_THRESHOLD", 5)
    monkeypatch.setattr(settings, "CELEBRITY_CACHE_SECONDS", 0)


def test_an_author_crossing_the_threshold_is_pulled_then_fanned_out_again(
        api, make_user, make_tweet, follow, unfollow, pump, home, low_threshold):
    star, star_token = make_user("star")
    fans = [make_user(f"fan{n}") for n in range(5)]
    first = make_tweet(star_token, "before fame")["id"]
    for _, token in fans[:4]:
        follow(token, "star")
    pump.drain()
    assert user_item(star["id"]).celebrity_state is None
    assert all(timeline_entries(fan["id"]) == [first] for fan, _ in fans[:4])

    follow(fans[4][1], "star")  # the fifth follower: promotion
    pump.drain()
    assert user_item(star["id"]).celebrity_state == celebrities.CELEBRITY
    for fan, _ in fans:
        assert celebrity_followees(fan["id"]) == {star["id"]}
    assert timeline_entries(fans[4][0]["id"]) == [first]  # backfilled before the switch

    famous = make_tweet(star_token, "now famous")["id"]
    fan_tweet = make_tweet(fans[0][1], "a fan's own")["id"]
    pump.drain()
    assert timeline_entries(star["id"]) == [famous, first]  # the author's own entry is still written
    for fan, token in fans:
        assert famous not in timeline_entries(fan["id"])  # not fanned out...
        own = [fan_tweet] if token == fans[0][1] else []
        assert home(token) == newest_first([famous, first], own)  # ...but merged when read

    unfollow(fans[4][1], "star")  # four followers: 80% of the threshold, not below it
    pump.drain()
    assert user_item(star["id"]).celebrity_state == celebrities.CELEBRITY
    assert celebrity_followees(fans[4][0]["id"]) == set()
    assert home(fans[4][1]) == []

    unfollow(fans[3][1], "star")  # three: below 80%, demotion
    pump.drain()
    assert user_item(star["id"]).celebrity_state is None
    for fan, token in fans[:3]:
        assert celebrity_followees(fan["id"]) == set()
        assert {famous, first} <= set(timeline_entries(fan["id"]))  # backfilled on the way out
        own = [fan_tweet] if token == fans[0][1] else []
        assert home(token) == newest_first([famous, first], own)
    assert home(fans[3][1]) == []

    ordinary = make_tweet(star_token, "fanned out again")["id"]
    pump.drain()
    for fan, _ in fans[:3]:
        assert timeline_entries(fan["id"])[0] == ordinary


def test_following_and_unfollowing_a_celebrity(api, make_user, make_tweet, follow, unfollow, pump, home,
                                               low_threshold):
    star, star_token = make_user("star")
    for n in range(5):
        follow(make_user(f"fan{n}")[1], "star")
    pump.drain()
    assert user_item(star["id"]).celebrity_state == celebrities.CELEBRITY
    pulled = [make_tweet(star_token, f"pulled {n}")["id"] for n in range(3)]
    pump.drain()

    newcomer, token = make_user("newcomer")
    own = make_tweet(token, "hello")["id"]
    follow(token, "star")
    pump.drain()
    assert celebrity_followees(newcomer["id"]) == {star["id"]}
    assert timeline_entries(newcomer["id"]) == [own]  # no backfill: a celebrity is pulled
    assert home(token) == newest_first(pulled, [own])
    assert home(token, limit=1) == newest_first(pulled, [own])  # page by page as well
    newer = api.get(f"/timelines/home?since_id={pulled[0]}", token=token).json["data"]
    assert ids(newer) == newest_first(pulled[1:], [own])

    assert api.delete(f"/tweets/{pulled[1]}", token=star_token).status == 204
    assert home(token) == newest_first([pulled[0], pulled[2]], [own])

    unfollow(token, "star")
    assert home(token) == [own]  # before the follows stream runs
    pump.drain()
    assert celebrity_followees(newcomer["id"]) == set()
    assert home(token) == [own]


def test_pulled_tweets_come_from_a_short_lived_cache_and_deletes_still_apply(monkeypatch, api, make_user,
                                                                              make_tweet, follow, pump, home,
                                                                              low_threshold):
    star, star_token = make_user("star")
    fans = [make_user(f"fan{n}") for n in range(5)]
    for _, token in fans:
        follow(token, "star")
    pump.drain()
    pulled = [make_tweet(star_token, f"pulled {n}")["id"] for n in range(3)]
    pump.drain()
    monkeypatch.setattr(settings, "CELEBRITY_CACHE_SECONDS", 60)
    reader = fans[0][1]
    # First pages come from the cache while it holds their whole range: all of
    # this celebrity's tweets, whatever the limit (deeper pages query).
    assert home(reader, limit=20) == pulled[::-1]  # fills the cache

    later = make_tweet(star_token, "not in the cache yet")["id"]
    assert api.delete(f"/tweets/{pulled[1]}", token=star_token).status == 204
    pump.drain()
    assert home(reader, limit=20) == [pulled[2], pulled[0]]  # the cached list, less what was deleted since
    assert home(fans[1][1], limit=20) == [pulled[2], pulled[0]]  # one cache for every reader
    assert home(reader, limit=100) == [pulled[2], pulled[0]]

    [(expires, recent)] = reading._celebrity_cache.values()  # (monotonic expiry, cached ids)
    assert expires - reading.time.monotonic() <= 60
    reading._celebrity_cache[int(star["id"])] = (reading.time.monotonic() - 1, recent)  # time passes
    assert home(reader, limit=20) == [later, pulled[2], pulled[0]]


def test_a_promotion_that_ends_below_the_exit_line_is_undone(make_user, make_tweet, follow, unfollow,
                                                             pump_factory, home, low_threshold):
    """Followers leave while the promotion runs: when it is done, the author
    is below 80% of the threshold and must go back to fan-out."""
    follows_stream, tweets_stream = pump_factory(["on_follow_change"]), pump_factory(["on_tweet_change"])
    jobs_queue = pump_factory(["on_job"])
    star, star_token = make_user("star")
    fans = [make_user(f"fan{n}") for n in range(5)]
    for _, token in fans:
        follow(token, "star")
    follows_stream.drain()
    assert user_item(star["id"]).celebrity_state == celebrities.PROMOTING
    for _, token in fans[:3]:
        unfollow(token, "star")
    follows_stream.drain()  # two followers left, but a promotion is under way
    jobs_queue.drain()
    assert user_item(star["id"]).celebrity_state is None
    tweet = make_tweet(star_token, "ordinary again")["id"]
    tweets_stream.drain()
    jobs_queue.drain()
    for fan, token in fans[3:]:
        assert celebrity_followees(fan["id"]) == set()
        assert timeline_entries(fan["id"]) == [tweet]
        assert home(token) == [tweet]


# --- paged fan-out --------------------------------------------------------------------------

def test_large_follower_lists_are_split_into_jobs(monkeypatch, api, make_user, make_tweet, follow, pump,
                                                  sent_jobs, home, cheap_passwords):
    monkeypatch.setattr(settings, "FANOUT_PAGE_SIZE", 3)
    author, author_token = make_user("author")
    followers = [make_user(f"follower{n}") for n in range(8)]
    for _, token in followers:
        follow(token, "author")
    pump.drain()
    sent_jobs.clear()

    tweet = make_tweet(author_token, "to everyone")["id"]
    pump.drain()
    deliveries = [fields for kind, fields in sent_jobs if kind == "deliver"]
    assert len(deliveries) == 2  # pages 2 and 3 of ceil(8 / 3)
    # Fewer than 25 recipients so far: all carried on, written in one batch by the last page.
    assert [len(job["carry"]) for job in deliveries] == [4, 7]
    for user, _ in [(author, author_token), *followers]:
        assert timeline_entries(user["id"]) == [tweet]
    assert home(followers[-1][1]) == [tweet]

    sent_jobs.clear()
    assert api.delete(f"/tweets/{tweet}", token=author_token).status == 204
    pump.drain()
    assert [kind for kind, _ in sent_jobs] == ["retract", "retract"]
    for user, _ in [(author, author_token), *followers]:
        assert timeline_entries(user["id"]) == []


def test_a_promotion_pages_through_the_followers(monkeypatch, make_user, make_tweet, follow, pump, sent_jobs,
                                                 home, low_threshold):
    monkeypatch.setattr(settings, "FANOUT_PAGE_SIZE", 2)
    star, star_token = make_user("star")
    fans = [make_user(f"fan{n}") for n in range(5)]
    for _, token in fans:
        follow(token, "star")
    pump.drain()
    assert [kind for kind, _ in sent_jobs] == ["promote"] * 3
    assert user_item(star["id"]).celebrity_state == celebrities.CELEBRITY
    tweet = make_tweet(star_token, "pulled")["id"]
    pump.drain()
    for fan, token in fans:
        assert celebrity_followees(fan["id"]) == {star["id"]}
        assert timeline_entries(fan["id"]) == []
        assert home(token) == [tweet]


# --- races: the streams and the queue in the order that hurts -------------------------------------

@pytest.fixture
def split_pump(pump_factory):
    """One pump per handler, so a test decides which runs first."""
    return {name: pump_factory([name]) for name in ("on_tweet_change", "on_follow_change", "on_job")}


def test_a_fan_out_job_that_lands_after_the_unfollow_is_never_served(monkeypatch, api, make_user, make_tweet,
                                                                     follow, unfollow, split_pump, home):
    """The job carries the recipients of the page before it; one of them has
    unfollowed (and the unfollow has been processed) by the time it runs."""
    monkeypatch.setattr(settings, "FANOUT_PAGE_SIZE", 1)
    _, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    _, carol_token = make_user("carol")
    follow(bob_token, "alice")
    follow(carol_token, "alice")  # the newest follow: the first page
    split_pump["on_follow_change"].drain()
    tweet = make_tweet(alice_token, "in flight")["id"]
    split_pump["on_tweet_change"].drain()  # page 1 (carol) carried into the job for page 2 (bob)
    unfollow(carol_token, "alice")
    split_pump["on_follow_change"].drain()
    carol = api.get("/users/carol").json
    split_pump["on_job"].drain()
    assert timeline_entries(carol["id"]) == [tweet]  # stale: written after the unfollow was processed
    assert home(carol_token) == []  # never served...
    assert timeline_entries(carol["id"]) == []  # ...and removed by the read that met it
    assert home(bob_token) == [tweet]


def test_a_delete_while_fanning_out_leaves_no_entry(monkeypatch, api, make_user, make_tweet, follow,
                                                    split_pump, home, cheap_passwords):
    monkeypatch.setattr(settings, "FANOUT_PAGE_SIZE", 1)
    monkeypatch.setattr(settings, "BATCH_WRITE_MAX", 1)  # so page 1 writes before the job
    alice, alice_token = make_user("alice")
    fans = [make_user(f"fan{n}") for n in range(3)]
    for _, token in fans:
        follow(token, "alice")
    split_pump["on_follow_change"].drain()
    tweet = make_tweet(alice_token, "regretted")["id"]
    split_pump["on_tweet_change"].poll_once()  # page 1: alice and the newest fan written, the rest in a job
    assert timeline_entries(alice["id"]) == [tweet] and timeline_entries(fans[-1][0]["id"]) == [tweet]
    assert api.delete(f"/tweets/{tweet}", token=alice_token).status == 204
    split_pump["on_tweet_change"].drain()  # the retraction, also paged
    split_pump["on_job"].drain()  # delivery and retraction jobs, in whatever order
    for user, _ in [(alice, alice_token), *fans]:
        assert timeline_entries(user["id"]) == []
    assert all(home(token) == [] for _, token in fans)


def test_a_follow_processed_before_the_followees_tweet_gets_it_once(make_user, make_tweet, follow, split_pump,
                                                                     home):
    alice, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    follow(bob_token, "alice")
    tweet = make_tweet(alice_token, "both ways")["id"]
    split_pump["on_follow_change"].drain()  # the backfill finds the tweet...
    assert timeline_entries(bob["id"]) == [tweet]
    split_pump["on_tweet_change"].drain()  # ...and the fan-out finds bob: one entry either way
    split_pump["on_job"].drain()
    assert timeline_entries(bob["id"]) == [tweet]
    assert home(bob_token) == [tweet]


def test_a_follow_after_a_delete_does_not_bring_the_tweet_back(api, make_user, make_tweet, follow, split_pump,
                                                                home):
    _, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    kept = make_tweet(alice_token, "kept")["id"]
    gone = make_tweet(alice_token, "gone")["id"]
    assert api.delete(f"/tweets/{gone}", token=alice_token).status == 204
    follow(bob_token, "alice")
    split_pump["on_follow_change"].drain()  # before the tweets stream has even seen the insert
    split_pump["on_tweet_change"].drain()
    split_pump["on_job"].drain()
    assert timeline_entries(bob["id"]) == [kept]
    assert home(bob_token) == [kept]


def test_an_inactive_follower_of_a_demoted_celebrity_gets_its_tweets_when_back(
        api, monkeypatch, make_user, make_tweet, follow, unfollow, pump, home, cheap_passwords):
    """Demotion backfills active followers only and takes the author off
    everyone's pull list: an away follower gets the tweets from the rebuild."""
    monkeypatch.setattr(settings, "CELEBRITY_THRESHOLD", 3)
    monkeypatch.setattr(settings, "CELEBRITY_CACHE_SECONDS", 0)
    _, star_token = make_user("star")
    fans = [make_user(f"fan{n}") for n in range(3)]
    for _, token in fans:
        follow(token, "star")
    pump.drain()
    later = activity.today() + settings.ACTIVE_DAYS + 1
    monkeypatch.setattr(activity, "today", lambda: later)  # everyone is away now; fan0 stays away
    pulled = make_tweet(star_token, "while famous")["id"]
    assert api.get("/me", token=fans[1][1]).status == 200
    unfollow(fans[2][1], "star")  # two followers left: below 2.4, demotion
    pump.drain()
    assert user_item(api.get("/users/star").json["id"]).celebrity_state is None
    assert pulled in timeline_entries(fans[1][0]["id"])  # active: backfilled
    away = fans[0][0]["id"]
    assert pulled not in timeline_entries(away) and celebrity_followees(away) == set()

    first = api.get("/timelines/home", token=fans[0][1]).json  # back: rebuilt
    assert first["meta"]["partial"] is True
    pump.drain()
    assert home(fans[0][1]) == [pulled]


def test_a_follow_that_lands_while_a_promotion_pages_is_pulled_too(monkeypatch, api, make_user, make_tweet,
                                                                   follow, split_pump, home, low_threshold):
    """The promotion pages followers newest first; a follow made after its
    first page is below no cursor, so the follow's own event must put the
    author on the new follower's pull list."""
    monkeypatch.setattr(settings, "FANOUT_PAGE_SIZE", 1)
    star, star_token = make_user("star")
    for n in range(5):
        follow(make_user(f"fan{n}")[1], "star")
    split_pump["on_follow_change"].drain()
    split_pump["on_job"].poll_once()  # the promotion's first page
    assert user_item(star["id"]).celebrity_state == celebrities.PROMOTING
    late, late_token = make_user("late")
    follow(late_token, "star")
    split_pump["on_follow_change"].drain()  # while the promotion still runs
    split_pump["on_job"].drain()
    assert user_item(star["id"]).celebrity_state == celebrities.CELEBRITY
    assert celebrity_followees(late["id"]) == {star["id"]}
    tweet = make_tweet(star_token, "pulled")["id"]
    split_pump["on_tweet_change"].drain()
    assert home(late_token) == [tweet]
