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


# --- out of order: a redriven record older than what ran since --------------

class TimelineStorm:
    """Fails every timeline write while `on`, so the record at hand is parked."""

    def __init__(self, hooks):
        self.on = True

        def fail(request, operation):
            if self.on and TIMELINES in request["RequestItems"]:
                raise hooks.error("ValidationException", operation)

        hooks.on("BatchWriteItem", fail)


def send_failure(short_name: str, body: dict) -> None:
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=settings.QUEUE_NAMES[short_name])["QueueUrl"],
                     MessageBody=json.dumps(body))


def test_a_parked_follow_is_not_replayed_after_the_unfollow_ran(
        api, make_user, make_tweet, pump, dynamodb_hooks, queue_messages):
    """The follow's backfill fails until its record is parked; the unfollow's
    record runs fine meanwhile. Replaying the follow then would copy the
    unfollowed author's tweets into the reader's timeline for good."""
    author, author_token = make_user("author")
    reader, reader_token = make_user("reader")
    make_tweet(author_token, "before the follow")
    pump.drain()
    storm = TimelineStorm(dynamodb_hooks)
    assert api.post("/users/author/follow", token=reader_token).status == 200
    pump.drain()
    assert queue_length("stream-failures") == 1
    storm.on = False
    assert api.delete("/users/author/follow", token=reader_token).status == 200
    pump.drain()

    counts = redrive.redrive_stream_failures()

    assert counts == redrive.Counts(found=1, processed=1, superseded=1)
    assert timeline_entries(reader["id"]) == []
    assert queue_length("stream-failures") == 0


def test_a_parked_unfollow_is_not_replayed_after_a_new_follow_ran(
        api, make_user, make_tweet, pump, dynamodb_hooks):
    author, author_token = make_user("author")
    reader, reader_token = make_user("reader")
    tweet = make_tweet(author_token, "hello")["id"]
    assert api.post("/users/author/follow", token=reader_token).status == 200
    pump.drain()
    storm = TimelineStorm(dynamodb_hooks)
    assert api.delete("/users/author/follow", token=reader_token).status == 200
    pump.drain()
    assert queue_length("stream-failures") == 1
    storm.on = False
    assert api.post("/users/author/follow", token=reader_token).status == 200
    pump.drain()

    assert redrive.redrive_stream_failures() == redrive.Counts(found=1, processed=1, superseded=1)
    assert timeline_entries(reader["id"]) == [tweet]


def test_a_parked_tweet_is_not_replayed_after_its_deletion_ran(
        api, make_user, make_tweet, pump, dynamodb_hooks, follow):
    """Its hashtag and home timeline entries would come back for a deleted
    tweet (reads hide them, but they would stay)."""
    from chalicelib.storage.tables import HashtagModel

    author, author_token = make_user("author")
    reader, reader_token = make_user("reader")
    follow(reader_token, "author")
    pump.drain()
    storm = TimelineStorm(dynamodb_hooks)
    tweet = make_tweet(author_token, "gone soon #parked")["id"]
    pump.drain()
    assert queue_length("stream-failures") == 1
    storm.on = False
    assert api.delete(f"/tweets/{tweet}", token=author_token).status in (200, 204)
    pump.drain()

    assert redrive.redrive_stream_failures() == redrive.Counts(found=1, processed=1, superseded=1)
    assert timeline_entries(reader["id"]) == [] and timeline_entries(author["id"]) == []
    assert list(HashtagModel.scan()) == []


# --- automatic: the scheduled function, and where it gives up ---------------

