"""Retweets in home timelines, over the API and the event pump.

A retweet travels like a tweet (fan-out to the retweeter's followers and
their own timeline); a home timeline shows an original at most once. The
entry shown for it is the oldest that carries it: the original itself if
it is in the timeline (materialised, or pulled from a followed celebrity),
else the oldest retweet of it by the reader or a followee; the other
retweets stay in the table, skipped, so undoing the shown one lets the next
take its place. A followed celebrity's retweet counts even when it is older
than the pull cache holds (its marker is read). test_timeline_model holds the rule against a model under
every delivery order; these are the cases by name, and what a page costs.
"""
import pytest
from support import celebrity_followees, timeline_entries, user_item

from chalicelib import settings
from chalicelib.home import celebrities
from devstack.metering import DynamoDBCalls


def shown(api, token, query="limit=100") -> list[tuple[str, str | None]]:
    """One page, as (item id, the id of the original it carries or None)."""
    reply = api.get(f"/timelines/home?{query}", token=token)
    assert reply.status == 200, reply.json
    return [(t["id"], t["retweet_of"] and t["retweet_of"]["id"]) for t in reply.json["data"]]


def pages(api, token, limit) -> list[list[tuple[str, str | None]]]:
    """Every page of the home timeline, by cursor."""
    out, cursor = [], None
    for _ in range(100):
        query = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        reply = api.get(f"/timelines/home?{query}", token=token)
        assert reply.status == 200, reply.json
        out.append([(t["id"], t["retweet_of"] and t["retweet_of"]["id"]) for t in reply.json["data"]])
        cursor = reply.json["meta"]["next_cursor"]
        if cursor is None:
            return out
    raise AssertionError("the home timeline never ended")


@pytest.fixture
def retweet(api):
    def do(token, tweet_id, status=201):
        reply = api.post(f"/tweets/{tweet_id}/retweet", token=token)
        assert reply.status == status, reply.json
        return reply.json["id"]
    return do


@pytest.fixture
def undo(api):
    def do(token, tweet_id):
        reply = api.delete(f"/tweets/{tweet_id}/retweet", token=token)
        assert (reply.status, reply.json) == (200, {"retweeted": False})
    return do


@pytest.fixture
def users(make_user, cheap_passwords):
    """alice writes originals; dave reads; bob and carol retweet. Returns
    {handle: (user json, token)}."""
    return {handle: make_user(handle) for handle in ("alice", "bob", "carol", "dave")}


def token(users, handle):
    return users[handle][1]


# --- one original, several retweets -----------------------------------------

def test_two_followees_retweet_one_original_it_shows_once_as_the_older_retweet(api, users, make_tweet, follow,
                                                                               retweet, pump):
    follow(token(users, "dave"), "bob")
    follow(token(users, "dave"), "carol")
    pump.drain()
    original = make_tweet(token(users, "alice"), "worth sharing")
    bobs = retweet(token(users, "bob"), original["id"])
    carols = retweet(token(users, "carol"), original["id"])
    pump.drain()

    assert timeline_entries(users["dave"][0]["id"]) == [carols, bobs]  # both kept...
    assert shown(api, token(users, "dave")) == [(bobs, original["id"])]  # ...the older one shown
    item = api.get("/timelines/home", token=token(users, "dave")).json["data"][0]
    assert item["author"]["handle"] == "bob" and item["text"] == ""
    assert item["retweet_of"] == api.get(f"/tweets/{original['id']}").json
    # Each retweeter has their own retweet in their own home timeline.
    assert shown(api, token(users, "bob")) == [(bobs, original["id"])]
    assert shown(api, token(users, "carol")) == [(carols, original["id"])]
    assert shown(api, token(users, "alice")) == [(original["id"], None)]


def test_a_retweet_of_a_retweet_is_one_more_retweet_of_the_original(api, users, make_tweet, follow, retweet,
                                                                    pump):
    follow(token(users, "dave"), "bob")
    follow(token(users, "dave"), "carol")
    original = make_tweet(token(users, "alice"))
    bobs = retweet(token(users, "bob"), original["id"])
    carols = retweet(token(users, "carol"), bobs)  # naming bob's retweet
    pump.drain()
    assert shown(api, token(users, "dave")) == [(bobs, original["id"])]
    assert carols in timeline_entries(users["dave"][0]["id"])


