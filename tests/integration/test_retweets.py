"""Retweets: one per user per original, each a tweet of its own (author the
retweeter, empty text, the original in `retweet_of`), idempotent both ways,
exact counts, fan-out to the retweeter's followers, and what deleting an
original does to its retweets, likes and replies (the tweets stream's
cascade, paged through the fan-out queue)."""
import re

import pytest
from support import assert_error, delivered_twice, run_concurrently, timeline_entries

from chalicelib import settings
from chalicelib.storage.ids import id_created_at
from chalicelib.storage.tables import LikeModel, RetweetModel

TWEET_KEYS = {"id", "author", "text", "created_at", "entities", "reply_to_id", "quote_of_id",
              "conversation_id", "counts", "retweet_of"}
NO_ENTITIES = {"hashtags": [], "mentions": [], "urls": [], "cashtags": []}
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
UNKNOWN = "911887782780350464"


def user(api, handle):
    return api.get(f"/users/{handle}").json


def tweets_count(api, handle):
    return user(api, handle)["tweets_count"]


def counts(api, tweet_id):
    reply = api.get(f"/tweets/{tweet_id}")
    assert reply.status == 200, reply.json
    return reply.json["counts"]


def retweet(api, tweet_id, token, status=201):
    reply = api.post(f"/tweets/{tweet_id}/retweet", token=token)
    assert reply.status == status, reply.json
    return reply.json


def undo(api, tweet_id, token):
    reply = api.delete(f"/tweets/{tweet_id}/retweet", token=token)
    assert reply.status == 200, reply.json
    assert reply.json == {"retweeted": False}
    return reply.json


def timeline_ids(api, handle):
    reply = api.get(f"/users/{handle}/tweets?limit=100")
    assert reply.status == 200, reply.json
    return [t["id"] for t in reply.json["data"]]


def markers(tweet_id):
    return sorted(int(m.user_id) for m in RetweetModel.query(int(tweet_id), consistent_read=True))


# --- the retweet itself ---------------------------------------------------------------

def test_a_retweet_is_a_tweet_of_its_own(api, make_user, make_tweet):
    alice, alice_token = make_user("alice", display_name="Alice")
    bob, bob_token = make_user("bob", display_name="Bob")
    original = make_tweet(alice_token, "#hello @bob see https://example.com $CASH")
    assert original["entities"]["hashtags"]  # so an empty retweet shows it is not copied

    reply = api.post(f"/tweets/{original['id']}/retweet", token=bob_token)
    assert reply.status == 201, reply.json
    rt = reply.json
    assert set(rt) == TWEET_KEYS
    assert rt["id"].isdigit() and rt["id"] != original["id"] and int(rt["id"]) > int(original["id"])
    assert rt["author"] == {"id": bob["id"], "handle": "bob", "display_name": "Bob"}
    assert rt["text"] == ""
    assert rt["entities"] == NO_ENTITIES
    assert ISO_UTC.fullmatch(rt["created_at"]) and rt["created_at"] == id_created_at(int(rt["id"]))
    assert rt["reply_to_id"] is None and rt["quote_of_id"] is None
    assert rt["counts"] == {"likes": 0, "retweets": 0, "replies": 0, "quotes": 0, "views": 0}

    now = api.get(f"/tweets/{original['id']}").json
    assert now["counts"] == {"likes": 0, "retweets": 1, "replies": 0, "quotes": 0, "views": 0}
    assert now == {**original, "counts": now["counts"]}
    # The original inside the retweet is the original as it is now: counting this retweet.
    assert rt["retweet_of"] == now
    assert rt["retweet_of"]["retweet_of"] is None

    assert api.get(f"/tweets/{rt['id']}").json == rt
    assert tweets_count(api, "bob") == 1
    assert tweets_count(api, "alice") == 1
    assert markers(original["id"]) == [int(bob["id"])]
    assert alice["id"] != bob["id"]


