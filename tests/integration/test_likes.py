"""Likes: one per user per tweet, idempotent both ways, an exact count on
the tweet under concurrent requests, a retweet's id meaning its original,
and the likes of a deleted tweet removed with it. A hypothesis test checks
likes, retweets and tweets counts against a simple model."""
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import assert_error, run_concurrently

from chalicelib.storage.tables import LikeModel, RetweetModel
from chalicelib.tweets import deletion
from tests import profiles

UNKNOWN = "911887782780350464"


def counts(api, tweet_id):
    reply = api.get(f"/tweets/{tweet_id}")
    assert reply.status == 200, reply.json
    return reply.json["counts"]


def likers(tweet_id):
    return sorted(int(like.user_id) for like in LikeModel.query(int(tweet_id), consistent_read=True))


def like(api, tweet_id, token):
    reply = api.post(f"/tweets/{tweet_id}/like", token=token)
    assert (reply.status, reply.json) == (200, {"liked": True})


def unlike(api, tweet_id, token):
    reply = api.delete(f"/tweets/{tweet_id}/like", token=token)
    assert (reply.status, reply.json) == (200, {"liked": False})


def test_like_and_unlike_are_idempotent_and_exact(api, make_user, make_tweet):
    alice, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    tweet = make_tweet(alice_token)
    other = make_tweet(alice_token)
    like(api, tweet["id"], bob_token)
    assert counts(api, tweet["id"]) == {"likes": 1, "retweets": 0, "replies": 0, "quotes": 0, "views": 0}
    like(api, tweet["id"], bob_token)
    like(api, tweet["id"], bob_token)
    assert counts(api, tweet["id"])["likes"] == 1
    assert likers(tweet["id"]) == [int(bob["id"])]
    like(api, tweet["id"], alice_token)  # one's own tweet, too
    assert counts(api, tweet["id"])["likes"] == 2
    assert likers(tweet["id"]) == sorted([int(alice["id"]), int(bob["id"])])

    unlike(api, tweet["id"], bob_token)
    assert counts(api, tweet["id"])["likes"] == 1
    unlike(api, tweet["id"], bob_token)
    assert counts(api, tweet["id"])["likes"] == 1
    assert likers(tweet["id"]) == [int(alice["id"])]
    # Likes count on their tweet only; the tweets counts do not move.
    assert counts(api, other["id"])["likes"] == 0
    assert api.get("/users/alice").json["tweets_count"] == 2
    assert api.get("/users/bob").json["tweets_count"] == 0

    like(api, tweet["id"], bob_token)  # liking again after an unlike counts again
    assert counts(api, tweet["id"])["likes"] == 2


def test_unliking_what_was_never_liked_is_a_no_op(api, make_user, make_tweet):
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    _, carol_token = make_user("carol")
    tweet = make_tweet(alice_token)
    like(api, tweet["id"], carol_token)
    unlike(api, tweet["id"], bob_token)
    unlike(api, tweet["id"], alice_token)
    assert counts(api, tweet["id"])["likes"] == 1  # Carol's like is untouched, nothing went negative


def test_unknown_tweets_are_404(api, make_user, make_tweet):
    _, alice_token = make_user("alice")
    for tweet_id in (UNKNOWN, "1", "abc", "0", "-1", "9" * 30):
        for method in (api.post, api.delete):
            error = assert_error(method(f"/tweets/{tweet_id}/like", token=alice_token), 404, "not_found",
                                 f"{method.__name__} {tweet_id}")
            assert error["message"] == "Tweet not found."
    assert LikeModel.count() == 0
    gone = make_tweet(alice_token)
    assert api.delete(f"/tweets/{gone['id']}", token=alice_token).status == 204
    assert_error(api.post(f"/tweets/{gone['id']}/like", token=alice_token), 404, "not_found")
    assert_error(api.delete(f"/tweets/{gone['id']}/like", token=alice_token), 404, "not_found")
    assert LikeModel.count() == 0


