"""One benchmark run on one graph: the same workload through pull, push and
hybrid, measured with the same meter.

- pull: the naive join of the design brief. Nothing happens on write; a
  home page Queries the reader's follows, then every followee's newest
  tweets, and merges them.
- push: Chirp's fan-out with no celebrity path (threshold out of reach):
  every tweet is copied to every follower's timeline.
- hybrid: Chirp as built: the same fan-out through the real tweets stream
  and fan-out queue (the pump invokes the app's handlers with Lambda-shaped
  events), with authors past the threshold pulled and merged at read time.

Posts run one at a time and the pump is drained after each, so every unit
written between a post and the end of its drain is that post's (fan-out
included), and its fan-out lag is from the tweet's write to the last
timeline write it caused.
"""
import math
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.capacity import CapacityMeter
from bench.graph import Graph
from bench.world import World, celebrities, reset_content, timeline_items, write_users
from chalicelib import settings
from chalicelib.home import feed, ranked, reading
from chalicelib.storage.paging import PageRequest
from chalicelib.storage.tables import FollowModel, TimelineModel, TweetModel, UserModel
from chalicelib.tweets import tweets, views

STRATEGIES = ("pull", "push", "hybrid")
PAGE = 20  # a home page, as a client asks for it
AUTHOR_EXPONENT = 0.5  # who posts: weight (1 + followers) ** 0.5, so big accounts post more, not most
PUSH_THRESHOLD = 10 ** 12  # nobody is a celebrity


@dataclass
class Workload:
    authors: list[int]  # user numbers, one per post, in order
    readers: list[int]  # user numbers, one per home page read


def workload(graph: Graph, posts: int, reads: int, seed: int) -> Workload:
    rng = random.Random(seed + 1)
    counts = graph.follower_counts()
    authors = rng.choices(range(graph.users), [(1 + c) ** AUTHOR_EXPONENT for c in counts], k=posts)
    readers = rng.choices(range(graph.users), k=reads)  # readers as they come: the population's following mix
    return Workload(authors, readers)


@dataclass
class Samples:
    """Per-operation measurements of one strategy."""
    post_write_units: list[float] = field(default_factory=list)
    post_calls: list[int] = field(default_factory=list)
    fanout_lag_s: list[float] = field(default_factory=list)
    author_followers: list[int] = field(default_factory=list)
    read_calls: list[int] = field(default_factory=list)
    read_units: list[float] = field(default_factory=list)
    reader_following: list[int] = field(default_factory=list)
    page_tweets: list[int] = field(default_factory=list)  # tweets on each home page read
    cold_read_calls: list[int] = field(default_factory=list)
    reader_celebrities: list[int] = field(default_factory=list)  # celebrities each reader follows
    # Handler time, for the compute line of the bill: the API's work per post
    # and per home page (timed around the domain call the route makes) and the
    # stream and queue handlers' per post (timed inside the pump).
    post_seconds: list[float] = field(default_factory=list)
    read_seconds: list[float] = field(default_factory=list)
    fanout_seconds: list[float] = field(default_factory=list)
    cold_read_seconds: list[float] = field(default_factory=list)
    ranked_first_calls: list[int] = field(default_factory=list)
    ranked_first_units: list[float] = field(default_factory=list)  # read and write units
    ranked_later_calls: list[int] = field(default_factory=list)
    ranked_later_units: list[float] = field(default_factory=list)
    views: int = 0  # counted by the views consumer from the hybrid home reads
    views_write_units: float = 0.0
    timeline_items: int = 0


def pull_home_page(reader_id: int, limit: int = PAGE) -> list[TweetModel]:
    """The naive join: whom the reader follows, then each one's newest
    tweets (and the reader's own), merged newest first."""
    followees = [int(f.followee_id) for f in FollowModel.query(reader_id, attributes_to_get=["followee_id"])]
    candidates: list[TweetModel] = []
    for author in [reader_id, *followees]:
        candidates += TweetModel.by_author.query(author, scan_index_forward=False, limit=limit,
                                                 page_size=limit)
    return sorted(candidates, key=lambda t: -int(t.id))[:limit]