def test_retweeting_again_returns_the_same_retweet(api, make_user, make_tweet):
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    original = make_tweet(alice_token)
    first = retweet(api, original["id"], bob_token, 201)
    second = api.post(f"/tweets/{original['id']}/retweet", token=bob_token)
    assert second.status == 200
    assert second.json == first
    # By the retweet's own id: the same retweet of the original, not a retweet of a retweet.
    third = retweet(api, first["id"], bob_token, 200)
    assert third == first
    assert counts(api, original["id"])["retweets"] == 1
    assert tweets_count(api, "bob") == 1
    assert timeline_ids(api, "bob") == [first["id"]]


def test_retweeting_a_retweet_retweets_the_original(api, make_user, make_tweet):
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    carol, carol_token = make_user("carol")
    original = make_tweet(alice_token, "the original")
    bobs = retweet(api, original["id"], bob_token)
    carols = retweet(api, bobs["id"], carol_token)
    assert carols["id"] not in (bobs["id"], original["id"])
    assert carols["author"]["id"] == carol["id"]
    assert carols["retweet_of"]["id"] == original["id"]
    assert carols["retweet_of"]["text"] == "the original"
    assert carols["retweet_of"]["counts"]["retweets"] == 2
    assert counts(api, original["id"])["retweets"] == 2
    assert counts(api, bobs["id"])["retweets"] == 0  # the retweet item itself counts nothing
    assert markers(bobs["id"]) == []
    # Alice may retweet her own tweet, once.
    own = retweet(api, original["id"], alice_token)
    assert own["retweet_of"]["id"] == original["id"]
    assert counts(api, original["id"])["retweets"] == 3
    assert tweets_count(api, "alice") == 2


def test_undo_is_idempotent_and_exact(api, make_user, make_tweet):
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    original = make_tweet(alice_token)
    rt = retweet(api, original["id"], bob_token)
    undo(api, original["id"], bob_token)
    assert_error(api.get(f"/tweets/{rt['id']}"), 404, "not_found")
    assert counts(api, original["id"])["retweets"] == 0
    assert tweets_count(api, "bob") == 0
    assert timeline_ids(api, "bob") == []
    assert markers(original["id"]) == []
    # Again: nothing left to undo, nothing moves.
    undo(api, original["id"], bob_token)
    assert counts(api, original["id"])["retweets"] == 0
    assert tweets_count(api, "bob") == 0
    # Never retweeted at all: the same answer.
    undo(api, original["id"], alice_token)
    assert tweets_count(api, "alice") == 1

    # Retweeting after an undo makes a new retweet.
    again = retweet(api, original["id"], bob_token, 201)
    assert again["id"] != rt["id"]
    assert counts(api, original["id"])["retweets"] == 1
    assert tweets_count(api, "bob") == 1


def test_undo_by_the_retweets_id(api, make_user, make_tweet):
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    _, carol_token = make_user("carol")
    original = make_tweet(alice_token)
    bobs = retweet(api, original["id"], bob_token)
    carols = retweet(api, original["id"], carol_token)
    assert counts(api, original["id"])["retweets"] == 2

    # Carol names Bob's retweet: that is the original, so her own retweet goes, Bob's stays.
    undo(api, bobs["id"], carol_token)
    assert_error(api.get(f"/tweets/{carols['id']}"), 404, "not_found")
    assert api.get(f"/tweets/{bobs['id']}").status == 200
    assert counts(api, original["id"])["retweets"] == 1
    assert (tweets_count(api, "bob"), tweets_count(api, "carol")) == (1, 0)

    undo(api, bobs["id"], bob_token)
    assert_error(api.get(f"/tweets/{bobs['id']}"), 404, "not_found")
    assert counts(api, original["id"])["retweets"] == 0
    assert tweets_count(api, "bob") == 0
    undo(api, original["id"], bob_token)
    assert counts(api, original["id"])["retweets"] == 0


