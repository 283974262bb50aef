"""Failure injection on the fan-out path, through botocore event hooks
(conftest.DynamoDBHooks): unprocessed items, throttling, a crash in the
middle of a batch, a poison stream record, and a fan-out job that never
succeeds. Every case ends with nothing lost or, where retries are used up,
with the failure in its on-failure queue (and nothing else held up).

BATCH_WRITE_MAX is lowered so that a few followers make several batches."""
import json

import boto3
import pytest
from support import timeline_entries

from chalicelib import settings
from chalicelib.storage import batches, jobs
from chalicelib.storage.ids import id_timestamp_ms
from chalicelib.storage.tables import TimelineModel
from deploy.event_sources import mapping_policies

TIMELINES = TimelineModel.Meta.table_name


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(settings, "BATCH_WRITE_MAX", 2)
    monkeypatch.setattr(settings, "BATCH_BACKOFF_SECONDS", 0.001)


class Invocations:
    """Wraps the pumped handlers and keeps what each invocation was given:
    stream batches as (event name, tweet or follower id) lists, queue
    batches as job bodies."""

    def __init__(self):
        self.batches: dict[str, list[list]] = {}
        self.current: str | None = None  # the handler running now

    def wrap(self, name, handler):
        def invoke(event, context):
            self.batches.setdefault(name, []).append([_describe(r) for r in event["Records"]])
            self.current = name
            try:
                return handler(event, context)
            finally:
                self.current = None
        return invoke


def _describe(record):
    if "body" in record:
        return json.loads(record["body"])
    change = record["dynamodb"]
    image = change.get("NewImage") or change["OldImage"]
    return record["eventName"], image.get("id", image.get("follower_id"))["N"], change["SequenceNumber"]


@pytest.fixture
def invocations(pump_factory):
    """(Invocations, a pump over every handler, wrapped)."""
    log = Invocations()
    return log, pump_factory(wrap=log.wrap)


@pytest.fixture
def audience(api, make_user, cheap_passwords):
    """alice and 4 followers (5 entries per tweet: 3 batches of 2)."""
    alice, token = make_user("alice")
    followers = []
    for n in range(4):
        follower, follower_token = make_user(f"follower{n}")
        assert api.post("/users/alice/follow", token=follower_token).status == 200
        followers.append(follower)
    return alice, token, followers


def written_items(request: dict) -> list[dict]:
    return [r["PutRequest"]["Item"] for requests in request["RequestItems"].values() for r in requests
            if "PutRequest" in r]


def timeline_writes(request: dict) -> bool:
    return TIMELINES in request["RequestItems"]


def tweet_ids_written(request: dict) -> set[str]:
    return {item["tweet_id"]["N"] for item in written_items(request) if "tweet_id" in item}


# --- unprocessed items and throttling --------------------------------------------------------

