"""Counts stay exact under concurrent requests, and transactions report the
right step and survive DynamoDB's transaction conflicts.

Requests run from threads through `concurrent_api` (see its docstring for
why moto answers one request at a time there)."""
import random

import botocore.client
import pytest
from botocore.exceptions import ClientError
from support import assert_error, run_concurrently

from chalicelib import settings
from chalicelib.accounts import follows, passwords
from chalicelib.storage import transactions
from chalicelib.storage.tables import FollowModel, TweetModel, UserModel
from chalicelib.storage.transactions import ConditionsFailed, check, save, transact_write, update


@pytest.fixture
def cheap_passwords(monkeypatch):
    """These tests need many accounts and never log in: a cheap scrypt cost
    keeps sign-up fast (the stored form still records the cost)."""
    monkeypatch.setattr(passwords, "LOG2_N", 4)


def user(api, handle):
    return api.get(f"/users/{handle}").json


def test_concurrent_follows_of_one_user(concurrent_api, make_user, cheap_passwords):
    api = concurrent_api
    make_user("star")
    fans = [make_user(f"fan{n}") for n in range(20)]
    replies = run_concurrently([lambda t=token: api.post("/users/star/follow", token=t) for _, token in fans])
    assert [r.status for r in replies] == [200] * 20
    assert all(r.json == {"following": True} for r in replies)
    assert user(api, "star")["followers_count"] == 20
    listed = api.get("/users/star/followers?limit=100").json["data"]
    assert sorted(u["handle"] for u in listed) == sorted(f"fan{n}" for n in range(20))
    assert [u["following_count"] for u in listed] == [1] * 20

    # Again, all at once: a follow that exists counts nothing.
    replies = run_concurrently([lambda t=token: api.post("/users/star/follow", token=t) for _, token in fans])
    assert [r.status for r in replies] == [200] * 20
    assert user(api, "star")["followers_count"] == 20

    # Unfollows at once, half of them sent twice: each counts once.
    replies = run_concurrently([lambda t=token: api.delete("/users/star/follow", token=t)
                                for _, token in fans + fans[::2]])
    assert [r.status for r in replies] == [200] * 30
    assert user(api, "star")["followers_count"] == 0
    assert api.get("/users/star/followers").json["data"] == []
    assert [user(api, f"fan{n}")["following_count"] for n in (0, 1, 19)] == [0, 0, 0]


def test_concurrent_follows_by_one_user(concurrent_api, make_user, cheap_passwords):
    api = concurrent_api
    _, token = make_user("fan")
    for n in range(12):
        make_user(f"star{n}")
    replies = run_concurrently([lambda n=n: api.post(f"/users/star{n}/follow", token=token)
                                for n in range(12)])
    assert [r.status for r in replies] == [200] * 12
    assert user(api, "fan")["following_count"] == 12
    assert len(api.get("/users/fan/following?limit=100").json["data"]) == 12


def test_concurrent_follow_and_unfollow_of_one_pair_stay_consistent(concurrent_api, make_user):
    api = concurrent_api
    alice, _ = make_user("alice")
    bob, bob_token = make_user("bob")
    rng = random.Random(7)
    for _ in range(3):
        calls = [rng.choice([lambda: api.post("/users/alice/follow", token=bob_token),
                             lambda: api.delete("/users/alice/follow", token=bob_token)]) for _ in range(10)]
        replies = run_concurrently(calls)
        assert [r.status for r in replies] == [200] * 10
        following = follows.is_following(int(bob["id"]), int(alice["id"]))
        expected = 1 if following else 0
        assert user(api, "alice")["followers_count"] == expected
        assert user(api, "bob")["following_count"] == expected
        assert len(api.get("/users/alice/followers").json["data"]) == expected
        assert len(api.get("/users/bob/following").json["data"]) == expected


def test_concurrent_tweets_count_exactly(concurrent_api, make_user):
    api = concurrent_api
    _, token = make_user("alice")
    replies = run_concurrently([lambda n=n: api.post("/tweets", {"text": f"t{n}"}, token=token)
                                for n in range(15)])
    assert [r.status for r in replies] == [201] * 15
    assert len({r.json["id"] for r in replies}) == 15
    assert user(api, "alice")["tweets_count"] == 15
    timeline = api.get("/users/alice/tweets?limit=100").json["data"]
    assert sorted(t["id"] for t in timeline) == sorted(r.json["id"] for r in replies)

    # Deleting them all at once, each twice: every tweet goes exactly once.
    tweet_ids = [r.json["id"] for r in replies]
    deletes = run_concurrently([lambda i=i: api.delete(f"/tweets/{i}", token=token) for i in tweet_ids * 2])
    assert sorted(r.status for r in deletes) == [204] * 15 + [404] * 15
    assert user(api, "alice")["tweets_count"] == 0
    assert api.get("/users/alice/tweets").json["data"] == []


