"""EventPump.wait_settled, what `make run` says "demo world settled" by: a
round of the background thread, begun after the point waited from, that
found nothing to deliver and no message on any queue (a job not run yet,
delayed or in flight, included). Small test apps, against moto; every wait
is on the pump's rounds, never a sleep."""
import threading

import boto3
import pytest
from chalice import Chalice

from chalicelib.storage.tables import TweetModel
from devstack.pump import EventPump

pytestmark = pytest.mark.slow  # the pump's background thread

TWEETS = TweetModel.Meta.table_name
QUEUE = "settle-work"
WAIT = 60  # a ceiling, for a busy machine


@pytest.fixture
def sqs():
    return boto3.client("sqs")


@pytest.fixture
def queue(sqs):
    return sqs.create_queue(QueueName=QUEUE, Attributes={"VisibilityTimeout": "0"})["QueueUrl"]


def chained_app(seen: list, queue_url: str, release: threading.Event | None = None) -> Chalice:
    """A stream handler that sends a job per tweet, and the job handler (which
    waits for `release`, if given, before taking the job)."""
    app = Chalice(app_name="settle-test")
    arn = boto3.client("dynamodb").describe_table(TableName=TWEETS)["Table"]["LatestStreamArn"]
    sqs = boto3.client("sqs")

    @app.on_dynamodb_record(stream_arn=arn, starting_position="TRIM_HORIZON")
    def on_tweet(event):
        for record in event:
            sqs.send_message(QueueUrl=queue_url, MessageBody=record.keys["id"]["N"])

    @app.on_sqs_message(queue=QUEUE)
    def on_job(event):
        if release is not None:
            assert release.wait(WAIT)
        seen.extend(record.body for record in event)

    return app


def put_tweets(*ids: int) -> None:
    client = boto3.client("dynamodb")
    for tweet_id in ids:
        client.put_item(TableName=TWEETS, Item={"id": {"N": str(tweet_id)}, "text": {"S": "hi"}})


def test_settled_means_the_stream_and_the_jobs_it_made_are_done(queue):
    seen: list[str] = []
    pump = EventPump.for_app(chained_app(seen, queue)).start()
    try:
        put_tweets(1, 2, 3)
        since = pump.next_round()
        assert pump.wait_settled(since, WAIT)
        assert sorted(seen) == ["1", "2", "3"]  # the records, and the jobs they sent, all handled
        assert pump.settled_now()
    finally:
        pump.stop()


def test_a_job_still_running_is_not_settled(queue):
    seen: list[str] = []
    release = threading.Event()
    pump = EventPump.for_app(chained_app(seen, queue, release)).start()
    try:
        put_tweets(7)
        since = pump.next_round()
        assert not pump.wait_settled(since, 1.0)  # the job's handler is held: the queue is not empty
        release.set()
        assert pump.wait_settled(since, WAIT) and seen == ["7"]
    finally:
        release.set()
        pump.stop()


def test_a_delayed_job_is_not_settled(queue, sqs):
    seen: list[str] = []
    pump = EventPump.for_app(chained_app(seen, queue)).start()
    try:
        since = pump.next_round()
        assert pump.wait_settled(since, WAIT)  # nothing written: the first checked round settles
        sqs.send_message(QueueUrl=queue, MessageBody="later", DelaySeconds=2)
        since = pump.next_round()
        assert not pump.settled_now()
        assert pump.wait_settled(since, WAIT) and seen == ["later"]
    finally:
        pump.stop()


def test_without_the_background_thread_it_drains(queue):
    seen: list[str] = []
    pump = EventPump.for_app(chained_app(seen, queue))
    put_tweets(4, 5)
    assert pump.wait_settled(pump.next_round(), WAIT)
    assert sorted(seen) == ["4", "5"]
