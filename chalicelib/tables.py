"""The DynamoDB tables, as PynamoDB models: the one source of truth for their
keys, indexes and streams. `devstack.schema` turns these same models into the
local stack's CreateTable calls and into `infra/tables.json`.
"""
from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    NumberSetAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection, LocalSecondaryIndex
from pynamodb.models import Model

from chalicelib import settings


class _Meta:
    region = settings.REGION
    billing_mode = "PAY_PER_REQUEST"


class UserModel(Model):
    """A user, by id. Counts are only ever changed by atomic ADD updates."""

    class Meta(_Meta):
        table_name = settings.TABLE_NAMES["users"]

    id = NumberAttribute(hash_key=True)
    handle = UnicodeAttribute()
    display_name = UnicodeAttribute()
    bio = UnicodeAttribute(default="")
    password_hash = UnicodeAttribute()
    followers_count = NumberAttribute(default=0)
    following_count = NumberAttribute(default=0)
    tweets_count = NumberAttribute(default=0)
    # Home timeline bookkeeping (chalicelib.activity, fanout, celebrities):
    last_active_day = NumberAttribute(null=True)  # days since the Unix epoch
    timeline_rebuilding = BooleanAttribute(null=True)  # set while a returning user's timeline is rebuilt
    # As an author: None (fanned out), "promoting" or "celebrity" (pulled at read time).
    celebrity_state = UnicodeAttribute(null=True)
    # As a reader: followees whose tweets are pulled and merged at read time.
    celebrity_followees = NumberSetAttribute(null=True)


class HandleModel(Model):
    """Claims a handle, lower-cased, for one user: the conditional put of this
    item is what makes handles unique ignoring case."""

    class Meta(_Meta):
        table_name = settings.TABLE_NAMES["handles"]

    handle_key = UnicodeAttribute(hash_key=True)
    user_id = NumberAttribute()


class TweetsByAuthor(GlobalSecondaryIndex):
    """A user's tweets newest first: the user timeline is one Query here.
    Projects everything so the page needs no second read."""

    class Meta:
        index_name = "by-author"
        projection = AllProjection()

    author_id = NumberAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)


class TweetModel(Model):
    """A tweet, by id. The author's handle and display name are copied in so
    that a page of tweets is hydrated without reading the users table."""

    class Meta(_Meta):
        table_name = settings.TABLE_NAMES["tweets"]
        stream_view_type = "NEW_AND_OLD_IMAGES"

    id = NumberAttribute(hash_key=True)
    author_id = NumberAttribute()
    author_handle = UnicodeAttribute()
    author_display_name = UnicodeAttribute()
    text = UnicodeAttribute()
    reply_to_id = NumberAttribute(null=True)
    quote_of_id = NumberAttribute(null=True)
    conversation_id = NumberAttribute()
    like_count = NumberAttribute(default=0)
    retweet_count = NumberAttribute(default=0)
    reply_count = NumberAttribute(default=0)

    by_author = TweetsByAuthor()


class FollowingByTime(LocalSecondaryIndex):
    """Whom a user follows, most recently followed first."""

    class Meta:
        index_name = "following-by-time"
        projection = KeysOnlyProjection()

    follower_id = NumberAttribute(hash_key=True)
    follow_id = NumberAttribute(range_key=True)


class FollowersByTime(GlobalSecondaryIndex):
    """Who follows a user, most recent first; fan-out pages through it too."""

    class Meta:
        index_name = "followers-by-time"
        projection = KeysOnlyProjection()

    followee_id = NumberAttribute(hash_key=True)
    follow_id = NumberAttribute(range_key=True)


class FollowModel(Model):
    """`follower_id` follows `followee_id`. The key makes a follow unique;
    `follow_id` is a time-ordered id that orders the lists."""

    class Meta(_Meta):
        table_name = settings.TABLE_NAMES["follows"]
        stream_view_type = "NEW_AND_OLD_IMAGES"

    follower_id = NumberAttribute(hash_key=True)
    followee_id = NumberAttribute(range_key=True)
    follow_id = NumberAttribute()

    following_by_time = FollowingByTime()
    followers_by_time = FollowersByTime()


class IdempotencyModel(Model):
    """Remembers which tweet an (author, Idempotency-Key) pair created, for a
    day; written in the same transaction as the tweet."""

    class Meta(_Meta):
        table_name = settings.TABLE_NAMES["idempotency"]

    key = UnicodeAttribute(hash_key=True)
    tweet_id = NumberAttribute()
    fingerprint = UnicodeAttribute()
    expires_at = TTLAttribute()


class TimelineByAuthor(LocalSecondaryIndex):
    """A reader's entries from one author: what an unfollow removes."""

    class Meta:
        index_name = "by-author"
        projection = KeysOnlyProjection()

    user_id = NumberAttribute(hash_key=True)
    author_id = NumberAttribute(range_key=True)


class TimelineModel(Model):
    """One entry of a user's home timeline: ids only, newest first by key.
    Written by fan-out (chalicelib.fanout), read by chalicelib.timelines."""

    class Meta(_Meta):
        table_name = settings.TABLE_NAMES["timelines"]

    user_id = NumberAttribute(hash_key=True)
    tweet_id = NumberAttribute(range_key=True)
    author_id = NumberAttribute()

    by_author = TimelineByAuthor()


ALL_MODELS = (UserModel, HandleModel, TweetModel, FollowModel, IdempotencyModel, TimelineModel)
TTL_ATTRIBUTES = {IdempotencyModel: "expires_at"}


def connection() -> Connection:
    """The connection transactions run on (models keep their own)."""
    global _connection
    if _connection is None:
        _connection = Connection(region=settings.REGION)
    return _connection


_connection: Connection | None = None
