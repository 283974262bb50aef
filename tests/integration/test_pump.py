"""The local event-source pump against moto: Lambda's event shapes and its
stream and queue semantics, with small test apps (not the real one).

Every test drives the pump with `drain()`, so nothing waits on a clock; the
one thread test waits on an event its handler sets."""
import base64
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import boto3
import pytest
from chalice import Chalice

from chalicelib.storage.tables import FollowModel, TweetModel
from deploy.mappings import MappingPolicy
from devstack.pump import EventPump
from devstack.resources import ensure_tables

pytestmark = pytest.mark.slow  # every test drives the event pump (see SLOW_FIXTURES in tests/conftest.py)

TWEETS = TweetModel.Meta.table_name
FOLLOWS = FollowModel.Meta.table_name
ON_FAILURE = "pump-test-on-failure"


@pytest.fixture
def dynamodb():
    return boto3.client("dynamodb")


@pytest.fixture
def sqs():
    return boto3.client("sqs")


def stream_arn(table: str) -> str:
    return boto3.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]


def shard_id(arn: str) -> str:
    return boto3.client("dynamodbstreams").describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0][
        "ShardId"]


def put_tweets(*ids: int, text: str = "hello") -> None:
    client = boto3.client("dynamodb")
    for tweet_id in ids:
        client.put_item(TableName=TWEETS, Item={"id": {"N": str(tweet_id)}, "text": {"S": text}})


def tweet_ids(records: list[dict]) -> list[int]:
    return [int(record["dynamodb"]["Keys"]["id"]["N"]) for record in records]


def sequence_numbers(records: list[dict]) -> list[str]:
    return [record["dynamodb"]["SequenceNumber"] for record in records]


@dataclass
class Handler:
    """A test handler's script and log: `respond(records, call_number)` may
    raise or return a Lambda response; every batch it was given is kept."""

    respond: Callable[[list[dict], int], object] | None = None
    batches: list[list[dict]] = field(default_factory=list)
    delivered: threading.Event = field(default_factory=threading.Event)

    def __call__(self, event) -> object:
        records = event.to_dict()["Records"]
        self.batches.append(records)
        response = self.respond(records, len(self.batches)) if self.respond else None
        self.delivered.set()
        return response

    @property
    def tweet_batches(self) -> list[list[int]]:
        return [tweet_ids(batch) for batch in self.batches]


def stream_app(handler: Handler, arn: str, name: str = "on_tweet", **options) -> Chalice:
    """A Chalice app with one stream handler, registered as app.py would."""
    app = Chalice(app_name="pump-test")
    options.setdefault("starting_position", "TRIM_HORIZON")

    def on_tweet(event):
        return handler(event)

    app.on_dynamodb_record(stream_arn=arn, name=name, **options)(on_tweet)
    return app


def pump_for(handler: Handler, *, clock=time.time, **policy) -> EventPump:
    app = stream_app(handler, stream_arn(TWEETS), batch_size=policy.pop("batch_size", 100))
    return EventPump.for_app(app, {"on_tweet": MappingPolicy(**policy)}, clock=clock)


@pytest.fixture
def on_failure_queue(sqs):
    """The on-failure destination; returns a reader of what arrived there."""
    url = sqs.create_queue(QueueName=ON_FAILURE)["QueueUrl"]

    def received() -> list[dict]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    return received


def raise_on(*poison: int):
    def respond(records, _call):
        if set(tweet_ids(records)) & set(poison):
            raise RuntimeError("poison")
    return respond


def report(*poison: int):
    """Reports the poison records as batch item failures."""
    def respond(records, _call):
        return {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}
                                      for record in records if tweet_ids([record])[0] in poison]}
    return respond


# --- event shape ------------------------------------------------------------------------------------------

