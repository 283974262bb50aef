"""DynamoDB calls per API operation: the cost model in the README, held.

A change that adds a read to a hot path fails here, on purpose. A request
with a bearer token reads its user once (chalicelib.web.auth: one GetItem,
which the views needing the user item reuse); a limited write spends two
counters (chalicelib.accounts.limits: two UpdateItems).
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
        "GetItem": 1, "UpdateItem": 2, "TransactWriteItems": 1}  # the author is the token's user
    keyed = {"Idempotency-Key": "k"}
    assert calls(lambda: api.post("/tweets", {"text": "y"}, token=alice, headers=keyed)) == {
        "GetItem": 2, "UpdateItem": 2, "TransactWriteItems": 1}
    assert calls(lambda: api.post("/tweets", {"text": "re", "reply_to_id": tweet_id}, token=bob)) == {
        "GetItem": 2, "UpdateItem": 2, "TransactWriteItems": 1}
    assert calls(lambda: api.delete("/users/alice/follow", token=bob)) == {
        "GetItem": 3, "TransactWriteItems": 1}
    assert calls(lambda: api.post("/users/alice/follow", token=bob)) == {
        "GetItem": 3, "UpdateItem": 2, "TransactWriteItems": 1}
    assert calls(lambda: api.delete(f"/tweets/{tweet_id}", token=alice)) == {
        "GetItem": 2, "TransactWriteItems": 1}
    assert calls(lambda: api.post("/auth/logout-all", token=alice)) == {"GetItem": 1, "UpdateItem": 1}


def test_signup_is_one_transaction(api):
    with DynamoDBCalls() as meter:
        assert api.post("/auth/signup", {"handle": "zed", "password": "password1"}).status == 201
    assert dict(meter.counts) == {"TransactWriteItems": 1}


def test_calls_per_tweet_content_operation(api, world):
    alice, bob = world["alice_token"], world["bob_token"]
    tweet_id = world["tweet"]["id"]
    # Mentions' user ids: one BatchGetItem on the handles table, only when the text mentions anyone.
    assert calls(lambda: api.post("/tweets", {"text": "hi @bob and @nobody #tag"}, token=alice)) == {
        "GetItem": 1, "UpdateItem": 2, "BatchGetItem": 1, "TransactWriteItems": 1}
    assert calls(lambda: api.post("/tweets", {"text": "quote", "quote_of_id": tweet_id}, token=bob)) == {
        "GetItem": 2, "UpdateItem": 2, "TransactWriteItems": 1}
    # A like is the caller, the tweet's GetItem and one transaction (the like item and the count),
    # repeated or not.
    assert calls(lambda: api.post(f"/tweets/{tweet_id}/like", token=bob)) == {
        "GetItem": 2, "UpdateItem": 2, "TransactWriteItems": 1}
    assert calls(lambda: api.post(f"/tweets/{tweet_id}/like", token=bob)) == {
        "GetItem": 2, "UpdateItem": 2, "TransactWriteItems": 1}
    assert calls(lambda: api.delete(f"/tweets/{tweet_id}/like", token=bob)) == {
        "GetItem": 2, "TransactWriteItems": 1}
    # A retweet: the caller, the tweet, the caller's marker, one transaction. Again: no write, but
    # the existing retweet and the original read again (consistently, for current counts).
    assert calls(lambda: api.post(f"/tweets/{tweet_id}/retweet", token=bob)) == {
        "GetItem": 3, "UpdateItem": 2, "TransactWriteItems": 1}
    assert calls(lambda: api.post(f"/tweets/{tweet_id}/retweet", token=bob)) == {
        "GetItem": 5, "UpdateItem": 2}
    assert calls(lambda: api.get("/users/bob/tweets")) == {"GetItem": 2, "Query": 1, "BatchGetItem": 1}
    assert calls(lambda: api.delete(f"/tweets/{tweet_id}/retweet", token=bob)) == {
        "GetItem": 3, "TransactWriteItems": 1}
    assert calls(lambda: api.get(f"/tweets/{tweet_id}/replies")) == {"Query": 1, "GetItem": 1}  # none yet
    api.post("/tweets", {"text": "re", "reply_to_id": tweet_id}, token=bob)
    assert calls(lambda: api.get(f"/tweets/{tweet_id}/replies")) == {"Query": 1}


def test_a_signed_in_read_adds_one_sqs_message_and_the_token_check(api, world):
    """Views are handed off, not written: a signed-in read costs the same
    DynamoDB calls as an anonymous one plus the token's user (one GetItem),
    and one SendMessage to the views queue (SQS, not DynamoDB; the queue's
    URL is looked up once per container)."""
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
            checked = {**dynamodb, "GetItem": dynamodb.get("GetItem", 0) + 1}
            assert calls(lambda path=path: api.get(path, token=bob)) == checked, path
        # Only the pages that showed someone else's tweet sent anything: one message each.
        assert sent == ["SendMessage", "SendMessage"]
        sent.clear()
        api.get("/timelines/home", token=bob)  # empty here (no fan-out without the pump): nothing to count
        assert sent == []
    finally:
        jobs.sqs().meta.events.unregister("before-call.sqs", count)


def test_a_home_page_reads_its_reader_once(api, world):
    """The token check's read of the reader is the one the home read uses
    (its celebrity list, whether a rebuild is under way): no second GetItem."""
    bob = world["bob_token"]
    assert calls(lambda: api.get("/timelines/home", token=bob)) == {"GetItem": 1, "Query": 1}
    assert calls(lambda: api.get("/timelines/home?ranked=1", token=bob)) == {"GetItem": 1, "Query": 1}