def test_concurrent_replies_count_exactly(concurrent_api, make_user, cheap_passwords):
    api = concurrent_api
    _, alice_token = make_user("alice")
    root = api.post("/tweets", {"text": "root"}, token=alice_token).json
    repliers = [make_user() for _ in range(10)]
    replies = run_concurrently([
        lambda t=token: api.post("/tweets", {"text": "re", "reply_to_id": root["id"]}, token=t)
        for _, token in repliers])
    assert [r.status for r in replies] == [201] * 10
    assert all(r.json["conversation_id"] == root["id"] for r in replies)
    assert api.get(f"/tweets/{root['id']}").json["counts"]["replies"] == 10


# --- transactions ------------------------------------------------------------------------

def test_failed_step_is_named_whatever_the_order_of_steps(make_user, make_tweet):
    """DynamoDB reports cancellation reasons in the order the items were
    sent (PynamoDB sends checks, deletes, puts, then updates), which is not
    the order the steps were given in."""
    alice, token = make_user("alice")
    alice_id = int(alice["id"])
    existing = int(make_tweet(token)["id"])

    def steps(check_id):
        return {
            "count": update(UserModel(id=alice_id), [UserModel.tweets_count.add(1)]),
            "parent": check(TweetModel, check_id, condition=TweetModel.id.exists()),
            "tweet": save(TweetModel(id=777, author_id=alice_id, author_handle="alice",
                                     author_display_name="a", text="x", conversation_id=777),
                          condition=TweetModel.id.does_not_exist()),
        }

    with pytest.raises(ConditionsFailed) as caught:
        transact_write(steps(12345))
    assert caught.value.failed == {"parent"}
    assert UserModel.get(alice_id).tweets_count == 1  # nothing was written
    with pytest.raises(TweetModel.DoesNotExist):
        TweetModel.get(777)

    transact_write(steps(existing))
    assert UserModel.get(alice_id).tweets_count == 2
    assert TweetModel.get(777).text == "x"

    with pytest.raises(ConditionsFailed) as caught:
        transact_write(steps(existing))  # 777 exists now
    assert caught.value.failed == {"tweet"}
    with pytest.raises(ConditionsFailed) as caught:
        transact_write(steps(12345))
    assert caught.value.failed == {"parent", "tweet"}
    assert UserModel.get(alice_id).tweets_count == 2


@pytest.fixture
def conflicts(monkeypatch):
    """Makes DynamoDB cancel the next `n` TransactWriteItems calls with a
    TransactionConflict (as it does when two transactions touch one item at
    once, which moto never does); returns a dict counting attempts."""
    state = {"remaining": 0, "attempts": 0, "sleeps": []}
    real_call = botocore.client.BaseClient._make_api_call

    def call(self, operation_name, params):
        if operation_name == "TransactWriteItems":
            state["attempts"] += 1
            if state["remaining"] > 0:
                state["remaining"] -= 1
                reasons = [{"Code": "None"}] * (len(params["TransactItems"]) - 1)
                reasons.append({"Code": "TransactionConflict",
                                "Message": "Transaction is ongoing for the item"})
                raise ClientError({"Error": {"Code": "TransactionCanceledException",
                                             "Message": "Transaction cancelled"},
                                   "CancellationReasons": reasons}, operation_name)
        return real_call(self, operation_name, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)
    monkeypatch.setattr(transactions.time, "sleep", state["sleeps"].append)
    return state


def test_transaction_conflicts_are_retried(api, make_user, conflicts):
    make_user("alice")
    _, bob_token = make_user("bob")
    conflicts.update(remaining=3, attempts=0)
    reply = api.post("/users/alice/follow", token=bob_token)
    assert reply.status == 200 and reply.json == {"following": True}
    assert conflicts["attempts"] == 4
    assert len(conflicts["sleeps"]) == 3
    backoff = settings.CONFLICT_BACKOFF_SECONDS
    assert all(0 <= s <= backoff * 2 ** n for n, s in enumerate(conflicts["sleeps"]))
    assert user(api, "alice")["followers_count"] == 1  # counted once
    assert user(api, "bob")["following_count"] == 1


def test_endless_transaction_conflicts_give_up(api, make_user, conflicts):
    make_user("alice")
    _, bob_token = make_user("bob")
    conflicts.update(remaining=100, attempts=0)
    reply = api.post("/users/alice/follow", token=bob_token)
    assert_error(reply, 500, "internal_error")
    assert conflicts["attempts"] == settings.CONFLICT_RETRIES + 1
    conflicts["remaining"] = 0
    assert user(api, "alice")["followers_count"] == 0
    assert FollowModel.count() == 0


def test_condition_failures_are_not_retried(api, make_user, conflicts):
    make_user("alice")
    _, bob_token = make_user("bob")
    assert api.post("/users/alice/follow", token=bob_token).status == 200
    conflicts.update(attempts=0)
    # Following again fails the follow item's condition: an answer, not a conflict.
    assert api.post("/users/alice/follow", token=bob_token).json == {"following": True}
    assert conflicts["attempts"] == 1
    assert conflicts["sleeps"] == []
    assert user(api, "alice")["followers_count"] == 1