def test_undoing_the_shown_retweet_lets_the_next_take_its_place(api, users, make_tweet, follow, retweet, undo,
                                                                pump):
    for handle in ("bob", "carol"):
        follow(token(users, "dave"), handle)
    pump.drain()
    original = make_tweet(token(users, "alice"))
    bobs = retweet(token(users, "bob"), original["id"])
    carols = retweet(token(users, "carol"), original["id"])
    pump.drain()
    assert shown(api, token(users, "dave")) == [(bobs, original["id"])]

    undo(token(users, "bob"), original["id"])
    # At once, before the tweets stream retracts bob's entry: the read drops
    # the deleted retweet and shows the next.
    assert shown(api, token(users, "dave")) == [(carols, original["id"])]
    pump.drain()
    assert timeline_entries(users["dave"][0]["id"]) == [carols]
    assert shown(api, token(users, "dave")) == [(carols, original["id"])]

    # Bob retweets again: a new, newer retweet; carol's stays the one shown.
    again = retweet(token(users, "bob"), original["id"])
    pump.drain()
    assert timeline_entries(users["dave"][0]["id"]) == [again, carols]
    assert shown(api, token(users, "dave")) == [(carols, original["id"])]

    # Undoing a retweet that is not shown changes nothing that is.
    undo(token(users, "bob"), again)  # by the retweet's own id
    pump.drain()
    assert shown(api, token(users, "dave")) == [(carols, original["id"])]

    # The last one undone (by deleting the retweet): the original is gone from the timeline.
    assert api.delete(f"/tweets/{carols}", token=token(users, "carol")).status == 204
    pump.drain()
    assert timeline_entries(users["dave"][0]["id"]) == []
    assert shown(api, token(users, "dave")) == []


def test_unfollowing_the_shown_retweeter_shows_the_next_retweet(api, users, make_tweet, follow, unfollow,
                                                                retweet, pump):
    for handle in ("bob", "carol"):
        follow(token(users, "dave"), handle)
    original = make_tweet(token(users, "alice"))
    bobs = retweet(token(users, "bob"), original["id"])
    carols = retweet(token(users, "carol"), original["id"])
    pump.drain()
    assert shown(api, token(users, "dave")) == [(bobs, original["id"])]
    unfollow(token(users, "dave"), "bob")
    assert shown(api, token(users, "dave")) == [(carols, original["id"])]  # before the follows stream, too
    pump.drain()
    assert shown(api, token(users, "dave")) == [(carols, original["id"])]
    follow(token(users, "dave"), "bob")  # the backfill brings bob's (older) retweet back: shown again
    pump.drain()
    assert shown(api, token(users, "dave")) == [(bobs, original["id"])]


# --- the original there as itself ---------------------------------------------

def test_when_the_originals_author_is_followed_only_the_original_shows(api, users, make_tweet, follow,
                                                                       unfollow, retweet, pump):
    for handle in ("alice", "bob", "carol"):
        follow(token(users, "dave"), handle)
    pump.drain()
    original = make_tweet(token(users, "alice"))
    bobs = retweet(token(users, "bob"), original["id"])
    carols = retweet(token(users, "carol"), original["id"])
    own = retweet(token(users, "dave"), original["id"])
    pump.drain()
    assert timeline_entries(users["dave"][0]["id"]) == [own, carols, bobs, original["id"]]
    assert shown(api, token(users, "dave")) == [(original["id"], None)]

    unfollow(token(users, "dave"), "alice")  # now the original is carried by the oldest retweet
    pump.drain()
    assert shown(api, token(users, "dave")) == [(bobs, original["id"])]
    follow(token(users, "dave"), "alice")  # and back: the backfill brings the original itself
    pump.drain()
    assert shown(api, token(users, "dave")) == [(original["id"], None)]


def test_the_original_found_by_a_follow_replaces_a_retweet_shown_before(api, users, make_tweet, follow,
                                                                        retweet, pump):
    follow(token(users, "dave"), "bob")
    original = make_tweet(token(users, "alice"))
    bobs = retweet(token(users, "bob"), original["id"])
    pump.drain()
    assert shown(api, token(users, "dave")) == [(bobs, original["id"])]
    follow(token(users, "dave"), "alice")
    pump.drain()
    assert shown(api, token(users, "dave")) == [(original["id"], None)]


