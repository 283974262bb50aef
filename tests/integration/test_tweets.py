"""Tweets: create, read, delete, replies, quotes and Idempotency-Key."""
import re

import pytest
from support import assert_error, run_concurrently

from chalicelib.storage.ids import MAX_ID, id_created_at

TWEET_KEYS = {"id", "author", "text", "created_at", "entities", "reply_to_id", "quote_of_id",
              "conversation_id", "counts", "retweet_of"}
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def tweets_count(api, handle):
    return api.get(f"/users/{handle}").json["tweets_count"]


def test_create_returns_the_contract_shape(api, make_user):
    alice, token = make_user("alice", display_name="Alice")
    reply = api.post("/tweets", {"text": "hello, world"}, token=token)
    assert reply.status == 201
    tweet = reply.json
    assert set(tweet) == TWEET_KEYS
    assert tweet["id"].isdigit() and int(tweet["id"]) > int(alice["id"])
    assert tweet["author"] == {"id": alice["id"], "handle": "alice", "display_name": "Alice"}
    assert tweet["text"] == "hello, world"
    assert ISO_UTC.fullmatch(tweet["created_at"]) and tweet["created_at"] == id_created_at(int(tweet["id"]))
    assert tweet["reply_to_id"] is None and tweet["quote_of_id"] is None
    assert tweet["conversation_id"] == tweet["id"]
    assert tweet["counts"] == {"likes": 0, "retweets": 0, "replies": 0, "quotes": 0, "views": 0}
    assert tweet["entities"] == {"hashtags": [], "mentions": [], "urls": [], "cashtags": []}
    assert tweet["retweet_of"] is None
    assert "idempotent-replayed" not in reply.headers

    assert api.get(f"/tweets/{tweet['id']}").json == tweet
    assert tweets_count(api, "alice") == 1


def test_text_is_stored_as_sent(api, make_user, make_tweet):
    _, token = make_user()
    for text in ("  spaced  ", "e\u0301" * 280, "🐦" * 140, "line one\nline two", "<b>not html</b>"):
        tweet = make_tweet(token, text)
        assert tweet["text"] == text
        assert api.get(f"/tweets/{tweet['id']}").json["text"] == text


@pytest.mark.parametrize("field, value", [
    ("id", "911887782780350464"), ("author", {"id": "1", "handle": "x", "display_name": "x"}),
    ("author_id", "1"), ("counts", {"likes": 100, "retweets": 0, "replies": 0}), ("created_at",
    "2020-01-01T00:00:00.000Z"), ("conversation_id", "911887782780350464"), ("like_count", 5),
])
def test_server_owned_fields_are_refused(api, make_user, field, value):
    _, token = make_user("alice")
    reply = api.post("/tweets", {"text": "hi", field: value}, token=token)
    error = assert_error(reply, 400, "invalid_request")
    assert field in error["message"]
    assert tweets_count(api, "alice") == 0
    assert api.get("/users/alice/tweets").json["data"] == []


def test_text_length_limits(api, make_user):
    _, token = make_user("alice")
    assert api.post("/tweets", {"text": "x" * 280}, token=token).status == 201
    for text in ("x" * 281, "🐦" * 281, "", "   ", "\n\t", "nul\x00byte"):
        assert_error(api.post("/tweets", {"text": text}, token=token), 400, "invalid_text")
    assert tweets_count(api, "alice") == 1


def test_get_unknown_and_non_numeric_ids_are_404(api):
    for tweet_id in ("911887782780350464", "1", str(MAX_ID), "abc", "-1", "0", "1.5", str(MAX_ID + 1),
                     "9" * 30, "%F0%9F%90%A6"):
        error = assert_error(api.get(f"/tweets/{tweet_id}"), 404, "not_found")
        assert error["message"] == "Tweet not found."


def test_delete_by_author(api, make_user, make_tweet):
    _, token = make_user("alice")
    keep = make_tweet(token, "keep")
    gone = make_tweet(token, "gone")
    assert tweets_count(api, "alice") == 2

    reply = api.delete(f"/tweets/{gone['id']}", token=token)
    assert reply.status == 204
    assert reply.body == b""
    assert_error(api.get(f"/tweets/{gone['id']}"), 404, "not_found")
    assert tweets_count(api, "alice") == 1
    assert [t["id"] for t in api.get("/users/alice/tweets").json["data"]] == [keep["id"]]

    # Deleting again: it is gone, and the count does not move twice.
    assert_error(api.delete(f"/tweets/{gone['id']}", token=token), 404, "not_found")
    assert tweets_count(api, "alice") == 1


