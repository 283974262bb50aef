"""Affinity through the real stream path (chalicelib.home.affinity): likes,
replies, retweets and quotes counted per (reader, author) by the stream
handlers and undone with the engagement (an unlike, a deletion, an undone
retweet, an original's cascade); not for oneself; once under redelivery and
a failed write; the cap; and `of`, the ranking's read, in its calls."""
import time

import pytest
from support import delivered_twice

from chalicelib import settings
from chalicelib.home import affinity
from chalicelib.storage import tables
from chalicelib.storage.ids import id_timestamp_ms
from chalicelib.storage.tables import AffinityModel, LikeModel
from devstack.metering import DynamoDBCalls

DAY = 86_400


def stored(reader, author) -> dict[str, int] | None:
    """The engagements on the (reader, author) item, None if there is no item."""
    item = tables.client().get_item(
        TableName=AffinityModel.Meta.table_name, ConsistentRead=True,
        Key={"reader_id": {"N": str(reader["id"])}, "author_id": {"N": str(author["id"])}}).get("Item")
    return None if item is None else affinity.engagements(item)


def of(reader, author, now=None) -> float | None:
    found = affinity.of(int(reader["id"]), [int(author["id"])], time.time() if now is None else now)
    return found[int(author["id"])].value if int(author["id"]) in found else None


def ok(reply, status=(200, 201, 204)):
    assert reply.status in status, (reply.status, reply.json)
    return reply.json


@pytest.fixture
def pair(make_user):
    (alice, alice_token), (bob, bob_token) = make_user("alice"), make_user("bob")
    return alice, alice_token, bob, bob_token


