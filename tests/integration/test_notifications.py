"""GET /notifications: mentions, replies, likes, retweets and follows addressed
to the caller, newest first, paginated; written by the stream handlers (never
on the request path), none for acting on yourself, none doubled by a
redelivered record, and gone when their cause is undone.

Tests act through the API, then run the streams with `pump.drain()`."""
import pytest
from support import assert_error

from chalicelib.events import streams
from chalicelib.storage.ids import id_created_at
from chalicelib.storage.tables import NotificationModel
from devstack.metering import DynamoDBCalls

pytestmark = pytest.mark.usefixtures("cheap_passwords")
NOTIFICATION_KEYS = {"id", "type", "actor", "tweet", "created_at"}


@pytest.fixture
def read(api):
    """The caller's notifications through the API, every page by cursor,
    as (type, actor handle, tweet id or None) newest first; checks each
    page's contract on the way."""

    def read_all(token, limit=100, full=False):
        items, cursor = [], None
        for _ in range(100):
            path = f"/notifications?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            reply = api.get(path, token=token)
            assert reply.status == 200, reply.json
            page = reply.json
            assert set(page) == {"data", "meta"} and len(page["data"]) <= limit
            for item in page["data"]:
                assert set(item) == NOTIFICATION_KEYS, item
                assert item["created_at"] == id_created_at(int(item["id"]))
            items += page["data"]
            cursor = page["meta"]["next_cursor"]
            if cursor is None:
                break
        ids = [n["id"] for n in items]
        assert ids == sorted(ids, key=int, reverse=True) and len(set(ids)) == len(ids)
        if full:
            return items
        return [(n["type"], n["actor"]["handle"], n["tweet"] and n["tweet"]["id"]) for n in items]

    return read_all


@pytest.fixture
def people(make_user):
    """alice, bob and carol: handle -> (user json, token)."""
    return {handle: make_user(handle) for handle in ("alice", "bob", "carol")}


def stored() -> list[tuple[int, str]]:
    return sorted((int(n.user_id), n.type) for n in NotificationModel.scan(consistent_read=True))


# --- each type, in the contract's shape ----------------------------------------------------------

def test_each_type_in_the_contract_shape(api, people, make_tweet, pump, read, dynamodb_hooks):
    (alice, alice_token), (_, bob_token) = people["alice"], people["bob"]
    requests_wrote = []
    table = NotificationModel.Meta.table_name
    for operation in ("PutItem", "BatchWriteItem", "TransactWriteItems", "UpdateItem"):
        dynamodb_hooks.on(operation, lambda request, operation: (
            requests_wrote.append(operation) if table in str(request) else None))

    assert api.post("/users/alice/follow", token=bob_token).status == 200
    tweet = make_tweet(alice_token, "an original")
    mention = make_tweet(bob_token, "hello @ALICE")
    reply = make_tweet(bob_token, "a reply", reply_to_id=tweet["id"])
    assert api.post(f"/tweets/{tweet['id']}/like", token=bob_token).status == 200
    retweet = api.post(f"/tweets/{tweet['id']}/retweet", token=bob_token).json
    assert requests_wrote == [] and stored() == []  # written by the streams, not by the requests
    pump.drain()
    assert set(requests_wrote) == {"BatchWriteItem"}

    assert read(alice_token) == [("retweet", "bob", tweet["id"]), ("like", "bob", tweet["id"]),
                                 ("reply", "bob", reply["id"]), ("mention", "bob", mention["id"]),
                                 ("follow", "bob", None)]
    notes = read(alice_token, full=True)
    bob_now = api.get("/users/bob").json
    assert all(n["actor"] == bob_now for n in notes)  # the full user shape
    assert notes[0]["id"] == retweet["id"]  # a notification's id is its cause's
    assert notes[0]["tweet"] == api.get(f"/tweets/{tweet['id']}").json  # the original, hydrated
    assert notes[1]["tweet"]["counts"] == {"likes": 1, "retweets": 1, "replies": 1, "quotes": 0, "views": 0}
    assert notes[2]["id"] == reply["id"] and notes[2]["tweet"] == api.get(f"/tweets/{reply['id']}").json
    assert notes[3]["tweet"]["text"] == "hello @ALICE"
    assert notes[3]["tweet"]["entities"]["mentions"][0]["user_id"] == alice["id"]
    assert notes[4]["tweet"] is None
    assert read(bob_token) == []  # nobody did anything to bob


def test_nobody_is_notified_of_their_own_actions(api, people, make_tweet, pump, read):
    _, alice_token = people["alice"]
    _, bob_token = people["bob"]
    own = make_tweet(alice_token, "mine, says @alice")  # self-mention
    make_tweet(alice_token, "talking to myself @Alice", reply_to_id=own["id"])  # reply to self
    assert api.post(f"/tweets/{own['id']}/like", token=alice_token).status == 200
    assert api.post(f"/tweets/{own['id']}/retweet", token=alice_token).status == 201
    make_tweet(alice_token, "quoting myself", quote_of_id=own["id"])
    assert api.post("/users/alice/follow", token=alice_token).status == 403
    # ...while the same actions by someone else do notify.
    make_tweet(alice_token, "and @bob", reply_to_id=own["id"])
    pump.drain()
    assert read(alice_token) == []
    assert [t for t, *_ in read(bob_token)] == ["mention"]