def test_a_reader_retweeting_a_tweet_of_someone_they_follow(api, users, make_tweet, follow, retweet, pump):
    follow(token(users, "dave"), "alice")
    follow(token(users, "bob"), "dave")  # bob follows dave, not alice
    pump.drain()
    original = make_tweet(token(users, "alice"))
    own = retweet(token(users, "dave"), original["id"])
    pump.drain()
    assert timeline_entries(users["dave"][0]["id"]) == [own, original["id"]]
    assert shown(api, token(users, "dave")) == [(original["id"], None)]  # there as itself: not twice
    assert shown(api, token(users, "bob")) == [(own, original["id"])]  # bob sees dave's retweet
    # A reader's own retweet of someone they do not follow is in their timeline.
    other = make_tweet(token(users, "carol"))
    again = retweet(token(users, "dave"), other["id"])
    pump.drain()
    assert shown(api, token(users, "dave")) == [(again, other["id"]), (original["id"], None)]


def test_retweets_of_the_readers_own_tweet_do_not_repeat_it(api, users, make_tweet, follow, retweet, pump):
    for handle in ("bob", "carol"):
        follow(token(users, "dave"), handle)
    own = make_tweet(token(users, "dave"))
    retweet(token(users, "bob"), own["id"])
    retweet(token(users, "carol"), own["id"])
    retweet(token(users, "dave"), own["id"])  # retweeting one's own tweet is allowed
    pump.drain()
    assert shown(api, token(users, "dave")) == [(own["id"], None)]


# --- the celebrity path ------------------------------------------------------------

@pytest.fixture
def star(monkeypatch, make_user, follow, pump, users):
    """`star` is a celebrity (threshold 3: dave and two fans follow it),
    pulled at read time, without the pull cache; dave also follows bob."""
    monkeypatch.setattr(settings, "CELEBRITY_THRESHOLD", 3)
    monkeypatch.setattr(settings, "CELEBRITY_CACHE_SECONDS", 0)
    star, star_token = make_user("star")
    for n in range(2):
        follow(make_user(f"fan{n}")[1], "star")
    follow(token(users, "dave"), "star")
    follow(token(users, "dave"), "bob")
    pump.drain()
    assert user_item(star["id"]).celebrity_state == celebrities.CELEBRITY
    assert celebrity_followees(users["dave"][0]["id"]) == {star["id"]}
    return star_token


def test_a_celebrity_and_a_followee_retweet_one_original(api, users, star, make_tweet, retweet, undo, pump):
    dave = users["dave"][0]["id"]
    first = make_tweet(token(users, "alice"), "the followee is first")
    bobs = retweet(token(users, "bob"), first["id"])
    stars_later = retweet(star, first["id"])
    second = make_tweet(token(users, "alice"), "the celebrity is first")
    stars = retweet(star, second["id"])
    bobs_later = retweet(token(users, "bob"), second["id"])
    pump.drain()
    assert timeline_entries(dave) == [bobs_later, bobs]  # the celebrity's retweets are pulled, not written
    assert shown(api, token(users, "dave")) == [(stars, second["id"]), (bobs, first["id"])]
    assert pages(api, token(users, "dave"), 1) == [[(stars, second["id"])], [(bobs, first["id"])]]

    # Undoing the shown one, either way round, shows the other.
    undo(token(users, "bob"), first["id"])
    undo(star, second["id"])
    assert shown(api, token(users, "dave")) == [(bobs_later, second["id"]), (stars_later, first["id"])]
    pump.drain()
    assert shown(api, token(users, "dave")) == [(bobs_later, second["id"]), (stars_later, first["id"])]
    assert pages(api, token(users, "dave"), 1) == [[(bobs_later, second["id"])], [(stars_later, first["id"])]]


def test_a_celebritys_own_tweet_pulled_is_not_repeated_by_a_retweet(api, users, star, make_tweet, retweet,
                                                                    pump):
    pulled = make_tweet(star, "pulled at read time")
    bobs = retweet(token(users, "bob"), pulled["id"])
    pump.drain()
    assert timeline_entries(users["dave"][0]["id"]) == [bobs]
    assert shown(api, token(users, "dave")) == [(pulled["id"], None)]
    # Page by page, too: the first page reads past the skipped retweet to fill itself.
    assert pages(api, token(users, "dave"), 1) == [[(pulled["id"], None)]]