def test_unprocessed_items_are_retried_with_backoff_and_nothing_is_lost(
        monkeypatch, make_tweet, audience, invocations, dynamodb_hooks, small_batches, queue_messages):
    alice, token, followers = audience
    log, pump = invocations
    pump.drain()
    calls, raw = [], boto3.client("dynamodb")  # the raw client is not hooked

    def half_at_a_time(request, operation):
        """DynamoDB takes the first half of the first three calls' items."""
        calls.append(sum(len(rs) for rs in request["RequestItems"].values()))
        if len(calls) > 3:
            return None
        (table, items), = request["RequestItems"].items()
        done, left = items[: len(items) // 2], items[len(items) // 2:]
        if done:
            raw.batch_write_item(RequestItems={table: done})
        return dynamodb_hooks.respond({"UnprocessedItems": {table: left}})

    backoffs, backoff = [], batches._backoff
    monkeypatch.setattr(batches, "_backoff", lambda attempt: (backoffs.append(attempt), backoff(attempt)))
    monkeypatch.setattr(settings, "BATCH_WRITE_MAX", 25)
    dynamodb_hooks.on("BatchWriteItem", half_at_a_time)
    tweet = make_tweet(token, "partly processed")["id"]
    pump.drain()

    # 5 entries: 2 taken, then 1 of 3, then 1 of 2, then the last one on the 4th call.
    assert calls == [5, 3, 2, 1]
    assert backoffs == [0, 1, 2]
    assert len(log.batches["on_tweet_change"]) == 1  # absorbed inside the invocation
    for user in (alice, *followers):
        assert timeline_entries(user["id"]) == [tweet]
    assert queue_messages("stream-failures") == []


def test_backoff_is_jittered_and_exponential(monkeypatch):
    bounds, sleeps = [], []
    monkeypatch.setattr(batches.random, "uniform", lambda low, high: (bounds.append((low, high)), high)[1])
    monkeypatch.setattr(batches.time, "sleep", sleeps.append)
    for attempt in range(4):
        batches._backoff(attempt)
    base = settings.BATCH_BACKOFF_SECONDS
    assert bounds == [(0, base), (0, 2 * base), (0, 4 * base), (0, 8 * base)]
    assert sleeps == [base, 2 * base, 4 * base, 8 * base]


def test_items_left_unprocessed_too_often_fail_the_record_which_is_redelivered(
        monkeypatch, make_tweet, audience, invocations, dynamodb_hooks, small_batches, queue_messages):
    alice, token, followers = audience
    log, pump = invocations
    pump.drain()
    monkeypatch.setattr(settings, "BATCH_WRITE_ATTEMPTS", 2)
    refused = []

    def refuse_twice(request, operation):
        if timeline_writes(request) and len(refused) < 2:
            refused.append(request)
            return dynamodb_hooks.respond({"UnprocessedItems": request["RequestItems"]})
        return None

    dynamodb_hooks.on("BatchWriteItem", refuse_twice)
    tweet = make_tweet(token, "refused, then taken")["id"]
    pump.drain()
    assert len(refused) == 2
    assert [len(b) for b in log.batches["on_tweet_change"]] == [1, 1]  # failed once, then delivered
    for user in (alice, *followers):
        assert timeline_entries(user["id"]) == [tweet]
    assert queue_messages("stream-failures") == []


def test_throttling_fails_the_invocation_and_the_retry_converges(
        make_tweet, api, make_user, audience, invocations, dynamodb_hooks, small_batches, queue_messages):
    alice, token, followers = audience
    log, pump = invocations
    pump.drain()
    throttled, budget = [], [2]  # the tweet's fan-out is throttled twice

    def throttle(request, operation):
        if budget[0] > 0:
            budget[0] -= 1
            throttled.append(request)
            raise dynamodb_hooks.error("ThrottlingException", operation)

    dynamodb_hooks.on("BatchWriteItem", throttle)
    tweet = make_tweet(token, "throttled")["id"]
    pump.drain()
    _, late_token = make_user("late")
    budget[0] = 1  # and the backfill of a new follow, once
    assert api.post("/users/alice/follow", token=late_token).status == 200
    pump.drain()
    assert len(throttled) == 3
    assert len(log.batches["on_tweet_change"]) == 3
    assert [len(b) for b in log.batches["on_follow_change"]] == [4, 1, 1]  # the fixture's follows, then twice
    for user in (alice, *followers):
        assert timeline_entries(user["id"]) == [tweet]
    assert timeline_entries(api.get("/users/late").json["id"]) == [tweet]
    assert queue_messages("stream-failures") == []


# --- crashes and redelivery --------------------------------------------------------------------

def test_a_crash_in_the_middle_of_a_batch_then_redelivery_converges(
        api, make_tweet, audience, invocations, dynamodb_hooks, small_batches, queue_messages):
    alice, token, followers = audience
    log, pump = invocations
    pump.drain()
    writes = []

    def crash_on_the_fifth_write(request, operation):
        if timeline_writes(request):
            writes.append(tweet_ids_written(request))
            if len(writes) == 5:  # the 2nd batch of the 2nd tweet: some of its entries are written
                raise RuntimeError("the container died")

    dynamodb_hooks.on("BatchWriteItem", crash_on_the_fifth_write)
    posted = [make_tweet(token, f"tweet {n}")["id"] for n in range(3)]
    pump.drain()

    stream = log.batches["on_tweet_change"]
    # The whole batch, then (bisected) the failed record alone, then the rest.
    assert [[tweet for _, tweet, _ in batch] for batch in stream] == [posted, [posted[1]], [posted[2]]]
    assert writes[3:5] == [{posted[1]}, {posted[1]}]
    for user in (alice, *followers):
        assert timeline_entries(user["id"]) == posted[::-1]
    assert queue_messages("stream-failures") == []


def test_a_fan_out_job_that_crashes_is_redelivered(
        monkeypatch, make_tweet, audience, invocations, dynamodb_hooks, small_batches, queue_messages):
    alice, token, followers = audience
    log, pump = invocations
    monkeypatch.setattr(settings, "FANOUT_PAGE_SIZE", 1)  # 4 pages: the first in the stream, 3 jobs
    pump.drain()
    crashed = []

    def crash_once_in_a_job(request, operation):
        if log.current == "on_job" and timeline_writes(request) and not crashed:
            crashed.append(request)
            raise RuntimeError("the job's container died")

    dynamodb_hooks.on("BatchWriteItem", crash_once_in_a_job)
    tweet = make_tweet(token, "paged")["id"]
    pump.drain()
    assert len(crashed) == 1
    jobs_run = [job for batch in log.batches["on_job"] for job in batch]
    assert len(jobs_run) == 3 + 1  # one page ran twice
    assert {job["kind"] for job in jobs_run} == {"deliver"}
    for user in (alice, *followers):
        assert timeline_entries(user["id"]) == [tweet]
    assert queue_messages("jobs-dlq") == []


# --- what retries cannot fix goes to the on-failure queues ---------------------------------------

def test_a_poison_record_is_isolated_and_sent_to_the_on_failure_queue(
        api, make_user, make_tweet, audience, invocations, dynamodb_hooks, small_batches, queue_messages):
    alice, token, followers = audience
    log, pump = invocations
    pump.drain()
    posted = [make_tweet(token, f"tweet {n}")["id"] for n in range(4)]
    poison = posted[1]

    def reject_poison(request, operation):
        if log.current == "on_tweet_change" and poison in tweet_ids_written(request):
            raise dynamodb_hooks.error("ValidationException", operation)

    dynamodb_hooks.on("BatchWriteItem", reject_poison)
    _, late_token = make_user("late")
    assert api.post("/users/alice/follow", token=late_token).status == 200  # the other stream goes on
    pump.drain()

    stream = log.batches["on_tweet_change"]
    alone = [batch for batch in stream if [tweet for _, tweet, _ in batch] == [poison]]
    retries = mapping_policies()["on_tweet_change"].maximum_retry_attempts
    assert len(alone) == 1 + retries
    [failure] = queue_messages("stream-failures")
    [(_, _, sequence_number)] = alone[0]
    info = failure["DDBStreamBatchInfo"]
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == sum(
        any(tweet == poison for _, tweet, _ in batch) for batch in stream)
    assert (info["batchSize"], info["startSequenceNumber"], info["endSequenceNumber"]) == (
        1, sequence_number, sequence_number)
    others = [t for t in posted if t != poison][::-1]
    for user in (alice, *followers):
        assert timeline_entries(user["id"]) == others
    # The follows stream was not held up; its backfill copies even the poison tweet, which exists.
    assert timeline_entries(api.get("/users/late").json["id"]) == posted[::-1]
    assert api.get(f"/tweets/{poison}").status == 200  # the tweet is fine; its fan-out is what failed


def test_a_fan_out_job_that_keeps_failing_goes_to_the_dead_letter_queue(
        monkeypatch, make_tweet, audience, invocations, dynamodb_hooks, queue_messages):
    alice, token, followers = audience
    log, pump = invocations
    monkeypatch.setattr(settings, "FANOUT_PAGE_SIZE", 3)  # page 1: 3 followers; page 2, a job: the 4th
    pump.drain()

    def fail_every_job(request, operation):
        if log.current == "on_job":
            raise dynamodb_hooks.error("InternalServerError", operation)

    dynamodb_hooks.on("BatchWriteItem", fail_every_job)
    tweet = make_tweet(token, "never delivered by its job")["id"]
    pump.drain()

    jobs_run = [job for batch in log.batches["on_job"] for job in batch]
    assert len(jobs_run) == settings.JOBS_MAX_RECEIVES
    [dead] = queue_messages("jobs-dlq")
    # The author and the first page's followers were carried into the job (fewer than 25).
    newest_first = [int(f["id"]) for f in followers[::-1]]
    assert dead == {"kind": "deliver", "tweet_id": int(tweet), "original_id": None,
                    "author_id": int(alice["id"]),
                    "cursor": dead["cursor"], "carry": [int(alice["id"]), *newest_first[:3]],
                    "written_at": id_timestamp_ms(int(tweet)) / 1000}  # for the fan-out lag metric
    assert all(jobs_run_body == dead for jobs_run_body in jobs_run)
    for user in (alice, *followers):
        assert timeline_entries(user["id"]) == []
    assert queue_messages("stream-failures") == []

    # What lands there can be replayed once the cause is gone.
    dynamodb_hooks.clear()
    jobs.run(json.dumps(dead))
    for user in (alice, *followers):
        assert timeline_entries(user["id"]) == [tweet]