def test_who_is_notified_of_a_reply_or_mention(api, people, make_tweet, pump, read):
    """A reply that also mentions the parent's author notifies them once (a
    reply); a reply to a retweet goes to the original's author; a handle
    named several times, in any case, is one mention; nobody's handle none."""
    _, alice_token = people["alice"]
    _, bob_token = people["bob"]
    _, carol_token = people["carol"]
    parent = make_tweet(alice_token, "a question")
    reply = make_tweet(bob_token, "@alice @ALICE yes, and @carol @Carol @nobody", reply_to_id=parent["id"])
    retweet = api.post(f"/tweets/{parent['id']}/retweet", token=carol_token).json
    to_retweet = make_tweet(bob_token, "to the retweet", reply_to_id=retweet["id"])
    assert api.post(f"/tweets/{retweet['id']}/like", token=bob_token).status == 200  # likes the original
    pump.drain()
    assert read(alice_token) == [("like", "bob", parent["id"]), ("reply", "bob", to_retweet["id"]),
                                 ("retweet", "carol", parent["id"]), ("reply", "bob", reply["id"])]
    assert read(carol_token) == [("mention", "bob", reply["id"])]
    assert read(bob_token) == []
    assert len(stored()) == 5


# --- undoing the cause --------------------------------------------------------------------------

def test_undoing_the_cause_removes_the_notification(api, people, make_tweet, pump, read):
    _, alice_token = people["alice"]
    _, bob_token = people["bob"]
    tweet = make_tweet(alice_token, "an original")
    assert api.post("/users/alice/follow", token=bob_token).status == 200
    mention = make_tweet(bob_token, "@alice hi")
    reply = make_tweet(bob_token, "re", reply_to_id=tweet["id"])
    assert api.post(f"/tweets/{tweet['id']}/like", token=bob_token).status == 200
    assert api.post(f"/tweets/{tweet['id']}/retweet", token=bob_token).status == 201
    pump.drain()
    assert len(read(alice_token)) == 5

    undo = [("like", lambda: api.delete(f"/tweets/{tweet['id']}/like", token=bob_token)),
            ("retweet", lambda: api.delete(f"/tweets/{tweet['id']}/retweet", token=bob_token)),
            ("follow", lambda: api.delete("/users/alice/follow", token=bob_token)),
            ("mention", lambda: api.delete(f"/tweets/{mention['id']}", token=bob_token)),
            ("reply", lambda: api.delete(f"/tweets/{reply['id']}", token=bob_token))]
    left = {"like", "retweet", "follow", "mention", "reply"}
    for kind, action in undo:
        assert action().status < 300, kind
        left.discard(kind)
        if kind in ("mention", "reply"):  # the tweet is gone: left out before the stream catches up
            assert {t for t, *_ in read(alice_token)} == left, kind
            assert len(stored()) == len(left) + 1
        pump.drain()
        assert {t for t, *_ in read(alice_token)} == left, kind
        assert len(stored()) == len(left)


def test_deleting_an_original_takes_its_like_and_retweet_notifications(api, people, make_tweet, pump, read):
    _, alice_token = people["alice"]
    _, bob_token = people["bob"]
    _, carol_token = people["carol"]
    tweet = make_tweet(alice_token, "soon gone")
    other = make_tweet(alice_token, "stays")
    for token in (bob_token, carol_token):
        assert api.post(f"/tweets/{tweet['id']}/like", token=token).status == 200
        assert api.post(f"/tweets/{tweet['id']}/retweet", token=token).status == 201
    assert api.post(f"/tweets/{other['id']}/like", token=bob_token).status == 200
    pump.drain()
    assert len(read(alice_token)) == 5
    assert api.delete(f"/tweets/{tweet['id']}", token=alice_token).status == 204
    pump.drain()
    assert read(alice_token) == [("like", "bob", other["id"])]
    assert stored() == [(int(people["alice"][0]["id"]), "like")]


def test_again_after_undoing_is_one_new_notification(api, people, make_tweet, pump, read):
    _, alice_token = people["alice"]
    _, bob_token = people["bob"]
    tweet = make_tweet(alice_token, "like me")
    for _ in range(2):
        assert api.post(f"/tweets/{tweet['id']}/like", token=bob_token).status == 200
        assert api.post(f"/tweets/{tweet['id']}/like", token=bob_token).status == 200  # idempotent
        assert api.post("/users/alice/follow", token=bob_token).status == 200
        pump.drain()
        assert read(alice_token) == [("follow", "bob", None), ("like", "bob", tweet["id"])]
        assert api.delete(f"/tweets/{tweet['id']}/like", token=bob_token).status == 200
        assert api.delete("/users/alice/follow", token=bob_token).status == 200
        pump.drain()
        assert read(alice_token) == []


# --- redelivery -------------------------------------------------------------------------------------