def test_stream_events_have_lambdas_shape(dynamodb):
    arn = stream_arn(TWEETS)
    handler = Handler()
    pump = EventPump.for_app(stream_app(handler, arn))
    binary = {"raw": {"B": b"\x00\xff"}, "nested": {"M": {"bits": {"BS": [b"\x01"]}}}}
    dynamodb.put_item(TableName=TWEETS, Item={"id": {"N": "7"}, "text": {"S": "one"}, **binary})
    dynamodb.put_item(TableName=TWEETS, Item={"id": {"N": "7"}, "text": {"S": "two"}})
    dynamodb.delete_item(TableName=TWEETS, Key={"id": {"N": "7"}})
    before = int(time.time())
    pump.drain()

    [records] = handler.batches
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for record in records:
        assert set(record) == {"eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb",
                               "eventSourceARN"}
        assert record["eventVersion"] == "1.1"
        assert record["eventSource"] == "aws:dynamodb"
        assert record["eventSourceARN"] == arn
        assert record["awsRegion"] == arn.split(":")[3]
        change = record["dynamodb"]
        assert isinstance(change["ApproximateCreationDateTime"], int)
        assert abs(change["ApproximateCreationDateTime"] - before) < 120
        assert change["Keys"] == {"id": {"N": "7"}}
        assert change["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert isinstance(change["SizeBytes"], int)
    insert, modify, remove = (r["dynamodb"] for r in records)
    assert insert["NewImage"] == {"id": {"N": "7"}, "text": {"S": "one"}, "raw": {"B": "AP8="},
                                  "nested": {"M": {"bits": {"BS": ["AQ=="]}}}}
    assert "OldImage" not in insert
    assert modify["OldImage"]["text"] == {"S": "one"} and modify["NewImage"]["text"] == {"S": "two"}
    assert remove["OldImage"]["text"] == {"S": "two"} and "NewImage" not in remove
    numbers = [int(n) for n in sequence_numbers(records)]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    json.dumps(records)  # what Lambda sends is JSON


def test_chalice_reads_the_events():
    """The handler's own view, through Chalice's DynamoDBEvent."""
    seen = []
    app = Chalice(app_name="pump-test")

    @app.on_dynamodb_record(stream_arn=stream_arn(TWEETS), starting_position="TRIM_HORIZON")
    def on_tweet(event):
        seen.extend((r.table_name, r.event_name, r.keys, r.timestamp.year, r.new_image["text"])
                    for r in event)

    pump = EventPump.for_app(app)
    put_tweets(1, text="hi")
    pump.drain()
    assert seen == [(TWEETS, "INSERT", {"id": {"N": "1"}}, time.gmtime().tm_year, {"S": "hi"})]


def test_each_handler_reads_its_own_table_independently(dynamodb):
    tweets, also_tweets, follows = Handler(), Handler(), Handler()
    app = Chalice(app_name="pump-test")
    for name, handler, table in (("a", tweets, TWEETS), ("b", also_tweets, TWEETS), ("c", follows, FOLLOWS)):
        app.on_dynamodb_record(stream_arn=stream_arn(table), name=name,
                               starting_position="TRIM_HORIZON")(lambda event, h=handler: h(event))
    pump = EventPump.for_app(app)
    put_tweets(1, 2)
    dynamodb.put_item(TableName=FOLLOWS, Item={"follower_id": {"N": "1"}, "followee_id": {"N": "2"},
                                               "follow_id": {"N": "9"}})
    pump.drain()
    assert tweets.tweet_batches == also_tweets.tweet_batches == [[1, 2]]
    [[follow]] = follows.batches
    assert follow["dynamodb"]["Keys"] == {"follower_id": {"N": "1"}, "followee_id": {"N": "2"}}
    assert follow["eventSourceARN"] == stream_arn(FOLLOWS)


# --- positions, batches, order ----------------------------------------------------------------------------

def test_batch_size_is_honoured():
    handler = Handler()
    pump = pump_for(handler, batch_size=2)
    put_tweets(1, 2, 3, 4, 5)
    pump.drain()
    assert handler.tweet_batches == [[1, 2], [3, 4], [5]]


def test_order_is_kept_per_key(dynamodb):
    handler = Handler()
    pump = pump_for(handler, batch_size=3)
    writes = [(key, f"v{n}") for n in range(6) for key in (1, 2)]
    for key, text in writes:
        put_tweets(key, text=text)
    pump.drain()
    records = [record for batch in handler.batches for record in batch]
    for key in (1, 2):
        texts = [r["dynamodb"]["NewImage"]["text"]["S"] for r in records if tweet_ids([r]) == [key]]
        assert texts == [text for k, text in writes if k == key]
    numbers = [int(n) for n in sequence_numbers(records)]
    assert numbers == sorted(numbers) and len(numbers) == len(writes)


def test_latest_starts_with_records_written_after_the_pump():
    put_tweets(1)
    handler = Handler()
    pump = EventPump.for_app(stream_app(handler, stream_arn(TWEETS), starting_position="LATEST"))
    put_tweets(2)
    pump.drain()
    assert handler.tweet_batches == [[2]]


def test_a_stale_decorator_arn_still_finds_the_tables_stream():
    """Decorator arguments are read at import; the table may have been
    recreated since. The pump goes by the table name in the ARN."""
    current = stream_arn(TWEETS)
    stale = current.rsplit("/", 1)[0] + "/2001-01-01T00:00:00.000"
    handler = Handler()
    pump = EventPump.for_app(stream_app(handler, stale))
    put_tweets(1)
    pump.drain()
    assert handler.tweet_batches == [[1]]
    assert handler.batches[0][0]["eventSourceARN"] == current


def test_tables_that_come_and_go(dynamodb):
    handler = Handler()
    pump = pump_for(handler)
    put_tweets(1)
    pump.drain()
    dynamodb.delete_table(TableName=TWEETS)
    assert pump.poll_once() is False  # no stream, no crash
    ensure_tables(dynamodb)
    put_tweets(2)
    pump.drain()
    assert handler.tweet_batches == [[1], [2]]
    assert handler.batches[1][0]["eventSourceARN"] == stream_arn(TWEETS)


# --- failures ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bisect", [False, True])
def test_a_failed_invocation_is_retried_and_nothing_is_lost(bisect):
    def respond(_records, call):
        if call == 1:
            raise RuntimeError("transient")

    handler = Handler(respond)
    pump = pump_for(handler, bisect_batch_on_function_error=bisect)
    put_tweets(1, 2, 3)
    pump.drain()
    first, *retries = handler.tweet_batches
    assert first == [1, 2, 3]
    assert [tweet for batch in retries for tweet in batch] == [1, 2, 3]  # each once more, in order
    assert retries == ([[1, 2, 3]] if not bisect else [[1], [2, 3]])


@pytest.mark.parametrize(("report_failures", "respond", "expected"), [
    (True, lambda records, call: {"batchItemFailures": [{"itemIdentifier": records[2]["dynamodb"][
        "SequenceNumber"]}]} if call == 1 else None, [[1, 2, 3, 4, 5], [3, 4, 5]]),
    (True, lambda records, call: {"batchItemFailures": [{"itemIdentifier": "not-in-the-batch"}]}
     if call == 1 else {"batchItemFailures": []}, [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]]),
    (True, lambda records, call: {"batchItemFailures": [{"itemIdentifier": ""}]} if call == 1 else {},
     [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]]),
    (False, lambda records, call: {"batchItemFailures": [{"itemIdentifier": records[0]["dynamodb"][
        "SequenceNumber"]}]}, [[1, 2, 3, 4, 5]]),
], ids=["resumes-from-the-failed-record", "unknown-identifier-fails-all", "empty-identifier-fails-all",
        "ignored-unless-reported"])
