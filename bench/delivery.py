"""Delivery at scale (issue 12, item 4): one author with many followers posts.

The followers and their follows are written straight into the embedded
moto, as bench.world writes the benchmark's graph; each post then goes through
`tweets.post_tweet`, the real tweets stream and the real jobs queue (the
app's handlers behind the event pump, drained after each post). Per post:

- BatchWriteItem calls on the timelines table, against the promise
  ceil((F_active + 1) / 25): the author's own entry rides in the first
  batch, inactive followers get none, and a page's leftover recipients are
  carried into the next page's job;
- jobs sent (`deliver` jobs: one per page of FANOUT_PAGE_SIZE followers
  after the first, which the stream handler does itself);
- lag from the tweet's write to the last timeline write (monotonic clock,
  as bench.run measures it, on the embedded moto: a shape, not AWS's time);
- the peak memory of one handler invocation (tracemalloc around each
  invocation, the first few of one extra post so that tracing does not
  slow the timed ones). moto runs in this process, so the peak includes what the embedded
  moto allocates serving the invocation's calls (the items it stores
  included): an upper bound on the handler's own. It is measured at two
  follower counts to show it is flat in F: an invocation handles one page.

Then the same author, past CELEBRITY_THRESHOLD (in the `celebrity` state,
its followers listing it among their pulled celebrities, as bench.world
writes celebrities), with more followers still: a post writes only the
author's own entry (no fan-out, no jobs), and a follower's home page costs
the same calls before and after it.
"""
import math
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import boto3
import requests

from bench import world
from bench.capacity import CapacityMeter
from bench.run import p
from chalicelib import settings
from chalicelib.accounts import activity
from chalicelib.home import celebrities, feed, reading
from chalicelib.storage import jobs
from chalicelib.storage.ids import new_id
from chalicelib.storage.paging import PageRequest
from chalicelib.storage.tables import FollowModel, TimelineModel, UserModel
from chalicelib.tweets import tweets
from devstack.metering import dynamodb_clients
from devstack.resources import ensure_queues, ensure_tables

SIZES = (2_000, 10_000)  # followers of the pushing author: two sizes, to show memory flat in F
QUICK_SIZES = (1_000, 2_000)
CELEBRITY_FOLLOWERS = 50_000
QUICK_CELEBRITY_FOLLOWERS = 2_000
POSTS = 4  # timed posts per size (p50 and p99 of the lag over these; each costs ~20 s at 10,000)
QUICK_POSTS = 3
# Handler invocations traced (the stream handler's page, then jobs'): tracing
# slows an invocation about sevenfold, and every invocation handles one page.
TRACED = 2  # the stream handler's page and one job: enough to show the peak flat in F
QUICK_TRACED = 1
INACTIVE_EVERY = 10  # every tenth follower idle for longer than ACTIVE_DAYS: F_active = 0.9 F
READERS = 5  # followers whose home page is read before and after the celebrity's post


# --- the pure parts ---------------------------------------------------------------------------------

def expected_batches(active_followers: int, batch: int = 25) -> int:
    """BatchWriteItem calls of one fan-out: the author's own entry and one
    per active follower, 25 to a call."""
    return math.ceil((active_followers + 1) / batch)


def expected_jobs(followers: int, page: int) -> int:
    """`deliver` jobs of one fan-out: a page of followers per job, after
    the first page (which the stream handler delivers itself)."""
    return max(0, math.ceil(followers / page) - 1)


def active_count(followers: int, inactive_every: int) -> int:
    """Followers left active when every `inactive_every`-th one is idle."""
    return followers - followers // inactive_every if inactive_every else followers


@dataclass
class Post:
    """One post's measurements."""
    batch_writes: int  # BatchWriteItem calls on the timelines table
    timeline_items: int  # entries those calls put
    jobs: int  # deliver jobs sent
    lag_s: float  # tweet written -> last timeline write


@dataclass
class Size:
    followers: int
    active: int
    posts: list[Post] = field(default_factory=list)
    peak_bytes: int = 0  # max over the traced post's handler invocations
    invocations: int = 0  # handler invocations of the traced post
    load_s: float = 0.0  # writing the followers and follows