def test_likes_need_a_token(api, make_user, make_tweet):
    _, alice_token = make_user("alice")
    tweet = make_tweet(alice_token)
    for method in (api.post, api.delete):
        assert_error(method(f"/tweets/{tweet['id']}/like"), 401, "unauthorized")
        assert_error(method(f"/tweets/{tweet['id']}/like", token="nope"), 401, "unauthorized")
    assert counts(api, tweet["id"])["likes"] == 0


def test_liking_a_retweet_likes_its_original(api, make_user, make_tweet):
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    carol, carol_token = make_user("carol")
    original = make_tweet(alice_token)
    rt = api.post(f"/tweets/{original['id']}/retweet", token=bob_token).json
    like(api, rt["id"], carol_token)
    assert counts(api, original["id"])["likes"] == 1
    assert likers(original["id"]) == [int(carol["id"])]
    assert likers(rt["id"]) == []
    shown = api.get(f"/tweets/{rt['id']}").json
    assert shown["counts"]["likes"] == 0 and shown["retweet_of"]["counts"]["likes"] == 1
    # The same like, whichever id names it.
    like(api, original["id"], carol_token)
    assert counts(api, original["id"])["likes"] == 1
    unlike(api, rt["id"], carol_token)
    assert counts(api, original["id"])["likes"] == 0
    assert likers(original["id"]) == []
    like(api, original["id"], carol_token)
    unlike(api, rt["id"], carol_token)
    assert counts(api, original["id"])["likes"] == 0


def test_unliking_by_a_retweet_id_just_written(api, make_user, make_tweet, dynamodb_hooks):
    """A default GetItem may miss a retweet written a moment ago; unliking
    by its id must still find the original's like."""
    from chalicelib import settings as chirp

    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    original = make_tweet(alice_token)
    rt = api.post(f"/tweets/{original['id']}/retweet", token=bob_token).json
    like(api, original["id"], bob_token)

    def stale(request, operation):
        if (request.get("TableName") == chirp.TABLE_NAMES["tweets"] and not request.get("ConsistentRead")
                and request["Key"]["id"]["N"] == rt["id"]):
            return dynamodb_hooks.respond({})
        return None

    dynamodb_hooks.on("GetItem", stale)
    unlike(api, rt["id"], bob_token)
    assert likers(original["id"]) == []
    assert counts(api, original["id"])["likes"] == 0


# --- concurrency ----------------------------------------------------------------------

def test_fifty_concurrent_likes_count_fifty(concurrent_api, make_user, make_tweet, cheap_passwords):
    api = concurrent_api
    _, alice_token = make_user("alice")
    tweet = make_tweet(alice_token)
    fans = [make_user() for _ in range(50)]
    replies = run_concurrently([lambda t=token: api.post(f"/tweets/{tweet['id']}/like", token=t)
                                for _, token in fans])
    assert [r.status for r in replies] == [200] * 50
    assert all(r.json == {"liked": True} for r in replies)
    assert counts(api, tweet["id"])["likes"] == 50
    assert likers(tweet["id"]) == sorted(int(fan["id"]) for fan, _ in fans)

    # Unlikes at once, a third of them sent twice, and some likes again by others.
    unliking, staying = fans[:30], fans[30:]
    calls = [lambda t=token: api.delete(f"/tweets/{tweet['id']}/like", token=t)
             for _, token in unliking + unliking[::3]]
    calls += [lambda t=token: api.post(f"/tweets/{tweet['id']}/like", token=t) for _, token in staying[::2]]
    replies = run_concurrently(calls)
    assert [r.status for r in replies] == [200] * len(calls)
    assert counts(api, tweet["id"])["likes"] == 20
    assert likers(tweet["id"]) == sorted(int(fan["id"]) for fan, _ in staying)


