"""Hashtag timelines: every tweet using a tag, newest first, found
case-insensitively.

A tag's timeline is spread over HASHTAG_SHARDS partitions by tweet id, so
a trending tag's writes do not pile onto one partition; a page queries
each shard and merges them. Items are written from the tweets stream, in
the same transaction as the trend counters (chalicelib.discovery.trends): the item's
conditional put is what makes counting idempotent.
"""
import hashlib
import unicodedata

from chalicelib import settings
from chalicelib.discovery import trends
from chalicelib.storage import batches
from chalicelib.storage.paging import EMPTY, PageRequest, range_condition
from chalicelib.storage.tables import HashtagModel, TweetModel
from chalicelib.storage.transactions import ConditionsFailed, delete, save, transact_write


def tag_key(tag: str) -> str:
    """How a tag is matched: #Chirp, #CHIRP and #chirp are one tag."""
    return unicodedata.normalize("NFC", tag).casefold()


def partition(key: str, tweet_id: int) -> str:
    """The partition holding a tweet under a tag: the tag and a shard
    chosen by a hash of the whole id. (Not `id % shards`: a Snowflake id's
    sequence restarts every millisecond, so its low bits are nearly always
    zero and every tweet would land on shard 0.)"""
    digest = hashlib.blake2b(tweet_id.to_bytes(8, "big"), digest_size=8).digest()
    return f"{key}#{int.from_bytes(digest) % settings.HASHTAG_SHARDS}"


def _tags(tweet: TweetModel) -> dict[str, str]:
    """The tweet's distinct tags: key -> the tag as first written."""
    tags: dict[str, str] = {}
    for hashtag in (tweet.entities or {}).get("hashtags", []):
        tags.setdefault(tag_key(hashtag["tag"]), hashtag["tag"])
    return tags


def on_tweet_record(record: dict) -> None:
    if record["eventName"] == "INSERT":
        tweet = TweetModel.from_raw_data(record["dynamodb"]["NewImage"])
        _apply(int(tweet.id), _tags(tweet), +1)
    elif record["eventName"] == "REMOVE":
        tweet = TweetModel.from_raw_data(record["dynamodb"]["OldImage"])
        _apply(int(tweet.id), _tags(tweet), -1)


def _apply(tweet_id: int, tags: dict[str, str], delta: int) -> None:
    """Indexes (+1) or unindexes (-1) a tweet under its tags, counting each
    change in the trends only if the index item really changed."""
    count = trends.counts_in_window(tweet_id)  # older buckets are no longer read
    keys = sorted(tags)
    for start in range(0, len(keys), settings.HASHTAGS_PER_TRANSACTION):
        steps = {}
        for key in keys[start:start + settings.HASHTAGS_PER_TRANSACTION]:
            item = HashtagModel(tag_shard=partition(key, tweet_id), tweet_id=tweet_id)
            steps[key] = (save(item, condition=HashtagModel.tweet_id.does_not_exist()) if delta > 0
                          else delete(item, condition=HashtagModel.tweet_id.exists()))
            if count:
                steps[f"count:{key}"] = trends.count_step(key, tags[key], tweet_id, delta)
        _write_unapplied(steps)


def _write_unapplied(steps: dict) -> None:
    """Writes the steps, leaving out any tag whose item was already written
    (or removed) by an earlier delivery of the same record."""
    while steps:
        try:
            transact_write(steps)
            return
        except ConditionsFailed as exc:
            for key in exc.failed:
                steps.pop(key, None)
                steps.pop(f"count:{key}", None)


def page(tag: str, page: PageRequest) -> tuple[list[TweetModel], bool, int | None]:
    """A page of the tag's tweets, newest first: one Query per shard and one
    BatchGetItem. Returns (tweets, more, the page's oldest id)."""
    key = tag_key(tag)
    condition = range_condition(HashtagModel.tweet_id, page)
    if condition is EMPTY:
        return [], False, None
    want = page.limit + 1
    ids = []
    for shard in range(settings.HASHTAG_SHARDS):
        ids += [int(item.tweet_id) for item in HashtagModel.query(
            f"{key}#{shard}", range_key_condition=condition, scan_index_forward=False,
            limit=want, page_size=want)]
    ids = sorted(ids, reverse=True)
    more, ids = len(ids) > page.limit, ids[: page.limit]
    table = TweetModel.Meta.table_name
    found = batches.get({table: [batches.number_key("id", i) for i in ids]})[table] if ids else []
    tweets = {int(t.id): t for t in map(TweetModel.from_raw_data, found)}
    # A deleted tweet's items go when its stream record is processed; until
    # then it is skipped here, so a page may be short but is never wrong.
    return [tweets[i] for i in ids if i in tweets], more, (ids[-1] if ids else None)
