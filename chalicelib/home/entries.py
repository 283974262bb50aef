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
from chalicelib.tweets.tweets import Ref


def put_request(user_id: int, ref: Ref, author_id: int) -> dict:
    return batches.put_request(TimelineModel(user_id=user_id, tweet_id=ref.tweet_id, author_id=author_id,
                                             original_id=ref.original_id))


def add(requests: list[dict]) -> None:
    """Writes timeline entries (from `put_request`) in batches of 25."""
    batches.write(TimelineModel.Meta.table_name, requests)


def deliver(users: list[int], ref: Ref, author_id: int) -> None:
    """One tweet into many users' timelines (fan-out), trimming some."""
    add([put_request(user, ref, author_id) for user in users])
    for user in users:
        if should_trim(user, ref.tweet_id):
            trim(user)


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
    """Removes every entry of `author_id` from `user_id`'s timeline (an
    unfollow): one Query page at a time on the by-author index."""
    entries = TimelineModel.by_author.query(user_id, TimelineModel.author_id == author_id)
    remove([(user_id, int(e.tweet_id)) for e in entries])


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
