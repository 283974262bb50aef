"""Trending hashtags: counters per tag per time bucket, kept from the tweets
stream (chalicelib.hashtags counts in the same transaction that indexes a
tweet, so redelivery never counts twice), and a "top" list recomputed from
them at most every TREND_REFRESH_SECONDS. Reading trends is one GetItem.

A tag's score is its uses in the last TREND_WINDOW_MINUTES, each weighted
by half every TREND_HALF_LIFE_MINUTES of age: a tag rising now beats one
that was busy an hour ago with the same count.
"""
import hashlib
import time
from datetime import UTC, datetime, timedelta

from chalicelib import settings
from chalicelib.ids import id_timestamp_ms
from chalicelib.tables import TrendModel
from chalicelib.transactions import update

TOP = ("top", "current")  # the key of the item holding the current list


def bucket_of(seconds: float) -> int:
    """The start, in Unix minutes, of the bucket a moment falls in."""
    minute = int(seconds // 60)
    return minute - minute % settings.TREND_BUCKET_MINUTES


def _seconds(tweet_id: int) -> float:
    return id_timestamp_ms(tweet_id) / 1000


def _partition(bucket: int, tag_key: str) -> str:
    digest = hashlib.blake2b(tag_key.encode(), digest_size=4).digest()
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
    return update(TrendModel(bucket=_partition(bucket, tag_key), tag=tag_key), [
        TrendModel.count.add(delta),
        TrendModel.display.set(TrendModel.display | display),
        TrendModel.expires_at.set(TrendModel.expires_at | _expiry(bucket)),
    ])


def _expiry(bucket: int) -> datetime:
    return datetime.fromtimestamp(bucket * 60, UTC) + _retention()


def current(now: float | None = None) -> list[dict]:
    """The trends list: [{tag, count}], highest score first. One GetItem,
    plus a recomputation when the stored list is older than allowed."""
    now = time.time() if now is None else now
    try:
        top = TrendModel.get(*TOP)
        if now - int(top.computed_at) < settings.TREND_REFRESH_SECONDS:
            return top.top
    except TrendModel.DoesNotExist:
        pass
    listed = compute(now)
    TrendModel(*TOP, top=listed, computed_at=int(now)).save()
    return listed


def compute(now: float) -> list[dict]:
    """Scores every tag used in the window: one Query per bucket and shard
    (TREND_WINDOW_MINUTES / TREND_BUCKET_MINUTES + 1 buckets, TREND_SHARDS
    each), whatever the traffic."""
    newest = bucket_of(now)
    oldest = bucket_of(now - settings.TREND_WINDOW_MINUTES * 60)
    scores: dict[str, float] = {}
    counts: dict[str, int] = {}
    displays: dict[str, str] = {}
    for bucket in range(oldest, newest + 1, settings.TREND_BUCKET_MINUTES):
        middle = (bucket + settings.TREND_BUCKET_MINUTES / 2) * 60
        weight = 0.5 ** (max(0.0, now - middle) / 60 / settings.TREND_HALF_LIFE_MINUTES)
        for shard in range(settings.TREND_SHARDS):
            for counter in TrendModel.query(f"{bucket}#{shard}"):
                count = int(counter.count or 0)
                if count <= 0:
                    continue
                scores[counter.tag] = scores.get(counter.tag, 0.0) + count * weight
                counts[counter.tag] = counts.get(counter.tag, 0) + count
                displays.setdefault(counter.tag, counter.display or counter.tag)
    ranked = sorted(scores, key=lambda tag: (-scores[tag], tag))[: settings.TRENDS_LISTED]
    return [{"tag": displays[tag], "count": counts[tag]} for tag in ranked]
