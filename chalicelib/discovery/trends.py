"""Trending hashtags: counters per tag per time bucket, kept from the tweets
stream (chalicelib.discovery.hashtags counts in the same transaction that indexes a
tweet, so redelivery never counts twice), and a "top" list recomputed from
them at most every TREND_REFRESH_SECONDS. Reading trends is one GetItem
(two for the readers that find the list stale while another refreshes it).

A tag's score is its uses in the last TREND_WINDOW_MINUTES, each weighted
by half every TREND_HALF_LIFE_MINUTES of age: a tag rising now beats one
that was busy an hour ago with the same count.

A bucket's counters are spread over TREND_SHARDS partitions by tweet id,
not by tag: a tag that is trending is exactly the one whose counter would
otherwise take every write, so each tag has up to TREND_SHARDS counters
per bucket, summed on read.
"""
import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from pynamodb.exceptions import PutError

from chalicelib import settings
from chalicelib.storage.ids import id_timestamp_ms
from chalicelib.storage.tables import TrendModel
from chalicelib.storage.transactions import update

TOP = ("top", "current")  # the key of the item holding the current list


def bucket_of(seconds: float) -> int:
    """The start, in Unix minutes, of the bucket a moment falls in."""
    minute = int(seconds // 60)
    return minute - minute % settings.TREND_BUCKET_MINUTES


def _seconds(tweet_id: int) -> float:
    return id_timestamp_ms(tweet_id) / 1000


def partition(bucket: int, tweet_id: int) -> str:
    """The partition of the counters a tweet's tags are counted on."""
    digest = hashlib.blake2b(tweet_id.to_bytes(8, "big"), digest_size=8).digest()
    return f"{bucket}#{int.from_bytes(digest) % settings.TREND_SHARDS}"


def _retention() -> timedelta:
    """Counters outlive the window by a bucket (and a margin for TTL lag is
    not needed: stale buckets are never read)."""
    return timedelta(minutes=settings.TREND_WINDOW_MINUTES + 2 * settings.TREND_BUCKET_MINUTES)


def counts_in_window(tweet_id: int, now: float | None = None) -> bool:
    """Whether a tweet is recent enough that its uses still count."""
    now = time.time() if now is None else now
    return bucket_of(_seconds(tweet_id)) * 60 > now - _retention().total_seconds()


def count_step(tag_key: str, display: str, tweet_id: int, delta: int):
    """The transaction step that adds `delta` uses of a tag in the bucket of
    the tweet's creation time (not of processing time: a redelivered or late
    record lands where it belongs)."""
    bucket = bucket_of(_seconds(tweet_id))
    return update(TrendModel(bucket=partition(bucket, tweet_id), tag=tag_key), [
        TrendModel.uses.add(delta),
        TrendModel.display.set(TrendModel.display | display),
        TrendModel.expires_at.set(TrendModel.expires_at | _expiry(bucket)),
    ])


def _expiry(bucket: int) -> datetime:
    return datetime.fromtimestamp(bucket * 60, UTC) + _retention()


def current(now: float | None = None) -> list[dict]:
    """The trends list: [{tag, count}], highest score first. One GetItem
    while the stored list is fresh. Once it is stale, one reader claims the
    refresh (a conditional put that marks the list fresh) and recomputes it;
    the others, whose claim fails, serve the stale list meanwhile, so a busy
    moment never has every reader recomputing at once."""
    now = time.time() if now is None else now
    try:
        top = TrendModel.get(*TOP)
    except TrendModel.DoesNotExist:
        top = None
    if top is not None:
        fresh = now - int(top.computed_at) < settings.TREND_REFRESH_SECONDS
        if fresh or not _claim_refresh(top, now):
            return top.top
    listed = compute(now)
    TrendModel(*TOP, top=listed, computed_at=int(now)).save()
    return listed


def _claim_refresh(top: TrendModel, now: float) -> bool:
    """Whether this reader is the one to refresh the stale list `top`."""
    claim = TrendModel(*TOP, top=top.top, computed_at=int(now))
    try:
        claim.save(condition=TrendModel.computed_at == int(top.computed_at))
        return True
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False  # another reader got there first
        raise


def window_buckets(now: float) -> list[int]:
    """The buckets a trends list made at `now` reads, oldest first: the
    one `now` falls in and those back to the one holding the window's
    start (so the window is exact to a bucket)."""
    newest = bucket_of(now)
    oldest = bucket_of(now - settings.TREND_WINDOW_MINUTES * 60)
    return list(range(oldest, newest + 1, settings.TREND_BUCKET_MINUTES))


def compute(now: float) -> list[dict]:
    """Scores every tag used in the window: one Query per bucket and shard
    (TREND_WINDOW_MINUTES / TREND_BUCKET_MINUTES + 1 buckets, TREND_SHARDS
    each), whatever the traffic."""
    counters = []
    for bucket in window_buckets(now):
        for shard in range(settings.TREND_SHARDS):
            counters += [TagCount(bucket, c.tag, c.display or c.tag, int(c.uses or 0))
                         for c in TrendModel.query(f"{bucket}#{shard}")]
    return rank(counters, now)


class TagCount(NamedTuple):
    """One counter as read: uses of a tag in a bucket (in one shard)."""

    bucket: int  # Unix minutes
    tag: str  # the tag's key (chalicelib.discovery.hashtags.tag_key)
    display: str  # the tag as first written
    uses: int


def weight(bucket: int, now: float) -> float:
    """How much a use in `bucket` counts at `now`: halved every half-life of
    the age of the bucket's middle (1 at most: a bucket still filling is
    not worth more than a full one)."""
    middle = (bucket + settings.TREND_BUCKET_MINUTES / 2) * 60
    return 0.5 ** (max(0.0, now - middle) / 60 / settings.TREND_HALF_LIFE_MINUTES)


def rank(counters: list[TagCount], now: float) -> list[dict]:
    """The top TRENDS_LISTED tags of `counters` by decayed score (ties by
    tag), each with its plain count in the window, shown as written in its
    biggest counter (the oldest of equals): a tag's counters each keep the
    form that first reached them."""
    scores: dict[str, float] = {}
    counts: dict[str, int] = {}
    displays: dict[str, TagCount] = {}
    for counter in sorted(counters, key=lambda c: c.bucket):
        if counter.uses <= 0:
            continue
        scores[counter.tag] = scores.get(counter.tag, 0.0) + counter.uses * weight(counter.bucket, now)
        counts[counter.tag] = counts.get(counter.tag, 0) + counter.uses
        if counter.tag not in displays or counter.uses > displays[counter.tag].uses:
            displays[counter.tag] = counter
    ranked = sorted(scores, key=lambda tag: (-scores[tag], tag))[: settings.TRENDS_LISTED]
    return [{"tag": displays[tag].display, "count": counts[tag]} for tag in ranked]