def test_the_scheduled_redrive_brings_back_what_the_storm_parked(
        world, pump, make_tweet, dynamodb_hooks, queue_messages):
    from app import app

    [schedule] = [s for s in app.event_sources if s.name == "redrive_failures"]
    assert schedule.schedule_expression.to_string() == f"rate({settings.REDRIVE_EVERY_MINUTES} minutes)"
    storm = Storm(dynamodb_hooks)
    alice_tweet, bob_tweet = park(world, pump, make_tweet, storm)
    storm.on = False

    pump.run_schedules()  # as EventBridge would, every REDRIVE_EVERY_MINUTES
    pump.drain()

    assert delivered(world, "alice", alice_tweet) and delivered(world, "bob", bob_tweet)
    for queue in ("stream-failures", "jobs-dlq", "jobs", "parked"):
        assert queue_length(queue) == 0, queue


def test_a_stream_failure_that_keeps_failing_is_parked_for_an_operator(
        world, pump, make_tweet, dynamodb_hooks, queue_messages, monkeypatch):
    """After REDRIVE_MAX_RECEIVES runs SQS itself moves it to `parked`
    (the queue's redrive policy); the operator's redrive_parked runs it."""
    storm = Storm(dynamodb_hooks)
    _, bob_tweet = park(world, pump, make_tweet, storm)
    redrive.redrive_jobs()  # alice's job: not this test's business
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=settings.QUEUE_NAMES["stream-failures"])["QueueUrl"]
    parked_arn = sqs.get_queue_attributes(
        QueueUrl=sqs.get_queue_url(QueueName=settings.QUEUE_NAMES["parked"])["QueueUrl"],
        AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])[
        "Attributes"]["RedrivePolicy"])
    assert (policy["deadLetterTargetArn"], int(policy["maxReceiveCount"])) == (
        parked_arn, settings.REDRIVE_MAX_RECEIVES)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": parked_arn, "maxReceiveCount": "2"})})

    assert redrive.redrive_all()["stream-failures"].left == 1
    assert redrive.redrive_all()["stream-failures"].left == 1
    assert redrive.redrive_all()["stream-failures"].found == 0  # received twice: SQS parked it
    assert queue_length("parked") == 1

    storm.on = False
    parked = redrive.redrive_parked()
    assert parked["parked stream failures"] == redrive.Counts(found=1, processed=1)
    assert delivered(world, "bob", bob_tweet)
    assert queue_length("parked") == 0


def test_a_job_moved_back_too_often_is_parked_then_an_operator_brings_it_back(
        world, pump, make_tweet, dynamodb_hooks, queue_messages):
    storm = Storm(dynamodb_hooks)
    alice_tweet, _ = park(world, pump, make_tweet, storm)
    queue_messages("stream-failures")  # bob's record: not this test's business

    for n in range(settings.JOBS_MAX_REDRIVES):
        assert redrive.redrive_jobs() == redrive.Counts(found=1, processed=1), n
        pump.drain()  # fails JOBS_MAX_RECEIVES more times, back on jobs-dlq
    assert redrive.redrive_jobs() == redrive.Counts(found=1, parked=1)
    assert queue_length("jobs-dlq") == 0 and queue_length("parked") == 1
    assert redrive.redrive_all()["jobs-dlq"].found == 0  # the automatic redrive leaves it there

    storm.on = False
    assert redrive.redrive_parked()["parked jobs"] == redrive.Counts(found=1, processed=1)
    pump.drain()
    assert delivered(world, "alice", alice_tweet)
    for queue in ("jobs-dlq", "jobs", "parked"):
        assert queue_length(queue) == 0, queue


def test_a_backlog_is_worked_off_over_several_runs(pump, monkeypatch, queue_messages):
    """A run takes at most REDRIVE_MAX_PER_RUN messages from a queue, so it
    ends inside its timeout; the rest wait, visible, for the next run."""
    monkeypatch.setattr(settings, "REDRIVE_MAX_PER_RUN", 10)
    for n in range(25):
        send_failure("jobs-dlq", {"kind": "drop-likes", "tweet_id": n + 1, "cursor": None})

    moved = [redrive.redrive_jobs().processed for _ in range(3)]

    assert moved == [10, 10, 5]
    assert len(queue_messages("jobs")) == 25
