"""What running Chirp costs per month, across workloads, from per-operation
costs measured in the run.

The benchmark measures what one operation costs on its graph: write units
of a tweet's own transaction, per follower written, per timeline page read,
per followee a naive pull Queries, per followed celebrity pulled, and the
handler time of each. This module projects those onto a population of any
size: expected follower counts from the benchmark's own Zipf popularity
law, posts weighted as the benchmark weights them, home reads uniform over
users. So the bill is a function of the workload (home reads per post, mean
accounts followed) and the celebrity threshold, not of one graph.

The in-container celebrity cache is modelled, not assumed away: the home
function runs on C = reads/s x read time containers (Little's law), and a
celebrity whose followers read Lambda times a second is Queried
Lambda / (1 + Lambda x TTL / C) times a second (each container misses once,
then holds the entry for TTL seconds).

Prices are AWS's public list prices for us-east-1 (N. Virginia) as of the
date below: DynamoDB on-demand after its 1 November 2024 price cut, Lambda
on x86, API Gateway REST APIs in their first tier, SQS standard. Free tiers
are ignored. Check https://aws.amazon.com/dynamodb/pricing/, /lambda/pricing/,
/api-gateway/pricing/ and /sqs/pricing/ before relying on them.
"""
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from bench import capacity
from bench import graph as graphs
from bench.run import AUTHOR_EXPONENT, PAGE
from chalicelib import settings

PRICES = {
    "as_of": "2026-11-21 (unchanged since the 2024-11-01 DynamoDB on-demand cut)",
    "region": "us-east-1",
    "dynamodb_per_million_write_request_units": 0.625,
    "dynamodb_per_million_read_request_units": 0.125,
    "dynamodb_storage_per_gb_month": 0.25,
    "lambda_per_million_requests": 0.20,
    "lambda_per_gb_second": 0.0000166667,
    "api_gateway_rest_per_million_requests": 3.50,
    "sqs_per_million_requests": 0.40,
}

# The default workload. Reads per post is the published figure: Twitter's
# timeline service in 2013 served about 300,000 timeline reads a second
# against about 5,000 new tweets a second on average (Raffi Krikorian,
# "Timelines at Scale", QCon San Francisco 2012; InfoQ, 2013): 60 reads per
# post. The population is a round million daily users posting once a day;
# mean following is an assumption (the "realistic graph"), and the
# map shows 25 to 1,000.
WORKLOAD = {
    "daily_active_users": 1_000_000,
    "posts_per_user_per_day": 1,
    "home_reads_per_post": 60,
    "following_mean": 100,
    "celebrity_threshold": settings.CELEBRITY_THRESHOLD,
    "celebrity_cache_seconds": settings.CELEBRITY_CACHE_SECONDS,
    "days_per_month": 30,
    "lambda_memory_gb": 1.0,  # the API's and the fan-out's memory (.chalice/config.json: 1,024 MB)
    "stream_batch_size": 100,  # tweets per stream invocation at load (the mapping's batch size)
    "fanout_page_size": settings.FANOUT_PAGE_SIZE,  # followers per fan-out job after the first page
    "timeline_max": settings.TIMELINE_MAX,  # entries kept per home timeline
    "timeline_item_bytes": 100,  # an entry (ids only) with DynamoDB's 100-byte per-item overhead
}

# The map's axes (log-spaced) and the thresholds searched for hybrid's best.
READS_PER_POST = (1, 2, 3, 5, 7, 10, 15, 20, 30, 45, 60, 80, 100)
FOLLOWING = (25, 35, 50, 70, 100, 150, 200, 300, 500, 700, 1000)
THRESHOLDS = tuple(int(round(10 ** (e / 4))) for e in range(4, 25))  # 10 .. 1,000,000
SECONDS_PER_DAY = 86_400


# --- per-operation costs, from the run --------------------------------------------------------------

