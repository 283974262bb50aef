"""Replies and quotes: reply_to_id and conversation_id, exact reply counts,
GET /tweets/{id}/replies (newest first, the contract's list shape and
pagination), and what a retweet's id means when replied to or quoted."""
import pytest
from support import assert_error

UNKNOWN = "911887782780350464"
EMPTY_LIST = {"data": [], "meta": {"next_cursor": None, "newest_id": None, "oldest_id": None}}


def get(api, tweet_id):
    reply = api.get(f"/tweets/{tweet_id}")
    assert reply.status == 200, reply.json
    return reply.json


def reply_count(api, tweet_id):
    return get(api, tweet_id)["counts"]["replies"]


def tweets_count(api, handle):
    return api.get(f"/users/{handle}").json["tweets_count"]


def replies(api, tweet_id, query=""):
    reply = api.get(f"/tweets/{tweet_id}/replies{'?' + query if query else ''}")
    assert reply.status == 200, reply.json
    assert set(reply.json) == {"data", "meta"}
    assert set(reply.json["meta"]) == {"next_cursor", "newest_id", "oldest_id"}
    return reply.json


def ids(body):
    return [t["id"] for t in body["data"]]


def all_pages(api, tweet_id, query):
    body = replies(api, tweet_id, query)
    seen, limit = ids(body), query.split("limit=")[1].split("&")[0]
    for _ in range(100):
        if body["meta"]["next_cursor"] is None:
            return seen
        body = replies(api, tweet_id, f"limit={limit}&cursor={body['meta']['next_cursor']}")
        seen += ids(body)
    raise AssertionError("the replies never ended")


@pytest.fixture
def thread(api, make_user, make_tweet):
    """A root by Alice with 7 direct replies (by Bob and Carol, oldest
    first), a reply to a reply, and an unrelated tweet."""
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    _, carol = make_user("carol")
    root = make_tweet(alice, "root")
    direct = [make_tweet(bob if n % 2 else carol, f"reply {n}", reply_to_id=root["id"]) for n in range(7)]
    nested = make_tweet(alice, "a reply to a reply", reply_to_id=direct[2]["id"])
    make_tweet(bob, "unrelated")
    return {"root": root, "direct": direct, "nested": nested, "tokens": (alice, bob, carol)}


# --- replying --------------------------------------------------------------------------

def test_a_reply_to_a_reply_keeps_the_roots_conversation(api, make_user, make_tweet):
    _, alice = make_user("alice")
    bob_user, bob = make_user("bob")
    root = make_tweet(alice, "root")
    first = make_tweet(bob, "first", reply_to_id=root["id"])
    second = make_tweet(alice, "second", reply_to_id=first["id"])
    third = make_tweet(bob, "third", reply_to_id=second["id"])
    assert (first["reply_to_id"], second["reply_to_id"], third["reply_to_id"]) == (
        root["id"], first["id"], second["id"])
    assert {t["conversation_id"] for t in (root, first, second, third)} == {root["id"]}
    assert first["author"]["id"] == bob_user["id"]
    assert first["quote_of_id"] is None and first["retweet_of"] is None
    # Each reply counts on its parent only.
    assert [reply_count(api, t["id"]) for t in (root, first, second, third)] == [1, 1, 1, 0]
    assert get(api, third["id"]) == third
    assert (tweets_count(api, "alice"), tweets_count(api, "bob")) == (2, 2)


def test_reply_counts_are_exact_when_replies_are_deleted(api, make_user, make_tweet):
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    root = make_tweet(alice)
    kept = make_tweet(bob, "kept", reply_to_id=root["id"])
    gone = make_tweet(bob, "gone", reply_to_id=root["id"])
    nested = make_tweet(alice, "nested", reply_to_id=kept["id"])
    assert reply_count(api, root["id"]) == 2
    assert api.delete(f"/tweets/{gone['id']}", token=bob).status == 204
    assert reply_count(api, root["id"]) == 1
    assert_error(api.delete(f"/tweets/{gone['id']}", token=bob), 404, "not_found")
    assert reply_count(api, root["id"]) == 1  # not twice
    assert_error(api.delete(f"/tweets/{kept['id']}", token=alice), 403, "forbidden")
    assert reply_count(api, root["id"]) == 1
    assert api.delete(f"/tweets/{nested['id']}", token=alice).status == 204
    assert (reply_count(api, root["id"]), reply_count(api, kept["id"])) == (1, 0)
    assert ids(replies(api, root["id"])) == [kept["id"]]
    assert replies(api, kept["id"]) == EMPTY_LIST
    assert (tweets_count(api, "alice"), tweets_count(api, "bob")) == (1, 1)


