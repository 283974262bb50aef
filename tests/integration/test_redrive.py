"""The operator's redrive (chalicelib.events.redrive, `make redrive`): what
ran out of retries during a fault storm comes back once the faults stop.

Work is parked the way the pump parks it: a tweet's stream record whose
fan-out keeps failing is retried until the mapping gives up and describes
its batch on `stream-failures`; a fan-out job that keeps failing goes to
`jobs-dlq` after JOBS_MAX_RECEIVES receives."""
import json

import boto3
import pytest
from support import timeline_entries

from chalicelib import settings
from chalicelib.events import redrive
from chalicelib.storage import clients
from chalicelib.storage.tables import TimelineModel

TIMELINES = TimelineModel.Meta.table_name


def tweet_ids_written(request: dict) -> set[str]:
    return {r["PutRequest"]["Item"]["tweet_id"]["N"] for requests in request["RequestItems"].values()
            for r in requests if "PutRequest" in r and "tweet_id" in r["PutRequest"]["Item"]}


class Storm:
    """Fails every timeline write of the tweets in `doomed` while `on`."""

    def __init__(self, hooks):
        self.on, self.doomed, self.failed = True, set(), 0

        def fail(request, operation):
            if self.on and TIMELINES in request["RequestItems"] and tweet_ids_written(request) & self.doomed:
                self.failed += 1
                raise hooks.error("ValidationException", operation)

        hooks.on("BatchWriteItem", fail)


@pytest.fixture
def world(api, make_user, cheap_passwords, monkeypatch):
    """alice, with 4 followers and fan-out pages of 3 (so her tweet's
    entries are all written by a job), and bob with 2 (written in the
    stream handler)."""
    monkeypatch.setattr(settings, "FANOUT_PAGE_SIZE", 3)
    users = {}
    for handle, followers in (("alice", 4), ("bob", 2)):
        users[handle] = make_user(handle)
        users[handle + "_followers"] = []
        for n in range(followers):
            follower, token = make_user(f"{handle}_follower{n}")
            assert api.post(f"/users/{handle}/follow", token=token).status == 200
            users[handle + "_followers"].append(follower)
    return users


def park(world, pump, make_tweet, storm, queue_messages=None):
    """Posts a tweet by each of alice and bob in a storm and pumps until the
    retries run out: bob's stream record is on stream-failures, alice's job
    on jobs-dlq. Returns (alice's tweet, bob's tweet)."""
    pump.drain()
    alice_tweet = make_tweet(world["alice"][1], "paged by a job")["id"]
    bob_tweet = make_tweet(world["bob"][1], "fanned out in the stream")["id"]
    storm.doomed |= {alice_tweet, bob_tweet}
    pump.drain()
    return alice_tweet, bob_tweet


def queue_length(short_name: str) -> int:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=settings.QUEUE_NAMES[short_name])["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(value) for value in attributes["Attributes"].values())


def delivered(world, handle, tweet) -> bool:
    readers = [world[handle][0], *world[handle + "_followers"]]
    return all(timeline_entries(reader["id"]) == [tweet] for reader in readers)


def test_after_a_storm_and_silence_every_parked_record_and_job_is_processed(
        world, pump, make_tweet, dynamodb_hooks, queue_messages):
    storm = Storm(dynamodb_hooks)
    alice_tweet, bob_tweet = park(world, pump, make_tweet, storm)
    assert queue_length("stream-failures") == 1
    assert queue_length("jobs-dlq") == 1
    assert not delivered(world, "alice", alice_tweet) and not delivered(world, "bob", bob_tweet)

    storm.on = False
    streams = redrive.redrive_stream_failures()
    jobs = redrive.redrive_jobs()
    pump.drain()

    assert streams == redrive.Counts(found=1, processed=1, left=0, expired=0)
    assert jobs == redrive.Counts(found=1, processed=1, left=0)
    assert delivered(world, "alice", alice_tweet)
    assert delivered(world, "bob", bob_tweet)
    for queue in ("stream-failures", "jobs-dlq", "jobs"):
        assert queue_messages(queue) == [], queue


def test_a_redrive_during_the_storm_loses_nothing(world, pump, make_tweet, dynamodb_hooks, queue_messages):
    storm = Storm(dynamodb_hooks)
    alice_tweet, bob_tweet = park(world, pump, make_tweet, storm)
    [description] = queue_messages("stream-failures")  # read and removed; put back below
    boto3.client("sqs").send_message(
        QueueUrl=boto3.client("sqs").get_queue_url(QueueName=settings.QUEUE_NAMES["stream-failures"])["QueueUrl"],
        MessageBody=json.dumps(description))

    failed = storm.failed
    streams = redrive.redrive_stream_failures()
    assert storm.failed == failed + 1  # the record was read again and run, and failed again
    assert streams == redrive.Counts(found=1, processed=0, left=1)
    assert queue_messages("stream-failures") == [description]  # still there, and visible at once

    jobs = redrive.redrive_jobs()  # moved back; it fails its receives again and returns
    pump.drain()
    assert jobs == redrive.Counts(found=1, processed=1)
    [job] = queue_messages("jobs-dlq")
    assert job["kind"] == "deliver" and str(job["tweet_id"]) == alice_tweet

    # Put back (the fixture removed them), then the storm ends: all of it comes back.
    sqs = boto3.client("sqs")
    for short_name, body in (("stream-failures", description), ("jobs-dlq", job)):
        url = sqs.get_queue_url(QueueName=settings.QUEUE_NAMES[short_name])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
    storm.on = False
    assert redrive.redrive_stream_failures().processed == 1
    assert redrive.redrive_jobs().processed == 1
    pump.drain()
    assert delivered(world, "alice", alice_tweet)
    assert delivered(world, "bob", bob_tweet)
    for queue in ("stream-failures", "jobs-dlq", "jobs"):
        assert queue_length(queue) == 0, queue


@pytest.mark.parametrize("code", ["TrimmedDataAccessException", "ResourceNotFoundException"])
def test_a_batch_gone_from_the_stream_is_reported_and_dropped(code, pump, queue_messages, caplog):
    """A description whose records the stream no longer has (past its 24-hour
    retention, or the shard or stream gone) cannot be redriven: it is logged
    in full and deleted, and counted as expired. (moto keeps every record, so
    the stream's answer is injected.)"""
    from botocore.exceptions import ClientError

    stream_arn = boto3.client("dynamodb").describe_table(
        TableName=settings.TABLE_NAMES["tweets"])["Table"]["LatestStreamArn"]
    description = {"DDBStreamBatchInfo": {
        "shardId": "shardId-00000000000000000000-gone", "startSequenceNumber": "1100000000017454423009",
        "endSequenceNumber": "1100000000017454423009", "batchSize": 1, "streamArn": stream_arn}}
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=settings.QUEUE_NAMES["stream-failures"])["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(description))

    def gone(**_):
        raise ClientError({"Error": {"Code": code, "Message": "injected"}}, "GetShardIterator")

    events = clients.client("dynamodbstreams").meta.events
    events.register("before-call.dynamodbstreams.GetShardIterator", gone)
    try:
        with caplog.at_level("ERROR", logger="chirp.redrive"):
            counts = redrive.redrive_stream_failures()
    finally:
        events.unregister("before-call.dynamodbstreams.GetShardIterator", gone)
    assert counts == redrive.Counts(found=1, processed=1, left=0, expired=1)
    assert "shardId-00000000000000000000-gone" in caplog.text
    assert queue_messages("stream-failures") == []