def test_delete_by_someone_else_is_403(api, make_user, make_tweet):
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    tweet = make_tweet(alice_token)
    assert_error(api.delete(f"/tweets/{tweet['id']}", token=bob_token), 403, "forbidden")
    assert api.get(f"/tweets/{tweet['id']}").json == tweet
    assert tweets_count(api, "alice") == 1
    assert tweets_count(api, "bob") == 0


def test_delete_unknown_or_non_numeric_is_404(api, make_user):
    _, token = make_user("alice")
    for tweet_id in ("911887782780350464", "abc", "-1", "0", str(MAX_ID + 1)):
        assert_error(api.delete(f"/tweets/{tweet_id}", token=token), 404, "not_found")
    assert tweets_count(api, "alice") == 0


# --- replies and quotes ---------------------------------------------------------------

def test_reply_joins_the_root_conversation(api, make_user, make_tweet):
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    root = make_tweet(alice, "root")
    reply = make_tweet(bob, "reply", reply_to_id=root["id"])
    reply_to_reply = make_tweet(alice, "reply to the reply", reply_to_id=reply["id"])

    assert reply["reply_to_id"] == root["id"]
    assert reply["conversation_id"] == root["id"]
    assert reply_to_reply["reply_to_id"] == reply["id"]
    assert reply_to_reply["conversation_id"] == root["id"]
    assert api.get(f"/tweets/{root['id']}").json["counts"]["replies"] == 1
    assert api.get(f"/tweets/{reply['id']}").json["counts"]["replies"] == 1
    assert tweets_count(api, "alice") == 2 and tweets_count(api, "bob") == 1


def test_deleting_replies_uncounts_them_and_leaves_the_thread_readable(api, make_user, make_tweet):
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    root = make_tweet(alice, "root")
    first = make_tweet(bob, "first", reply_to_id=root["id"])
    second = make_tweet(bob, "second", reply_to_id=root["id"])
    assert api.get(f"/tweets/{root['id']}").json["counts"]["replies"] == 2
    assert api.delete(f"/tweets/{first['id']}", token=bob).status == 204
    assert api.get(f"/tweets/{root['id']}").json["counts"]["replies"] == 1
    # The parent goes first: its reply can still be deleted, and stays readable until then.
    assert api.delete(f"/tweets/{root['id']}", token=alice).status == 204
    assert api.get(f"/tweets/{second['id']}").json["reply_to_id"] == root["id"]
    assert api.delete(f"/tweets/{second['id']}", token=bob).status == 204
    assert api.get(f"/tweets/{root['id']}").status == 404  # no ghost parent re-created by the uncount
    assert tweets_count(api, "bob") == 0


def test_reply_to_a_missing_tweet_is_400(api, make_user, make_tweet):
    _, token = make_user("alice")
    for missing in ("911887782780350464", "1"):
        error = assert_error(api.post("/tweets", {"text": "hi", "reply_to_id": missing}, token=token),
                             404, "unknown_tweet")
        assert "reply_to_id" in error["message"]
    deleted = make_tweet(token, "soon gone")
    assert api.delete(f"/tweets/{deleted['id']}", token=token).status == 204
    assert_error(api.post("/tweets", {"text": "hi", "reply_to_id": deleted["id"]}, token=token),
                 404, "unknown_tweet")
    assert tweets_count(api, "alice") == 0


def test_quote(api, make_user, make_tweet):
    _, token = make_user("alice")
    original = make_tweet(token, "original")
    quote = make_tweet(token, "quoting", quote_of_id=original["id"])
    assert quote["quote_of_id"] == original["id"]
    assert quote["conversation_id"] == quote["id"]
    error = assert_error(api.post("/tweets", {"text": "q", "quote_of_id": "911887782780350464"},
                                  token=token), 404, "unknown_tweet")
    assert "quote_of_id" in error["message"]
    assert tweets_count(api, "alice") == 2