def test_a_like_counts_about_one_and_an_unlike_takes_it_out(api, pair, make_tweet, pump):
    alice, alice_token, bob, bob_token = pair
    tweet = make_tweet(alice_token)
    ok(api.post(f"/tweets/{tweet['id']}/like", token=bob_token))
    pump.drain()
    [like] = LikeModel.query(int(tweet["id"]), consistent_read=True)
    assert stored(bob, alice) == {f"l{tweet['id']}": id_timestamp_ms(int(like.like_id)) // 1000}
    assert of(bob, alice) == pytest.approx(1.0, abs=0.001)
    assert affinity.of(int(bob["id"]), [int(alice["id"])], time.time())[int(alice["id"])].kind == "like"
    assert of(alice, bob) is None  # affinity has a direction

    ok(api.delete(f"/tweets/{tweet['id']}/like", token=bob_token))
    pump.drain()
    assert stored(bob, alice) == {}  # the item stays, with only its keys
    assert of(bob, alice) is None


def test_decay_with_a_fixed_now(api, pair, make_tweet, pump):
    alice, alice_token, bob, bob_token = pair
    tweet = make_tweet(alice_token)
    ok(api.post(f"/tweets/{tweet['id']}/like", token=bob_token))
    reply = make_tweet(bob_token, "and a reply", reply_to_id=tweet["id"])
    pump.drain()
    liked_at = stored(bob, alice)[f"l{tweet['id']}"]
    replied_at = id_timestamp_ms(int(reply["id"])) // 1000
    half_life = settings.AFFINITY_HALF_LIFE_DAYS * DAY
    later = max(liked_at, replied_at) + half_life
    want = sum(settings.AFFINITY_WEIGHTS[kind] * 2 ** (-(later - at) / half_life)
               for kind, at in (("like", liked_at), ("reply", replied_at)))
    assert of(bob, alice, now=later) == pytest.approx(want)
    assert of(bob, alice, now=later + 9 * half_life) == pytest.approx(want / 2 ** 9)
    assert of(bob, alice, now=liked_at - DAY) == pytest.approx(1.0 + 1.5)  # the future counts as now


def test_replies_retweets_and_quotes_count_and_their_removal_undoes_them(api, pair, make_tweet, pump):
    alice, alice_token, bob, bob_token = pair
    first, second = make_tweet(alice_token, "one"), make_tweet(alice_token, "two")
    reply = make_tweet(bob_token, "a reply", reply_to_id=first["id"])
    quote = make_tweet(bob_token, "a quote", quote_of_id=second["id"])
    both = make_tweet(bob_token, "a reply that quotes", reply_to_id=first["id"], quote_of_id=second["id"])
    retweet = ok(api.post(f"/tweets/{first['id']}/retweet", token=bob_token))
    pump.drain()
    assert stored(bob, alice).keys() == {f"r{reply['id']}", f"q{quote['id']}", f"r{both['id']}",
                                         f"q{both['id']}", f"t{retweet['id']}"}
    assert of(bob, alice) == pytest.approx(4 * 1.5 + 1.0, abs=0.01)

    ok(api.delete(f"/tweets/{reply['id']}", token=bob_token))
    ok(api.delete(f"/tweets/{first['id']}/retweet", token=bob_token))  # undo the retweet
    pump.drain()
    assert stored(bob, alice).keys() == {f"q{quote['id']}", f"r{both['id']}", f"q{both['id']}"}
    ok(api.delete(f"/tweets/{quote['id']}", token=bob_token))
    ok(api.delete(f"/tweets/{both['id']}", token=bob_token))
    pump.drain()
    assert stored(bob, alice) == {}
    assert of(bob, alice) is None


def test_deleting_an_original_undoes_its_likes_and_retweets(api, pair, make_user, make_tweet, pump):
    alice, alice_token, bob, bob_token = pair
    carol, carol_token = make_user("carol")
    doomed, kept = make_tweet(alice_token, "doomed"), make_tweet(alice_token, "kept")
    for token in (bob_token, carol_token):
        ok(api.post(f"/tweets/{doomed['id']}/like", token=token))
    ok(api.post(f"/tweets/{doomed['id']}/retweet", token=bob_token))
    ok(api.post(f"/tweets/{kept['id']}/like", token=bob_token))
    pump.drain()
    assert len(stored(bob, alice)) == 3 and len(stored(carol, alice)) == 1

    ok(api.delete(f"/tweets/{doomed['id']}", token=alice_token))
    pump.drain()  # the cascade deletes the likes and the retweet; their records undo the affinity
    assert stored(bob, alice) == {f"l{kept['id']}": stored(bob, alice)[f"l{kept['id']}"]}
    assert stored(carol, alice) == {}


def test_engaging_with_oneself_is_not_affinity(api, pair, make_tweet, pump):
    alice, alice_token, _, _ = pair
    tweet, other = make_tweet(alice_token), make_tweet(alice_token, "other")
    ok(api.post(f"/tweets/{tweet['id']}/like", token=alice_token))
    ok(api.post(f"/tweets/{tweet['id']}/retweet", token=alice_token))
    make_tweet(alice_token, "replying to myself", reply_to_id=tweet["id"], quote_of_id=other["id"])
    pump.drain()
    assert stored(alice, alice) is None  # not even an empty item
    ok(api.delete(f"/tweets/{tweet['id']}/like", token=alice_token))
    ok(api.delete(f"/tweets/{tweet['id']}", token=alice_token))
    pump.drain()
    assert stored(alice, alice) is None


def test_undoing_what_was_never_counted_leaves_no_item(pair):
    """An undo whose engagement predates affinity: the condition keeps a bare
    REMOVE from creating a key-only item (moto would make one)."""
    alice, _, bob, _ = pair
    affinity.disengage(int(bob["id"]), int(alice["id"]), "like", 123)
    affinity.disengage(int(bob["id"]), int(alice["id"]), "like", 123)
    assert stored(bob, alice) is None


def test_redelivered_batches_count_once(api, pair, make_tweet, pump_factory):
    """The streams deliver at least once: every batch handled twice."""
    pump = pump_factory(wrap=delivered_twice)
    alice, alice_token, bob, bob_token = pair
    tweet = make_tweet(alice_token)
    ok(api.post(f"/tweets/{tweet['id']}/like", token=bob_token))
    make_tweet(bob_token, "a reply", reply_to_id=tweet["id"])
    pump.drain()
    assert of(bob, alice) == pytest.approx(1.0 + 1.5, abs=0.01)
    ok(api.delete(f"/tweets/{tweet['id']}/like", token=bob_token))
    pump.drain()
    assert of(bob, alice) == pytest.approx(1.5, abs=0.01)


def test_a_failed_write_is_retried_by_the_stream_and_counts_once(api, pair, make_tweet, pump, dynamodb_hooks):
    alice, alice_token, bob, bob_token = pair
    tweet = make_tweet(alice_token)
    pump.drain()
    failed = []

    def fail_once(request, operation):
        if request["TableName"] == AffinityModel.Meta.table_name and not failed:
            failed.append(request)
            raise dynamodb_hooks.error("InternalServerError", operation)

    dynamodb_hooks.on("UpdateItem", fail_once)
    ok(api.post(f"/tweets/{tweet['id']}/like", token=bob_token))
    pump.drain()
    assert len(failed) == 1
    assert of(bob, alice) == pytest.approx(1.0, abs=0.001)
    # The record again, as a redrive would run it: the same attribute, the same time.
    [like] = LikeModel.query(int(tweet["id"]), consistent_read=True)
    record = {"eventName": "INSERT", "dynamodb": {"NewImage": like.serialize()}}
    before = stored(bob, alice)
    affinity.on_like_record(record)
    assert stored(bob, alice) == before


def test_the_cap_keeps_the_newest(api, pair, make_tweet, pump, monkeypatch):
    monkeypatch.setattr(settings, "AFFINITY_MAX_ENGAGEMENTS", 3)
    alice, alice_token, bob, bob_token = pair
    tweet = make_tweet(alice_token)
    replies = [make_tweet(bob_token, f"reply {i}", reply_to_id=tweet["id"]) for i in range(5)]
    pump.drain()
    assert stored(bob, alice).keys() == {f"r{r['id']}" for r in replies[-3:]}
    # Undoing a trimmed engagement is harmless; undoing a kept one takes it out.
    ok(api.delete(f"/tweets/{replies[0]['id']}", token=bob_token))
    ok(api.delete(f"/tweets/{replies[-1]['id']}", token=bob_token))
    pump.drain()
    assert stored(bob, alice).keys() == {f"r{r['id']}" for r in replies[2:4]}


def test_of_reads_in_one_batch_get_per_hundred_authors(api, pair, make_tweet, pump):
    alice, alice_token, bob, bob_token = pair
    tweet = make_tweet(alice_token)
    ok(api.post(f"/tweets/{tweet['id']}/like", token=bob_token))
    pump.drain()
    reader, now = int(bob["id"]), time.time()
    others = [int(alice["id"]) + i for i in range(1, 100)]  # nobody bob engaged with
    with DynamoDBCalls() as meter:
        found = affinity.of(reader, [int(alice["id"]), *others, reader], now)  # the reader is not asked for
    assert dict(meter.counts) == {"BatchGetItem": 1}
    assert set(found) == {int(alice["id"])} and found[int(alice["id"])].kind == "like"
    with DynamoDBCalls() as meter:
        found = affinity.of(reader, [int(alice["id"]), *others, others[-1] + 1], now)  # 101 authors
    assert set(found) == {int(alice["id"])}
    assert dict(meter.counts) == {"BatchGetItem": 2}
    with DynamoDBCalls() as meter:
        assert affinity.of(reader, [], now) == {} and affinity.of(reader, [reader], now) == {}
    assert meter.total == 0