def test_replying_to_an_unknown_tweet_is_404(api, make_user, make_tweet):
    _, alice = make_user("alice")
    for missing in (UNKNOWN, "1"):
        error = assert_error(api.post("/tweets", {"text": "hi", "reply_to_id": missing}, token=alice),
                             404, "unknown_tweet")
        assert "reply_to_id" in error["message"]
    assert tweets_count(api, "alice") == 0
    assert api.get("/users/alice/tweets").json["data"] == []


def test_replying_to_a_retweet_replies_to_its_original(api, make_user, make_tweet):
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    _, carol = make_user("carol")
    root = make_tweet(alice, "root")
    inner = make_tweet(bob, "a reply in a thread", reply_to_id=root["id"])
    rt = api.post(f"/tweets/{inner['id']}/retweet", token=carol).json
    reply = make_tweet(carol, "answering via the retweet", reply_to_id=rt["id"])
    assert reply["reply_to_id"] == inner["id"]
    assert reply["conversation_id"] == root["id"]  # the original's conversation, not the retweet's
    assert reply_count(api, inner["id"]) == 1
    assert get(api, rt["id"])["counts"]["replies"] == 0
    assert ids(replies(api, inner["id"])) == [reply["id"]]
    assert replies(api, rt["id"]) == EMPTY_LIST
    # Once the retweet is undone its id names nothing to reply to.
    assert api.delete(f"/tweets/{inner['id']}/retweet", token=carol).status == 200
    assert_error(api.post("/tweets", {"text": "late", "reply_to_id": rt["id"]}, token=carol),
                 404, "unknown_tweet")
    assert reply_count(api, inner["id"]) == 1


# --- GET /tweets/{id}/replies --------------------------------------------------------------

def test_replies_list_newest_first_direct_replies_only(api, thread):
    root, direct, nested = thread["root"], thread["direct"], thread["nested"]
    body = replies(api, root["id"])
    expected = [t["id"] for t in reversed(direct)]
    assert ids(body) == expected
    assert body["meta"] == {"next_cursor": None, "newest_id": expected[0], "oldest_id": expected[-1]}
    shown = {t["id"]: t for t in body["data"]}
    assert shown[direct[2]["id"]] == get(api, direct[2]["id"])  # full tweets, counts current
    assert shown[direct[2]["id"]]["counts"]["replies"] == 1
    assert all(t["reply_to_id"] == root["id"] and t["retweet_of"] is None for t in body["data"])
    assert ids(replies(api, direct[2]["id"])) == [nested["id"]]
    assert replies(api, nested["id"]) == EMPTY_LIST
    assert reply_count(api, root["id"]) == 7


def test_replies_pages_with_limit_and_cursor(api, thread):
    root = thread["root"]
    expected = [t["id"] for t in reversed(thread["direct"])]
    first = replies(api, root["id"], "limit=3")
    assert ids(first) == expected[:3]
    assert first["meta"]["newest_id"] == expected[0] and first["meta"]["oldest_id"] == expected[2]
    assert first["meta"]["next_cursor"]
    assert first["meta"]["next_cursor"].replace("-", "").replace("_", "").replace(".", "").isalnum()
    for limit in (1, 2, 3, 6, 7, 8, 100):
        assert all_pages(api, root["id"], f"limit={limit}") == expected, limit
    last = replies(api, root["id"], "limit=7")
    assert last["meta"]["next_cursor"] is None  # exactly one full page: no empty page after it