@dataclass(frozen=True)
class PerOperation:
    """What one operation costs, measured on the benchmark's graph."""

    post_write_units: float  # a tweet's own transaction (pull's whole write)
    own_entry_write_units: float  # the author's own timeline entry (push and hybrid)
    write_units_per_follower: float  # one fan-out entry
    home_read_units: float  # a materialised page: timeline Query and BatchGetItem
    pull_read_units_base: float  # the naive join's follows Query (and the reader's own tweets)
    pull_read_units_per_followee: float  # one followee's newest-tweets Query
    read_units_per_celebrity: float  # one pulled celebrity's Query (a cache miss)
    post_seconds: float  # the API's work for a post
    home_read_seconds: float  # the API's work for a materialised page
    pull_read_seconds_base: float
    pull_read_seconds_per_followee: float
    seconds_per_celebrity: float  # one pulled celebrity's Query, in the handler
    fanout_seconds_base: float  # stream and queue handlers, per post
    fanout_seconds_per_follower: float


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares intercept and slope; a flat line through the mean when
    xs do not vary (the slope is then unknowable, and taken as 0)."""
    if len(set(xs)) < 2:
        return (statistics.fmean(ys) if ys else 0.0), 0.0
    slope, intercept = statistics.linear_regression(xs, ys)
    return intercept, slope


def per_operation(samples: dict, tweet_bytes: float, timed: dict | None = None) -> PerOperation:
    """The per-operation costs from one run's samples (bench.run.Samples by
    strategy name): units from `samples`, handler seconds from `timed`
    (default: the same).

    The run's timelines are sparse (a few hundred posts over the graph), so
    its pages and Queries return few tweets; production's return full ones.
    So a home page is priced at the line through its units against the
    tweets it showed, at a full page of PAGE tweets; and the Queries that
    read tweets whole (a followee's newest PAGE, a celebrity's newest
    CELEBRITY_PULL) by DynamoDB's rounding rule on that many of the run's
    tweets, `tweet_bytes` each on average.

    Seconds come from the benchmark's smallest graph: moto walks tables
    DynamoDB indexes, so its times grow with the tables and DynamoDB's do not.
    """
    pull, push, hybrid = samples["pull"], samples["push"], samples["hybrid"]
    timed = timed or samples
    base = statistics.fmean(pull.post_write_units)
    entry, per_follower = fit_line(push.author_followers, push.post_write_units)
    pull_base, _ = fit_line(pull.reader_following, pull.read_units)
    page_base, per_tweet = fit_line(push.page_tweets, push.read_units)
    home_read_units = page_base + per_tweet * PAGE
    per_followee = capacity.read_units(math.ceil(PAGE * tweet_bytes), consistent=False)
    per_celebrity = capacity.read_units(math.ceil(settings.CELEBRITY_PULL * tweet_bytes), consistent=False)
    pull, push, hybrid = timed["pull"], timed["push"], timed["hybrid"]
    pull_s, pull_s_per_followee = fit_line(pull.reader_following, pull.read_seconds)
    _, s_per_celebrity = fit_line(hybrid.reader_celebrities, hybrid.cold_read_seconds)
    fan_s, fan_s_per_follower = fit_line(push.author_followers, push.fanout_seconds)
    return PerOperation(
        post_write_units=base, own_entry_write_units=max(0.0, entry - base),
        write_units_per_follower=per_follower, home_read_units=home_read_units,
        pull_read_units_base=pull_base, pull_read_units_per_followee=per_followee,
        read_units_per_celebrity=per_celebrity,
        post_seconds=statistics.fmean(pull.post_seconds),
        home_read_seconds=statistics.fmean(push.read_seconds),
        pull_read_seconds_base=max(0.0, pull_s), pull_read_seconds_per_followee=max(0.0, pull_s_per_followee),
        seconds_per_celebrity=max(0.0, s_per_celebrity), fanout_seconds_base=max(0.0, fan_s),
        fanout_seconds_per_follower=max(0.0, fan_s_per_follower))


# --- the population ---------------------------------------------------------------------------------

def follower_counts(users: int, following_mean: float) -> np.ndarray:
    """Expected followers of each account, most followed first: the
    benchmark graph's Zipf law (bench.graph.ZIPF_EXPONENT) scaled to
    users x following_mean follows, nobody followed by more than everyone
    else (the capped accounts' surplus goes to the rest, so the mean holds)."""
    weights = np.arange(1, users + 1, dtype=float) ** -graphs.ZIPF_EXPONENT
    edges, cap = users * following_mean, users - 1
    counts = edges * weights / weights.sum()
    for _ in range(50):
        capped = counts >= cap
        if not capped.any():
            break
        rest = ~capped
        counts = np.where(capped, cap, (edges - cap * capped.sum()) * weights / weights[rest].sum())
        if not (counts[rest] > cap).any():
            break
    return counts


EXACT_RANKS = 2_000  # the most followed accounts, one by one; the rest in groups
GROUP_RATIO = 1.01  # ranks r .. 1.01 r share a group (their expected counts differ by under 1%)


def _groups(users: int) -> list[tuple[int, int]]:
    """Rank ranges [start, stop): single ranks first, then geometric groups."""
    bounds = list(range(min(users, EXACT_RANKS) + 1))
    while bounds[-1] < users:
        bounds.append(min(users, max(bounds[-1] + 1, int(bounds[-1] * GROUP_RATIO))))
    return list(zip(bounds, bounds[1:], strict=False))


@dataclass(frozen=True)
class Population:
    """Accounts in groups of near-equal follower counts, most followed first
    (a million accounts in a few thousand groups, so a bill takes
    milliseconds)."""

    followers: np.ndarray  # per account of each group
    posts: np.ndarray  # posts a second per account of each group
    accounts: np.ndarray  # how many accounts each group holds
    reads_per_second: float
    users: int
    following_mean: float

    @classmethod
    def of(cls, followers: np.ndarray, workload: dict) -> "Population":
        """`followers`: every account's count, descending."""
        users = len(followers)
        groups = _groups(users)
        accounts = np.array([stop - start for start, stop in groups], dtype=float)
        sums = np.add.reduceat(followers, [start for start, _ in groups])
        per_account = sums / accounts
        posts_per_second = users * workload["posts_per_user_per_day"] / SECONDS_PER_DAY
        weight = (1 + per_account) ** AUTHOR_EXPONENT  # who posts, as bench.run.workload draws authors
        return cls(per_account, posts_per_second * weight / (weight * accounts).sum(), accounts,
                   posts_per_second * workload["home_reads_per_post"], users, float(followers.mean()))

    @classmethod
    def at(cls, workload: dict) -> "Population":
        return cls.of(follower_counts(workload["daily_active_users"], workload["following_mean"]), workload)

    @property
    def posts_per_second(self) -> float:
        return float((self.posts * self.accounts).sum())


# --- the bill ---------------------------------------------------------------------------------------

def _dollars(per_second: dict, workload: dict, prices: dict) -> dict:
    month = SECONDS_PER_DAY * workload["days_per_month"]
    million = 1e6
    requests = per_second["invocations"] * month / million
    lines = {
        "dynamodb_reads": per_second["read_units"] * month / million
        * prices["dynamodb_per_million_read_request_units"],
        "dynamodb_writes": per_second["write_units"] * month / million
        * prices["dynamodb_per_million_write_request_units"],
        "dynamodb_timeline_storage": per_second["storage_gb"] * prices["dynamodb_storage_per_gb_month"],
        "lambda_requests": requests * prices["lambda_per_million_requests"],
        "lambda_compute": per_second["gb_seconds"] * month * prices["lambda_per_gb_second"],
        "sqs": per_second["sqs_requests"] * month / million * prices["sqs_per_million_requests"],
        "api_gateway": per_second["api_requests"] * month / million
        * prices["api_gateway_rest_per_million_requests"],
    }
    return {"usd_per_month": {k: round(v, 2) for k, v in lines.items()},
            "total_usd_per_month": round(sum(lines.values()), 2)}


def rates(strategy: str, population: Population, costs: PerOperation, workload: dict,
          threshold: float | None = None) -> dict:
    """Units, invocations and seconds a second for one strategy. `threshold`
    is hybrid's (accounts with at least that many followers are pulled);
    push is hybrid with nobody past it."""
    posts, reads = population.posts_per_second, population.reads_per_second
    f, n = population.followers, population.accounts
    p = population.posts * n  # posts a second by each group
    api = {"api_requests": posts + reads}
    if strategy == "pull":
        read_seconds = (costs.pull_read_seconds_base
                        + costs.pull_read_seconds_per_followee * population.following_mean)
        return {**api, "write_units": posts * costs.post_write_units,
                "read_units": reads * (costs.pull_read_units_base
                                       + costs.pull_read_units_per_followee * population.following_mean),
                "invocations": posts + reads, "sqs_requests": 0.0, "storage_gb": 0.0,
                "gb_seconds": workload["lambda_memory_gb"]
                * (posts * costs.post_seconds + reads * read_seconds),
                "celebrity_queries_per_read": 0.0}
    pulled = f >= (threshold if strategy == "hybrid" and threshold is not None else math.inf)
    pushed = ~pulled
    entries = float((p * f)[pushed].sum())  # fan-out entries a second
    containers = max(1.0, reads * costs.home_read_seconds)
    demand = f[pulled] * reads / population.users  # home reads a second that need each celebrity
    ttl = workload["celebrity_cache_seconds"]
    queries = float((n[pulled] * demand / (1 + demand * ttl / containers)).sum())
    jobs = float((p * np.floor(f / workload["fanout_page_size"]))[pushed].sum())
    incoming = float((p * f).sum())
    stream_invocations = posts / workload["stream_batch_size"]
    return {
        **api,
        "write_units": posts * (costs.post_write_units + costs.own_entry_write_units)
        + entries * costs.write_units_per_follower,
        "read_units": reads * costs.home_read_units + queries * costs.read_units_per_celebrity,
        "invocations": posts + reads + stream_invocations + jobs,
        "sqs_requests": 3 * jobs,  # send, receive, delete
        "storage_gb": population.users * workload["timeline_max"] * (entries / incoming if incoming else 0)
        * workload["timeline_item_bytes"] / 1e9,
        "gb_seconds": workload["lambda_memory_gb"] * (
            posts * costs.post_seconds + reads * costs.home_read_seconds
            + queries * costs.seconds_per_celebrity
            + posts * costs.fanout_seconds_base + entries * costs.fanout_seconds_per_follower),
        "celebrity_queries_per_read": queries / reads if reads else 0.0,
    }


def bill(strategy: str, population: Population, costs: PerOperation, workload: dict = WORKLOAD,
         threshold: float | None = None, prices: dict = PRICES) -> dict:
    """Dollars a month by line, and the units per post and per read behind them."""
    per_second = rates(strategy, population, costs, workload, threshold)
    posts, reads = population.posts_per_second, population.reads_per_second
    return {**_dollars(per_second, workload, prices),
            "write_units_per_post": per_second["write_units"] / posts,
            "read_units_per_home_read": per_second["read_units"] / reads,
            "celebrity_queries_per_home_read": per_second["celebrity_queries_per_read"]}


def best_threshold(population: Population, costs: PerOperation, workload: dict) -> tuple[int, dict]:
    """The searched threshold with hybrid's lowest bill, and that bill."""
    bills = {t: bill("hybrid", population, costs, workload, t) for t in THRESHOLDS}
    best = min(bills, key=lambda t: bills[t]["total_usd_per_month"])
    return best, bills[best]


# --- the map ----------------------------------------------------------------------------------------

def cost_map(costs: PerOperation, workload: dict = WORKLOAD) -> dict:
    """Every strategy's bill over reads per post x mean following, hybrid
    at the shipped threshold and at its best; the crossovers per following."""
    cells = []
    for following in FOLLOWING:
        followers = follower_counts(workload["daily_active_users"], following)
        for reads_per_post in READS_PER_POST:
            w = {**workload, "following_mean": following, "home_reads_per_post": reads_per_post}
            population = Population.of(followers, w)
            totals = {name: bill(name, population, costs, w, w["celebrity_threshold"])["total_usd_per_month"]
                      for name in ("pull", "push", "hybrid")}
            best, best_bill = best_threshold(population, costs, w)
            cells.append({"following_mean": following, "home_reads_per_post": reads_per_post,
                          "usd_per_month": totals, "hybrid_best_threshold": best,
                          "hybrid_best_usd_per_month": best_bill["total_usd_per_month"],
                          "cheapest": min(totals, key=lambda n: totals[n])})
    cheapest = {name: sum(c["cheapest"] == name for c in cells) for name in ("pull", "push", "hybrid")}
    return {"cells": cells, "crossovers": crossovers(cells), "cells_where_cheapest": cheapest,
            "hybrid_below_push_everywhere": all(c["usd_per_month"]["hybrid"] <= c["usd_per_month"]["push"]
                                                for c in cells)}


def _crossing(points: list[tuple[float, float]]) -> float | None:
    """Where a difference that changes sign crosses 0, interpolated on a log
    axis; None if it never does."""
    for (x0, d0), (x1, d1) in zip(points, points[1:], strict=False):
        if d0 == 0:
            return x0
        if (d0 < 0) != (d1 < 0):
            t = d0 / (d0 - d1)
            return round(math.exp(math.log(x0) + t * (math.log(x1) - math.log(x0))), 1)
    return None


def crossovers(cells: list[dict]) -> list[dict]:
    """Per mean following: the reads per post above which hybrid (at the
    shipped threshold) and push are cheaper than pull."""
    result = []
    for following in sorted({c["following_mean"] for c in cells}):
        row = sorted((c for c in cells if c["following_mean"] == following),
                     key=lambda c: c["home_reads_per_post"])

        def against_pull(name: str, row: list[dict] = row) -> float | None:
            usd = [(c["home_reads_per_post"], c["usd_per_month"]) for c in row]
            return _crossing([(x, bills[name] - bills["pull"]) for x, bills in usd])

        result.append({"following_mean": following,
                       "hybrid_beats_pull_above_reads_per_post": against_pull("hybrid"),
                       "push_beats_pull_above_reads_per_post": against_pull("push")})
    return result


def thresholds(costs: PerOperation, workload: dict = WORKLOAD) -> list[dict]:
    """Hybrid at the default workload across thresholds: its bill, write
    units per post (and as a share of push's) and celebrity Queries per read."""
    population = Population.at(workload)
    push = bill("push", population, costs, workload)
    rows = []
    for t in THRESHOLDS:
        b = bill("hybrid", population, costs, workload, t)
        rows.append({"threshold": t, "celebrities": int(population.accounts[population.followers >= t].sum()),
                     "total_usd_per_month": b["total_usd_per_month"],
                     "write_units_per_post": round(b["write_units_per_post"], 2),
                     "write_share_of_push":
                         round(b["write_units_per_post"] / push["write_units_per_post"], 4),
                     "celebrity_queries_per_home_read": round(b["celebrity_queries_per_home_read"], 3)})
    return rows


def at_default(costs: PerOperation, workload: dict = WORKLOAD) -> dict:
    """The three bills (and hybrid at its best threshold) at the default workload."""
    population = Population.at(workload)
    bills = {name: bill(name, population, costs, workload, workload["celebrity_threshold"])
             for name in ("pull", "push", "hybrid")}
    best, best_bill = best_threshold(population, costs, workload)
    return {"strategies": bills, "hybrid_best_threshold": best, "hybrid_best": best_bill}


def on_the_graph(samples: dict, costs: PerOperation, graph_followers: Sequence[int], threshold: int) -> dict:
    """Write units per post on the benchmark's own graph, two ways.

    Sampled: the mean over the run's posts. Their authors are drawn at the
    workload's weights, and a heavy tail makes that mean swing by which few
    big accounts were drawn: the most followed account's post alone is
    several hundred sampled posts' worth.
    Over every author: each account's posts weighted as the workload weighs
    them, at what a post by that account costs. That cost is measured, not
    assumed: every sampled post lies on the line fitted through them (its
    largest miss is reported), so this is the mean a workload of every
    possible post would measure.
    """
    followers = np.asarray(graph_followers, dtype=float)
    weight = (1 + followers) ** AUTHOR_EXPONENT
    own = costs.post_write_units + costs.own_entry_write_units
    result: dict = {}
    for name, pushed in (("push", np.ones_like(followers, dtype=bool)), ("hybrid", followers < threshold)):
        run = samples[name]
        line = [own + (costs.write_units_per_follower * f if f < threshold or name == "push" else 0)
                for f in run.author_followers]
        entries = float((weight * followers * pushed).sum() / weight.sum())  # per post, over every author
        units = own + costs.write_units_per_follower * entries
        result[name] = {
            "over_every_author_write_units_per_post": round(units, 2),
            "sampled_write_units_per_post": round(statistics.fmean(run.post_write_units), 2),
            "largest_miss_of_the_line_units": round(max(abs(u - e) for u, e in zip(
                run.post_write_units, line, strict=True)), 3)}
    result["hybrid_share_of_push_over_every_author"] = round(
        result["hybrid"]["over_every_author_write_units_per_post"]
        / result["push"]["over_every_author_write_units_per_post"], 4)
    result["hybrid_share_of_push_sampled"] = round(
        result["hybrid"]["sampled_write_units_per_post"] / result["push"]["sampled_write_units_per_post"], 4)
    return result


def model(samples: dict, timed: dict | None, tweet_bytes: float, graph_followers: Sequence[int],
          threshold: int) -> dict:
    """Everything results.json keeps under `cost_model`."""
    costs = per_operation(samples, tweet_bytes, timed)
    return {"prices": PRICES, "workload": WORKLOAD, "per_operation": asdict(costs),
            "tweet_item_bytes_mean": round(tweet_bytes, 1),
            "at_default": at_default(costs), "thresholds": thresholds(costs), "map": cost_map(costs),
            "benchmark_graph": on_the_graph(samples, costs, graph_followers, threshold)}