def test_unfollowing_a_celebrity_shows_a_followees_retweet_of_its_tweet_at_once(api, users, star, make_tweet,
                                                                                unfollow, retweet, pump):
    pulled = make_tweet(star, "pulled")["id"]
    newer = make_tweet(token(users, "bob"), "newer")["id"]
    bobs = retweet(token(users, "bob"), pulled)
    pump.drain()
    assert shown(api, token(users, "dave")) == [(newer, None), (pulled, None)]
    unfollow(token(users, "dave"), "star")
    # Before the follows stream runs: the star is still on dave's pull list, not followed.
    assert celebrity_followees(users["dave"][0]["id"]) != set()
    assert shown(api, token(users, "dave"), f"since_id={pulled}") == [(bobs, pulled), (newer, None)]
    assert shown(api, token(users, "dave")) == [(bobs, pulled), (newer, None)]
    assert celebrity_followees(users["dave"][0]["id"]) == set()  # forgotten by the read
    pump.drain()
    assert shown(api, token(users, "dave")) == [(bobs, pulled), (newer, None)]


def test_an_undone_celebrity_retweet_in_the_pull_cache_does_not_hide_the_next(monkeypatch, api, users, star,
                                                                             make_tweet, retweet, undo, pump):
    """The pull cache is short-lived and may still list a retweet undone
    since; the retweet itself is never served, and the next retweet of the
    original takes its place at once."""
    monkeypatch.setattr(settings, "CELEBRITY_CACHE_SECONDS", 60)
    original = make_tweet(token(users, "alice"))
    stars = retweet(star, original["id"])
    bobs = retweet(token(users, "bob"), original["id"])
    pump.drain()
    assert shown(api, token(users, "dave")) == [(stars, original["id"])]  # fills the cache
    undo(star, original["id"])
    pump.drain()
    assert shown(api, token(users, "dave")) == [(bobs, original["id"])]


def test_a_celebrity_retweet_older_than_the_pull_window_still_counts_as_the_oldest(monkeypatch, api, users,
                                                                                   star, make_tweet, retweet,
                                                                                   pump):
    monkeypatch.setattr(settings, "CELEBRITY_PULL", 2)
    original = make_tweet(token(users, "alice"))
    stars = retweet(star, original["id"])
    for n in range(2):
        make_tweet(star, f"newer {n}")
    retweet(token(users, "bob"), original["id"])
    pump.drain()
    carried = [item for page in pages(api, token(users, "dave"), 2) for item in page if item[1]]
    assert carried == [(stars, original["id"])]




@pytest.fixture
def marker_reads(dynamodb_hooks):
    """Per BatchGetItem, what it asks the retweets table for: (keys,
    ConsistentRead), or None if it asks nothing there."""
    table, reads = settings.TABLE_NAMES["retweets"], []

    def record(body, _):
        request = body["RequestItems"].get(table)
        reads.append(request and (len(request["Keys"]), request.get("ConsistentRead", False)))

    dynamodb_hooks.on("BatchGetItem", record)
    return reads