def test_batch_item_failures(report_failures, respond, expected):
    handler = Handler(respond)
    pump = pump_for(handler, bisect_batch_on_function_error=False, report_batch_item_failures=report_failures)
    put_tweets(1, 2, 3, 4, 5)
    pump.drain()
    assert handler.tweet_batches == expected


@pytest.mark.parametrize("fail", [raise_on, report], ids=["raises", "reports"])
def test_bisect_isolates_a_poison_record(fail, on_failure_queue):
    arn = stream_arn(TWEETS)
    handler = Handler(fail(5))
    pump = pump_for(handler, maximum_retry_attempts=2, on_failure_queue=ON_FAILURE)
    put_tweets(*range(1, 9))
    pump.drain()

    def accepted(batch: list[int]) -> list[int]:
        """What the handler got through: a raise loses the whole batch, a report only from the poison on."""
        if 5 not in batch:
            return batch
        return batch[:batch.index(5)] if fail is report else []

    delivered = [tweet for batch in handler.tweet_batches for tweet in accepted(batch)]
    assert delivered == [1, 2, 3, 4, 6, 7, 8]  # everything else, once each, in order
    assert handler.tweet_batches.count([5]) == 3  # alone: the first try and two retries

    [failure] = on_failure_queue()
    info = failure["DDBStreamBatchInfo"]
    poison = sequence_numbers([r for batch in handler.batches for r in batch if tweet_ids([r]) == [5]])[0]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (poison, poison, 1)
    assert info["shardId"] == shard_id(arn) and info["streamArn"] == arn
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["functionArn"].endswith(":function:pump-test-local-on_tweet")
    assert failure["requestContext"]["approximateInvokeCount"] == sum(5 in b for b in handler.tweet_batches)


