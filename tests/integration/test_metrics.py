"""What an operator graphs: the metrics a known scenario emits, with the
right values (chalicelib.observe.metrics; one EMF line per invocation)."""
import json
import math

import pytest

from chalicelib import settings
from chalicelib.observe import metrics

FOLLOWERS = 30


def emitted(out: str) -> dict[str, float]:
    """Sums of each metric over the EMF lines written, by name (and by
    name/dimension=value for the ones with an extra dimension)."""
    sums: dict[str, float] = {}
    for line in out.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == settings.METRICS_NAMESPACE
            extra = [d for d in directive["Dimensions"][0] if d not in ("service", "stage")]
            assert blob["stage"] == settings.STAGE and blob["service"] == "chirp"
            for metric in directive["Metrics"]:
                name = metric["Name"] + "".join(f"/{d}={blob[d]}" for d in extra)
                values = blob[metric["Name"]]
                sums[name] = sums.get(name, 0) + sum(values if isinstance(values, list) else [values])
    return sums


@pytest.fixture
def audience(api, make_user, pump, cheap_passwords, capsys):
    author, token = make_user("author")
    for n in range(FOLLOWERS):
        _, follower_token = make_user(f"follower{n}")
        assert api.post("/users/author/follow", token=follower_token).status == 200
    pump.drain()
    capsys.readouterr()  # what the set-up emitted
    return author, token


def test_a_post_emits_its_fan_out(audience, make_tweet, pump, capsys):
    _, token = audience
    make_tweet(token, "counted")
    pump.drain()
    sums = emitted(capsys.readouterr().out)
    assert sums["FanoutRecipients"] == FOLLOWERS + 1  # and the author's own entry
    assert sums["FanoutBatchWrites"] == math.ceil((FOLLOWERS + 1) / 25)
    assert sums["FanoutUnprocessedRetries"] == 0
    assert sums["FanoutLag"] >= 0
    assert sums["StreamBatchRecords"] >= 1
    assert "StreamRecordFailures" not in sums


def test_fan_out_pages_are_jobs_counted_by_kind(audience, make_tweet, pump, capsys, monkeypatch):
    _, token = audience
    monkeypatch.setattr(settings, "FANOUT_PAGE_SIZE", 7)
    make_tweet(token, "paged")
    pump.drain()
    sums = emitted(capsys.readouterr().out)
    assert sums["Jobs/job_kind=deliver"] == math.ceil(FOLLOWERS / 7) - 1
    assert sums["FanoutRecipients"] == FOLLOWERS + 1
    assert sums["FanoutBatchWrites"] == math.ceil((FOLLOWERS + 1) / 25)  # carried over the pages
    assert sums["QueueBatchMessages"] == math.ceil(FOLLOWERS / 7) - 1
    assert sums["FanoutLag"] >= 0  # once: on the last page


def test_celebrity_cache_hits_and_misses(make_user, monkeypatch):
    from chalicelib.home import reading

    author, _ = make_user()
    monkeypatch.setattr(reading, "_celebrity_cache", {})
    metrics.flush()
    reading._celebrity_recent(int(author["id"]))
    reading._celebrity_recent(int(author["id"]))
    assert metrics.metrics.metric_set["CelebrityCacheMisses"]["Value"] == [1.0]
    assert metrics.metrics.metric_set["CelebrityCacheHits"]["Value"] == [1.0]
    metrics.flush()


def test_a_failed_stream_record_is_counted(capsys):
    from chalicelib.events import consumers

    def handle(record):
        raise ValueError("no")

    records = [{"eventName": "INSERT", "dynamodb": {"SequenceNumber": str(n)}} for n in (1, 2)]
    consumers.stream_batch({"Records": records}, handle)
    metrics.flush()
    sums = emitted(capsys.readouterr().out)
    assert sums["StreamBatchRecords"] == 2 and sums["StreamRecordFailures"] == 1


def test_the_first_invocation_of_a_process_is_a_cold_start(monkeypatch, capsys):
    monkeypatch.setattr(metrics, "_cold", True)
    metrics.started()
    metrics.started()
    metrics.flush()
    assert emitted(capsys.readouterr().out)["ColdStart"] == 1


