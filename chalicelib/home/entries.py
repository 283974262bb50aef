"""The materialised part of home timelines: one item per (reader, tweet),
ids only, newest first by key (TimelineModel). Written by fan-out and
backfill (chalicelib.home.feed, celebrities), read by chalicelib.home.reading.

Every write is idempotent (the key is the entry), so redelivery rewrites
what is there; BatchWriteItem calls carry 25 entries.
"""
import hashlib

from chalicelib import settings
from chalicelib.storage import batches
from chalicelib.storage.tables import TimelineModel
from chalicelib.tweets import tweets
from chalicelib.tweets.tweets import Ref


def put_request(user_id: int, ref: Ref, author_id: int) -> dict:
    return batches.put_request(TimelineModel(user_id=user_id, tweet_id=ref.tweet_id, author_id=author_id,
                                             original_id=ref.original_id))


def add(requests: list[dict]) -> batches.Written:
    """Writes timeline entries (from `put_request`) in batches of 25."""
    return batches.write(TimelineModel.Meta.table_name, requests)


def deliver(users: list[int], ref: Ref, author_id: int) -> batches.Written:
    """One tweet into many users' timelines (fan-out), trimming some."""
    written = add([put_request(user, ref, author_id) for user in users])
    for user in users:
        if should_trim(user, ref.tweet_id):
            trim(user)
    return written


def backfill(user_id: int, refs: list[Ref], author_id: int) -> None:
    """Many tweets of one author into one user's timeline (backfill), then a trim."""
    add([put_request(user_id, ref, author_id) for ref in refs])
    if refs:
        trim(user_id)


def remove(keys: list[tuple[int, int]]) -> None:
    """Deletes (user_id, tweet_id) entries in batches of 25."""
    unique = list(dict.fromkeys(keys))
    batches.write(TimelineModel.Meta.table_name,
                  [batches.delete_request(TimelineModel, user, tweet) for user, tweet in unique])


def remove_author(user_id: int, author_id: int) -> None:
    """Removes `author_id`'s entries from `user_id`'s timeline (an unfollow).

    The timeline has no index by author: an index entry would ride along
    with every delivery, doubling fan-out's write units, to serve the rare
    unfollow. Instead the author's tweets since the timeline's oldest entry
    (at most TIMELINE_MAX, as many as it holds) are looked up by key, and
    those there are deleted: 1 Query for the oldest entry, 1 on the author's
    tweets, 1 BatchGetItem per 100 of them. An entry this misses (a
    delivery still in flight, or one older than the author's newest
    TIMELINE_MAX) is never shown: the read path checks every entry's follow,
    and drops and deletes those that fail."""
    oldest = next(iter(TimelineModel.query(user_id, scan_index_forward=True, limit=1, page_size=1,
                                           attributes_to_get=["tweet_id"])), None)
    if oldest is None:
        return
    candidates = tweets.recent(author_id, settings.TIMELINE_MAX, since_id=int(oldest.tweet_id) - 1)
    table = TimelineModel.Meta.table_name
    found = batches.get({table: [{**batches.number_key("user_id", user_id),
                                  **batches.number_key("tweet_id", r.tweet_id)} for r in candidates]},
                        projections={table: "tweet_id"})[table]
    remove([(user_id, int(e["tweet_id"]["N"])) for e in found])


def should_trim(user_id: int, tweet_id: int) -> bool:
    """Trims about one delivery in TRIM_EVERY, chosen by a hash so that a
    redelivered batch makes the same choice."""
    digest = hashlib.blake2b(f"{user_id}:{tweet_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest) % settings.TRIM_EVERY == 0


def trim(user_id: int) -> None:
    """Deletes all but the newest TIMELINE_MAX entries."""
    surplus = TimelineModel.query(user_id, scan_index_forward=False,
                                  attributes_to_get=["user_id", "tweet_id"])
    keys = [(user_id, int(e.tweet_id)) for i, e in enumerate(surplus) if i >= settings.TIMELINE_MAX]
    if keys:
        remove(keys)


# --- reading ----------------------------------------------------------------