def test_unknown_tweets_are_404(api, make_user, make_tweet):
    _, alice_token = make_user("alice")
    for tweet_id in (UNKNOWN, "1", "abc", "0", "-1", "9" * 30):
        for method in (api.post, api.delete):
            error = assert_error(method(f"/tweets/{tweet_id}/retweet", token=alice_token), 404, "not_found",
                                 f"{method.__name__} {tweet_id}")
            assert error["message"] == "Tweet not found."
    assert tweets_count(api, "alice") == 0
    assert RetweetModel.count() == 0

    # Her own deleted tweet is gone too, and nothing is counted for trying.
    gone = make_tweet(alice_token, "soon gone")
    assert api.delete(f"/tweets/{gone['id']}", token=alice_token).status == 204
    assert_error(api.post(f"/tweets/{gone['id']}/retweet", token=alice_token), 404, "not_found")
    assert_error(api.delete(f"/tweets/{gone['id']}/retweet", token=alice_token), 404, "not_found")
    assert tweets_count(api, "alice") == 0
    assert RetweetModel.count() == 0
    assert timeline_ids(api, "alice") == []


def test_retweets_need_a_token(api, make_user, make_tweet):
    _, alice_token = make_user("alice")
    original = make_tweet(alice_token)
    for method in (api.post, api.delete):
        assert_error(method(f"/tweets/{original['id']}/retweet"), 401, "unauthorized")
        assert_error(method(f"/tweets/{original['id']}/retweet", token="not-a-token"), 401, "unauthorized")
    assert counts(api, original["id"])["retweets"] == 0


def test_deleting_a_retweet_by_its_id(api, make_user, make_tweet):
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    _, carol_token = make_user("carol")
    original = make_tweet(alice_token)
    rt = retweet(api, original["id"], bob_token)

    for token in (carol_token, alice_token):  # not even the original's author
        assert_error(api.delete(f"/tweets/{rt['id']}", token=token), 403, "forbidden")
    assert api.get(f"/tweets/{rt['id']}").json == rt
    assert counts(api, original["id"])["retweets"] == 1

    reply = api.delete(f"/tweets/{rt['id']}", token=bob_token)
    assert reply.status == 204 and reply.body == b""
    assert_error(api.get(f"/tweets/{rt['id']}"), 404, "not_found")
    assert counts(api, original["id"])["retweets"] == 0
    assert tweets_count(api, "bob") == 0
    assert markers(original["id"]) == []
    assert_error(api.delete(f"/tweets/{rt['id']}", token=bob_token), 404, "not_found")
    assert tweets_count(api, "bob") == 0
    assert api.get(f"/tweets/{original['id']}").status == 200  # the original is untouched
    assert tweets_count(api, "alice") == 1


def test_user_timeline_lists_retweets_with_their_originals(api, make_user, make_tweet):
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    first = make_tweet(alice_token, "first")
    own = make_tweet(bob_token, "bob's own")
    second = make_tweet(alice_token, "second")
    rt_second = retweet(api, second["id"], bob_token)
    rt_first = retweet(api, first["id"], bob_token)  # newer, though its original is older

    body = api.get("/users/bob/tweets").json
    assert [t["id"] for t in body["data"]] == [rt_first["id"], rt_second["id"], own["id"]]
    assert body["meta"] == {"next_cursor": None, "newest_id": rt_first["id"], "oldest_id": own["id"]}
    shown = {t["id"]: t for t in body["data"]}
    assert shown[rt_first["id"]]["retweet_of"] == api.get(f"/tweets/{first['id']}").json
    assert shown[rt_second["id"]]["retweet_of"] == api.get(f"/tweets/{second['id']}").json
    assert shown[own["id"]]["retweet_of"] is None
    assert all(t["author"]["handle"] == "bob" for t in body["data"])
    assert timeline_ids(api, "alice") == [second["id"], first["id"]]  # the retweets are Bob's
    assert tweets_count(api, "bob") == 3

    # Paged one at a time, the retweets are still there, in order.
    page = api.get("/users/bob/tweets?limit=1").json
    seen = [t["id"] for t in page["data"]]
    while page["meta"]["next_cursor"]:
        page = api.get(f"/users/bob/tweets?limit=1&cursor={page['meta']['next_cursor']}").json
        seen += [t["id"] for t in page["data"]]
    assert seen == [rt_first["id"], rt_second["id"], own["id"]]

    undo(api, first["id"], bob_token)
    assert timeline_ids(api, "bob") == [rt_second["id"], own["id"]]