def test_replies_max_id_and_since_id(api, thread):
    root = thread["root"]
    expected = [t["id"] for t in reversed(thread["direct"])]
    assert ids(replies(api, root["id"], f"max_id={expected[2]}")) == expected[3:]
    assert ids(replies(api, root["id"], f"since_id={expected[4]}")) == expected[:4]
    assert ids(replies(api, root["id"], f"since_id={expected[5]}&max_id={expected[1]}")) == expected[2:5]
    assert ids(replies(api, root["id"], f"since_id={expected[2]}&max_id={expected[1]}")) == []
    assert ids(replies(api, root["id"], f"max_id={expected[-1]}")) == []
    assert ids(replies(api, root["id"], f"since_id={expected[0]}")) == []
    # Bounds and pages together: the cursor keeps the since_id floor.
    assert all_pages(api, root["id"], f"limit=2&since_id={expected[5]}") == expected[:5]
    assert all_pages(api, root["id"], f"limit=2&max_id={expected[0]}") == expected[1:]


def test_replies_bad_query_is_400(api, make_user, make_tweet):
    _, alice = make_user("alice")
    root = make_tweet(alice)
    make_tweet(alice, "a reply", reply_to_id=root["id"])
    for query in ("limit=0", "limit=101", "limit=-1", "limit=abc", "limit=1.5", "max_id=abc", "since_id=-5",
                  "cursor=garbage", "cursor=abc.def"):
        assert_error(api.get(f"/tweets/{root['id']}/replies?{query}"), 400, what=query)


def test_a_cursor_belongs_to_its_list(api, thread):
    root, direct = thread["root"], thread["direct"]
    cursor = replies(api, root["id"], "limit=2")["meta"]["next_cursor"]
    assert_error(api.get(f"/tweets/{direct[2]['id']}/replies?cursor={cursor}"), 400, "invalid_cursor")
    assert_error(api.get(f"/users/alice/tweets?cursor={cursor}"), 400, "invalid_cursor")


def test_bounds_sent_with_a_cursor_narrow_its_range(api, thread):
    root = thread["root"]
    everything = [t["id"] for t in replies(api, root["id"], "limit=100")["data"]]
    cursor = replies(api, root["id"], "limit=1")["meta"]["next_cursor"]
    narrowed = replies(api, root["id"], f"cursor={cursor}&since_id={everything[-2]}&limit=100")
    assert [t["id"] for t in narrowed["data"]] == everything[1:-2]  # since_id is exclusive


def test_replies_of_an_unknown_tweet_are_404(api, make_user, make_tweet):
    for tweet_id in (UNKNOWN, "1", "abc", "0", "-1"):
        error = assert_error(api.get(f"/tweets/{tweet_id}/replies"), 404, "not_found", tweet_id)
        assert error["message"] == "Tweet not found."
    _, alice = make_user("alice")
    lonely = make_tweet(alice)
    assert replies(api, lonely["id"]) == EMPTY_LIST  # known, with no replies: an empty list


def test_bounded_replies_of_an_unknown_tweet_are_404(api, make_user, make_tweet):
    _, alice = make_user("alice")
    known = make_tweet(alice)
    assert_error(api.get(f"/tweets/{UNKNOWN}/replies?since_id={known['id']}"), 404, "not_found")
    assert_error(api.get(f"/tweets/{UNKNOWN}/replies?max_id={known['id']}"), 404, "not_found")


def test_replies_stay_listed_under_a_deleted_tweet(api, thread):
    root, direct = thread["root"], thread["direct"]
    alice = thread["tokens"][0]
    assert api.delete(f"/tweets/{root['id']}", token=alice).status == 204
    assert_error(api.get(f"/tweets/{root['id']}"), 404, "not_found")
    expected = [t["id"] for t in reversed(direct)]
    assert ids(replies(api, root["id"])) == expected
    assert all_pages(api, root["id"], "limit=3") == expected
    # Bounded pages of it, too, including an empty one past the oldest reply.
    assert ids(replies(api, root["id"], f"max_id={expected[3]}")) == expected[4:]
    assert replies(api, root["id"], f"max_id={expected[-1]}") == EMPTY_LIST
    for reply in direct:
        assert get(api, reply["id"]) == reply | {"counts": get(api, reply["id"])["counts"]}
    # The last reply deleted: now the deleted tweet never had any, as far as anyone can tell.
    for n, reply in enumerate(direct):
        token = thread["tokens"][1] if n % 2 else thread["tokens"][2]
        assert api.delete(f"/tweets/{reply['id']}", token=token).status == 204
    assert_error(api.get(f"/tweets/{root['id']}/replies"), 404, "not_found")


