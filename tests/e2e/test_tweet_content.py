"""Tweet content over HTTP on the local stack: entities, retweets, likes,
replies, quotes, hashtag timelines, notifications and trends, each through
the real streams and pump (so reads poll until the handlers have run)."""
import itertools
import time

import pytest
import requests

from tests.e2e.conftest import start_stack
from tests.e2e.test_local_stack import eventually

pytestmark = pytest.mark.e2e

_handles = itertools.count(1)


@pytest.fixture(scope="module")
def base():
    stack = start_stack({"DEMO": "0", "TREND_REFRESH_SECONDS": "0"})
    yield stack.url
    assert stack.stop() == 0


class User:
    def __init__(self, base, prefix):
        self.base, self.handle = base, f"{prefix}{next(_handles)}"
        reply = requests.post(f"{base}/auth/signup", json={"handle": self.handle, "password": "e2e-password"},
                              timeout=30)
        assert reply.status_code == 201, reply.text
        self.id = reply.json()["user"]["id"]
        self.auth = {"Authorization": f"Bearer {reply.json()['token']}"}

    def call(self, method, path, body=None):
        return requests.request(method, self.base + path, json=body, headers=self.auth, timeout=30)

    def tweet(self, text, **fields):
        reply = self.call("POST", "/tweets", {"text": text, **fields})
        assert reply.status_code == 201, reply.text
        return reply.json()

    def follow(self, other):
        assert self.call("POST", f"/users/{other.handle}/follow").status_code == 200

    def home(self):
        return [(t["id"], t["retweet_of"] and t["retweet_of"]["id"]) for t in
                self.call("GET", "/timelines/home?limit=100").json()["data"]]

    def notifications(self):
        return [(n["type"], n["actor"]["handle"], n["tweet"] and n["tweet"]["id"])
                for n in self.call("GET", "/notifications?limit=100").json()["data"]]


def test_entities_come_back_with_mentioned_user_ids(base):
    bob = User(base, "ebob")
    alice = User(base, "ealice")
    tweet = alice.tweet(f"🐦 hi @{bob.handle.upper()} and @nobody_here_x, see #Chirp $AAPL example.com")
    entities = tweet["entities"]
    assert entities["mentions"] == [
        {"handle": bob.handle.upper(), "user_id": bob.id, "indices": [5, 6 + len(bob.handle)]},
        {"handle": "nobody_here_x", "user_id": None, "indices": [entities["mentions"][1]["indices"][0],
                                                                 entities["mentions"][1]["indices"][1]]}]
    assert [h["tag"] for h in entities["hashtags"]] == ["Chirp"]
    assert [c["tag"] for c in entities["cashtags"]] == ["AAPL"]
    assert [u["url"] for u in entities["urls"]] == ["example.com"]
    text = tweet["text"]
    for kind in ("mentions", "hashtags", "cashtags", "urls"):
        for entity in entities[kind]:
            start, end = entity["indices"]
            assert text[start:end].lstrip("@#$") == entity.get("handle", entity.get("tag", entity.get("url")))
    too_long = alice.call("POST", "/tweets", {"text": "李" * 141})
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "invalid_text"


def test_retweets_are_shown_once_and_undo_brings_the_next(base):
    author, first, second, reader = (User(base, p) for p in ("eauth", "erta", "ertb", "eread"))
    reader.follow(first)
    reader.follow(second)
    original = author.tweet("worth sharing")
    rt_first = first.call("POST", f"/tweets/{original['id']}/retweet")
    assert rt_first.status_code == 201 and rt_first.json()["retweet_of"]["id"] == original["id"]
    again = first.call("POST", f"/tweets/{original['id']}/retweet")
    assert again.status_code == 200 and again.json()["id"] == rt_first.json()["id"]
    rt_second = second.call("POST", f"/tweets/{original['id']}/retweet").json()
    shown = eventually(reader.home, lambda home: home == [(rt_first.json()["id"], original["id"])])
    assert shown
    assert requests.get(f"{base}/tweets/{original['id']}", timeout=30).json()["counts"]["retweets"] == 2
    assert first.call("DELETE", f"/tweets/{original['id']}/retweet").json() == {"retweeted": False}
    eventually(reader.home, lambda home: home == [(rt_second["id"], original["id"])])
    tweets = requests.get(f"{base}/users/{second.handle}/tweets", timeout=30).json()["data"]
    assert [t["retweet_of"]["id"] for t in tweets] == [original["id"]]
    # Deleting the original makes its retweets vanish everywhere.
    assert author.call("DELETE", f"/tweets/{original['id']}").status_code == 204
    eventually(reader.home, lambda home: home == [])
    eventually(lambda: requests.get(f"{base}/tweets/{rt_second['id']}", timeout=30).status_code,
               lambda status: status == 404)
    missing = second.call("POST", f"/tweets/{original['id']}/retweet")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_likes_replies_and_quotes(base):
    author, fan, other = User(base, "elau"), User(base, "elfan"), User(base, "eloth")
    root = author.tweet("a thread starts")
    assert fan.call("POST", f"/tweets/{root['id']}/like").json() == {"liked": True}
    assert fan.call("POST", f"/tweets/{root['id']}/like").json() == {"liked": True}  # idempotent
    assert other.call("POST", f"/tweets/{root['id']}/like").status_code == 200
    assert other.call("DELETE", f"/tweets/{root['id']}/like").json() == {"liked": False}
    reply = fan.tweet("first!", reply_to_id=root["id"])
    nested = other.tweet("second", reply_to_id=reply["id"])
    quote = other.tweet("quoting", quote_of_id=root["id"])
    assert nested["conversation_id"] == root["id"] and quote["quote_of_id"] == root["id"]
    got = requests.get(f"{base}/tweets/{root['id']}", timeout=30).json()
    # Anonymous reads so far: no views.
    assert got["counts"] == {"likes": 1, "retweets": 0, "replies": 1, "quotes": 1, "views": 0}
    listed = requests.get(f"{base}/tweets/{root['id']}/replies", timeout=30).json()
    assert [t["id"] for t in listed["data"]] == [reply["id"]]
    nothing = fan.call("POST", "/tweets", {"text": "to nothing", "reply_to_id": "911887782780350464"})
    assert nothing.status_code == 404 and nothing.json()["error"]["code"] == "unknown_tweet"
    assert requests.post(f"{base}/tweets/{root['id']}/like", timeout=30).status_code == 401
    # Deleting the root leaves its replies readable.
    assert author.call("DELETE", f"/tweets/{root['id']}").status_code == 204
    assert requests.get(f"{base}/tweets/{reply['id']}", timeout=30).status_code == 200
    still = requests.get(f"{base}/tweets/{root['id']}/replies", timeout=30).json()
    assert [t["id"] for t in still["data"]] == [reply["id"]]


