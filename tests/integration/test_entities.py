"""Entities on tweets (POST /tweets, GET /tweets/{id} and the lists):
hashtags, mentions, urls and cashtags with code-point indices into the
text as sent, each mention with the id of the user whose handle it names
(case-insensitively), or null."""
import pytest

from chalicelib.storage.tables import TweetModel

pytestmark = pytest.mark.usefixtures("cheap_passwords")
NONE = {"hashtags": [], "mentions": [], "urls": [], "cashtags": []}


def test_every_kind_of_entity_with_code_point_indices(api, make_user, make_tweet):
    bob, _ = make_user("bob")
    _, token = make_user("alice")
    # The bird is one code point but two UTF-16 units: JavaScript-style
    # indices would be one higher for everything after it.
    text = "🐦 #Chirp hi @BOB see https://example.com/x $TSLA and @nobody_here"
    tweet = make_tweet(token, text)
    assert tweet["text"] == text
    assert tweet["entities"] == {
        "hashtags": [{"tag": "Chirp", "indices": [2, 8]}],
        "mentions": [{"handle": "BOB", "user_id": bob["id"], "indices": [12, 16]},
                     {"handle": "nobody_here", "user_id": None, "indices": [53, 65]}],
        "urls": [{"url": "https://example.com/x", "indices": [21, 42]}],
        "cashtags": [{"tag": "TSLA", "indices": [43, 48]}],
    }
    for entity in ("hashtags", "mentions", "urls", "cashtags"):
        for item in tweet["entities"][entity]:
            start, end = item["indices"]
            value = item.get("tag") or item.get("handle") or item["url"]
            assert text[start:end].lstrip("#@$") == value, (entity, item)

    assert api.get(f"/tweets/{tweet['id']}").json["entities"] == tweet["entities"]
    listed = api.get("/users/alice/tweets").json["data"]
    assert [t["entities"] for t in listed] == [tweet["entities"]]

    # Three astral emoji (6 UTF-16 units) and a decomposed é (2 code points):
    # stored as sent, not NFC-normalised, so the indices count both marks.
    text = "😀😀😀 cafe\u0301 #Cafe\u0301 @alice"
    tweet = make_tweet(token, text)
    assert tweet["text"] == text
    assert tweet["entities"]["hashtags"] == [{"tag": "Cafe\u0301", "indices": [10, 16]}]
    assert [m["indices"] for m in tweet["entities"]["mentions"]] == [[17, 23]]
    assert TweetModel.get(int(tweet["id"])).text == text


def test_mentions_resolve_case_insensitively_at_write_time(api, make_user, make_tweet):
    carol, _ = make_user("Carol_X")
    _, token = make_user("alice")
    tweet = make_tweet(token, "@carol_x @CAROL_X @Carol_X @dave")
    mentions = tweet["entities"]["mentions"]
    assert [m["handle"] for m in mentions] == ["carol_x", "CAROL_X", "Carol_X", "dave"]
    assert [m["user_id"] for m in mentions] == [carol["id"], carol["id"], carol["id"], None]

    # The id is resolved when the tweet is written: a later sign-up does not change it.
    make_user("dave")
    assert api.get(f"/tweets/{tweet['id']}").json["entities"]["mentions"][3]["user_id"] is None
    # ...but a new tweet sees the new account.
    again = make_tweet(token, "hi @Dave")
    dave = api.get("/users/dave").json
    assert again["entities"]["mentions"] == [{"handle": "Dave", "user_id": dave["id"], "indices": [3, 8]}]
    assert all(isinstance(m["user_id"], str) for m in again["entities"]["mentions"] + mentions[:3])


def test_no_entities_and_not_quite_entities(api, make_user, make_tweet):
    _, token = make_user("alice")
    assert make_tweet(token, "plain words")["entities"] == NONE
    # An email address is no mention, a tag glued to a word is no hashtag,
    # a number is no hashtag, an @user/list is no mention.
    tweet = make_tweet(token, "mail me@example.org abc#def #123 @alice/list")
    assert tweet["entities"]["hashtags"] == []
    assert tweet["entities"]["mentions"] == []


def test_retweets_and_replays(api, make_user, make_tweet):
    bob, bob_token = make_user("bob")
    _, alice_token = make_user("alice")
    original = make_tweet(alice_token, "#tagged @bob")
    retweet = api.post(f"/tweets/{original['id']}/retweet", token=bob_token).json
    assert retweet["entities"] == NONE
    assert retweet["retweet_of"]["entities"] == original["entities"]
    assert original["entities"]["mentions"][0]["user_id"] == bob["id"]

    body = {"text": "#once @bob"}
    first = api.post("/tweets", body, token=alice_token, headers={"Idempotency-Key": "k1"})
    second = api.post("/tweets", body, token=alice_token, headers={"Idempotency-Key": "k1"})
    assert first.status == second.status == 201
    assert second.headers.get("idempotent-replayed") == "true"
    assert second.json["entities"] == first.json["entities"]