# --- concurrency ----------------------------------------------------------------------

def test_concurrent_retweets_by_one_user_make_one(concurrent_api, make_user, make_tweet):
    api = concurrent_api
    _, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    original = make_tweet(alice_token)
    replies = run_concurrently([lambda: api.post(f"/tweets/{original['id']}/retweet", token=bob_token)
                                for _ in range(10)])
    assert sorted(r.status for r in replies) == [200] * 9 + [201]
    assert len({r.json["id"] for r in replies}) == 1
    assert {r.json["retweet_of"]["counts"]["retweets"] for r in replies} == {1}
    assert counts(api, original["id"])["retweets"] == 1
    assert tweets_count(api, "bob") == 1
    assert markers(original["id"]) == [int(bob["id"])]
    assert timeline_ids(api, "bob") == [replies[0].json["id"]]


def test_concurrent_retweets_by_many_users_count_exactly(concurrent_api, make_user, make_tweet,
                                                         cheap_passwords):
    api = concurrent_api
    _, alice_token = make_user("alice")
    original = make_tweet(alice_token)
    fans = [make_user() for _ in range(15)]
    replies = run_concurrently([lambda t=token: api.post(f"/tweets/{original['id']}/retweet", token=t)
                                for _, token in fans])
    assert [r.status for r in replies] == [201] * 15
    assert counts(api, original["id"])["retweets"] == 15
    assert all(tweets_count(api, fan["handle"]) == 1 for fan, _ in fans)
    # And all undone at once, each twice.
    replies = run_concurrently([lambda t=token: api.delete(f"/tweets/{original['id']}/retweet", token=t)
                                for _, token in fans + fans])
    assert [r.status for r in replies] == [200] * 30
    assert counts(api, original["id"])["retweets"] == 0
    assert all(tweets_count(api, fan["handle"]) == 0 for fan, _ in fans)
    assert markers(original["id"]) == []


def test_concurrent_retweet_and_undo_stay_consistent(concurrent_api, make_user, make_tweet):
    api = concurrent_api
    _, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    original = make_tweet(alice_token)
    path = f"/tweets/{original['id']}/retweet"
    for round_ in range(3):
        calls = [(lambda: api.post(path, token=bob_token)) if (n + round_) % 3 else
                 (lambda: api.delete(path, token=bob_token)) for n in range(9)]
        replies = run_concurrently(calls)
        assert all(r.status in (200, 201) for r in replies), [r.json for r in replies]
        retweeted = markers(original["id"]) == [int(bob["id"])]
        assert counts(api, original["id"])["retweets"] == int(retweeted)
        assert tweets_count(api, "bob") == int(retweeted)
        assert len(timeline_ids(api, "bob")) == int(retweeted)


# --- fan-out --------------------------------------------------------------------------

def test_a_retweet_reaches_the_retweeters_followers(api, make_user, make_tweet, follow, pump):
    _, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    carol, carol_token = make_user("carol")
    dave, dave_token = make_user("dave")
    follow(carol_token, "bob")  # Carol follows the retweeter, not the author
    pump.drain()
    original = make_tweet(alice_token, "worth sharing")
    pump.drain()
    assert timeline_entries(carol["id"]) == []

    rt = retweet(api, original["id"], bob_token)
    pump.drain()
    assert timeline_entries(carol["id"]) == [rt["id"]]
    assert timeline_entries(bob["id"]) == [rt["id"]]
    assert timeline_entries(dave["id"]) == []
    body = api.get("/timelines/home", token=carol_token).json
    assert [t["id"] for t in body["data"]] == [rt["id"]]
    assert body["data"][0]["retweet_of"] == api.get(f"/tweets/{original['id']}").json
    assert body["data"][0]["author"]["handle"] == "bob"
    assert api.get("/timelines/home", token=dave_token).json["data"] == []

    undo(api, original["id"], bob_token)
    pump.drain()
    assert timeline_entries(carol["id"]) == []
    assert timeline_entries(bob["id"]) == []
    assert api.get("/timelines/home", token=carol_token).json["data"] == []