def summary(size: Size, batch: int = 25, page: int = 1000) -> dict:
    """What results.json reports for one follower count."""
    want_batches, want_jobs = expected_batches(size.active, batch), expected_jobs(size.followers, page)
    lags = [post.lag_s for post in size.posts]
    return {
        "followers": size.followers, "active_followers": size.active, "posts": len(size.posts),
        "batch_write_calls": sorted({post.batch_writes for post in size.posts}),
        "batch_write_calls_expected": want_batches,
        "batch_writes_match": all(post.batch_writes == want_batches for post in size.posts),
        "timeline_entries_per_post": sorted({post.timeline_items for post in size.posts}),
        "jobs": sorted({post.jobs for post in size.posts}), "jobs_expected": want_jobs,
        "jobs_match": all(post.jobs == want_jobs for post in size.posts),
        "lag_s_p50": p(lags, 0.50), "lag_s_p99": p(lags, 0.99),
        "peak_invocation_bytes": size.peak_bytes, "invocations_traced": size.invocations,
        "load_seconds": round(size.load_s, 1),
    }


# --- counting ----------------------------------------------------------------------------------------

class _Counts:
    """BatchWriteItem calls and put entries on the timelines table, and jobs
    sent by kind, while installed."""

    def __init__(self):
        self.timeline_batches = 0
        self.timeline_items = 0
        self.jobs: Counter[str] = Counter()
        self._clients: list = []
        self._send = jobs.send

    def _batch(self, params, **_):
        entries = params.get("RequestItems", {}).get(TimelineModel.Meta.table_name)
        if entries is not None:
            self.timeline_batches += 1
            self.timeline_items += sum("PutRequest" in e for e in entries)

    def __enter__(self) -> "_Counts":
        send = self._send

        def counting(kind: str, delay_seconds: int = 0, **fields) -> None:
            self.jobs[kind] += 1
            send(kind, delay_seconds, **fields)

        jobs.send = counting  # feed calls jobs.send through the module
        self._clients = dynamodb_clients()
        for client in self._clients:
            client.meta.events.register("before-parameter-build.dynamodb.BatchWriteItem", self._batch)
        return self

    def __exit__(self, *exc) -> None:
        jobs.send = self._send
        for client in self._clients:
            client.meta.events.unregister("before-parameter-build.dynamodb.BatchWriteItem", self._batch)

    def window(self) -> tuple[int, int, int]:
        return self.timeline_batches, self.timeline_items, self.jobs["deliver"]


class _Peak:
    """The traced memory one handler invocation peaks at, above where it started."""

    def __init__(self):
        self.left = 0  # invocations still to trace
        self.peak = 0
        self.invocations = 0

    def wrap(self, _name: str, handler: Callable) -> Callable:
        def invoke(event, context):
            if self.left <= 0:
                return handler(event, context)
            self.left -= 1
            tracemalloc.start()
            try:
                return handler(event, context)
            finally:
                self.peak = max(self.peak, tracemalloc.get_traced_memory()[1])
                self.invocations += 1
                tracemalloc.stop()
        return invoke


def _pump(wrap: Callable):
    """The tweets-stream and jobs-queue handlers, wrapped, behind one pump."""
    from chalice import Chalice

    from app import app
    from deploy.event_sources import mapping_policies
    from devstack.pump import EventPump

    names = ("on_tweet_change", "on_job")
    view = Chalice(app_name=app.app_name)
    view.event_sources = [s for s in app.event_sources if s.name in names]
    view.handler_map = {s.name: wrap(s.name, app.handler_map[s.name]) for s in view.event_sources}
    return EventPump.for_app(view, {k: v for k, v in mapping_policies().items() if k in view.handler_map})


# --- the world ---------------------------------------------------------------------------------------

def _fresh(endpoint: str) -> None:
    requests.post(f"{endpoint}/moto-api/reset", timeout=30).raise_for_status()
    ensure_tables(boto3.client("dynamodb"))
    ensure_queues(boto3.client("sqs"))
    reading._celebrity_cache.clear()