def test_a_celebritys_retweet_before_its_pull_window_is_read_from_its_marker(monkeypatch, api, users, star,
                                                                            make_tweet, retweet, undo,
                                                                            unfollow, pump, marker_reads):
    """The cache cannot rule out the star's retweets of originals older than
    the oldest tweet it holds: a page holding a retweet of one reads the
    (original, star) markers as keys in its hydration BatchGetItem, strongly
    consistently, at no extra call; a page the cache rules out reads none.
    Undone, a marker is gone at once and the newer retweet shows again; an
    unfollowed star's markers do not count."""
    monkeypatch.setattr(settings, "CELEBRITY_PULL", 2)
    dave = token(users, "dave")
    original, other = (make_tweet(token(users, "alice"), text)["id"] for text in ("old", "older"))
    stars, stars_other = retweet(star, original), retweet(star, other)
    newer = [make_tweet(star, f"newer {n}")["id"] for n in range(2)]  # the star's pull window
    later = make_tweet(token(users, "alice"), "newer than the window's oldest")["id"]
    bobs, bobs_other, bobs_later = (retweet(token(users, "bob"), t) for t in (original, other, later))
    pump.drain()
    window = f"since_id={stars_other}"  # holds bob's retweets, not the star's older ones
    # The reader, the timeline, the star's newest 2 (which do not hold the
    # window) and its tweets in the window, its newest 2 again for the
    # retweets (no cache here), 1 by-original Query per original carried,
    # the hydration.
    page_read = {"GetItem": 1, "Query": 1 + 1 + 1 + 1 + 3, "BatchGetItem": 1}
    marker_reads.clear()  # the setup's
    with DynamoDBCalls() as meter:
        assert shown(api, dave, window) == [(bobs_later, later), (newer[1], None), (newer[0], None)]
    assert dict(meter.counts) == page_read  # the two markers ride in the hydration call
    assert marker_reads == [(2, True)]
    # An original newer than the window's oldest tweet: ruled out by the cache, no marker read.
    marker_reads.clear()
    with DynamoDBCalls() as meter:
        assert shown(api, dave, f"since_id={bobs_other}") == [(bobs_later, later)]
    assert dict(meter.counts) == {"GetItem": 1, "Query": 1 + 1 + 1 + 1, "BatchGetItem": 1}
    assert marker_reads == [None]
    assert [item for page in pages(api, dave, 2) for item in page if item[1]] == [
        (bobs_later, later), (stars_other, other), (stars, original)]

    # The star undoes one old retweet: at once, before the stream runs, bob's shows.
    undo(star, original)
    marker_reads.clear()
    with DynamoDBCalls() as meter:
        assert shown(api, dave, window) == [(bobs_later, later), (bobs, original), (newer[1], None),
                                            (newer[0], None)]
    assert dict(meter.counts) == page_read
    assert marker_reads == [(2, True)]  # read, one of them not found
    pump.drain()
    assert [item for page in pages(api, dave, 2) for item in page if item[1]] == [
        (bobs_later, later), (bobs, original), (stars_other, other)]
    # Retweeted again, the star's retweet is newer than bob's (and in its window): bob's stays.
    retweet(star, original)
    pump.drain()
    assert [item for page in pages(api, dave, 2) for item in page if item[1]] == [
        (bobs_later, later), (bobs, original), (stars_other, other)]

    # Unfollowed, before the follows stream runs (the star still on dave's
    # pull list): its marker of `other` is still read, in the same call (its
    # retweet of `original` is in its window now), and no longer counts.
    unfollow(dave, "star")
    marker_reads.clear()
    with DynamoDBCalls() as meter:
        assert shown(api, dave, window) == [(bobs_later, later), (bobs_other, other), (bobs, original)]
    assert meter.counts["BatchGetItem"] == 1 and marker_reads == [(1, True)]
    pump.drain()
    assert shown(api, dave) == [(bobs_later, later), (bobs_other, other), (bobs, original)]


def test_hydration_keys_and_markers_past_100_go_in_chunks_of_100(monkeypatch, api, users, star, make_tweet,
                                                                 retweet, pump, dynamodb_hooks):
    """Bob retweets 25 originals older than the star's pull window (of 1
    tweet); the star retweeted 4 of them before it. The first round of
    dave's first page holds bob's 25 retweets: 25 retweets + 25 originals,
    2 follows (bob, the star), 25 entries and 25 markers, found or not: 102
    keys, 2 BatchGetItem (100 + 2: DynamoDB's limit), the markers split 23
    + 2, each part strongly consistent. The star's retweets are of the
    first and last original and one on each side of the split. The walk
    shows each original once, as its oldest retweet."""
    monkeypatch.setattr(settings, "CELEBRITY_PULL", 1)
    dave = token(users, "dave")
    originals = [make_tweet(token(users, "alice"), f"original {n}")["id"] for n in range(25)]
    by_star = {o: retweet(star, o) for o in (originals[0], originals[22], originals[23], originals[24])}
    window = make_tweet(star, "the pull window")["id"]
    bobs = {o: retweet(token(users, "bob"), o) for o in originals}
    pump.drain()

    table, sizes, markers = settings.TABLE_NAMES["retweets"], [], []

    def record(body, _):
        sizes.append(sum(len(request["Keys"]) for request in body["RequestItems"].values()))
        request = body["RequestItems"].get(table)
        markers.append(request and ([int(k["tweet_id"]["N"]) for k in request["Keys"]],
                                    request.get("ConsistentRead", False)))

    dynamodb_hooks.on("BatchGetItem", record)
    first = shown(api, dave, "limit=25")
    # Round 2 (for the 4 skipped) hydrates the star's window and 3 of its retweets:
    # 4 + 3, 1, 3, and reads no marker (the page lists the star's retweets of those originals).
    assert sizes == [100, 2, 11]
    ids = [int(o) for o in originals]
    assert markers == [(ids[:23], True), (ids[23:], True), None]
    dynamodb_hooks.clear()

    expected = sorted([(window, None)] + [(by_star.get(o, bobs[o]), o) for o in originals],
                      key=lambda item: int(item[0]), reverse=True)
    assert first == expected[:25]
    assert [item for page in pages(api, dave, 25) for item in page] == expected