def test_hashtag_timeline_and_trends(base):
    user = User(base, "etag")
    tag = f"E2eTag{next(_handles)}"
    tweets = [user.tweet(f"#{tag} number {n}") for n in range(3)] + [user.tweet(f"#{tag.upper()} loud")]

    def listed():
        reply = requests.get(f"{base}/hashtags/%23{tag.lower()}/tweets?limit=2", timeout=30).json()
        ids = [t["id"] for t in reply["data"]]
        while reply["meta"]["next_cursor"]:
            cursor = reply["meta"]["next_cursor"]
            reply = requests.get(f"{base}/hashtags/{tag}/tweets?limit=2&cursor={cursor}", timeout=30).json()
            ids += [t["id"] for t in reply["data"]]
        return ids

    eventually(listed, lambda ids: ids == [t["id"] for t in reversed(tweets)])
    trends = eventually(lambda: requests.get(f"{base}/trends", timeout=30).json(),
                        lambda body: any(t["tag"].lower() == tag.lower() for t in body["data"]))
    assert trends["meta"] == {"window_minutes": 60}
    assert [t["count"] for t in trends["data"] if t["tag"].lower() == tag.lower()] == [4]
    assert user.call("DELETE", f"/tweets/{tweets[0]['id']}").status_code == 204
    eventually(listed, lambda ids: ids == [t["id"] for t in reversed(tweets[1:])])
    bad = requests.get(f"{base}/hashtags/no%20tag/tweets", timeout=30)
    assert bad.status_code == 404 and bad.json()["error"]["code"] == "invalid_hashtag"


def test_notifications_of_every_kind(base):
    me, them = User(base, "enme"), User(base, "enthem")
    mine = me.tweet("notice me")
    them.follow(me)
    mention = them.tweet(f"hey @{me.handle}")
    reply = them.tweet(f"@{me.handle} replying", reply_to_id=mine["id"])
    them.call("POST", f"/tweets/{mine['id']}/like")
    them.call("POST", f"/tweets/{mine['id']}/retweet")
    me.tweet(f"talking to myself @{me.handle}")  # no notification for yourself
    me.call("POST", f"/tweets/{mine['id']}/like")
    expected = [("retweet", them.handle, mine["id"]), ("like", them.handle, mine["id"]),
                ("reply", them.handle, reply["id"]), ("mention", them.handle, mention["id"]),
                ("follow", them.handle, None)]
    eventually(me.notifications, lambda got: got == expected)
    them.call("DELETE", f"/tweets/{mine['id']}/like")
    them.call("DELETE", f"/users/{me.handle}/follow")
    eventually(me.notifications, lambda got: got == [expected[0], expected[2], expected[3]])
    assert requests.get(f"{base}/notifications", timeout=30).status_code == 401


def test_views_count_each_signed_in_reader_exactly_over_http(base):
    author, reader, other = User(base, "evau"), User(base, "evrd"), User(base, "evot")
    tweet = author.tweet("count me #seen")
    retweet = other.call("POST", f"/tweets/{tweet['id']}/retweet").json()
    eventually(lambda: requests.get(f"{base}/hashtags/seen/tweets", timeout=30).json(),  # anonymous polls
               lambda page: [t["id"] for t in page["data"]] == [tweet["id"]])
    assert author.call("GET", f"/tweets/{tweet['id']}").status_code == 200  # the author's own: no view
    assert reader.call("GET", f"/tweets/{tweet['id']}").status_code == 200  # 1
    assert reader.call("GET", f"/tweets/{retweet['id']}").status_code == 200  # 2: counts for its original
    assert reader.call("GET", f"/users/{author.handle}/tweets").status_code == 200  # 3
    assert reader.call("GET", "/hashtags/seen/tweets").status_code == 200  # 4

    def views():
        return requests.get(f"{base}/tweets/{tweet['id']}", timeout=30).json()["counts"]["views"]

    assert eventually(views, lambda count: count == 4) == 4
    time.sleep(1)
    assert views() == 4  # and no more: every view once