def _author(author_id: int, followers: int, celebrity: bool) -> UserModel:
    return UserModel(id=author_id, handle="author", display_name="The Author", bio="", password_hash="-",
                     followers_count=followers, following_count=0, tweets_count=0,
                     last_active_day=activity.today(),
                     celebrity_state=celebrities.CELEBRITY if celebrity else None)


def _world(author_id: int, followers: int, inactive_every: int, celebrity: bool) -> list[int]:
    """The author and `followers` followers (every `inactive_every`-th one
    idle past ACTIVE_DAYS), each following the author only; their ids."""
    today, idle = activity.today(), activity.today() - settings.ACTIVE_DAYS - 1
    ids = [new_id() for _ in range(followers)]
    users = [_author(author_id, followers, celebrity)]
    users += [UserModel(
        id=user, handle=f"follower{n}", display_name=f"Follower {n}", bio="", password_hash="-",
        followers_count=0, following_count=1, tweets_count=0,
        last_active_day=idle if inactive_every and n % inactive_every == inactive_every - 1 else today,
        celebrity_followees={author_id} if celebrity else None)
        for n, user in enumerate(ids)]
    world.write_directly(UserModel.Meta.table_name, users)
    world.write_directly(FollowModel.Meta.table_name, (
        FollowModel(follower_id=user, followee_id=author_id, follow_id=new_id()) for user in ids))
    return ids


def _post(author: UserModel, text: str, pump, meter: CapacityMeter, counts: _Counts) -> Post:
    before = counts.window()
    tweets.post_tweet(author, tweets.NewTweet(text=text))
    posted = time.monotonic()
    pump.drain(timeout=600)
    after = counts.window()
    lag = max(0.0, meter.last_write.get(TimelineModel.Meta.table_name, 0.0) - posted)
    return Post(after[0] - before[0], after[1] - before[1], after[2] - before[2], lag)


# --- the runs ------------------------------------------------------------------------------------------

def run_push(endpoint: str, followers: int, posts: int, traced: int, progress) -> Size:
    """The author below the threshold: every post fans out to the active followers."""
    _fresh(endpoint)
    started = time.monotonic()
    author_id = new_id()
    _world(author_id, followers, INACTIVE_EVERY, celebrity=False)
    size = Size(followers, active_count(followers, INACTIVE_EVERY), load_s=time.monotonic() - started)
    author = _author(author_id, followers, celebrity=False)
    peak = _Peak()
    pump = _pump(peak.wrap)
    with CapacityMeter() as meter, _Counts() as counts:
        for i in range(posts):
            size.posts.append(_post(author, f"Post {i} to {followers:,} followers.", pump, meter, counts))
            progress(f"delivery: {followers:,} followers, post {i + 1}/{posts}: "
                     f"{size.posts[-1].batch_writes} batch writes, lag {size.posts[-1].lag_s:.2f} s")
        peak.left = traced
        _post(author, "One more, its first invocations traced.", pump, meter, counts)
    size.peak_bytes, size.invocations = peak.peak, peak.invocations
    return size