def test_an_original_shows_once_in_a_home_timeline(api, make_user, make_tweet, follow, pump):
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    _, carol_token = make_user("carol")
    _, dave_token = make_user("dave")
    for handle in ("alice", "bob", "carol"):
        follow(dave_token, handle)
    pump.drain()
    original = make_tweet(alice_token)
    retweet(api, original["id"], bob_token)
    retweet(api, original["id"], carol_token)
    pump.drain()
    shown = api.get("/timelines/home", token=dave_token).json["data"]
    assert [t["id"] for t in shown] == [original["id"]]


def test_undoing_by_deleting_the_retweet_retracts_it(api, make_user, make_tweet, follow, pump):
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    carol, carol_token = make_user("carol")
    follow(carol_token, "bob")
    original = make_tweet(alice_token)
    rt = retweet(api, original["id"], bob_token)
    pump.drain()
    assert timeline_entries(carol["id"]) == [rt["id"]]
    assert api.delete(f"/tweets/{rt['id']}", token=bob_token).status == 204
    pump.drain()
    assert timeline_entries(carol["id"]) == []


# --- deleting an original -------------------------------------------------------------

def test_deleting_an_original_takes_its_retweets_and_likes(api, make_user, make_tweet, follow, pump,
                                                           queue_messages):
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    carol, carol_token = make_user("carol")
    _, dave_token = make_user("dave")
    _, erin_token = make_user("erin")
    follow(dave_token, "bob")
    original = make_tweet(alice_token, "soon gone")
    keep = make_tweet(alice_token, "stays")
    bob_own = make_tweet(bob_token, "bob's own")
    bobs = retweet(api, original["id"], bob_token)
    carols = retweet(api, original["id"], carol_token)
    kept_rt = retweet(api, keep["id"], carol_token)
    for token in (dave_token, erin_token, bob_token):
        assert api.post(f"/tweets/{original['id']}/like", token=token).json == {"liked": True}
    assert api.post(f"/tweets/{keep['id']}/like", token=dave_token).json == {"liked": True}
    reply = make_tweet(erin_token, "a reply", reply_to_id=original["id"])
    reply_to_rt = make_tweet(dave_token, "a reply via the retweet", reply_to_id=bobs["id"])
    assert reply_to_rt["reply_to_id"] == original["id"]
    pump.drain()
    assert [t["id"] for t in api.get("/timelines/home", token=dave_token).json["data"]] == [
        reply_to_rt["id"], bobs["id"], bob_own["id"]]
    assert (tweets_count(api, "bob"), tweets_count(api, "carol")) == (2, 2)

    assert api.delete(f"/tweets/{original['id']}", token=alice_token).status == 204
    pump.drain()

    for gone in (original, bobs, carols):
        assert_error(api.get(f"/tweets/{gone['id']}"), 404, "not_found")
    assert timeline_ids(api, "bob") == [bob_own["id"]]
    assert timeline_ids(api, "carol") == [kept_rt["id"]]
    assert (tweets_count(api, "bob"), tweets_count(api, "carol"), tweets_count(api, "alice")) == (1, 1, 1)
    assert markers(original["id"]) == []
    assert list(LikeModel.query(int(original["id"]), consistent_read=True)) == []
    # What was not about the deleted tweet stays.
    assert counts(api, keep["id"]) == {"likes": 1, "retweets": 1, "replies": 0, "quotes": 0, "views": 0}
    assert markers(keep["id"]) == [int(carol["id"])]
    # Replies stay readable, and listed under the deleted tweet.
    assert api.get(f"/tweets/{reply['id']}").json == reply
    assert api.get(f"/tweets/{reply_to_rt['id']}").json == reply_to_rt
    listed = api.get(f"/tweets/{original['id']}/replies").json["data"]
    assert [t["id"] for t in listed] == [reply_to_rt["id"], reply["id"]]
    # The retweet left Dave's home timeline; Bob's own tweet did not.
    assert [t["id"] for t in api.get("/timelines/home", token=dave_token).json["data"]] == [
        reply_to_rt["id"], bob_own["id"]]
    # Nothing is left to undo, and nothing can be retweeted or liked.
    for gone in (original, bobs):
        assert_error(api.delete(f"/tweets/{gone['id']}/retweet", token=bob_token), 404, "not_found")
    assert_error(api.post(f"/tweets/{original['id']}/retweet", token=bob_token), 404, "not_found")
    assert_error(api.post(f"/tweets/{original['id']}/like", token=bob_token), 404, "not_found")
    assert tweets_count(api, "bob") == 1
    assert queue_messages("stream-failures") == []
    assert queue_messages("jobs-dlq") == []