def test_a_description_that_cannot_be_sent_holds_the_shard_until_it_is(on_failure_queue):
    """If the on-failure queue cannot be reached, the batch is not dropped:
    the shard waits, and the description goes once it can (once only)."""
    from botocore.exceptions import ClientError

    handler = Handler(raise_on(2))
    pump = pump_for(handler, batch_size=1, maximum_retry_attempts=0, on_failure_queue=ON_FAILURE)
    [sqs_client] = {id(m.clients.sqs): m.clients.sqs for m in pump._mappings}.values()
    refusals = [3]

    def refuse(**_):
        if refusals[0]:
            refusals[0] -= 1
            raise ClientError({"Error": {"Code": "InternalFailure", "Message": "injected"}}, "SendMessage")

    sqs_client.meta.events.register("before-call.sqs.SendMessage", refuse)
    put_tweets(1, 2, 3)
    pump.drain()

    assert refusals == [0]
    [failure] = on_failure_queue()
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1
    assert [t for batch in handler.tweet_batches for t in batch] == [1, 2, 3]  # 3 only after 2 was parked


def test_exhausted_retries_go_to_the_on_failure_queue_and_the_shard_moves_on(on_failure_queue):
    handler = Handler(raise_on(2))
    pump = pump_for(handler, batch_size=3, maximum_retry_attempts=2, bisect_batch_on_function_error=False,
                    on_failure_queue=ON_FAILURE)
    put_tweets(1, 2, 3, 4, 5)
    pump.drain()
    assert handler.tweet_batches == [[1, 2, 3]] * 3 + [[4, 5]]
    [failure] = on_failure_queue()
    first_batch = sequence_numbers(handler.batches[0])
    assert failure["DDBStreamBatchInfo"]["startSequenceNumber"] == first_batch[0]
    assert failure["DDBStreamBatchInfo"]["endSequenceNumber"] == first_batch[-1]
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 3
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["responseContext"]["functionError"] == "Unhandled"


def test_without_an_on_failure_queue_a_give_up_is_logged_in_full(caplog):
    handler = Handler(raise_on(1))
    pump = pump_for(handler, maximum_retry_attempts=0)
    put_tweets(1)
    with caplog.at_level(logging.ERROR, logger="chirp.pump"):
        pump.drain()
    [number] = sequence_numbers(handler.batches[0])
    assert len(handler.batches) == 1
    messages = [record.getMessage() for record in caplog.records]
    assert any(number in message and "RetryAttemptsExhausted" in message for message in messages)


class FakeClock:
    def __init__(self):
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


