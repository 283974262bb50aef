"""Views, counted exactly: through the real routes, queue and pump, and under
failures before and after the counter write, redeliveries and batches of
another composition (chalicelib.tweets.views; docs/architecture.md,
"Views")."""
import itertools
import threading
import time
from collections import Counter, deque
from unittest import mock

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import settings as chirp_settings
from chalicelib.storage.tables import TweetModel
from chalicelib.tweets import views
from chalicelib.tweets.views import Message
from chaos.faults import WireFaults
from tests import profiles


def views_of(api, tweet_id) -> int:
    return api.get(f"/tweets/{tweet_id}").json["counts"]["views"]  # anonymous: counts nothing itself


def queued(short="views") -> int:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=chirp_settings.QUEUE_NAMES[short])["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return sum(int(attributes[name]) for name in ("ApproximateNumberOfMessages",
                                                   "ApproximateNumberOfMessagesNotVisible"))


# --- the property: any batches, failures and redeliveries, every view once ------------

class FifoQueue:
    """SQS FIFO as Lambda meets it, simulated: each group's messages in
    order, increasing sequence numbers, a batch a prefix of some groups,
    and the failed messages (a suffix of each group's part) back at the
    head of their group."""

    def __init__(self):
        self.groups: dict[int, deque[Message]] = {}
        self.numbers = itertools.count(10 ** 19)
        self.ids = itertools.count()

    def send(self, group: int, tweets: tuple[int, ...]) -> None:
        self.groups.setdefault(group, deque()).append(
            Message(f"m{next(self.ids)}", group, next(self.numbers), tweets))

    def batch(self, takes: dict[int, int], order: list[int]) -> list[Message]:
        """Up to 10: takes[g] messages from the head of group g, interleaved by `order`."""
        heads = {g: list(itertools.islice(q, takes.get(g, 0))) for g, q in self.groups.items()}
        batch: list[Message] = []
        for g in order:
            if heads.get(g) and len(batch) < 10:
                batch.append(heads[g].pop(0))
        return batch

    def settle(self, batch: list[Message], failed: set[str]) -> None:
        for group in {m.group for m in batch}:
            part = [m for m in batch if m.group == group]
            flags = [m.id in failed for m in part]
            assert flags == sorted(flags), f"group {group}: failures are not a suffix: {flags}"
            for message in part:
                if message.id not in failed:
                    assert self.groups[group].popleft() == message

    @property
    def empty(self) -> bool:
        return not any(self.groups.values())


def _faulty(draw_fault):
    """views.update_item, failing as `draw_fault()` says: before the write
    ("before"), or after it landed, its answer lost ("after")."""
    real = views.update_item

    def update_item(**request):
        fault = draw_fault()
        if fault == "before":
            raise RuntimeError("injected before the write")
        real(**request)
        if fault == "after":
            raise RuntimeError("injected after the write")

    return update_item


def _tweet(tweet_id: int) -> None:
    TweetModel(id=tweet_id, author_id=1, author_handle="a", author_display_name="A", text="t",
               conversation_id=tweet_id).save()


_first_tweet = itertools.count(10 ** 15, 100)