def test_markers_left_unprocessed_are_read_again_strongly_consistently(monkeypatch, api, users, star,
                                                                       make_tweet, retweet, pump,
                                                                       dynamodb_hooks):
    """DynamoDB may leave part of a BatchGetItem unprocessed; it hands the
    keys back with their table's ConsistentRead and projection, and
    chalicelib.storage.batches asks again with them. (A BatchGetItem is not
    cancelled by a transaction writing a marker, as TransactGetItems is: it
    reads each item as last committed.)"""
    import boto3

    monkeypatch.setattr(settings, "CELEBRITY_PULL", 1)
    monkeypatch.setattr(settings, "BATCH_BACKOFF_SECONDS", 0)
    original = make_tweet(token(users, "alice"))["id"]
    stars = retweet(star, original)
    make_tweet(star, "the pull window")
    bobs = retweet(token(users, "bob"), original)
    pump.drain()
    table, requests = settings.TABLE_NAMES["retweets"], []

    def leave_the_markers(body, _):
        requests.append(body["RequestItems"])
        if len(requests) > 1 or table not in body["RequestItems"]:
            return None
        rest = {name: request for name, request in body["RequestItems"].items() if name != table}
        answered = boto3.client("dynamodb").batch_get_item(RequestItems=rest)["Responses"]
        return dynamodb_hooks.respond({"Responses": answered,
                                       "UnprocessedKeys": {table: body["RequestItems"][table]}})

    dynamodb_hooks.on("BatchGetItem", leave_the_markers)
    assert bobs > stars
    # Bob's retweet is skipped: the star's, older, is found on the second try.
    assert [o for _, o in shown(api, token(users, "dave"), f"since_id={stars}")] == [None]
    assert len(requests) == 2 and requests[1] == {table: requests[0][table]}
    assert requests[1][table]["ConsistentRead"] is True

# --- deleting the original ---------------------------------------------------------

def test_deleting_the_original_takes_every_retweet_out_of_home_timelines(api, users, star, make_user, follow,
                                                                         make_tweet, retweet, pump):
    erin, erin_token = make_user("erin")
    follow(erin_token, "carol")
    follow(erin_token, "star")
    original = make_tweet(token(users, "alice"))
    kept = make_tweet(token(users, "alice"), "not deleted")
    for who in (token(users, "bob"), token(users, "carol"), star):
        retweet(who, original["id"])
    kept_rt = retweet(token(users, "carol"), kept["id"])
    pump.drain()
    assert [o for _, o in shown(api, token(users, "dave"))] == [original["id"]]
    assert [o for _, o in shown(api, erin_token)] == [kept["id"], original["id"]]

    assert api.delete(f"/tweets/{original['id']}", token=token(users, "alice")).status == 204
    # At once, before the cascade: no retweet of it is served.
    assert shown(api, token(users, "dave")) == []
    assert shown(api, erin_token) == [(kept_rt, kept["id"])]
    pump.drain()
    for handle in ("alice", "bob", "carol", "dave"):
        assert original["id"] not in timeline_entries(users[handle][0]["id"])
    assert timeline_entries(users["dave"][0]["id"]) == []
    assert timeline_entries(erin["id"]) == [kept_rt]
    assert shown(api, star) == []
    assert shown(api, erin_token) == [(kept_rt, kept["id"])]


# --- pages ---------------------------------------------------------------------------