def test_replies_stay_after_the_deletion_cascade(api, make_user, make_tweet, pump):
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    root = make_tweet(alice)
    reply = make_tweet(bob, "still here", reply_to_id=root["id"])
    assert api.post(f"/tweets/{reply['id']}/like", token=alice).status == 200
    assert api.delete(f"/tweets/{root['id']}", token=alice).status == 204
    pump.drain()
    assert get(api, reply["id"]) == reply | {"counts": {"likes": 1, "retweets": 0, "replies": 0, "quotes": 0,
                                                        "views": 0}}
    assert ids(replies(api, root["id"])) == [reply["id"]]
    assert api.get("/users/bob/tweets").json["data"][0]["id"] == reply["id"]


# --- quotes ----------------------------------------------------------------------------

def test_a_quote_stores_what_it_quotes(api, make_user, make_tweet):
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    original = make_tweet(alice, "quotable")
    quote = make_tweet(bob, "so true", quote_of_id=original["id"])
    assert quote["quote_of_id"] == original["id"]
    assert quote["reply_to_id"] is None and quote["retweet_of"] is None
    assert quote["conversation_id"] == quote["id"]  # a quote starts its own conversation
    assert get(api, quote["id"]) == quote
    assert get(api, original["id"])["counts"] == {"likes": 0, "retweets": 0, "replies": 0, "quotes": 1,
                                                  "views": 0}
    assert replies(api, original["id"]) == EMPTY_LIST
    assert tweets_count(api, "bob") == 1
    # A quote may also be a reply: both fields, the reply's conversation.
    both = make_tweet(bob, "quoting in a reply", quote_of_id=original["id"], reply_to_id=quote["id"])
    assert (both["quote_of_id"], both["reply_to_id"], both["conversation_id"]) == (
        original["id"], quote["id"], quote["id"])
    assert reply_count(api, quote["id"]) == 1 and reply_count(api, original["id"]) == 0


def test_quoting_a_retweet_quotes_its_original(api, make_user, make_tweet):
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    original = make_tweet(alice)
    rt = api.post(f"/tweets/{original['id']}/retweet", token=bob).json
    quote = make_tweet(bob, "quoting the retweet", quote_of_id=rt["id"])
    assert quote["quote_of_id"] == original["id"]


def test_quoting_an_unknown_or_deleted_tweet_is_400(api, make_user, make_tweet):
    _, alice = make_user("alice")
    gone = make_tweet(alice)
    assert api.delete(f"/tweets/{gone['id']}", token=alice).status == 204
    for missing in (UNKNOWN, "1", gone["id"]):
        error = assert_error(api.post("/tweets", {"text": "q", "quote_of_id": missing}, token=alice),
                             404, "unknown_tweet", missing)
        assert "quote_of_id" in error["message"]
    assert tweets_count(api, "alice") == 0


def test_quote_counts_kept_by_post_and_delete_also_for_a_reply_quoting_its_parent(api, make_user, make_tweet):
    """Quotes are counted on the quoted tweet (a ranking signal, not shown).
    A reply that quotes its own parent counts both on it in one step: a
    transaction may touch an item only once."""
    from chalicelib.storage.tables import TweetModel

    def counts(tweet_id):
        item = TweetModel.get(int(tweet_id), consistent_read=True)
        return int(item.reply_count or 0), int(item.quote_count or 0)

    _, alice = make_user("alice")
    _, bob = make_user("bob")
    original = make_tweet(alice, "quotable")
    quote = make_tweet(bob, "so true", quote_of_id=original["id"])
    both = make_tweet(bob, "replying and quoting", quote_of_id=original["id"], reply_to_id=original["id"])
    assert counts(original["id"]) == (1, 2)
    assert api.delete(f"/tweets/{both['id']}", token=bob).status == 204
    assert counts(original["id"]) == (0, 1)
    assert api.delete(f"/tweets/{quote['id']}", token=bob).status == 204
    assert counts(original["id"]) == (0, 0)
    # The quoted tweet gone first: the quote's delete still goes through.
    quote = make_tweet(bob, "again", quote_of_id=original["id"])
    assert api.delete(f"/tweets/{original['id']}", token=alice).status == 204
    assert api.delete(f"/tweets/{quote['id']}", token=bob).status == 204
    assert tweets_count(api, "bob") == 0