@settings(max_examples=profiles.examples(40), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_every_view_counts_once_whatever_fails_and_however_batches_are_cut(data):
    base = next(_first_tweet)
    tweet_ids = list(range(base, base + 5))
    for tweet_id in tweet_ids:
        _tweet(tweet_id)
    queue, sent = FifoQueue(), Counter()
    faults = st.sampled_from([None, None, None, "before", "after"])
    with mock.patch.object(views, "update_item", _faulty(lambda: data.draw(faults))):
        for _ in range(data.draw(st.integers(1, 12), label="rounds")):
            for _ in range(data.draw(st.integers(0, 6), label="arrivals")):
                tweets = tuple(data.draw(st.lists(st.sampled_from(tweet_ids), min_size=1, max_size=4,
                                                  unique=True)))
                queue.send(data.draw(st.integers(0, 2)), tweets)
                sent.update(tweets)
            groups = sorted(queue.groups)
            takes = {g: data.draw(st.integers(0, 4)) for g in groups}
            order = data.draw(st.permutations([g for g in groups for _ in range(takes[g])])) if groups else []
            batch = queue.batch(takes, list(order))
            if not batch:
                continue
            failed = views.count(batch)
            if data.draw(st.booleans(), label="invocation dies (timeout) after its writes"):
                failed = {m.id for m in batch}
            queue.settle(batch, failed)
    while not queue.empty:  # the faults are over: everything left is delivered
        batch = queue.batch(dict.fromkeys(queue.groups, 10), sorted(queue.groups) * 10)
        queue.settle(batch, views.count(batch))
    counted = {t: int(TweetModel.get(t, consistent_read=True).views_count) for t in tweet_ids}
    assert counted == {t: sent[t] for t in tweet_ids}


def test_views_of_a_deleted_tweet_are_dropped_and_the_rest_counted():
    _tweet(7), _tweet(8)
    TweetModel(id=8).delete()
    assert views.count([Message("a", 0, 1, (7, 8)), Message("b", 1, 2, (8,))]) == set()
    assert TweetModel.get(7).views_count == 1
    assert not TweetModel.count(8)


# --- through the routes, the queue and the pump -----------------------------------------

@pytest.fixture
def world(api, make_user, make_tweet, follow):
    alice, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    carol, carol_token = make_user("carol")
    follow(bob_token, "alice")
    tweet = make_tweet(alice_token, "hello #views")
    return {"alice": alice_token, "bob": bob_token, "carol": carol_token, "tweet": tweet}


def test_every_read_route_counts_one_view_per_signed_in_reader(api, world, pump, make_tweet):
    pump.drain()  # the tweet is fanned out and indexed
    tweet_id = world["tweet"]["id"]
    reply = make_tweet(world["bob"], "a reply", reply_to_id=tweet_id)
    pump.drain()
    reads = [f"/tweets/{tweet_id}", "/users/alice/tweets", "/hashtags/views/tweets", "/timelines/home"]
    for n, path in enumerate(reads, start=1):
        page = api.get(path, token=world["bob"])
        assert page.status == 200 and tweet_id in str(page.json), path
        pump.drain()
        assert views_of(api, tweet_id) == n, path
    api.get(f"/tweets/{tweet_id}/replies", token=world["carol"])
    pump.drain()
    assert views_of(api, reply["id"]) == 1
    assert views_of(api, tweet_id) == len(reads)  # a replies page does not show its parent
    # Every tweet object carries it, the shapes of lists included.
    page = api.get("/users/alice/tweets").json["data"]
    assert page[0]["counts"] == {"likes": 0, "retweets": 0, "replies": 1, "quotes": 0, "views": len(reads)}


def test_own_views_and_anonymous_views_do_not_count(api, world, pump):
    pump.drain()
    tweet_id = world["tweet"]["id"]
    for path in (f"/tweets/{tweet_id}", "/users/alice/tweets", "/hashtags/views/tweets"):
        assert api.get(path, token=world["alice"]).status == 200  # the author
        assert api.get(path).status == 200  # nobody signed in
        assert api.get(path, headers={"authorization": "Bearer forged"}).status == 401  # refused, not counted
    assert api.get("/timelines/home", token=world["alice"]).status == 200
    pump.drain()
    assert views_of(api, tweet_id) == 0
    assert queued() == 0


def test_a_retweet_viewed_counts_for_its_original(api, world, pump):
    tweet_id = world["tweet"]["id"]
    retweet = api.post(f"/tweets/{tweet_id}/retweet", token=world["carol"]).json
    pump.drain()
    assert api.get(f"/tweets/{retweet['id']}", token=world["bob"]).status == 200
    shown = api.get("/users/carol/tweets", token=world["bob"]).json["data"]
    assert [t["id"] for t in shown] == [retweet["id"]]
    pump.drain()
    assert views_of(api, tweet_id) == 2
    assert api.get(f"/tweets/{retweet['id']}").json["counts"]["views"] == 0
    assert api.get(f"/tweets/{retweet['id']}").json["retweet_of"]["counts"]["views"] == 2
    # The original's author viewing someone's retweet of it is their own view.
    api.get("/users/carol/tweets", token=world["alice"])
    pump.drain()
    assert views_of(api, tweet_id) == 2


def test_a_batch_whose_counter_write_landed_behind_errors_is_redelivered_and_counted_once(
        api, world, pump, no_backoff):
    pump.drain()
    tweet_id = world["tweet"]["id"]
    for _ in range(3):
        api.get(f"/tweets/{tweet_id}", token=world["bob"])
    # Every try of the update lands and answers 500 (4 tries, AWS_CALL_ATTEMPTS): the invocation fails
    # after the write, and the pump delivers the batch again.
    with WireFaults() as faults:
        faults.fail("UpdateItem", times=chirp_settings.AWS_CALL_ATTEMPTS, kind="write-then-500")
        pump.drain()
    assert faults.injected["write-then-500"] == chirp_settings.AWS_CALL_ATTEMPTS
    assert faults.attempts["UpdateItem"] > chirp_settings.AWS_CALL_ATTEMPTS  # the redelivery's own
    assert views_of(api, tweet_id) == 3
    assert queued() == 0 and queued("views-dlq") == 0


def test_a_batch_that_failed_midway_is_counted_once_when_redelivered_with_new_messages(
        api, world, pump_factory, make_tweet):
    pump = pump_factory()
    second = make_tweet(world["alice"], "second")
    pump.drain()
    first = world["tweet"]
    readers = [world["bob"], world["carol"]]
    for token in readers:
        api.get("/users/alice/tweets", token=token)  # both tweets, one message per reader
    real, failing = views.update_item, {"times": 1}

    def update_item(**request):  # the second tweet's update fails once, after the first's landed
        if request["Key"]["id"]["N"] == second["id"] and failing["times"]:
            failing["times"] -= 1
            raise RuntimeError("injected")
        real(**request)

    views_pump = pump_factory(["on_views"])
    with mock.patch.object(views, "update_item", update_item):
        assert views_pump.poll_once()  # the first batch: one tweet counted, the other failed
    assert failing["times"] == 0
    assert (views_of(api, first["id"]), views_of(api, second["id"])) == (2, 0)
    # More views arrive; the redelivery comes in a batch with them.
    api.get(f"/tweets/{first['id']}", token=world["carol"])
    api.get(f"/tweets/{second['id']}", token=world["bob"])
    pump.drain()
    assert (views_of(api, first["id"]), views_of(api, second["id"])) == (3, 3)
    assert queued() == 0 and queued("views-dlq") == 0


def test_locally_a_view_shows_within_seconds(api, world, pump):
    tweet_id = world["tweet"]["id"]
    pump.drain()
    pump.start()
    try:
        started = time.monotonic()
        api.get(f"/tweets/{tweet_id}", token=world["bob"])
        while views_of(api, tweet_id) == 0:
            assert time.monotonic() - started < 5, "the view did not show within 5 seconds"
            time.sleep(0.05)
    finally:
        pump.stop()


def test_concurrent_readers_each_count(api, make_user, make_tweet, pump, cheap_passwords):
    _, author = make_user()
    tweet_id = make_tweet(author)["id"]
    tokens = [make_user()[1] for _ in range(12)]
    threads = [threading.Thread(target=api.get, args=(f"/tweets/{tweet_id}",), kwargs={"token": t})
               for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pump.drain()
    assert views_of(api, tweet_id) == len(tokens)


# --- what views cost ------------------------------------------------------------------

def _metered_updates(monkeypatch) -> list[int]:
    """Write units of each views update, by DynamoDB's rules (bench.capacity):
    the item's size after the update in KB, rounded up, plus one per global
    index holding the tweet (each projects all attributes, so each changes)."""
    from bench.capacity import item_size, write_units

    units: list[int] = []
    real = views.update_item

    def update_item(**request):
        real(**request)
        item = boto3.client("dynamodb").get_item(TableName=request["TableName"], Key=request["Key"],
                                                 ConsistentRead=True)["Item"]
        indexes = 1 + ("reply_to_id" in item)  # by-author always; replies for a reply
        units.append(write_units(item_size(item)) + indexes)

    monkeypatch.setattr(views, "update_item", update_item)
    return units


@pytest.mark.parametrize("overlap", [True, False], ids=["shared-pages", "distinct-tweets"])
def test_write_units_per_thousand_views(api, make_user, make_tweet, follow, pump, cheap_passwords,
                                        monkeypatch, overlap):
    """Readers each read a home page of 20 tweets (one message of 20 views);
    batches of 10 messages. Shared pages: every reader follows the same
    authors, so a batch's 200 views fall on 20 tweets (one update each).
    Distinct: each reader's page is tweets nobody else sees (one update per
    view): the worst case, no better than an ADD per view, but exact and off
    the request path; half the readers there, which changes no ratio and
    halves the 400 tweets the run would write. Printed for the README
    (pytest -s)."""
    readers = [make_user() for _ in range(20 if overlap else 10)]
    authors = [make_user() for _ in range(5 if overlap else len(readers))]
    for index, (_, token) in enumerate(readers):
        for author, _ in (authors if overlap else [authors[index]]):
            follow(token, author["handle"])
    pump.drain()
    for author, token in authors:
        for n in range(4 if overlap else 20):
            make_tweet(token, f"tweet {n} by {author['handle']}, with a realistic length of text " * 2)
    pump.drain()
    units = _metered_updates(monkeypatch)
    for _, token in readers:
        assert len(api.get("/timelines/home?limit=20", token=token).json["data"]) == 20
    pump.drain()
    shown = 20 * len(readers)
    counted = [t["counts"]["views"] for author, _ in authors
               for t in api.get(f"/users/{author['handle']}/tweets?limit=100").json["data"]]
    assert sum(counted) == shown
    per_thousand = 1000 * sum(units) / shown
    print(f"\nviews, {'shared pages' if overlap else 'distinct tweets'}: {shown} views, "
          f"{len(units)} updates, {sum(units)} write units: {per_thousand:.0f} per 1,000 views")
    batches = len(readers) // 10  # 10 messages each
    assert len(units) == (batches * 20 if overlap else shown)  # one per distinct tweet per batch
    assert set(units) == {2}  # a tweet under 1 KB with its marks, and its by-author index entry
