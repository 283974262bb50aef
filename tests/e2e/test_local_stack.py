"""The local stack over HTTP, as a newcomer would use it after `make run`."""
import re
import time
import warnings

import boto3
import pytest
import requests

from tests.e2e.conftest import start_stack

pytestmark = pytest.mark.e2e

WAIT_SECONDS = 60  # how long to wait for an event: a ceiling, not an expectation (CPU contention)
# @alice's home timeline in the demo world, by author.
DEMO_HOME = ["nasa", "bob", "carol", "bob", "carol", "carol", "alice", "alice", "carol", "bob"]
SETTLED = re.compile(r"^Demo world settled in [\d.]+ s: 13 users, 12 tweets and 2 retweets; fan-out done "
                     r"\(13 pushed to followers' timelines, 1 left to merge on read, (\d+) jobs?\)$", re.M)
LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d ")


def _token(stack) -> str:
    return re.search(r"export TOKEN=(\S+)", stack.output()).group(1)


def test_demo_world_and_printed_token_work(running_stack):
    base, token = running_stack.url, _token(running_stack)
    me = requests.get(f"{base}/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert me.status_code == 200
    assert me.json()["handle"] == "alice"
    assert me.json()["following_count"] == 3  # bob, carol and @nasa
    tweets = requests.get(f"{base}/users/alice/tweets", timeout=30).json()
    assert [t["text"] for t in tweets["data"]] == [
        "Fan-out on write for most, merge on read for the famous. #Serverless",
        "Down the rabbit hole with #DynamoDB Streams today, @bob. https://aws.amazon.com/dynamodb",
    ]
    mention = tweets["data"][1]["entities"]["mentions"][0]
    assert mention["handle"] == "bob" and mention["user_id"] == _user(base, "bob")["id"]
    counts = tweets["data"][0]["counts"]
    assert (counts["likes"], counts["retweets"], counts["replies"]) == (3, 0, 0)
    assert tweets["data"][1]["counts"]["replies"] == 2
    followers = requests.get(f"{base}/users/alice/followers", timeout=30).json()
    assert {u["handle"] for u in followers["data"]} == {"bob", "carol", "dave"}
    # @nasa merged on read; @fan1's tweet once, in @bob's (older) retweet, though @carol retweeted it too.
    home = eventually(lambda: _home(base, {"Authorization": f"Bearer {token}"}),
                      lambda page: [t["author"]["handle"] for t in page["data"]] == DEMO_HOME)
    assert home["data"][1]["retweet_of"]["author"]["handle"] == "fan1"
    assert home["data"][1]["retweet_of"]["counts"]["retweets"] == 2
    assert home["meta"]["partial"] is False



def test_the_console_says_when_the_demo_world_has_settled_then_prints_the_block_whole(running_stack):
    """The settled line comes before the try-it block, and means it: @alice's
    home timeline is complete at once, nothing to wait for. No log line splits
    the block, and every demo account logs in with the password it prints."""
    out = running_stack.output()
    settled = SETTLED.search(out)
    assert settled, out
    assert int(settled.group(1)) >= 1  # @nasa's promotion to the pull path, at least
    block = out[out.index("Try it"):out.index("Chirp API listening")].splitlines()
    assert out.index(settled.group(0)) < out.index("Try it")
    assert not [line for line in block if LOG_LINE.match(line)], block
    assert all(line.startswith("  ") for line in block if not line.startswith(("Try it", "Demo accounts:")))

    auth = {"Authorization": f"Bearer {_token(running_stack)}"}
    assert [t["author"]["handle"] for t in _home(running_stack.url, auth)["data"]] == DEMO_HOME

    handles = re.search(r"^Demo accounts: (.+)$", out, re.M).group(1).split()
    password = re.search(r"^  every demo account's password: (\S+)$", out, re.M).group(1)
    assert len(handles) == 13 and "@nasa" in handles
    for handle in handles:
        login = requests.post(f"{running_stack.url}/auth/login",
                              json={"handle": handle.removeprefix("@"), "password": password}, timeout=30)
        assert login.status_code == 200, (handle, login.text)


def test_ctrl_c_prints_what_the_run_measured():
    """After Ctrl-C, a summary of the metrics the run emitted (no EMF in text
    mode): the demo world's 13 fan-outs, the one home page read here."""
    stack = start_stack()
    try:
        assert SETTLED.search(stack.output()), stack.output()
        auth = {"Authorization": f"Bearer {_token(stack)}"}
        assert len(_home(stack.url, auth)["data"]) == len(DEMO_HOME)
    finally:
        assert stack.stop() == 0
    stack.reader.join(30)  # the output to its end
    out = stack.output()
    summary = out[out.index("Stopping..."):]
    assert re.search(r"^  fan-out lag: p50 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms over 13 tweets fanned out "
                     r"\(nearest rank\)$", summary, re.M), summary
    reads = re.compile(r"^  home timeline reads: 1 page, [\d.]+ DynamoDB calls a page \(mean\)$", re.M)
    assert reads.search(summary), summary
    assert re.search(r"^  jobs run: \d+ \(.*promote 1.*\)$", summary, re.M), summary
    assert re.search(r"^  requests: \d+; errors: 0 failed stream records, 0 failed queue messages, "
                     r"0 5xx responses$", summary, re.M), summary
    assert '"_aws"' not in out  # no EMF line in text mode


def test_the_demo_world_has_a_ranked_home_timeline(running_stack):
    """@alice's ranked home: @carol's liked and quoted tweet first (not the
    newest, @nasa's), with its reasons; no author takes the top three; the
    same items as the chronological timeline; and paging through the
    snapshot while new tweets and likes arrive repeats and skips nothing."""
    base, auth = running_stack.url, {"Authorization": f"Bearer {_token(running_stack)}"}

    def ranked(query=""):
        reply = requests.get(f"{base}/timelines/home?ranked=1{query}", headers=auth, timeout=30)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def carol_first(page):  # the affinity is written by the likes stream: it may lag
        top = page["data"][0] if page["data"] else {}
        return "you often like @carol" in top.get("ranking", {}).get("reasons", [])

    page = eventually(ranked, carol_first)
    top = page["data"][0]
    assert top["text"].startswith("Serverless timelines are mostly about where you pay")
    assert top["ranking"]["reasons"][:2] == ["1 like, 1 quote", "you often like @carol"]
    chronological = _home(base, auth)["data"]
    assert chronological[0]["author"]["handle"] == "nasa" and top["id"] != chronological[0]["id"]
    assert len({t["author"]["handle"] for t in page["data"][:3]}) > 1
    assert sorted(t["id"] for t in page["data"]) == sorted(t["id"] for t in chronological)
    assert page["meta"]["ranked"] is True
    newest = next(t for t in page["data"] if t["author"]["handle"] == "nasa")
    assert newest["ranking"]["reasons"] == ["new"] and newest["ranking"]["score"] < top["ranking"]["score"]

    # Paging three at a time while @bob tweets and @dave likes: the snapshot holds.
    first = ranked("&limit=3")
    seen, cursor = [t["id"] for t in first["data"]], first["meta"]["next_cursor"]
    login = requests.post(f"{base}/auth/login", json={"handle": "bob", "password": "chirp-demo-password"},
                          timeout=30)
    bob = {"Authorization": f"Bearer {login.json()['token']}"}
    late = requests.post(f"{base}/tweets", json={"text": "posted while alice pages"},
                         headers=bob, timeout=30).json()
    requests.post(f"{base}/tweets/{chronological[-1]['id']}/like", headers=bob,
                  timeout=30)
    while cursor:
        body = ranked(f"&limit=3&cursor={cursor}")
        seen += [t["id"] for t in body["data"]]
        cursor = body["meta"]["next_cursor"]
    assert len(seen) == len(set(seen)) and sorted(seen) == sorted(t["id"] for t in chronological)
    eventually(ranked, lambda again: late["id"] in [t["id"] for t in again["data"]])  # a new session sees it
    # The demo world as it was, for the other tests on this stack.
    requests.delete(f"{base}/tweets/{late['id']}", headers=bob, timeout=30)
    requests.delete(f"{base}/tweets/{chronological[-1]['id']}/like", headers=bob,
                    timeout=30)


def _user(base, handle):
    return requests.get(f"{base}/users/{handle}", timeout=30).json()


def _home(base, auth):
    return requests.get(f"{base}/timelines/home", headers=auth, timeout=30).json()


def eventually(read, ok, seconds=WAIT_SECONDS):
    """Polls `read` until `ok` holds (for up to `seconds`); returns the last value read."""
    deadline = time.monotonic() + seconds
    value = read()
    while not ok(value) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = read()
    assert ok(value), value
    return value


def test_a_tweet_reaches_followers_home_timelines_within_seconds(running_stack):
    base = running_stack.url

    def signup(handle):
        body = {"handle": handle, "password": "e2e-password"}
        reply = requests.post(f"{base}/auth/signup", json=body, timeout=30)
        return {"Authorization": f"Bearer {reply.json()['token']}"}

    author, readers = signup("e2e_author"), [signup(f"e2e_reader{n}") for n in range(3)]
    for reader in readers:
        assert requests.post(f"{base}/users/e2e_author/follow", headers=reader, timeout=30).status_code == 200
    tweet = requests.post(f"{base}/tweets", json={"text": "fresh off the wire"}, headers=author,
                          timeout=30).json()
    started = time.monotonic()
    waiting = list(readers)
    while waiting and time.monotonic() - started < WAIT_SECONDS:
        waiting = [r for r in waiting if tweet["id"] not in [t["id"] for t in _home(base, r)["data"]]]
        if waiting:
            time.sleep(0.05)
    took = time.monotonic() - started
    assert not waiting, f"the tweet did not reach every follower's home timeline within {WAIT_SECONDS} s"
    # Typically well under a second. The latency is measured and reported, not asserted: on a machine
    # under heavy CPU contention it is the machine's; `make bench` reports the fan-out lag.
    print(f"fan-out to {len(readers)} followers' home timelines took {took:.2f} s")
    if took >= 3:
        warnings.warn(f"fan-out to {len(readers)} followers took {took:.1f} s (typically under a second)",
                      stacklevel=1)


def test_signup_tweet_follow_over_http(running_stack):
    base = running_stack.url
    signup = requests.post(f"{base}/auth/signup", json={"handle": "e2e_user", "password": "e2e-password"},
                           timeout=30)
    assert signup.status_code == 201
    auth = {"Authorization": f"Bearer {signup.json()['token']}"}
    login = requests.post(f"{base}/auth/login", json={"handle": "E2E_USER", "password": "e2e-password"},
                          timeout=30)
    assert login.status_code == 200
    posted = requests.post(f"{base}/tweets", json={"text": "over the wire"}, headers=auth, timeout=30)
    assert posted.status_code == 201
    assert posted.json()["author"]["handle"] == "e2e_user"
    assert requests.post(f"{base}/users/bob/follow", headers=auth, timeout=30).json() == {"following": True}
    assert requests.get(f"{base}/users/e2e_user", timeout=30).json()["following_count"] == 1
    got = requests.get(f"{base}/tweets/{posted.json()['id']}", timeout=30)
    assert got.json()["text"] == "over the wire"
    deleted = requests.delete(f"{base}/tweets/{posted.json()['id']}", headers=auth, timeout=30)
    assert deleted.status_code == 204
    assert requests.get(f"{base}/tweets/{posted.json()['id']}", timeout=30).status_code == 404


def test_gateway_errors_have_the_contract_shape(running_stack):
    base = running_stack.url
    cases = [
        requests.get(f"{base}/no/such/route", timeout=30),
        requests.get(f"{base}/me", timeout=30),
        requests.get(f"{base}/me", headers={"Authorization": "Bearer nonsense"}, timeout=30),
        requests.put(f"{base}/tweets", timeout=30),
        requests.post(f"{base}/tweets", data="{", headers={"Authorization": "Bearer x"}, timeout=30),
        requests.post(f"{base}/auth/signup", data="{not json", timeout=30),
        requests.post(f"{base}/auth/signup", data=b"x" * (17 * 1024), timeout=30),
    ]
    assert [r.status_code for r in cases] == [404, 401, 401, 404, 401, 400, 413]
    for response in cases:
        error = response.json()["error"]
        assert set(error) == {"code", "message"} and error["message"]


def test_uses_an_existing_endpoint_and_creates_missing_tables(moto_endpoint):
    stack = start_stack({"AWS_ENDPOINT_URL": moto_endpoint, "CHIRP_STAGE": "e2eexisting", "DEMO": "0"})
    try:
        assert "existing endpoint" in stack.output()
        assert requests.get(f"{stack.url}/health", timeout=30).json() == {"status": "ok"}
        names = boto3.client("dynamodb").list_tables()["TableNames"]
        assert "chirp-e2eexisting-tweets" in names
    finally:
        assert stack.stop() == 0


def test_ctrl_c_stops_everything_cleanly():
    stack = start_stack({"DEMO": "0"})
    assert stack.stop() == 0
    stack.reader.join(30)
    assert "Stopping..." in stack.output()
    assert "  fan-out lag: none (no tweet fanned out)\n  home timeline reads: none\n" in stack.output()
    try:
        requests.get(f"{stack.url}/health", timeout=2)
        raise AssertionError("the server still answers after Ctrl-C")
    except requests.ConnectionError:
        pass


def test_the_redrive_command_brings_back_a_parked_record(running_stack):
    """`make redrive` against the running stack: a tweet's stream record
    parked on stream-failures (as Lambda describes a batch that ran out of
    retries) is re-read from the stream and fanned out again."""
    import json
    import os
    import subprocess
    import sys

    from tests.e2e.conftest import ROOT

    base = running_stack.url
    endpoint = re.search(r"AWS endpoint \([^)]*\): (\S+)", running_stack.output()).group(1)
    aws = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "testing",
           "aws_secret_access_key": "testing"}

    def signup(handle):
        reply = requests.post(f"{base}/auth/signup", json={"handle": handle, "password": "e2e-password"},
                              timeout=30)
        return {"Authorization": f"Bearer {reply.json()['token']}"}, reply.json()["user"]["id"]

    (author, _), (reader, reader_id) = signup("redrive_author"), signup("redrive_reader")
    # The follow's backfill runs on the follows stream, which may lag the tweets
    # stream: it is waited for (only it can bring the earlier tweet, fanned out
    # before the follow) so that it cannot bring the parked tweet back before
    # the redrive does.
    earlier = requests.post(f"{base}/tweets", json={"text": "before the follow"}, headers=author,
                            timeout=30).json()
    eventually(lambda: _home(base, author), lambda page: [t["id"] for t in page["data"]] == [earlier["id"]])
    assert requests.post(f"{base}/users/redrive_author/follow", headers=reader, timeout=30).status_code == 200
    eventually(lambda: _home(base, reader), lambda page: [t["id"] for t in page["data"]] == [earlier["id"]])
    tweet = requests.post(f"{base}/tweets", json={"text": "parked, then redriven"}, headers=author,
                          timeout=30).json()
    eventually(lambda: _home(base, reader),
               lambda page: [t["id"] for t in page["data"]] == [tweet["id"], earlier["id"]])

    # As if its fan-out had failed for good: the entry is not there, the batch is described.
    dynamodb, streams, sqs = (boto3.client(s, **aws) for s in ("dynamodb", "dynamodbstreams", "sqs"))
    tables = {n.rsplit("-", 1)[-1]: n for n in dynamodb.list_tables()["TableNames"]}
    dynamodb.delete_item(TableName=tables["timelines"],
                         Key={"user_id": {"N": reader_id}, "tweet_id": {"N": tweet["id"]}})
    assert [t["id"] for t in _home(base, reader)["data"]] == [earlier["id"]]
    arn = dynamodb.describe_table(TableName=tables["tweets"])["Table"]["LatestStreamArn"]
    def records(shard):
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        return streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]

    shards = [s["ShardId"] for s in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]]
    [(shard, record)] = [(shard, r) for shard in shards for r in records(shard)
                         if r["eventName"] == "INSERT" and r["dynamodb"]["Keys"]["id"]["N"] == tweet["id"]]
    number = record["dynamodb"]["SequenceNumber"]
    failures_queue = tables["tweets"].replace("-tweets", "-stream-failures")
    failures = sqs.get_queue_url(QueueName=failures_queue)["QueueUrl"]
    sqs.send_message(QueueUrl=failures, MessageBody=json.dumps({"DDBStreamBatchInfo": {
        "shardId": shard, "startSequenceNumber": number, "endSequenceNumber": number, "batchSize": 1,
        "streamArn": arn}}))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "CHIRP_", "PYTEST_"))}
    done = subprocess.run([sys.executable, "-m", "devstack.redrive"], cwd=ROOT, capture_output=True,
                          text=True, env={**env, "AWS_ENDPOINT_URL": endpoint}, timeout=120)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "stream-failures: 1 found, 1 processed" in done.stdout, done.stdout
    assert [t["id"] for t in _home(base, reader)["data"]] == [tweet["id"], earlier["id"]]