def test_a_newer_duplicate_on_page_one_gives_way_to_the_oldest_on_page_two(api, users, make_tweet, follow,
                                                                           retweet, pump):
    """Which retweet is shown does not depend on where a page ends: a newer
    retweet of an original is skipped on page 1 because an older one (shown
    on page 2) exists; and a retweet on page 1 is skipped when its original
    is there as itself further down."""
    for handle in ("bob", "carol"):
        follow(token(users, "dave"), handle)
    pump.drain()
    original = make_tweet(token(users, "alice"))
    bobs = retweet(token(users, "bob"), original["id"])
    between = [make_tweet(token(users, "bob"), f"between {n}")["id"] for n in range(2)]
    carols = retweet(token(users, "carol"), original["id"])
    newest = make_tweet(token(users, "carol"), "newest")["id"]
    pump.drain()
    assert timeline_entries(users["dave"][0]["id"]) == [newest, carols, between[1], between[0], bobs]

    assert pages(api, token(users, "dave"), 2) == [
        [(newest, None), (between[1], None)],  # carol's retweet skipped: the page reads on to fill
        [(between[0], None), (bobs, original["id"])]]
    assert pages(api, token(users, "dave"), 1) == [
        [(newest, None)], [(between[1], None)], [(between[0], None)], [(bobs, original["id"])]]
    # A window that holds only the newer retweet does not show the original at all.
    assert shown(api, token(users, "dave"), f"since_id={between[1]}") == [(newest, None)]
    assert shown(api, token(users, "dave"), f"max_id={between[1]}") == [(between[0], None),
                                                                       (bobs, original["id"])]

    # Now the original there as itself, at the bottom of the last page.
    follow(token(users, "dave"), "alice")
    pump.drain()
    walked = [item for page in pages(api, token(users, "dave"), 2) for item in page]
    assert walked == [(newest, None), (between[1], None), (between[0], None), (original["id"], None)]


def test_a_page_of_skipped_retweets_still_leads_on(api, users, make_tweet, follow, retweet, pump):
    """More retweets in a row than a page reads in its rounds: the page comes
    back short (even empty) with a cursor, and the walk still ends with each
    original once."""
    follow(token(users, "dave"), "alice")
    for handle in ("bob", "carol"):
        follow(token(users, "dave"), handle)
    originals = [make_tweet(token(users, "alice"), f"original {n}")["id"] for n in range(4)]
    pump.drain()
    for original in originals:
        for who in ("bob", "carol"):
            retweet(token(users, who), original)
    pump.drain()
    walked = pages(api, token(users, "dave"), 1)
    assert [item for page in walked for item in page] == [(o, None) for o in reversed(originals)]
    assert [] in walked  # pages whose three rounds met only skipped retweets


# --- cost ------------------------------------------------------------------------------

def test_a_home_page_with_retweets_costs_one_query_per_original_carried(api, users, make_user, make_tweet,
                                                                        follow, retweet, pump):
    """1 GetItem (the reader), 1 Query (the timeline), 1 BatchGetItem (the
    tweets, their originals, the follows and the reader's entries for those
    originals), and 1 Query on the by-original index per distinct original
    carried by a retweet whose original is not there as itself; and 1 more
    BatchGetItem if an original there as itself is by an author with nothing
    else on the page (to check that follow)."""
    _, erin_token = make_user("erin")  # dave does not follow erin
    for handle in ("alice", "bob", "carol"):
        follow(token(users, "dave"), handle)
    pump.drain()
    plain = [make_tweet(token(users, h))["id"] for h in ("alice", "bob", "carol", "dave")]
    pump.drain()
    with DynamoDBCalls() as meter:
        assert len(shown(api, token(users, "dave"))) == 4
    without_retweets = dict(meter.counts)
    assert without_retweets == {"GetItem": 1, "Query": 1, "BatchGetItem": 1}

    # alice's tweet is there as itself: its two retweets cost no Query.
    retweet(token(users, "bob"), plain[0])
    retweet(token(users, "carol"), plain[0])
    pump.drain()
    with DynamoDBCalls() as meter:
        assert shown(api, token(users, "dave")) == [(p, None) for p in reversed(plain)]
    assert dict(meter.counts) == without_retweets

    # Two of erin's tweets, one retweeted twice, one once: 1 Query each.
    once, twice = make_tweet(erin_token, "once")["id"], make_tweet(erin_token, "twice")["id"]
    bobs = retweet(token(users, "bob"), twice)
    retweet(token(users, "carol"), twice)
    carols = retweet(token(users, "carol"), once)
    pump.drain()
    with DynamoDBCalls() as meter:
        page = shown(api, token(users, "dave"))
    assert page == [(carols, once), (bobs, twice)] + [(p, None) for p in reversed(plain)]
    assert dict(meter.counts) == {"GetItem": 1, "Query": 1 + 2, "BatchGetItem": 1}

    # Without alice's tweet on the page (newer ones only), her follow is checked on its own.
    with DynamoDBCalls() as meter:
        page = shown(api, token(users, "dave"), f"since_id={plain[0]}")
    assert page == [(carols, once), (bobs, twice)] + [(p, None) for p in reversed(plain[1:])]
    assert dict(meter.counts) == {"GetItem": 1, "Query": 1 + 2, "BatchGetItem": 2}


