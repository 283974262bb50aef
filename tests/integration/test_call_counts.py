"""DynamoDB calls per API operation: the cost model in the README, held.

A change that adds a read to a hot path fails here, on purpose.
"""
import pytest

from devstack.metering import DynamoDBCalls


@pytest.fixture
def world(api, make_user):
    alice, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    tweet = api.post("/tweets", {"text": "first"}, token=alice_token).json
    api.post("/users/alice/follow", token=bob_token)
    return {"alice_token": alice_token, "bob_token": bob_token, "tweet": tweet}


def calls(action) -> dict:
    with DynamoDBCalls() as meter:
        reply = action()
    assert reply.status < 400, reply.json
    return dict(meter.counts)


def test_calls_per_operation(api, world):
    alice, bob = world["alice_token"], world["bob_token"]
    tweet_id = world["tweet"]["id"]
    assert calls(lambda: api.post("/auth/login", {"handle": "alice", "password": "correct horse"})) == {
        "GetItem": 2}
    assert calls(lambda: api.get("/me", token=alice)) == {"GetItem": 1}
    assert calls(lambda: api.get("/users/alice")) == {"GetItem": 2}
    assert calls(lambda: api.get("/users/alice/tweets")) == {"GetItem": 2, "Query": 1}
    assert calls(lambda: api.get("/users/alice/followers")) == {"GetItem": 2, "Query": 1, "BatchGetItem": 1}
    assert calls(lambda: api.get(f"/tweets/{tweet_id}")) == {"GetItem": 1}
    assert calls(lambda: api.post("/tweets", {"text": "x"}, token=alice)) == {
        "GetItem": 1, "TransactWriteItems": 1}
    keyed = {"Idempotency-Key": "k"}
    assert calls(lambda: api.post("/tweets", {"text": "y"}, token=alice, headers=keyed)) == {
        "GetItem": 2, "TransactWriteItems": 1}
    assert calls(lambda: api.post("/tweets", {"text": "re", "reply_to_id": tweet_id}, token=bob)) == {
        "GetItem": 2, "TransactWriteItems": 1}
    assert calls(lambda: api.delete("/users/alice/follow", token=bob)) == {
        "GetItem": 2, "TransactWriteItems": 1}
    assert calls(lambda: api.post("/users/alice/follow", token=bob)) == {
        "GetItem": 2, "TransactWriteItems": 1}
    assert calls(lambda: api.delete(f"/tweets/{tweet_id}", token=alice)) == {
        "GetItem": 1, "TransactWriteItems": 1}


def test_signup_is_one_transaction(api):
    with DynamoDBCalls() as meter:
        assert api.post("/auth/signup", {"handle": "zed", "password": "password1"}).status == 201
    assert dict(meter.counts) == {"TransactWriteItems": 1}


def test_calls_per_tweet_content_operation(api, world):
    alice, bob = world["alice_token"], world["bob_token"]
    tweet_id = world["tweet"]["id"]
    # Mentions' user ids: one BatchGetItem on the handles table, only when the text mentions anyone.
    assert calls(lambda: api.post("/tweets", {"text": "hi @bob and @nobody #tag"}, token=alice)) == {
        "GetItem": 1, "BatchGetItem": 1, "TransactWriteItems": 1}
    assert calls(lambda: api.post("/tweets", {"text": "quote", "quote_of_id": tweet_id}, token=bob)) == {
        "GetItem": 2, "TransactWriteItems": 1}
    # A like is the tweet's GetItem and one transaction (the like item and the count), repeated or not.
    assert calls(lambda: api.post(f"/tweets/{tweet_id}/like", token=bob)) == {
        "GetItem": 1, "TransactWriteItems": 1}
    assert calls(lambda: api.post(f"/tweets/{tweet_id}/like", token=bob)) == {
        "GetItem": 1, "TransactWriteItems": 1}
    assert calls(lambda: api.delete(f"/tweets/{tweet_id}/like", token=bob)) == {
        "GetItem": 1, "TransactWriteItems": 1}
    # A retweet: the caller, the tweet, the caller's marker, one transaction. Again: no write, but
    # the existing retweet and the original read again (consistently, for current counts).
    assert calls(lambda: api.post(f"/tweets/{tweet_id}/retweet", token=bob)) == {
        "GetItem": 3, "TransactWriteItems": 1}
    assert calls(lambda: api.post(f"/tweets/{tweet_id}/retweet", token=bob)) == {"GetItem": 5}
    assert calls(lambda: api.get("/users/bob/tweets")) == {"GetItem": 2, "Query": 1, "BatchGetItem": 1}
    assert calls(lambda: api.delete(f"/tweets/{tweet_id}/retweet", token=bob)) == {
        "GetItem": 2, "TransactWriteItems": 1}
    assert calls(lambda: api.get(f"/tweets/{tweet_id}/replies")) == {"Query": 1, "GetItem": 1}  # none yet
    api.post("/tweets", {"text": "re", "reply_to_id": tweet_id}, token=bob)
    assert calls(lambda: api.get(f"/tweets/{tweet_id}/replies")) == {"Query": 1}


def test_a_signed_in_read_adds_one_sqs_message_and_no_dynamodb_call(api, world):
    """Views are handed off, not written: a signed-in read costs the same
    DynamoDB calls as an anonymous one, plus one SendMessage to the views
    queue (SQS, not DynamoDB; the queue's URL is looked up once per container)."""
    from chalicelib.storage import jobs

    bob, tweet_id = world["bob_token"], world["tweet"]["id"]
    sent = []

    def count(model, **_):
        sent.append(model.name)

    jobs.sqs().meta.events.register("before-call.sqs", count)
    try:
        api.get(f"/tweets/{tweet_id}", token=bob)  # warms the URL cache
        sent.clear()
        for path, dynamodb in ((f"/tweets/{tweet_id}", {"GetItem": 1}),
                               ("/users/alice/tweets", {"GetItem": 2, "Query": 1}),
                               ("/hashtags/none/tweets", {"Query": 4}),
                               (f"/tweets/{tweet_id}/replies", {"Query": 1, "GetItem": 1})):
            assert calls(lambda path=path: api.get(path)) == dynamodb, path
            assert calls(lambda path=path: api.get(path, token=bob)) == dynamodb, path
        # Only the pages that showed someone else's tweet sent anything: one message each.
        assert sent == ["SendMessage", "SendMessage"]
        sent.clear()
        api.get("/timelines/home", token=bob)  # empty here (no fan-out without the pump): nothing to count
        assert sent == []
    finally:
        jobs.sqs().meta.events.unregister("before-call.sqs", count)