def test_concurrent_likes_by_one_user_count_once(concurrent_api, make_user, make_tweet):
    api = concurrent_api
    _, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    tweet = make_tweet(alice_token)
    rt = api.post(f"/tweets/{tweet['id']}/retweet", token=alice_token).json
    # By the tweet's id and by its retweet's: the same like.
    replies = run_concurrently([lambda i=i: api.post(f"/tweets/{i}/like", token=bob_token)
                                for i in [tweet["id"], rt["id"]] * 6])
    assert [r.status for r in replies] == [200] * 12
    assert counts(api, tweet["id"])["likes"] == 1
    assert likers(tweet["id"]) == [int(bob["id"])]


def test_concurrent_like_and_unlike_races_stay_consistent(concurrent_api, make_user, make_tweet):
    api = concurrent_api
    _, alice_token = make_user("alice")
    users = [make_user() for _ in range(3)]
    tweet = make_tweet(alice_token)
    path = f"/tweets/{tweet['id']}/like"
    rng = random.Random(11)
    for _ in range(4):
        calls = [rng.choice([lambda t=token: api.post(path, token=t),
                             lambda t=token: api.delete(path, token=t)])
                 for _, token in users for _ in range(4)]
        replies = run_concurrently(calls)
        assert [r.status for r in replies] == [200] * len(calls)
        assert counts(api, tweet["id"])["likes"] == len(likers(tweet["id"]))
    # And it still counts right from wherever the races left it.
    for _, token in users:
        like(api, tweet["id"], token)
    assert counts(api, tweet["id"])["likes"] == 3
    for _, token in users:
        unlike(api, tweet["id"], token)
    assert counts(api, tweet["id"])["likes"] == 0


# --- deleted tweets -------------------------------------------------------------------

def test_deleting_a_tweet_removes_its_likes(api, make_user, make_tweet, pump):
    _, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    _, carol_token = make_user("carol")
    gone = make_tweet(alice_token)
    kept = make_tweet(alice_token)
    for token in (bob_token, carol_token):
        like(api, gone["id"], token)
    like(api, kept["id"], bob_token)
    assert api.delete(f"/tweets/{gone['id']}", token=alice_token).status == 204

    # Until the stream has run, Carol may still take back her like of the deleted tweet.
    unlike(api, gone["id"], carol_token)
    assert likers(gone["id"]) == [int(bob["id"])]
    pump.drain()
    assert likers(gone["id"]) == []
    assert likers(kept["id"]) == [int(bob["id"])]
    assert counts(api, kept["id"])["likes"] == 1
    for token in (bob_token, carol_token):
        assert_error(api.post(f"/tweets/{gone['id']}/like", token=token), 404, "not_found")
        assert_error(api.delete(f"/tweets/{gone['id']}/like", token=token), 404, "not_found")


def test_unlike_racing_the_cascade(api, make_user, make_tweet, dynamodb_hooks):
    """The tweet is deleted; Bob unlikes while its likes are being dropped:
    the like goes once, and Bob is told it is gone, not a 500."""
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    tweet = make_tweet(alice_token)
    like(api, tweet["id"], bob_token)
    assert api.delete(f"/tweets/{tweet['id']}", token=alice_token).status == 204
    calls = []

    def cascade_in_between(request, operation):
        calls.append(operation)
        if len(calls) == 2:  # the retry without the tweet's count: drop_likes gets there first
            deletion.drop_likes(int(tweet["id"]), None)
        return None

    dynamodb_hooks.on("TransactWriteItems", cascade_in_between)
    unlike(api, tweet["id"], bob_token)
    assert len(calls) == 2
    assert likers(tweet["id"]) == []


@pytest.mark.parametrize("liked_before", [False, True])
def test_liking_a_tweet_deleted_meanwhile_is_404(api, make_user, make_tweet, dynamodb_hooks, liked_before):
    """The tweet is read, then deleted before the like's transaction runs:
    the answer is 404 whether or not the caller had liked it already."""
    from chalicelib.storage.tables import TweetModel

    _, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    tweet = make_tweet(alice_token)
    if liked_before:
        like(api, tweet["id"], bob_token)

    def delete_first(request, operation):
        TweetModel(id=int(tweet["id"])).delete()
        return None

    dynamodb_hooks.on("TransactWriteItems", delete_first)
    assert_error(api.post(f"/tweets/{tweet['id']}/like", token=bob_token), 404, "not_found")
    dynamodb_hooks.clear()
    # Nothing was written: a like that was there stays for the cascade to drop.
    assert likers(tweet["id"]) == ([int(bob["id"])] if liked_before else [])