class Recorder:
    """Wraps the stream handlers and keeps each record with its handler."""

    HANDLERS = {"on_tweet_change": streams.on_tweet_record, "on_follow_change": streams.on_follow_record,
                "on_like_change": streams.on_like_record}

    def __init__(self):
        self.records = []

    def wrap(self, name, handler):
        def invoke(event, context):
            if name in self.HANDLERS:
                self.records += [(self.HANDLERS[name], r) for r in event["Records"]]
            return handler(event, context)
        return invoke

    def redeliver(self, times=1):
        for _ in range(times):
            for handle, record in self.records:
                handle(record)


def test_redelivered_records_notify_once(api, people, make_tweet, pump_factory, read):
    _, alice_token = people["alice"]
    _, bob_token = people["bob"]
    recorder = Recorder()
    pump = pump_factory(wrap=recorder.wrap)
    tweet = make_tweet(alice_token, "original")
    make_tweet(bob_token, "@alice re", reply_to_id=tweet["id"])
    make_tweet(bob_token, "@alice hi")
    assert api.post(f"/tweets/{tweet['id']}/like", token=bob_token).status == 200
    assert api.post(f"/tweets/{tweet['id']}/retweet", token=bob_token).status == 201
    assert api.post("/users/alice/follow", token=bob_token).status == 200
    pump.drain()
    before = read(alice_token)
    assert [t for t, *_ in before] == ["follow", "retweet", "like", "mention", "reply"]
    assert {h for h, _ in recorder.records} == set(Recorder.HANDLERS.values())

    recorder.redeliver(times=2)
    assert read(alice_token) == before
    assert len(stored()) == 5

    # The undoing, redelivered, removes once and brings nothing back.
    recorder.records.clear()
    assert api.delete(f"/tweets/{tweet['id']}/like", token=bob_token).status == 200
    assert api.delete("/users/alice/follow", token=bob_token).status == 200
    pump.drain()
    recorder.redeliver(times=2)
    assert [t for t, *_ in read(alice_token)] == ["retweet", "mention", "reply"]


# --- pages ---------------------------------------------------------------------------------------------

@pytest.fixture
def many(api, people, make_tweet, pump):
    """Seven mentions of alice by bob; returns alice's token and their ids newest first."""
    _, alice_token = people["alice"]
    _, bob_token = people["bob"]
    ids = [make_tweet(bob_token, f"@alice number {n}")["id"] for n in range(7)]
    pump.drain()
    return alice_token, ids[::-1]


def test_pages_bounds_and_errors(api, many, people, read):
    token, ids = many
    for limit in (1, 3, 6, 7, 100):
        assert [tweet for _, _, tweet in read(token, limit)] == ids, limit
    page = api.get("/notifications?limit=7", token=token).json
    assert page["meta"] == {"next_cursor": None, "newest_id": ids[0], "oldest_id": ids[-1]}
    page = api.get("/notifications?limit=6", token=token).json
    assert page["meta"]["next_cursor"] is not None
    def page(query):
        return [n["id"] for n in api.get(f"/notifications?{query}", token=token).json["data"]]

    assert page(f"max_id={ids[2]}") == ids[3:]
    assert page(f"since_id={ids[4]}") == ids[:4]
    assert page(f"since_id={ids[5]}&max_id={ids[1]}") == ids[2:5]
    assert page(f"limit=2&since_id={ids[6]}") == ids[:2]  # the newest above it
    assert page(f"since_id={ids[3]}&max_id={ids[2]}") == []

    for query in ("limit=0", "limit=101", "max_id=x", "cursor=garbage"):
        assert_error(api.get(f"/notifications?{query}", token=token), 400, what=query)
    cursor = api.get("/notifications?limit=1", token=token).json["meta"]["next_cursor"]
    assert cursor
    # A cursor is bound to its reader's list.
    assert_error(api.get(f"/notifications?cursor={cursor}", token=people["bob"][1]), 400, "invalid_cursor")
    assert_error(api.get("/notifications"), 401, "unauthorized")
    assert_error(api.get("/notifications", token="not.a.token"), 401, "unauthorized")


def test_a_page_costs_one_query_and_one_batch_get(api, people, make_tweet, pump):
    _, alice_token = people["alice"]
    _, bob_token = people["bob"]
    _, carol_token = people["carol"]
    assert api.get("/notifications", token=alice_token).status == 200  # marks alice active first
    with DynamoDBCalls() as meter:
        assert api.get("/notifications", token=alice_token).json["data"] == []
    assert dict(meter.counts) == {"GetItem": 1, "Query": 1}  # the GetItem: authentication reads the caller
    tweet = make_tweet(alice_token, "popular")
    for token in (bob_token, carol_token):
        assert api.post("/users/alice/follow", token=token).status == 200
        assert api.post(f"/tweets/{tweet['id']}/like", token=token).status == 200
        make_tweet(token, "@alice hey")
    pump.drain()
    for path in ("/notifications", "/notifications?limit=2", "/notifications?limit=100"):
        with DynamoDBCalls() as meter:
            assert api.get(path, token=alice_token).status == 200
        assert dict(meter.counts) == {"GetItem": 1, "Query": 1, "BatchGetItem": 1}, path
