"""The DynamoDB tables, as PynamoDB models: the one source of truth for their
keys, indexes and streams. `deploy.tables` turns these same models into the
local stack's CreateTable calls and into `infra/tables.json`.
"""
from typing import TYPE_CHECKING, cast

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    NumberSetAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection, LocalSecondaryIndex
from pynamodb.models import Model

from chalicelib import settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class _Meta:
    region = settings.REGION
    billing_mode = "PAY_PER_REQUEST"
    # PynamoDB hands botocore standard-mode retries with 1 + this many attempts.
    max_retry_attempts = settings.AWS_CALL_ATTEMPTS - 1


class UserModel(Model):
    """A user, by id. Counts are only ever changed by atomic ADD updates."""

    class Meta(_Meta):
        table_name = settings.TABLE_NAMES["users"]

    id = NumberAttribute(hash_key=True)
    handle = UnicodeAttribute()
    display_name = UnicodeAttribute()
    bio = UnicodeAttribute(default="")
    password_hash = UnicodeAttribute()
    # Tokens carry the version they were issued at; moving it on (log-out-
    # everywhere, a password change) revokes every earlier token (chalicelib.web.auth).
    token_version = NumberAttribute(default=0)
    followers_count = NumberAttribute(default=0)
    following_count = NumberAttribute(default=0)
    tweets_count = NumberAttribute(default=0)
    # Home timeline bookkeeping (chalicelib.accounts.activity, chalicelib.home):
    last_active_day = NumberAttribute(null=True)  # days since the Unix epoch
    previous_active_day = NumberAttribute(null=True)  # what last_active_day was before today's mark
    timeline_rebuilding = BooleanAttribute(null=True)  # set while a returning user's timeline is rebuilt
    populated_day = NumberAttribute(null=True)  # the day the timeline was last populated
    populate_move = NumberAttribute(null=True)  # that populate's mark (chalicelib.storage.moves)
    # As an author: None (fanned out), "promoting" or "celebrity" (pulled at read time).
    celebrity_state = UnicodeAttribute(null=True)
    celebrity_transition = NumberAttribute(null=True)  # an id per state move: whose move landed
    celebrity_epoch = NumberAttribute(null=True)  # +1 per transition started; its jobs carry it
    celebrity_job_epoch = NumberAttribute(null=True)  # the epoch whose first job went out (celebrities)
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


class RepliesByTime(GlobalSecondaryIndex):
    """The replies to a tweet, newest first (sparse: only replies have a
    `reply_to_id`). Projects everything so a page is one Query."""

    class Meta:
        index_name = "replies"
        projection = AllProjection()

    reply_to_id = NumberAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)


class TweetModel(Model):
    """A tweet, by id. The author's handle and display name are copied in so
    that a page of tweets is hydrated without reading the users table.

    A retweet is a tweet of its own: its author is the retweeter, its text
    is empty and `retweet_of_id` names the original (chalicelib.tweets.retweets).
    Entities are extracted once, when the tweet is written, with each
    mention's user id resolved then (chalicelib.tweets.tweets).
    """

    class Meta(_Meta):
        table_name = settings.TABLE_NAMES["tweets"]
        stream_view_type = "NEW_AND_OLD_IMAGES"

    id = NumberAttribute(hash_key=True)
    author_id = NumberAttribute()
    author_handle = UnicodeAttribute()
    author_display_name = UnicodeAttribute()
    text = UnicodeAttribute()
    entities = JSONAttribute(null=True)  # the contract's `entities`; None for a retweet
    reply_to_id = NumberAttribute(null=True)
    reply_to_author_id = NumberAttribute(null=True)  # whom a reply notifies
    quote_of_id = NumberAttribute(null=True)
    quote_of_author_id = NumberAttribute(null=True)  # whose tweet a quote engages with (affinity)
    conversation_id = NumberAttribute()
    retweet_of_id = NumberAttribute(null=True)
    retweet_of_author_id = NumberAttribute(null=True)  # whom a retweet notifies
    like_count = NumberAttribute(default=0)
    retweet_count = NumberAttribute(default=0)
    reply_count = NumberAttribute(default=0)
    quote_count = NumberAttribute(default=0)  # quotes of this tweet (a ranking signal)
    # Views (chalicelib.tweets.views), written only by the views queue's
    # consumer: the count, and per message group g of the views queue the
    # SequenceNumber of the last message counted on this tweet, as the number
    # attribute `vseq_<g>` (VIEW_MARK_PREFIX; at most VIEWS_GROUPS of them).
    # The marks are not declared here because their names depend on the
    # group; PynamoDB leaves attributes it does not declare alone.
    views_count = NumberAttribute(default=0)

    by_author = TweetsByAuthor()
    replies = RepliesByTime()


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