def test_records_older_than_the_maximum_age_are_given_up_on(on_failure_queue):
    clock = FakeClock()

    def respond(_records, _call):
        clock.ahead += 1000  # each failed try takes "1000 s"
        raise RuntimeError("down")

    handler = Handler(respond)
    pump = pump_for(handler, clock=clock, maximum_retry_attempts=-1, maximum_record_age_in_seconds=3600,
                    on_failure_queue=ON_FAILURE)
    put_tweets(1)
    pump.drain()
    assert len(handler.batches) == 4  # the 5th try would be at 4000 s
    [failure] = on_failure_queue()
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"
    assert failure["requestContext"]["approximateInvokeCount"] == 4

    clock.ahead = 0
    handler.respond = None
    put_tweets(2)
    pump.drain()
    assert handler.tweet_batches[-1] == [2]  # and the shard moved on


def test_records_already_too_old_are_not_delivered(on_failure_queue):
    clock = FakeClock()
    handler = Handler()
    pump = pump_for(handler, clock=clock, maximum_record_age_in_seconds=60, on_failure_queue=ON_FAILURE)
    put_tweets(1, 2)
    clock.ahead = 3600  # the pump fell an hour behind
    pump.drain()
    assert handler.batches == []
    [failure] = on_failure_queue()
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"
    assert failure["requestContext"]["approximateInvokeCount"] == 0
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 2


def test_drain_times_out_on_a_shard_that_never_clears():
    handler = Handler(raise_on(1))
    pump = pump_for(handler, maximum_retry_attempts=-1, maximum_record_age_in_seconds=-1)
    put_tweets(1)
    with pytest.raises(TimeoutError):
        pump.drain(timeout=0.2)


# --- SQS --------------------------------------------------------------------------------------------------

def queue_arn(url: str) -> str:
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


def make_queue_with_dlq(sqs, name: str, max_receive_count: int) -> tuple[str, str]:
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    redrive = json.dumps({"deadLetterTargetArn": queue_arn(dlq_url), "maxReceiveCount": max_receive_count})
    # A visibility timeout of 0 makes a failed message visible again at once, so drain() sees the retries.
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "0", "RedrivePolicy": redrive})[
        "QueueUrl"]
    return url, dlq_url


def queue_app(handler: Handler, queue: str, batch_size: int = 10) -> Chalice:
    app = Chalice(app_name="pump-test")

    @app.on_sqs_message(queue=queue, batch_size=batch_size)
    def on_work(event):
        return handler(event)

    return app


def bodies(batch: list[dict]) -> list[str]:
    return [record["body"] for record in batch]


