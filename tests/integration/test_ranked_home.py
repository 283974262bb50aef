"""GET /timelines/home?ranked=1 over the real stream and queue path: the
candidates, the order and its reasons, affinity's lift, paging through a
snapshot while activity arrives, the refusals, and the calls it costs."""
import pytest
from support import assert_error

from chalicelib import settings
from chalicelib.home import ranked
from devstack.metering import DynamoDBCalls


def ranked_page(api, token, limit=20, cursor=None):
    path = f"/timelines/home?ranked=1&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
    reply = api.get(path, token=token)
    assert reply.status == 200, reply.json
    return reply.json


def ranked_ids(api, token, limit=20):
    """Every page of a new ranked session: the ids in order."""
    ids, cursor = [], None
    for _ in range(100):
        body = ranked_page(api, token, limit, cursor)
        ids += [t["id"] for t in body["data"]]
        cursor = body["meta"]["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("the ranked timeline never ended")


@pytest.fixture
def reader(make_user, follow):
    """A reader following `authors` (made on demand)."""

    def make(*authors):
        made = {}
        for handle in authors:
            made[handle] = make_user(handle)
        user, token = make_user("reader")
        for handle in authors:
            follow(token, handle)
        return user, token, made

    return make


def like_by_fans(api, make_user, tweet_id, fans, prefix):
    for i in range(fans):
        _, token = make_user(f"{prefix}{i}")
        assert api.post(f"/tweets/{tweet_id}/like", token=token).status == 200


def test_a_well_engaged_older_tweet_ranks_above_a_newer_unengaged_one(api, make_user, make_tweet,
                                                                      reader, pump):
    _, token, authors = reader("alice", "bob")
    older = make_tweet(authors["alice"][1], "worth reading")
    like_by_fans(api, make_user, older["id"], 4, "fan")
    assert api.post("/tweets", {"text": "a reply", "reply_to_id": older["id"]},
                    token=make_user("replier")[1]).status == 201
    newer = make_tweet(authors["bob"][1], "just now")
    pump.drain()

    body = ranked_page(api, token)
    assert [t["id"] for t in body["data"]] == [older["id"], newer["id"]]
    first, second = body["data"]
    assert first["ranking"]["reasons"] == ["4 likes, 1 reply", "new"]
    assert second["ranking"]["reasons"] == ["new"]
    assert first["ranking"]["score"] > second["ranking"]["score"] > 0
    assert body["meta"]["ranked"] is True and body["meta"]["next_cursor"] is None
    assert first["counts"]["likes"] == 4 and first["counts"]["replies"] == 1
    # Chronological stays the default, without ranking.
    chronological = api.get("/timelines/home", token=token).json
    assert [t["id"] for t in chronological["data"]] == [newer["id"], older["id"]]
    assert chronological["meta"]["ranked"] is False
    assert all("ranking" not in t for t in chronological["data"])


def test_one_author_cannot_take_the_top_three_with_ordinary_tweets(api, make_tweet, reader, pump):
    _, token, authors = reader("prolific", "bob", "carol")
    make_tweet(authors["bob"][1], "bob's one")
    make_tweet(authors["carol"][1], "carol's one")
    for i in range(3):
        make_tweet(authors["prolific"][1], f"prolific {i}")  # the newest three
    pump.drain()

    handles = [t["author"]["handle"] for t in ranked_page(api, token)["data"]]
    assert len(set(handles[:3])) == 3, handles
    assert handles[0] == "prolific" and handles.count("prolific") == 3
    # Each further one weighs half as much again.
    scores = [t["ranking"]["score"] for t in ranked_page(api, token)["data"]
              if t["author"]["handle"] == "prolific"]
    assert scores[1] == pytest.approx(scores[0] / 2, rel=0.01)
    assert scores[2] == pytest.approx(scores[0] / 4, rel=0.01)


def test_affinity_lifts_the_authors_the_reader_likes_and_says_so(api, make_tweet, reader, pump,
                                                                monkeypatch):
    # The liked tweets are candidates too and rank above: diversity would bury
    # the friend's fifth tweet, so it is off here, to see affinity alone.
    monkeypatch.setattr(settings, "AUTHOR_DIVERSITY_DECAY", 1.0)
    _, token, authors = reader("friend", "stranger")
    liked = [make_tweet(authors["friend"][1], f"old {i}") for i in range(4)]
    for tweet in liked:
        assert api.post(f"/tweets/{tweet['id']}/like", token=token).status == 200
    friend_new = make_tweet(authors["friend"][1], "from a friend")
    stranger_new = make_tweet(authors["stranger"][1], "from a stranger")  # newer, same counts
    pump.drain()

    data = ranked_page(api, token)["data"]
    ids = [t["id"] for t in data]
    assert ids.index(friend_new["id"]) < ids.index(stranger_new["id"])
    shown = {t["id"]: t for t in data}
    assert "you often like @friend" in shown[friend_new["id"]]["ranking"]["reasons"]
    assert not any("often" in r for r in shown[stranger_new["id"]]["ranking"]["reasons"])

    # Unliking takes it back: the stranger's newer tweet wins again.
    for tweet in liked:
        assert api.delete(f"/tweets/{tweet['id']}/like", token=token).status == 200
    pump.drain()
    ids = [t["id"] for t in ranked_page(api, token)["data"]]
    assert ids.index(stranger_new["id"]) < ids.index(friend_new["id"])


def test_candidates_are_the_chronological_items_each_original_once(api, make_user, make_tweet, reader,
                                                                   pump):
    user, token, authors = reader("alice", "bob", "carol")
    original = make_tweet(authors["alice"][1], "shared twice")
    for handle in ("bob", "carol"):
        assert api.post(f"/tweets/{original['id']}/retweet", token=authors[handle][1]).status == 201
    own = make_tweet(token, "my own")
    gone = make_tweet(authors["bob"][1], "deleted soon")
    outsider = make_tweet(make_user("outsider")[1], "not followed")
    pump.drain()
    assert api.delete(f"/tweets/{gone['id']}", token=authors["bob"][1]).status == 204
    pump.drain()

    data = ranked_page(api, token)["data"]
    shown = [(t["retweet_of"] or t)["id"] for t in data]
    assert sorted(shown) == sorted([original["id"], own["id"]])
    assert outsider["id"] not in shown and gone["id"] not in shown
    mine = next(t for t in data if t["id"] == own["id"])
    assert mine["ranking"]["reasons"][0] == "your tweet"
    # The original as itself: its entry is there, retweets are skipped, as chronologically.
    assert original["id"] in [t["id"] for t in data]
    assert sorted(t["id"] for t in data) == sorted(
        t["id"] for t in api.get("/timelines/home", token=token).json["data"])


def test_followed_celebrities_tweets_are_candidates(api, make_user, make_tweet, follow, pump, monkeypatch):
    monkeypatch.setattr(settings, "CELEBRITY_THRESHOLD", 2)
    _, star_token = make_user("star")
    _, token = make_user("reader")
    for i in range(2):
        follow(make_user(f"fan{i}")[1], "star")
    follow(token, "star")
    pump.drain()
    tweet = make_tweet(star_token, "pulled, not pushed")
    pump.drain()
    assert [t["id"] for t in ranked_page(api, token)["data"]] == [tweet["id"]]


def test_only_the_window_and_the_newest_candidates_are_ranked(api, make_user, make_tweet, reader, pump,
                                                              monkeypatch):
    _, token, authors = reader("alice")
    old = make_tweet(authors["alice"][1], "well liked, but early")
    like_by_fans(api, make_user, old["id"], 5, "fan")
    newest = [make_tweet(authors["alice"][1], f"later {i}") for i in range(3)]
    pump.drain()

    monkeypatch.setattr(settings, "RANKED_CANDIDATES", 3)
    assert sorted(ranked_ids(api, token)) == sorted(t["id"] for t in newest)
    monkeypatch.setattr(settings, "RANKED_CANDIDATES", 200)
    assert ranked_ids(api, token)[0] == old["id"]
    now = ranked.clock()
    monkeypatch.setattr(ranked, "clock", lambda: now + settings.RANKED_WINDOW_HOURS * 3600 + 60)
    assert ranked_ids(api, token) == []


def test_paging_a_snapshot_never_repeats_or_skips_while_activity_arrives(api, make_user, make_tweet,
                                                                         reader, pump):
    _, token, authors = reader("alice", "bob", "carol")
    posted = [make_tweet(authors[h][1], f"{h} {i}") for i in range(4) for h in ("alice", "bob", "carol")]
    pump.drain()

    first = ranked_page(api, token, limit=5)
    seen = [t["id"] for t in first["data"]]
    cursor = first["meta"]["next_cursor"]
    assert len(seen) == 5 and cursor

    # Meanwhile: new tweets, likes and replies on what the next pages hold, and views.
    late = [make_tweet(authors["bob"][1], "after the snapshot")]
    fans = [make_user(f"fan{i}")[1] for i in range(3)]
    for fan in fans:
        for tweet in posted[-3:]:
            api.post(f"/tweets/{tweet['id']}/like", token=fan)
    api.get("/timelines/home", token=fans[0])
    pump.drain()

    scores = [t["ranking"]["score"] for t in first["data"]]
    while cursor:
        body = ranked_page(api, token, limit=5, cursor=cursor)
        seen += [t["id"] for t in body["data"]]
        scores += [t["ranking"]["score"] for t in body["data"]]
        cursor = body["meta"]["next_cursor"]
    assert len(seen) == len(set(seen)) == len(posted)
    assert sorted(seen) == sorted(t["id"] for t in posted)
    assert scores == sorted(scores, reverse=True)  # the snapshot's order, whatever the counts now
    # A request without a cursor starts again, and sees the new tweet.
    assert late[0]["id"] in ranked_ids(api, token, limit=5)


def test_a_later_page_leaves_out_what_was_deleted_or_unfollowed_since(api, make_tweet, reader, unfollow,
                                                                      pump):
    _, token, authors = reader("alice", "bob")
    mine = [make_tweet(authors["alice"][1], f"alice {i}") for i in range(3)]
    bobs = [make_tweet(authors["bob"][1], f"bob {i}") for i in range(3)]
    pump.drain()
    first = ranked_page(api, token, limit=1)
    rest_ids = {t["id"] for t in mine + bobs} - {first["data"][0]["id"]}

    unfollow(token, "bob")
    victim = next(t for t in mine if t["id"] in rest_ids)
    assert api.delete(f"/tweets/{victim['id']}", token=authors["alice"][1]).status == 204
    later = ranked_page(api, token, limit=10, cursor=first["meta"]["next_cursor"])
    left = rest_ids - {victim["id"]} - {t["id"] for t in bobs}
    assert sorted(t["id"] for t in later["data"]) == sorted(left)
    assert later["meta"]["next_cursor"] is None


def test_ranked_refusals(api, make_tweet, reader, make_user, pump, monkeypatch):
    _, token, authors = reader("alice")
    for i in range(3):
        make_tweet(authors["alice"][1], f"t{i}")
    pump.drain()
    for query in ("ranked=1&max_id=x", "ranked=1&since_id=0", "ranked=yes", "ranked=1&limit=0"):
        assert_error(api.get(f"/timelines/home?{query}", token=token), 400, "invalid_request")
    # The id bounds narrow what a ranked page shows; it stays in ranked order.
    everything = [t["id"] for t in ranked_page(api, token, limit=10)["data"]]
    newest = max(everything, key=int)
    bounded = api.get(f"/timelines/home?ranked=1&max_id={newest}", token=token).json["data"]
    assert sorted(t["id"] for t in bounded) == sorted(set(everything) - {newest})
    chronological = api.get("/timelines/home?limit=1", token=token).json["meta"]["next_cursor"]
    assert_error(api.get(f"/timelines/home?ranked=1&cursor={chronological}", token=token),
                 400, "invalid_cursor")
    cursor = ranked_page(api, token, limit=1)["meta"]["next_cursor"]
    assert_error(api.get(f"/timelines/home?cursor={cursor}", token=token), 400, "invalid_cursor")
    _, other = make_user("other")
    assert_error(api.get(f"/timelines/home?ranked=1&cursor={cursor}", token=other), 400, "invalid_cursor")
    assert_error(api.get(f"/timelines/home?ranked=1&cursor={cursor[:-2]}", token=token), 400,
                 "invalid_cursor")
    assert_error(api.get("/timelines/home?ranked=1"), 401, "unauthorized")

    now = ranked.clock()
    monkeypatch.setattr(ranked, "clock", lambda: now + settings.RANKED_SNAPSHOT_SECONDS + 1)
    assert_error(api.get(f"/timelines/home?ranked=1&cursor={cursor}", token=token), 400, "cursor_expired")


def test_ranked_reads_count_views(api, make_tweet, reader, pump):
    _, token, authors = reader("alice")
    tweet = make_tweet(authors["alice"][1], "seen ranked")
    pump.drain()
    ranked_page(api, token)
    pump.drain()
    assert api.get(f"/tweets/{tweet['id']}").json["counts"]["views"] == 1


def _first_page_calls(api, token):
    with DynamoDBCalls() as meter:
        body = ranked_page(api, token, limit=2)
    return dict(meter.counts), body


@pytest.mark.parametrize("followed", [3, 30])
def test_a_ranked_page_costs_the_same_whoever_the_reader_follows(api, make_user, make_tweet, follow, pump,
                                                                 cheap_passwords, followed):
    _, token = make_user("reader")
    for i in range(followed):
        _, author = make_user(f"author{i}")
        follow(token, f"author{i}")
        make_tweet(author, "hello")
    pump.drain()

    first, body = _first_page_calls(api, token)
    # Reader (read once, by authentication), window, hydration (tweets and follows:
    # at most 100 keys a call), affinity, snapshot.
    hydration = -(-(2 * followed) // settings.BATCH_GET_MAX)
    assert first == {"GetItem": 1, "Query": 1, "BatchGetItem": hydration + 1, "PutItem": 1}
    with DynamoDBCalls() as meter:
        ranked_page(api, token, limit=50, cursor=body["meta"]["next_cursor"])
    # The caller (authentication reads it once), the snapshot, hydration.
    assert dict(meter.counts) == {"GetItem": 2, "BatchGetItem": 1}


def test_retweets_cost_no_queries_and_stand_for_their_original_once(api, make_user, make_tweet, reader,
                                                                     pump):
    """Chronologically each retweet's original costs a by-original Query (is
    an older retweet of it further down?); the ranked window is the whole
    list, so the oldest retweet in it stands for its original at no cost."""
    _, token, authors = reader("bob", "carol")
    _, outsider = make_user("outsider")
    originals = [make_tweet(outsider, f"worth sharing {i}") for i in range(4)]
    for tweet in originals:
        assert api.post(f"/tweets/{tweet['id']}/retweet", token=authors["bob"][1]).status == 201
    carol_rt = api.post(f"/tweets/{originals[0]['id']}/retweet", token=authors["carol"][1]).json
    pump.drain()

    with DynamoDBCalls() as meter:
        data = ranked_page(api, token)["data"]
    assert meter.counts["Query"] == 1
    assert sorted(t["retweet_of"]["id"] for t in data) == sorted(t["id"] for t in originals)
    shown = next(t for t in data if t["retweet_of"]["id"] == originals[0]["id"])
    assert shown["author"]["handle"] == "bob" and shown["id"] != carol_rt["id"]  # the older retweet
    assert "2 retweets" in shown["ranking"]["reasons"][0]