class TimelineByOriginal(LocalSecondaryIndex):
    """A reader's retweet entries of one original (sparse: plain tweets have
    no `original_id`): which of them is shown, the oldest, is read here."""

    class Meta:
        index_name = "by-original"
        projection = KeysOnlyProjection()

    user_id = NumberAttribute(hash_key=True)
    original_id = NumberAttribute(range_key=True)


class TimelineModel(Model):
    """One entry of a user's home timeline: ids only, newest first by key.
    Written and read by chalicelib.home.
    A retweet's entry also names the original it carries."""

    class Meta(_Meta):
        table_name = settings.TABLE_NAMES["timelines"]

    user_id = NumberAttribute(hash_key=True)
    tweet_id = NumberAttribute(range_key=True)
    author_id = NumberAttribute()
    original_id = NumberAttribute(null=True)

    # No index by author: an unfollow finds the author's entries by key
    # (chalicelib.home.entries.remove_author), so a delivery is 1 write unit.
    by_original = TimelineByOriginal()


class RetweetModel(Model):
    """`user_id` retweeted `tweet_id` as `retweet_id`: the key makes a
    retweet unique per user and original. Written in the same transaction
    as the retweet's own tweet item."""

    class Meta(_Meta):
        table_name = settings.TABLE_NAMES["retweets"]

    tweet_id = NumberAttribute(hash_key=True)
    user_id = NumberAttribute(range_key=True)
    retweet_id = NumberAttribute()


class LikeModel(Model):
    """`user_id` likes `tweet_id`; `like_id` is a time-ordered id (the key
    of the like's notification). Its stream writes the notification."""

    class Meta(_Meta):
        table_name = settings.TABLE_NAMES["likes"]
        stream_view_type = "NEW_AND_OLD_IMAGES"

    tweet_id = NumberAttribute(hash_key=True)
    user_id = NumberAttribute(range_key=True)
    like_id = NumberAttribute()
    author_id = NumberAttribute()  # the tweet's author: whom the like notifies


class HashtagModel(Model):
    """A tweet in a hashtag's timeline. The partition is the normalised tag
    plus a shard (`tag#3`) chosen from the tweet id, so a trending tag's
    writes spread over HASHTAG_SHARDS partitions; reads merge the shards."""

    class Meta(_Meta):
        table_name = settings.TABLE_NAMES["hashtags"]

    tag_shard = UnicodeAttribute(hash_key=True)
    tweet_id = NumberAttribute(range_key=True)


class TrendModel(Model):
    """Hashtag use counters, one item per (time bucket, shard, tag): the
    shard (`bucket#shard`) comes from a hash of the tweet id, so even one
    trending tag's uses spread over TREND_SHARDS items. Plus one item,
    bucket "top", holding the current trends list that GET /trends reads."""

    class Meta(_Meta):
        table_name = settings.TABLE_NAMES["trends"]

    bucket = UnicodeAttribute(hash_key=True)
    tag = UnicodeAttribute(range_key=True)
    # Stored as "count"; named `uses` here so it does not shadow Model.count().
    uses = NumberAttribute(attr_name="count", null=True)
    display = UnicodeAttribute(null=True)  # the tag as first written
    top = JSONAttribute(null=True)  # on the "top" item: [{tag, count}, ...]
    computed_at = NumberAttribute(null=True)  # on the "top" item: Unix seconds
    expires_at = TTLAttribute(null=True)