# --- a model of the counters ------------------------------------------------------------

USERS, TWEETS = 2, 2
ACTIONS = st.lists(st.tuples(st.sampled_from(["like", "unlike", "retweet", "undo"]),
                             st.integers(0, USERS - 1), st.integers(0, TWEETS - 1), st.booleans()),
                   min_size=4, max_size=24)


@pytest.mark.slow  # a model test: many seconds of API calls
def test_counters_match_a_model(api, make_user, make_tweet, cheap_passwords):
    """Random likes, unlikes, retweets and undone retweets by a few users on
    a few tweets, some naming a retweet instead of its original: after each
    step the tweet's counts, and at the end every count, match sets of
    (user, tweet) pairs; a user's tweets_count is their tweets plus their
    retweets."""
    users = [make_user() for _ in range(USERS)]

    @settings(max_examples=profiles.examples(15), deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(actions=ACTIONS)
    def check(actions):
        start = [api.get(f"/users/{u['handle']}").json["tweets_count"] for u, _ in users]
        originals = [make_tweet(users[n % USERS][1], f"t{n}")["id"] for n in range(TWEETS)]
        posted = [sum(1 for n in range(TWEETS) if n % USERS == u) for u in range(USERS)]
        liked, retweeted = set(), {}  # {(user, tweet)}, {(user, tweet): retweet id}

        def tweet_count(t):
            return counts(api, originals[t])

        for kind, u, t, via_retweet in actions:
            token = users[u][1]
            named = originals[t]
            if via_retweet:  # name someone's retweet of this tweet, if any, else any
                named = next((rt for (_, rt_t), rt in retweeted.items() if rt_t == t), named)
            path = f"/tweets/{named}/{'like' if kind in ('like', 'unlike') else 'retweet'}"
            if kind == "like":
                like(api, named, token)
                liked.add((u, t))
            elif kind == "unlike":
                unlike(api, named, token)
                liked.discard((u, t))
            elif kind == "retweet":
                reply = api.post(path, token=token)
                assert reply.status == (200 if (u, t) in retweeted else 201), reply.json
                assert reply.json["retweet_of"]["id"] == originals[t]
                assert reply.json["id"] == retweeted.setdefault((u, t), reply.json["id"])
            else:
                reply = api.delete(path, token=token)
                assert (reply.status, reply.json) == (200, {"retweeted": False})
                retweeted.pop((u, t), None)
            assert tweet_count(t) == {"likes": sum(1 for _, lt in liked if lt == t),
                                      "retweets": sum(1 for _, rt in retweeted if rt == t), "replies": 0,
                                      "quotes": 0,
                                      "views": 0}

        for t in range(TWEETS):
            assert likers(originals[t]) == sorted(int(users[u][0]["id"]) for u, lt in liked if lt == t)
            assert sorted(int(m.user_id) for m in RetweetModel.query(int(originals[t]))) == sorted(
                int(users[u][0]["id"]) for u, rt in retweeted if rt == t)
        for u, (user, _) in enumerate(users):
            mine = sum(1 for ru, _ in retweeted if ru == u)
            assert api.get(f"/users/{user['handle']}").json["tweets_count"] == start[u] + posted[u] + mine
            shown = api.get(f"/users/{user['handle']}/tweets?limit=100").json["data"]
            listed = [t["id"] for t in shown if t["retweet_of"] and t["retweet_of"]["id"] in originals]
            assert sorted(listed) == sorted(rt for (ru, _), rt in retweeted.items() if ru == u)

    check()