class HandlerClock:
    """Wall time spent inside the pumped handlers (not in the pump's polling)."""

    def __init__(self):
        self.seconds = 0.0

    def timed(self, handler):
        def run(event, context):
            started = time.perf_counter()
            try:
                return handler(event, context)
            finally:
                self.seconds += time.perf_counter() - started
        return run


def _pump(handlers=("on_tweet_change", "on_job"), clock: HandlerClock | None = None):
    """The app's tweets-stream and fan-out-queue handlers behind one pump
    (the follows stream is not pumped: the graph was written directly)."""
    from chalice import Chalice

    from app import app
    from deploy.event_sources import mapping_policies
    from devstack.pump import EventPump

    view = Chalice(app_name=app.app_name)
    view.event_sources = [s for s in app.event_sources if s.name in handlers]
    clock = clock or HandlerClock()
    view.handler_map = {s.name: clock.timed(app.handler_map[s.name]) for s in view.event_sources}
    return EventPump.for_app(view, {k: v for k, v in mapping_policies().items() if k in view.handler_map})


def run_strategy(name: str, world: World, work: Workload, threshold: int, meter: CapacityMeter,
                 progress) -> Samples:
    """One strategy's samples; the shipped threshold is back afterwards (the
    cost model reads it)."""
    shipped = settings.CELEBRITY_THRESHOLD
    settings.CELEBRITY_THRESHOLD = threshold if name == "hybrid" else PUSH_THRESHOLD
    try:
        return _measure(name, world, work, threshold, meter, progress)
    finally:
        settings.CELEBRITY_THRESHOLD = shipped


def _measure(name: str, world: World, work: Workload, threshold: int, meter: CapacityMeter,
             progress) -> Samples:
    reset_content()
    celebs = celebrities(world, threshold) if name == "hybrid" else set()
    write_users(world, celebs)
    reading._celebrity_cache.clear()
    clock = HandlerClock()
    pump = _pump(clock=clock) if name != "pull" else None
    samples = Samples()
    for i, author in enumerate(work.authors):
        user = UserModel(id=world.ids[author], handle=f"user{author}", display_name=f"User {author}")
        before = meter.snapshot()
        started = time.perf_counter()
        tweets.post_tweet(user, tweets.NewTweet(text=f"Post {i} by user {author}, on the wire."))
        samples.post_seconds.append(time.perf_counter() - started)
        posted = time.monotonic()
        handled = clock.seconds
        if pump:
            pump.drain(timeout=600)
        samples.fanout_seconds.append(clock.seconds - handled)
        after = meter.snapshot()
        samples.post_write_units.append(after[2] - before[2])
        samples.post_calls.append(after[0] - before[0])
        last = meter.last_write.get(TimelineModel.Meta.table_name, 0.0)
        samples.fanout_lag_s.append(max(0.0, last - posted) if pump else 0.0)
        samples.author_followers.append(len(world.followers[author]))
        _tick(progress, f"{name}: posts", i, len(work.authors))
    for i, reader in enumerate(work.readers):
        before = meter.snapshot()
        started = time.perf_counter()
        if pump:
            home = feed.read(world.ids[reader], PageRequest(PAGE))
            samples.page_tweets.append(len(home.tweets))
            if name == "hybrid":  # as the route does: the page's views go to the views queue (no DynamoDB)
                shown = [tweet for tweet, _ in home.tweets]
                views.record(world.ids[reader], shown)
                samples.views += len(views.viewed(world.ids[reader], shown))
        else:
            samples.page_tweets.append(len(pull_home_page(world.ids[reader])))
        samples.read_seconds.append(time.perf_counter() - started)
        after = meter.snapshot()
        samples.read_calls.append(after[0] - before[0])
        samples.read_units.append(after[1] - before[1])
        samples.reader_following.append(len(world.graph.following[reader]))
        _tick(progress, f"{name}: home reads", i, len(work.readers))
    if name == "hybrid":
        # The same readers' ranked pages, the cache as warm as for their chronological ones.
        _ranked_reads(world, work, samples, meter)
        # The chronological pages again with the celebrity cache cold for every read: the worst case.
        for reader in work.readers:
            reading._celebrity_cache.clear()
            before = meter.snapshot()
            started = time.perf_counter()
            feed.read(world.ids[reader], PageRequest(PAGE))
            samples.cold_read_seconds.append(time.perf_counter() - started)
            after = meter.snapshot()
            samples.cold_read_calls.append(after[0] - before[0])
            samples.reader_celebrities.append(sum(f in celebs for f in world.graph.following[reader]))
        _views(samples, meter)
    samples.timeline_items = timeline_items()
    return samples