def test_user_timelines_hide_retweets_of_a_deleted_original_at_once(api, make_user, make_tweet):
    """Before the cascade has run, the retweet is still stored; reads leave it out."""
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    original = make_tweet(alice_token)
    rt = retweet(api, original["id"], bob_token)
    assert api.delete(f"/tweets/{original['id']}", token=alice_token).status == 204
    assert timeline_ids(api, "bob") == []
    assert_error(api.get(f"/tweets/{rt['id']}"), 404, "not_found")


def test_undo_while_the_cascade_is_pending_counts_once(api, make_user, make_tweet, pump):
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    _, carol_token = make_user("carol")
    _, dave_token = make_user("dave")
    original = make_tweet(alice_token)
    bobs = retweet(api, original["id"], bob_token)
    retweet(api, original["id"], carol_token)
    retweet(api, original["id"], dave_token)
    assert api.post(f"/tweets/{original['id']}/like", token=bob_token).status == 200
    assert api.delete(f"/tweets/{original['id']}", token=alice_token).status == 204

    # The original is gone, its retweets not yet: each can still be undone, once.
    undo(api, original["id"], bob_token)
    # Undone, and the original gone: there is nothing by that id left for Bob.
    assert_error(api.delete(f"/tweets/{original['id']}/retweet", token=bob_token), 404, "not_found")
    assert api.delete(f"/tweets/{original['id']}/like", token=bob_token).json == {"liked": False}
    assert tweets_count(api, "bob") == 0
    assert_error(api.post(f"/tweets/{original['id']}/retweet", token=bob_token), 404, "not_found")
    assert_error(api.post(f"/tweets/{bobs['id']}/retweet", token=bob_token), 404, "not_found")
    assert tweets_count(api, "carol") == 1  # not yet
    # Dave deletes his retweet by its id meanwhile.
    dave_rt = RetweetModel.get(int(original["id"]), int(user(api, "dave")["id"]), consistent_read=True)
    assert api.delete(f"/tweets/{int(dave_rt.retweet_id)}", token=dave_token).status == 204
    assert tweets_count(api, "dave") == 0

    pump.drain()
    assert (tweets_count(api, "bob"), tweets_count(api, "carol"), tweets_count(api, "dave")) == (0, 0, 0)
    assert markers(original["id"]) == []
    assert_error(api.delete(f"/tweets/{original['id']}/retweet", token=bob_token), 404, "not_found")


def test_the_cascade_survives_duplicate_deliveries(api, make_user, make_tweet, pump_factory):
    """The stream delivers at least once: a REMOVE handled twice must not
    uncount a retweeter twice."""
    pump = pump_factory(wrap=delivered_twice)
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    original = make_tweet(alice_token)
    other = make_tweet(alice_token)
    make_tweet(bob_token, "own")
    retweet(api, original["id"], bob_token)
    kept = retweet(api, other["id"], bob_token)
    pump.drain()
    assert tweets_count(api, "bob") == 3
    assert api.delete(f"/tweets/{original['id']}", token=alice_token).status == 204
    pump.drain()
    assert tweets_count(api, "bob") == 2
    assert counts(api, other["id"])["retweets"] == 1
    assert api.get(f"/tweets/{kept['id']}").status == 200