def run_celebrity(endpoint: str, followers: int, progress) -> dict:
    """The author past the threshold: a post writes its own entry only, and
    followers' home reads cost what they did before it."""
    _fresh(endpoint)
    started = time.monotonic()
    author_id = new_id()
    ids = _world(author_id, followers, 0, celebrity=True)
    load_s = time.monotonic() - started
    progress(f"delivery: celebrity with {followers:,} followers written in {load_s:.1f} s")
    threshold = settings.CELEBRITY_THRESHOLD
    settings.CELEBRITY_THRESHOLD = min(threshold, followers // 2)
    author = _author(author_id, followers, celebrity=True)
    readers = ids[:: max(1, len(ids) // READERS)][:READERS]
    try:
        pump = _pump(lambda _name, handler: handler)
        with CapacityMeter() as meter, _Counts() as counts:
            _post(author, "An earlier post.", pump, meter, counts)  # so reads before have a pulled tweet
            before_cold, before_warm = _reads(readers, meter)
            post = _post(author, f"A post to {followers:,} followers, pulled.", pump, meter, counts)
            after_cold, after_warm = _reads(readers, meter)
    finally:
        settings.CELEBRITY_THRESHOLD = threshold
        reading._celebrity_cache.clear()
    return {
        "followers": followers, "celebrity_threshold": min(threshold, followers // 2),
        "batch_write_calls": post.batch_writes, "timeline_entries": post.timeline_items,
        "follower_timeline_entries": post.timeline_items - 1, "jobs": post.jobs,
        "readers": len(readers),
        "home_read_calls_before": before_cold, "home_read_calls_after": after_cold,
        "home_read_calls_before_warm": before_warm, "home_read_calls_after_warm": after_warm,
        "read_cost_unchanged": before_cold == after_cold and before_warm == after_warm,
        "load_seconds": round(load_s, 1),
    }


def _reads(readers: Sequence[int], meter: CapacityMeter) -> tuple[list[int], list[int]]:
    """Each reader's first home page: its calls with the celebrity cache
    cold, then warm."""
    cold: list[int] = []
    warm: list[int] = []
    for reader in readers:
        for calls in (cold, warm):
            if calls is cold:
                reading._celebrity_cache.clear()
            before = meter.snapshot()[0]
            feed.read(reader, PageRequest(20))
            calls.append(meter.snapshot()[0] - before)
    return cold, warm


def follower_counts(text: str | None, quick: bool) -> tuple[list[int], int]:
    """The pushing author's follower counts and the celebrity's: BENCH_DELIVERY
    ("2000,10000:50000") or the preset."""
    if text:
        pushed, celebrity = text.split(":")
        return [int(n) for n in pushed.split(",")], int(celebrity)
    return (list(QUICK_SIZES), QUICK_CELEBRITY_FOLLOWERS) if quick else (list(SIZES), CELEBRITY_FOLLOWERS)


def measure(endpoint: str, quick: bool, progress, counts: str | None = None) -> dict:
    started = time.monotonic()
    posts, traced = (QUICK_POSTS, QUICK_TRACED) if quick else (POSTS, TRACED)
    pushed, celebrity_followers = follower_counts(counts, quick)
    sizes = [summary(run_push(endpoint, f, posts, traced, progress), settings.BATCH_WRITE_MAX,
                     settings.FANOUT_PAGE_SIZE)
             for f in pushed]
    celebrity = run_celebrity(endpoint, celebrity_followers, progress)
    return {
        "push": sizes, "celebrity": celebrity,
        "fanout_page_size": settings.FANOUT_PAGE_SIZE, "batch_write_max": settings.BATCH_WRITE_MAX,
        "inactive_share": 1 / INACTIVE_EVERY,
        "peak_memory": f"tracemalloc peak of one handler invocation (the first {traced} of one more "
                       "post: the stream handler's page, then jobs'); includes the in-process moto "
                       "serving it",
        "seconds": round(time.monotonic() - started, 1),
    }


def lines(result: dict) -> list[str]:
    """The printed summary."""
    out = []
    for s in result["push"]:
        out.append(
            f"delivery to {s['followers']:,} followers ({s['active_followers']:,} active): "
            f"{'/'.join(map(str, s['batch_write_calls']))} BatchWriteItem "
            f"(ceil((F_active + 1) / 25) = {s['batch_write_calls_expected']}), "
            f"{'/'.join(map(str, s['jobs']))} jobs (expected {s['jobs_expected']}), "
            f"lag p50 {s['lag_s_p50']:.2f} s p99 {s['lag_s_p99']:.2f} s, "
            f"peak {s['peak_invocation_bytes'] / 2 ** 20:.1f} MiB per invocation")
    c = result["celebrity"]
    out.append(
        f"celebrity with {c['followers']:,} followers: a post writes {c['timeline_entries']} timeline entry "
        f"({c['follower_timeline_entries']} to followers), {c['jobs']} jobs; home read calls before "
        f"{c['home_read_calls_before']} after {c['home_read_calls_after']} (cold cache), "
        f"{c['home_read_calls_before_warm']} / {c['home_read_calls_after_warm']} (warm)")
    return out
