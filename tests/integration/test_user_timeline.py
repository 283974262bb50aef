"""GET /users/{handle}/tweets: newest first, limit, max_id/since_id, cursors."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import assert_error

from chalicelib.storage.ids import MAX_ID, new_id
from chalicelib.storage.tables import TweetModel, UserModel
from tests import profiles

TWEETS = 23


@pytest.fixture
def timeline(api, make_user):
    """alice with TWEETS tweets; returns (token, their ids newest first).

    The read path is what these tests are about, so the tweets are written
    in one batch as POST /tweets would write them (test_tweets.py covers
    posting); one tweet goes through the API to prove the two agree."""
    alice, token = make_user("alice")
    with TweetModel.batch_write() as batch:
        for n in range(TWEETS - 1):
            tweet_id = new_id()
            batch.save(TweetModel(id=tweet_id, author_id=int(alice["id"]), author_handle="alice",
                                  author_display_name="alice", text=f"tweet {n}", conversation_id=tweet_id))
    UserModel(id=int(alice["id"])).update(actions=[UserModel.tweets_count.add(TWEETS - 1)])
    reply = api.post("/tweets", {"text": f"tweet {TWEETS - 1}"}, token=token)
    assert reply.status == 201
    ids = [t["id"] for t in api.get("/users/alice/tweets?limit=100").json["data"]]
    assert len(ids) == TWEETS and ids[0] == reply.json["id"]
    assert api.get("/users/alice").json["tweets_count"] == TWEETS
    return token, ids


def page(api, query="", handle="alice"):
    reply = api.get(f"/users/{handle}/tweets{'?' + query if query else ''}")
    assert reply.status == 200, reply.body
    assert set(reply.json) == {"data", "meta"}
    assert set(reply.json["meta"]) == {"next_cursor", "newest_id", "oldest_id"}
    return reply.json


def ids_of(body):
    return [t["id"] for t in body["data"]]


def walk(api, limit, first_query=None, handle="alice"):
    """Every page from the first, following next_cursor; returns the pages."""
    pages = [page(api, first_query or f"limit={limit}", handle)]
    while pages[-1]["meta"]["next_cursor"]:
        assert len(pages) < 200, "cursor never ends"
        pages.append(page(api, f"limit={limit}&cursor={pages[-1]['meta']['next_cursor']}", handle))
    return pages


def test_newest_first_with_default_limit(api, timeline):
    _, ids = timeline
    body = page(api)
    assert ids_of(body) == ids[:20]
    assert [int(i) for i in ids] == sorted((int(i) for i in ids), reverse=True)
    assert body["data"][0]["text"] == f"tweet {TWEETS - 1}"
    assert body["meta"]["newest_id"] == ids[0] and body["meta"]["oldest_id"] == ids[19]
    assert body["meta"]["next_cursor"]


def test_limit(api, timeline):
    _, ids = timeline
    assert ids_of(page(api, "limit=1")) == ids[:1]
    assert ids_of(page(api, "limit=7")) == ids[:7]
    everything = page(api, "limit=100")
    assert ids_of(everything) == ids
    assert everything["meta"]["next_cursor"] is None


def test_exact_fit_has_no_next_cursor(api, timeline):
    _, ids = timeline
    body = page(api, f"limit={TWEETS}")
    assert ids_of(body) == ids
    assert body["meta"]["next_cursor"] is None
    assert page(api, f"limit={TWEETS - 1}")["meta"]["next_cursor"] is not None


def test_max_id_is_exclusive(api, timeline):
    _, ids = timeline
    assert ids_of(page(api, f"max_id={ids[4]}&limit=3")) == ids[5:8]
    assert ids_of(page(api, f"max_id={ids[-1]}")) == []
    assert ids_of(page(api, f"max_id={ids[0]}&limit=100")) == ids[1:]
    assert ids_of(page(api, f"max_id={int(ids[0]) + 1}&limit=100")) == ids  # one past the newest


def test_since_id_is_exclusive(api, timeline):
    _, ids = timeline
    assert ids_of(page(api, f"since_id={ids[5]}&limit=100")) == ids[:5]
    assert ids_of(page(api, f"since_id={ids[0]}")) == []
    # With a limit, the newest of the newer ones come first; the cursor goes on down to since_id.
    first = page(api, f"since_id={ids[10]}&limit=4")
    assert ids_of(first) == ids[:4]
    rest = walk(api, 4, f"since_id={ids[10]}&limit=4")
    assert [i for p in rest for i in ids_of(p)] == ids[:10]


def test_max_id_and_since_id_together(api, timeline):
    _, ids = timeline
    assert ids_of(page(api, f"max_id={ids[2]}&since_id={ids[8]}&limit=100")) == ids[3:8]
    assert ids_of(page(api, f"max_id={ids[2]}&since_id={ids[3]}")) == []
    assert ids_of(page(api, f"max_id={ids[3]}&since_id={ids[2]}")) == []  # crossed bounds


def test_cursor_walks_every_page_without_gaps_or_duplicates(api, timeline):
    _, ids = timeline
    for limit in (1, 2, 5, 10, 22, 23, 24):
        pages = walk(api, limit)
        seen = [i for p in pages for i in ids_of(p)]
        assert seen == ids, limit
        assert all(len(ids_of(p)) == limit for p in pages[:-1]), limit
        assert 1 <= len(ids_of(pages[-1])) <= limit
        assert pages[-1]["meta"]["next_cursor"] is None
        assert len(pages) == -(-TWEETS // limit)
        for p in pages:
            assert p["meta"]["newest_id"] == ids_of(p)[0] and p["meta"]["oldest_id"] == ids_of(p)[-1]


def test_cursor_survives_new_tweets(api, timeline):
    token, ids = timeline
    first = page(api, "limit=10")
    newer = api.post("/tweets", {"text": "newer"}, token=token).json["id"]
    second = page(api, f"limit=10&cursor={first['meta']['next_cursor']}")
    assert ids_of(second) == ids[10:20]
    assert newer not in ids_of(second)


def test_deleted_tweets_leave_the_timeline(api, timeline):
    token, ids = timeline
    for tweet_id in ids[3:6]:
        assert api.delete(f"/tweets/{tweet_id}", token=token).status == 204
    seen = [i for p in walk(api, 4) for i in ids_of(p)]
    assert seen == ids[:3] + ids[6:]


def test_cursor_from_another_users_list_is_rejected(api, make_user, timeline):
    _, bob_token = make_user("bob")
    for n in range(3):
        assert api.post("/tweets", {"text": f"bob {n}"}, token=bob_token).status == 201
    alice_cursor = page(api, "limit=2")["meta"]["next_cursor"]
    bob_cursor = page(api, "limit=2", handle="bob")["meta"]["next_cursor"]
    assert alice_cursor and bob_cursor
    assert_error(api.get(f"/users/bob/tweets?cursor={alice_cursor}"), 400, "invalid_cursor")
    assert_error(api.get(f"/users/alice/tweets?cursor={bob_cursor}"), 400, "invalid_cursor")
    assert_error(api.get(f"/users/alice/followers?cursor={alice_cursor}"), 400, "invalid_cursor")
    assert len(ids_of(page(api, f"cursor={bob_cursor}", handle="bob"))) == 1


def test_tampered_cursor_is_rejected(api, timeline):
    cursor = page(api, "limit=2")["meta"]["next_cursor"]
    payload, signature = cursor.split(".")
    flipped = ("A" if payload[0] != "A" else "B") + payload[1:]
    for bad in (f"{flipped}.{signature}", f"{payload}.{signature[:-1]}", payload, cursor + "x", "garbage"):
        assert_error(api.get(f"/users/alice/tweets?cursor={bad}"), 400, "invalid_cursor")


def test_bounds_sent_with_a_cursor_narrow_its_range(api, timeline):
    _, ids = timeline  # newest first
    cursor = page(api, "limit=2")["meta"]["next_cursor"]  # older than ids[1]
    assert [t["id"] for t in page(api, f"cursor={cursor}&since_id={ids[5]}")["data"]] == ids[2:5]
    assert [t["id"] for t in page(api, f"cursor={cursor}&max_id={ids[3]}&limit=100")["data"]] == ids[4:]
    # The cursor's own bound holds: a wider max_id does not widen it.
    assert page(api, f"cursor={cursor}&max_id={ids[0]}")["data"][0]["id"] == ids[2]


def test_bad_parameters_are_400(api, make_user):
    make_user("alice")
    for query in ["limit=0", "limit=101", "limit=abc", "limit=", "limit=-1", "limit=1.5",
                  "limit=%F0%9F%90%A6", "max_id=-1", "max_id=abc", "max_id=0", f"max_id={MAX_ID + 1}",
                  "max_id=" + "9" * 30, "since_id=abc", "since_id=-5", "since_id=", "max_id=1.0"]:
        error = assert_error(api.get(f"/users/alice/tweets?{query}"), 400, "invalid_request", query)
        assert query.split("=")[0] in error["message"]


def test_unknown_user_is_404(api):
    assert_error(api.get("/users/nobody/tweets"), 404, "not_found")
    assert_error(api.get("/users/bad%20handle/tweets"), 404, "not_found")


def test_user_without_tweets(api, make_user):
    make_user("alice")
    assert page(api) == {"data": [], "meta": {"next_cursor": None, "newest_id": None, "oldest_id": None}}


def test_only_the_users_own_tweets(api, make_user, timeline):
    _, ids = timeline
    _, bob_token = make_user("bob")
    bob_tweet = api.post("/tweets", {"text": "bob"}, token=bob_token).json["id"]
    assert ids_of(page(api, "limit=100")) == ids
    assert ids_of(page(api, handle="bob")) == [bob_tweet]


def test_random_page_sizes_concatenate_to_the_whole_list(api, timeline):
    _, ids = timeline

    @settings(max_examples=profiles.examples(15), deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(sizes=st.lists(st.integers(1, 12), min_size=1, max_size=30),
           start=st.integers(0, TWEETS - 1), bounded=st.booleans())
    def check(sizes, start, bounded):
        """Walks pages of any sizes (the last size repeats) from any starting
        max_id, optionally with a since_id floor; the pages together are
        exactly the matching slice of the list."""
        since = ids[-3] if bounded else None
        expected = [i for i in ids[start + 1:] if since is None or int(i) > int(since)]
        query = f"max_id={ids[start]}&limit={sizes[0]}" + (f"&since_id={since}" if since else "")
        seen, body, n = [], page(api, query), 0
        while True:
            seen += ids_of(body)
            assert len(ids_of(body)) <= sizes[min(n, len(sizes) - 1)]
            if not body["meta"]["next_cursor"]:
                break
            n += 1
            size = sizes[min(n, len(sizes) - 1)]
            body = page(api, f"limit={size}&cursor={body['meta']['next_cursor']}")
        assert seen == expected
        assert len(seen) == len(set(seen))

    check()