def test_the_cascade_runs_in_pages_through_the_queue(api, make_user, make_tweet, pump, sent_jobs,
                                                     monkeypatch, cheap_passwords, queue_messages):
    monkeypatch.setattr(settings, "CASCADE_PAGE_SIZE", 2)
    _, alice_token = make_user("alice")
    original = make_tweet(alice_token)
    other = make_tweet(alice_token)
    fans = [make_user() for _ in range(5)]
    for _, token in fans:
        retweet(api, original["id"], token)
        assert api.post(f"/tweets/{original['id']}/like", token=token).status == 200
    retweet(api, other["id"], fans[0][1])
    assert api.post(f"/tweets/{other['id']}/like", token=fans[0][1]).status == 200
    assert counts(api, original["id"]) == {"likes": 5, "retweets": 5, "replies": 0, "quotes": 0, "views": 0}
    pump.drain()
    sent_jobs.clear()

    assert api.delete(f"/tweets/{original['id']}", token=alice_token).status == 204
    pump.drain()

    kinds = [kind for kind, _ in sent_jobs]
    # 5 items in pages of 2: the stream handler does the first page, two jobs the rest.
    assert kinds.count("drop-retweets") == 2
    assert kinds.count("drop-likes") == 2
    assert markers(original["id"]) == []
    assert list(LikeModel.query(int(original["id"]), consistent_read=True)) == []
    assert [tweets_count(api, fan["handle"]) for fan, _ in fans] == [1, 0, 0, 0, 0]
    assert all(timeline_ids(api, fan["handle"]) == [] for fan, _ in fans[1:])
    assert counts(api, other["id"]) == {"likes": 1, "retweets": 1, "replies": 0, "quotes": 0, "views": 0}
    assert len(list(LikeModel.query(int(other["id"]), consistent_read=True))) == 1
    assert queue_messages("stream-failures") == []
    assert queue_messages("jobs-dlq") == []


# --- reads that lag behind writes -------------------------------------------------------

@pytest.fixture
def lagging_reads(dynamodb_hooks):
    """Makes DynamoDB's default (eventually consistent) GetItem miss the
    tweets whose ids are added to the returned set, as it may for a moment
    after they are written; strongly consistent reads still see them."""
    lagging = set()

    def stale(request, operation):
        if (request.get("TableName") == settings.TABLE_NAMES["tweets"] and not request.get("ConsistentRead")
                and request["Key"]["id"]["N"] in lagging):
            return dynamodb_hooks.respond({})
        return None

    dynamodb_hooks.on("GetItem", stale)
    return lagging


def test_a_retweet_just_written_is_found_again(api, make_user, make_tweet, lagging_reads):
    """A second POST (or a concurrent one that lost the race) must find the
    retweet the first one wrote a moment ago, not try to write another."""
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    original = make_tweet(alice_token)
    rt = retweet(api, original["id"], bob_token)
    lagging_reads.add(rt["id"])
    assert api.get(f"/tweets/{rt['id']}").status == 404  # the lag is real for default reads

    again = retweet(api, original["id"], bob_token, 200)
    assert again["id"] == rt["id"]
    # Undone by the retweet's id, which must be seen as a retweet to find the original.
    undo(api, rt["id"], bob_token)
    assert markers(original["id"]) == []
    assert counts(api, original["id"])["retweets"] == 0
    assert tweets_count(api, "bob") == 0


def test_undo_racing_the_cascade(api, make_user, make_tweet, dynamodb_hooks):
    """The original is deleted; Bob undoes his retweet while the cascade
    removes it: it goes once, Bob's count drops once, and Bob gets an
    answer, not a 500."""
    from chalicelib.tweets import deletion

    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    original = make_tweet(alice_token)
    retweet(api, original["id"], bob_token)
    assert api.delete(f"/tweets/{original['id']}", token=alice_token).status == 204
    calls = []

    def cascade_in_between(request, operation):
        calls.append(operation)
        if len(calls) == 2:  # Bob's retry without the original's count: the cascade gets there first
            deletion.drop_retweets(int(original["id"]), None)
        return None

    dynamodb_hooks.on("TransactWriteItems", cascade_in_between)
    undo(api, original["id"], bob_token)
    assert len(calls) >= 3  # Bob's two tries, and the cascade's own
    assert markers(original["id"]) == []
    assert tweets_count(api, "bob") == 0