class NotificationModel(Model):
    """A notification for `user_id`. Its `id` is the id of what caused it
    (the tweet, like, retweet or follow), so redelivered stream records
    rewrite the same item, and undoing the cause deletes it."""

    class Meta(_Meta):
        table_name = settings.TABLE_NAMES["notifications"]

    user_id = NumberAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)
    type = UnicodeAttribute()
    actor_id = NumberAttribute()
    tweet_id = NumberAttribute(null=True)


class AffinityModel(Model):
    """How much `reader_id` engages with `author_id` (chalicelib.home.affinity),
    read by the ranked home timeline. Each engagement still counted is one
    number attribute named by its kind and the id of what was engaged with
    (AFFINITY_PREFIXES, e.g. `l<tweet_id>` for a like of that tweet) holding
    its time in Unix seconds; the affinity now is their sum, each weighted by
    kind and decayed by its age. Setting or removing one attribute is
    idempotent, so a redelivered stream record neither counts twice nor
    undoes twice, with one UpdateItem and no read. Like the view marks, these
    attributes are not declared: their names depend on the engagement."""

    class Meta(_Meta):
        table_name = settings.TABLE_NAMES["affinity"]

    reader_id = NumberAttribute(hash_key=True)
    author_id = NumberAttribute(range_key=True)


class SnapshotModel(Model):
    """A ranked home timeline's order, kept for paging through it
    (chalicelib.home.ranked): computed once by the first page, read by the
    cursor's later pages, gone after RANKED_SNAPSHOT_SECONDS (the reads
    check `expires_at` themselves: TTL deletion can lag by days)."""

    class Meta(_Meta):
        table_name = settings.TABLE_NAMES["snapshots"]

    reader_id = NumberAttribute(hash_key=True)
    snapshot_id = NumberAttribute(range_key=True)
    entries = BinaryAttribute(legacy_encoding=False)  # packed, see chalicelib.home.ranked
    expires_at = TTLAttribute()


class LimitModel(Model):
    """One window's count of one user's writes of one kind
    (chalicelib.accounts.limits): `<user>:<action>:<span>:<window>`. Gone
    after the window, by TTL; a late deletion is harmless, since the key
    names the window."""

    class Meta(_Meta):
        table_name = settings.TABLE_NAMES["limits"]

    window_key = UnicodeAttribute(hash_key=True)
    spent = NumberAttribute()
    expires_at = TTLAttribute()


VIEW_MARK_PREFIX = "vseq_"  # TweetModel's per-group view marks: vseq_0 .. vseq_<VIEWS_GROUPS - 1>

ALL_MODELS = (UserModel, HandleModel, TweetModel, FollowModel, IdempotencyModel, TimelineModel,
              RetweetModel, LikeModel, HashtagModel, TrendModel, NotificationModel, AffinityModel,
              SnapshotModel, LimitModel)
TTL_ATTRIBUTES = {IdempotencyModel: "expires_at", TrendModel: "expires_at", SnapshotModel: "expires_at",
                  LimitModel: "expires_at"}


def client() -> "DynamoDBClient":
    """The shared connection's botocore DynamoDB client, for the calls PynamoDB
    does not make the way Chirp needs (PynamoDB types it as a bare botocore
    client, without the DynamoDB operations)."""
    return cast("DynamoDBClient", connection().client)


def connection() -> Connection:
    """The connection transactions run on (models keep their own)."""
    global _connection
    if _connection is None:
        _connection = Connection(region=settings.REGION, max_retry_attempts=settings.AWS_CALL_ATTEMPTS - 1)
    return _connection


_connection: Connection | None = None