def test_checking_celebrities_retweets_costs_no_call_while_the_pull_cache_is_warm(monkeypatch, api, users,
                                                                                  star, make_tweet, retweet,
                                                                                  pump):
    """The followed celebrities' retweets of the page's originals come from
    the pull cache and are checked in the page's one BatchGetItem."""
    monkeypatch.setattr(settings, "CELEBRITY_CACHE_SECONDS", 60)
    first, second = make_tweet(token(users, "alice"))["id"], make_tweet(token(users, "alice"))["id"]
    bobs = retweet(token(users, "bob"), first)
    stars = retweet(star, second)
    retweet(star, first)  # newer than bob's: skipped
    pump.drain()
    page = [(stars, second), (bobs, first)]
    with DynamoDBCalls() as cold:  # a page of 20: pulled from the cache (bigger ones query past it)
        assert shown(api, token(users, "dave"), "limit=20") == page
    with DynamoDBCalls() as warm:
        assert shown(api, token(users, "dave"), "limit=20") == page
    # The reader, the timeline, (cold only: the celebrity's recent tweets), 1 per original carried.
    assert dict(cold.counts) == {"GetItem": 1, "Query": 1 + 1 + 2, "BatchGetItem": 1}
    assert dict(warm.counts) == {"GetItem": 1, "Query": 1 + 2, "BatchGetItem": 1}


# --- races ---------------------------------------------------------------------------

def test_a_stale_entry_of_the_original_does_not_hide_its_retweet(monkeypatch, api, users, make_tweet, follow,
                                                                  unfollow, retweet, pump_factory):
    """A fan-out job that lands after an unfollow leaves the original's entry
    in the timeline (never served, removed by the read that meets it): it
    must not count as the original being there as itself, on any page."""
    monkeypatch.setattr(settings, "FANOUT_PAGE_SIZE", 1)
    pumps = {name: pump_factory([name]) for name in ("on_tweet_change", "on_follow_change", "on_job")}
    dave = users["dave"][0]["id"]
    follow(token(users, "carol"), "alice")
    follow(token(users, "dave"), "bob")
    follow(token(users, "dave"), "alice")  # the newest follow: alice's first fan-out page
    pumps["on_follow_change"].drain()
    original = make_tweet(token(users, "alice"))["id"]
    pumps["on_tweet_change"].drain()  # page 1 (dave) carried into the job for page 2 (carol)
    unfollow(token(users, "dave"), "alice")
    pumps["on_follow_change"].drain()
    pumps["on_job"].drain()
    assert timeline_entries(dave) == [original]  # stale: written after the unfollow was processed
    between = [make_tweet(token(users, "bob"), f"between {n}")["id"] for n in range(2)]
    bobs = retweet(token(users, "bob"), original)
    for name in ("on_tweet_change", "on_job"):
        pumps[name].drain()
    assert timeline_entries(dave) == [bobs, between[1], between[0], original]
    # Page 1 holds only the retweet; the original's entry, found stale, is deleted by reading it.
    assert pages(api, token(users, "dave"), 1) == [[(bobs, original)], [(between[1], None)],
                                                   [(between[0], None)]]
    assert timeline_entries(dave) == [bobs, between[1], between[0]]
    assert shown(api, token(users, "dave")) == [(bobs, original), (between[1], None), (between[0], None)]