def test_sqs_events_have_lambdas_shape(sqs):
    url = sqs.create_queue(QueueName="pump-work")["QueueUrl"]
    arn = queue_arn(url)
    handler = Handler()
    pump = EventPump.for_app(queue_app(handler, "pump-work"))
    sqs.send_message(QueueUrl=url, MessageBody="hello", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "greeting"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    pump.drain()
    [[record]] = handler.batches
    assert set(record) >= {"messageId", "receiptHandle", "body", "attributes", "messageAttributes",
                           "md5OfBody", "eventSource", "eventSourceARN", "awsRegion"}
    assert record["body"] == "hello"
    assert record["md5OfBody"] == hashlib.md5(b"hello").hexdigest()  # noqa: S324 - SQS's own checksum
    assert (record["eventSource"], record["eventSourceARN"]) == ("aws:sqs", arn)
    assert record["awsRegion"] == arn.split(":")[3]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert "SentTimestamp" in record["attributes"]
    assert record["messageAttributes"]["kind"] == {"stringValue": "greeting", "stringListValues": [],
                                                   "binaryListValues": [], "dataType": "String"}
    assert record["messageAttributes"]["blob"]["binaryValue"] == base64.b64encode(b"\x00\x01").decode()
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None  # delivered means deleted


def test_sqs_partial_failures_are_redelivered_then_redriven_to_the_dlq(sqs):
    url, dlq_url = make_queue_with_dlq(sqs, "pump-work", max_receive_count=2)

    def respond(records, _call):
        failed = [record["messageId"] for record in records if record["body"] == "bad"]
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

    handler = Handler(respond)
    pump = EventPump.for_app(queue_app(handler, "pump-work"))
    for body in ("a", "bad", "b"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    pump.drain()

    assert sorted(bodies(handler.batches[0])) == ["a", "b", "bad"]
    assert [bodies(batch) for batch in handler.batches[1:]] == [["bad"]]  # once more, then the DLQ
    assert handler.batches[1][0]["attributes"]["ApproximateReceiveCount"] == "2"
    [dead] = sqs.receive_message(QueueUrl=dlq_url)["Messages"]
    assert dead["Body"] == "bad"
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == counts["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_sqs_handler_that_raises_gets_the_whole_batch_again(sqs):
    url, _ = make_queue_with_dlq(sqs, "pump-work", max_receive_count=5)

    def respond(_records, call):
        if call == 1:
            raise RuntimeError("transient")

    handler = Handler(respond)
    pump = EventPump.for_app(queue_app(handler, "pump-work", batch_size=2))
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    pump.drain()
    assert [sorted(bodies(batch)) for batch in handler.batches] == [["a", "b"], ["a", "b"]]
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None


def test_a_queue_created_after_the_pump_is_picked_up(sqs):
    handler = Handler()
    pump = EventPump.for_app(queue_app(handler, "pump-later"))
    assert pump.poll_once() is False
    url = sqs.create_queue(QueueName="pump-later")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="late")
    pump.drain()
    assert [bodies(batch) for batch in handler.batches] == [["late"]]


# --- the pump itself ----------------------------------------------------------------------------------------

def test_an_app_without_event_sources_is_a_no_op():
    from app import app as chirp  # the real app has no event handlers yet

    for app in (Chalice(app_name="empty"), chirp):
        pump = EventPump.for_app(app)
        assert pump.poll_once() is False
        pump.drain()
        pump.start()
        pump.stop()
        assert not pump.running


def test_policies_must_name_handlers_of_the_app():
    app = stream_app(Handler(), stream_arn(TWEETS))
    with pytest.raises(ValueError, match="on_twete"):
        EventPump.for_app(app, {"on_twete": MappingPolicy()})


def test_the_background_thread_delivers_and_stops():
    handler = Handler()
    pump = pump_for(handler).start()
    try:
        assert pump.running
        put_tweets(1)
        assert handler.delivered.wait(timeout=60)  # returns when delivered; a ceiling for busy machines
    finally:
        pump.stop()
    assert not pump.running
    assert handler.tweet_batches == [[1]]


def test_a_failed_transaction_does_not_stall_the_stream(api, make_user, make_tweet, pump):
    """moto rolls a cancelled transaction back by swapping in copies of the
    tables, stream shards included; the pump must not keep reading the old
    shard (it did: the tweets stream went silent after a repeated like)."""
    _, token = make_user("alice")
    first = make_tweet(token, "one")
    pump.drain()  # the pump now holds an iterator on the tweets stream
    assert api.post(f"/tweets/{first['id']}/like", token=token).status == 200
    assert api.post(f"/tweets/{first['id']}/like", token=token).status == 200  # a cancelled transaction
    later = make_tweet(token, "two #after")
    pump.drain()
    assert [t["id"] for t in api.get("/hashtags/after/tweets").json["data"]] == [later["id"]]


# --- moto's rollback of a cancelled transaction -------------------------------------------------------

def cancel_a_transaction_that_touches_the_tweets(dynamodb, tweet_id: int) -> None:
    """A repeated like, in miniature: moto applies the tweet's update, then
    finds the failed condition and rolls the transaction back."""
    key = {"follower_id": {"N": "1"}, "followee_id": {"N": "2"}}
    dynamodb.put_item(TableName=FOLLOWS, Item={**key, "follow_id": {"N": "9"}})
    tweet = {"id": {"N": str(tweet_id)}}
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": FOLLOWS, "Item": {**key, "follow_id": {"N": "10"}},
                     "ConditionExpression": "attribute_not_exists(follower_id)"}},
            {"Update": {"TableName": TWEETS, "Key": tweet, "UpdateExpression": "ADD like_count :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        ])
    assert "like_count" not in dynamodb.get_item(TableName=TWEETS, Key=tweet)["Item"]  # rolled back


@pytest.mark.parametrize("rollback", ["the stack's", "moto's own"])
def test_a_cancelled_transaction_hides_no_record(rollback, dynamodb, monkeypatch, caplog):
    """moto rolls a cancelled transaction back by putting copies of its tables
    in place: the shard the pump's iterator reads is then an orphan holding
    the records of the cancelled writes, and the live shard gives the next
    real records their sequence numbers. The stack's moto keeps the live
    shard, without those records (devstack.stack); against moto's own rollback
    the pump finds, by event id, that what it last read is gone and reads on
    from the last record still there. Either way no record is hidden or
    delivered twice."""
    if rollback == "moto's own":
        from moto.dynamodb.models import DynamoDBBackend

        patched = DynamoDBBackend.transact_write_items
        monkeypatch.setattr(DynamoDBBackend, "transact_write_items", getattr(patched, "__wrapped__", patched))
    handler = Handler()
    pump = pump_for(handler, batch_size=2)
    put_tweets(1, 2)
    assert pump.poll_once()  # delivers 1 and 2, and keeps its iterator
    cancel_a_transaction_that_touches_the_tweets(dynamodb, 1)
    put_tweets(3, 4)
    with caplog.at_level(logging.WARNING, logger="chirp.pump"):
        pump.drain()
    records = [record for batch in handler.batches for record in batch]
    inserts = [record for record in records if record["eventName"] == "INSERT"]
    assert tweet_ids(inserts) == [1, 2, 3, 4]  # each once, in order
    assert len({record["eventID"] for record in records}) == len(records)
    cancelled = [record["dynamodb"]["NewImage"] for record in records if record["eventName"] != "INSERT"]
    warned = any("not in the stream now" in record.getMessage() for record in caplog.records)
    if rollback == "the stack's":
        assert (cancelled, warned) == ([], False)  # as on DynamoDB: no stream record of a cancelled write
    else:  # read from the orphan before the pump could tell; it says so once it can
        assert [image["like_count"] for image in cancelled] == [{"N": "1"}]
        assert warned


def test_a_cancelled_like_while_the_pump_is_busy_loses_no_fan_out(api, make_user, make_tweet, pump):
    """Issue 10: a repeated like, cancelled while the pump held an iterator on
    the tweets stream, hid the next tweet from the stream's handler."""
    _, token = make_user("alice")
    first = make_tweet(token, "one")
    assert api.post(f"/tweets/{first['id']}/like", token=token).status == 200
    while not pump.poll_once():  # reads the tweet and its like, and keeps its iterator
        pass
    assert api.post(f"/tweets/{first['id']}/like", token=token).status == 200  # a cancelled transaction
    later = make_tweet(token, "two #after")
    pump.drain()
    assert [t["id"] for t in api.get("/hashtags/after/tweets").json["data"]] == [later["id"]]
    assert api.get(f"/tweets/{first['id']}").json["counts"]["likes"] == 1


def test_scheduled_handlers_run_once_a_rate_in_the_background_and_when_asked():
    """`@app.schedule(Rate(...))`, as EventBridge runs it: not before one rate
    has passed, then once per rate; `run_schedules` runs it now (tests)."""
    import threading

    from chalice import Rate

    app = Chalice(app_name="pump-test")
    events, ran = [], threading.Event()

    @app.schedule(Rate(5, unit=Rate.MINUTES))
    def every_five_minutes(event):
        events.append(event.to_dict())
        ran.set()

    now = [1000.0]
    pump = EventPump.for_app(app, clock=lambda: now[0])
    pump.drain()
    assert events == []  # drain never runs schedules: tests stay deterministic
    pump.run_schedules()
    assert [e["detail-type"] for e in events] == ["Scheduled Event"] and events[0]["source"] == "aws.events"

    pump.start()
    try:
        now[0] += 299  # run_schedules started the next rate
        ran.clear()
        assert not ran.wait(timeout=1)
        now[0] += 1
        assert ran.wait(timeout=60)
    finally:
        pump.stop()
    assert len(events) == 2