def test_unprocessed_items_retries_are_counted(audience, make_tweet, pump, capsys, dynamodb_hooks,
                                               no_backoff):
    """DynamoDB leaves half of the first call's items unprocessed: one retry."""
    import boto3

    _, token = audience
    calls, raw = [], boto3.client("dynamodb")  # the raw client is not hooked

    def half_of_the_first(request, operation):
        calls.append(1)
        if len(calls) > 1:
            return None
        (table, items), = request["RequestItems"].items()
        raw.batch_write_item(RequestItems={table: items[: len(items) // 2]})
        return dynamodb_hooks.respond({"UnprocessedItems": {table: items[len(items) // 2:]}})

    dynamodb_hooks.on("BatchWriteItem", half_of_the_first)
    make_tweet(token, "partly processed")
    pump.drain()
    sums = emitted(capsys.readouterr().out)
    assert sums["FanoutUnprocessedRetries"] == 1
    assert sums["FanoutBatchWrites"] == math.ceil((FOLLOWERS + 1) / 25) + 1
    assert sums["FanoutRecipients"] == FOLLOWERS + 1


def test_a_home_read_counts_its_rounds_and_the_stale_entries_it_dropped(api, make_user, make_tweet, pump,
                                                                       capsys):
    """An entry whose tweet is gone is dropped (and deleted) by the read."""
    from chalicelib.home import entries
    from chalicelib.storage.ids import new_id
    from chalicelib.tweets.tweets import Ref

    reader, token = make_user()
    make_tweet(token, "mine")
    pump.drain()
    entries.add([entries.put_request(int(reader["id"]), Ref(new_id(), None), int(reader["id"]))])
    capsys.readouterr()
    assert len(api.get("/timelines/home", token=token).json["data"]) == 1
    sums = emitted(capsys.readouterr().out)
    assert sums["HomeReadStaleDropped"] == 1
    assert sums["HomeReadRounds"] == 1
    assert api.get("/timelines/home", token=token).status == 200
    assert "HomeReadStaleDropped" not in emitted(capsys.readouterr().out)  # deleted by the first read


def test_a_home_page_counts_the_dynamodb_calls_it_made(make_user, make_tweet, follow, pump, api,
                                                       monkeypatch, cheap_passwords):
    """The metric is the read's calls as devstack's meter counts them on every
    client: a followed celebrity (a Query of its own, with no pull cache), a
    retweet (a by-original Query), the hydration (BatchGetItem)."""
    from chalicelib.home import feed, ranked
    from chalicelib.storage.paging import PageRequest
    from devstack.metering import DynamoDBCalls

    monkeypatch.setattr(settings, "CELEBRITY_THRESHOLD", 2)
    monkeypatch.setattr(settings, "CELEBRITY_CACHE_SECONDS", 0)
    star, star_token = make_user("star")
    reader, token = make_user("reader")
    _, friend_token = make_user("friend")
    for who in (token, friend_token):
        follow(who, "star")
    follow(token, "friend")
    pump.drain()
    original = make_tweet(star_token, "famous")
    assert api.post(f"/tweets/{original['id']}/retweet", token=friend_token).status == 201
    pump.drain()
    metrics.flush()
    for read, name in ((lambda: feed.read(int(reader["id"]), PageRequest(20, None, None)), "HomeReadCalls"),
                       (lambda: ranked.first_page(int(reader["id"]), 20), "RankedReadCalls")):
        with DynamoDBCalls() as meter:
            read()
        assert meter.counts["Query"] >= 2  # the timeline and the celebrity at least
        assert metrics.metrics.metric_set[name]["Value"] == [meter.total]
    metrics.flush()


def test_a_scenario_shows_in_the_logs_and_the_metrics(api, make_user, make_tweet, follow, unfollow, pump,
                                                      capsys, dynamodb_hooks):
    """Issue 13's scenario: a post, a follow, an unfollow, a like and a
    stream record that fails once (then succeeds on redelivery): one access
    line per request with its caller and tweet, one ERROR line naming the
    failed record, and the metrics' values."""
    from support import logged_lines

    alice, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    carol, carol_token = make_user("carol")
    follow(bob_token, "alice")
    pump.drain()
    capsys.readouterr()
    with logged_lines() as lines:
        tweet = make_tweet(alice_token, "hello followers")
        pump.drain()
        follow(carol_token, "alice")
        pump.drain()
        unfollow(carol_token, "alice")
        pump.drain()
        assert api.post(f"/tweets/{tweet['id']}/like", token=bob_token).status == 200
        failed = []

        def once(request, operation):  # the like's first delivery fails at DynamoDB
            if not failed:
                failed.append(operation)
                raise dynamodb_hooks.error("InternalServerError", operation)

        dynamodb_hooks.on("UpdateItem", once)
        pump.drain()
    sums = emitted(capsys.readouterr().out)

    access = [(r["method"], r["route"], r["status"], r.get("user_id"), r.get("tweet_id"))
              for r in lines.records if "route" in r]  # chirp.access's lines
    assert access == [
        ("POST", "/tweets", 201, int(alice["id"]), int(tweet["id"])),
        ("POST", "/users/{handle}/follow", 200, int(carol["id"]), None),
        ("DELETE", "/users/{handle}/follow", 200, int(carol["id"]), None),
        ("POST", "/tweets/{tweet_id}/like", 200, int(bob["id"]), None),
    ]
    [error] = [r for r in lines.records if r["level"] == "ERROR"]
    assert error["message"].startswith("stream record") and error["event_name"] == "INSERT"
    assert error["sequence_number"] and "InternalServerError" in error["exception"]
    assert failed == ["UpdateItem"]

    assert sums["FanoutRecipients"] == 2  # alice's own timeline and bob's
    assert sums["FanoutBatchWrites"] == 1
    assert sums["FanoutLag"] >= 0
    assert sums["StreamRecordFailures"] == 1
    # tweets 1, follows 2, likes 1, then the like again after its failure
    assert sums["StreamBatchRecords"] >= 5
    assert "QueueMessageFailures" not in sums