def _views(samples: Samples, meter: CapacityMeter) -> None:
    """The views the hybrid reads handed off, counted by the app's views
    consumer in Lambda's FIFO batches of 10 messages: its write units."""
    before = meter.snapshot()
    _pump(("on_views",)).drain(timeout=600)
    samples.views_write_units = meter.snapshot()[2] - before[2]


def _ranked_reads(world: World, work: Workload, samples: Samples, meter: CapacityMeter) -> None:
    """The same readers' ranked home timelines: a first page (the celebrity
    cache as warm as the chronological reads left it) and the next page
    from its snapshot, when there is one."""
    for reader in work.readers:
        before = meter.snapshot()
        first = ranked.first_page(world.ids[reader], PAGE)
        middle = meter.snapshot()
        samples.ranked_first_calls.append(middle[0] - before[0])
        samples.ranked_first_units.append(middle[1] - before[1] + middle[2] - before[2])
        if first.snapshot_id is not None:
            ranked.later_page(world.ids[reader], first.snapshot_id, first.offset, PAGE)
            after = meter.snapshot()
            samples.ranked_later_calls.append(after[0] - middle[0])
            samples.ranked_later_units.append(after[1] - middle[1] + after[2] - middle[2])


def _tick(progress, what: str, i: int, total: int) -> None:
    step = max(1, total // 5)
    if (i + 1) % step == 0 or i + 1 == total:
        progress(f"{what} {i + 1}/{total}")


def p(values: Sequence[float], q: float) -> float:
    """The q-quantile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered), math.ceil(len(ordered) * q)) - 1)] if ordered else 0.0


def summary(samples: Samples, users: int) -> dict:
    """The metrics results.json reports per strategy."""
    result = {
        "home_read_calls_mean": statistics.fmean(samples.read_calls),
        "home_read_calls_p99": p(samples.read_calls, 0.99),
        "home_read_units_mean": statistics.fmean(samples.read_units),
        "post_write_units_mean": statistics.fmean(samples.post_write_units),
        "post_write_units_p99": p(samples.post_write_units, 0.99),
        "fanout_lag_s_p50": p(samples.fanout_lag_s, 0.50),
        "fanout_lag_s_p99": p(samples.fanout_lag_s, 0.99),
        "timeline_items_per_user": samples.timeline_items / users,
    }
    if samples.cold_read_calls:
        result["home_read_calls_mean_cold_cache"] = statistics.fmean(samples.cold_read_calls)
    if samples.ranked_first_calls:
        result["ranked_first_page_calls_mean"] = statistics.fmean(samples.ranked_first_calls)
        result["ranked_first_page_calls_max"] = max(samples.ranked_first_calls)
        result["ranked_first_page_units_mean"] = statistics.fmean(samples.ranked_first_units)
    if samples.ranked_later_calls:
        result["ranked_later_page_calls_mean"] = statistics.fmean(samples.ranked_later_calls)
        result["ranked_later_page_calls_max"] = max(samples.ranked_later_calls)
        result["ranked_later_page_units_mean"] = statistics.fmean(samples.ranked_later_units)
    if samples.views:
        result["views_write_units_per_1000"] = 1000 * samples.views_write_units / samples.views
    return result


def binned(xs: Sequence[int], ys: Sequence[float]) -> list[dict]:
    """Means of ys over powers-of-two bins of xs: how a cost grows."""
    bins: dict[int, list[float]] = {}
    for x, y in zip(xs, ys, strict=True):
        bins.setdefault(max(0, x).bit_length(), []).append(y)
    return [{"from": 0 if b == 0 else 2 ** (b - 1), "to": 2 ** b - 1, "n": len(v),
             "mean": statistics.fmean(v)} for b, v in sorted(bins.items())]