@pytest.mark.parametrize("value", [911887782780350464, "abc", "", "0", "-1", ["1"], {"id": "1"}, True, 1.5])
def test_reference_ids_must_be_id_strings(api, make_user, value):
    _, token = make_user("alice")
    for field in ("reply_to_id", "quote_of_id"):
        error = assert_error(api.post("/tweets", {"text": "hi", field: value}, token=token), 400,
                             "invalid_request")
        assert field in error["message"]


# --- Idempotency-Key -------------------------------------------------------------------

def post(api, token, text="hello", key=None, **fields):
    headers = {"Idempotency-Key": key} if key else None
    return api.post("/tweets", {"text": text, **fields}, token=token, headers=headers)


def test_same_key_same_author_returns_the_same_tweet(api, make_user):
    _, token = make_user("alice")
    first = post(api, token, key="key-1")
    second = post(api, token, key="key-1")
    third = post(api, token, key="key-1")
    assert first.status == second.status == third.status == 201
    assert first.json == second.json == third.json
    assert "idempotent-replayed" not in first.headers
    assert second.headers.get("idempotent-replayed") == "true"
    assert tweets_count(api, "alice") == 1
    assert [t["id"] for t in api.get("/users/alice/tweets").json["data"]] == [first.json["id"]]


def test_same_key_different_tweet_is_422(api, make_user, make_tweet):
    _, token = make_user("alice")
    original = make_tweet(token, "the reply target")
    first = post(api, token, "hello", key="key-1")
    assert first.status == 201
    assert_error(post(api, token, "hello!", key="key-1"), 422, "idempotency_key_reused")
    assert_error(post(api, token, "hello", key="key-1", reply_to_id=original["id"]), 422,
                 "idempotency_key_reused")
    assert tweets_count(api, "alice") == 2
    # The key still replays its own tweet.
    assert post(api, token, "hello", key="key-1").json["id"] == first.json["id"]


def test_same_key_different_authors_are_two_tweets(api, make_user):
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    a, b = post(api, alice, key="shared"), post(api, bob, key="shared")
    assert a.status == b.status == 201
    assert a.json["id"] != b.json["id"]
    assert (a.json["author"]["handle"], b.json["author"]["handle"]) == ("alice", "bob")
    assert "idempotent-replayed" not in b.headers
    assert tweets_count(api, "alice") == 1 and tweets_count(api, "bob") == 1


def test_different_keys_and_no_key_make_new_tweets(api, make_user):
    _, token = make_user("alice")
    ids = {post(api, token, key="a").json["id"], post(api, token, key="b").json["id"],
           post(api, token).json["id"], post(api, token).json["id"]}
    assert len(ids) == 4
    assert tweets_count(api, "alice") == 4


def test_key_of_a_deleted_tweet_is_409(api, make_user):
    _, token = make_user("alice")
    first = post(api, token, key="key-1")
    assert api.delete(f"/tweets/{first.json['id']}", token=token).status == 204
    assert_error(post(api, token, key="key-1"), 409, "idempotent_tweet_deleted")
    assert tweets_count(api, "alice") == 0


def test_expired_key_is_free_again(api, make_user, monkeypatch):
    from chalicelib import settings

    _, token = make_user("alice")
    monkeypatch.setattr(settings, "IDEMPOTENCY_TTL_SECONDS", -60)  # records are born expired
    first = post(api, token, key="key-1")
    second = post(api, token, "different text", key="key-1")
    assert first.status == second.status == 201
    assert first.json["id"] != second.json["id"]
    assert "idempotent-replayed" not in second.headers
    assert tweets_count(api, "alice") == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "a\tb"])
def test_bad_idempotency_key_is_400(api, make_user, key):
    _, token = make_user("alice")
    reply = api.post("/tweets", {"text": "hi"}, token=token, headers={"Idempotency-Key": key})
    assert_error(reply, 400, "invalid_request")
    assert tweets_count(api, "alice") == 0


def test_concurrent_posts_with_one_key_make_one_tweet(concurrent_api, make_user):
    api = concurrent_api
    _, token = make_user("alice")
    replies = run_concurrently([lambda: post(api, token, "once", key="retry-storm")] * 8)
    assert [r.status for r in replies] == [201] * 8, [r.body for r in replies]
    assert len({r.json["id"] for r in replies}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in replies) == 7
    assert tweets_count(api, "alice") == 1
    assert len(api.get("/users/alice/tweets").json["data"]) == 1
