"""Views: every tweet served to a signed-in reader counts one view, exactly.

`record` (the request path) sends the page's views as ONE message to the
views FIFO queue and writes nothing: the ids of the tweets shown, a
retweet's as its original's, without the reader's own tweets, each once.
The message goes to one of VIEWS_GROUPS message groups, chosen by a hash of
the reader.

`count` (the `on_views` consumer) turns a batch of those messages into one
conditional UpdateItem per distinct tweet, whatever the groups:

    ADD views_count :n  SET vseq_<g> = :last_g ...
    IF attribute_exists(id) AND (attribute_not_exists(vseq_<g>) OR vseq_<g> < :first_g) AND ...

`vseq_<g>` is the SequenceNumber of the last message of group g counted on
that tweet. SQS numbers a FIFO group's messages in increasing order, and
Lambda hands a group's messages over in that order, never the next ones
while earlier ones are in flight or failed (this consumer reports failures
as a suffix of each group, so a redelivery starts at the first message not
fully counted). So for every tweet, the messages of group g that were
counted on it are exactly those numbered up to its mark, and a redelivered
message is recognised by its number: when the condition fails, the item as
it was (ReturnValuesOnConditionCheckFailure, no extra read) says which of
the batch's messages are already in, and the update is made again with only
the rest, conditional on the marks just read. A tweet that is gone fails
`attribute_exists(id)` and its views are dropped with it.

Nothing is written per view or per message: views cost one update per
distinct tweet per batch (README, "Views").
"""
import hashlib
import json
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import settings
from chalicelib.observe import metrics
from chalicelib.storage import jobs, tables
from chalicelib.storage.tables import VIEW_MARK_PREFIX, TweetModel

log = logging.getLogger("chirp.views")


# --- the request path ----------------------------------------------------------

def viewed(reader_id: int, shown: Iterable[TweetModel]) -> list[int]:
    """The tweet ids a page of `shown` tweets counts a view for: a retweet
    counts for its original, the reader's own tweets (or retweets of them)
    not at all, and each original once, in page order."""
    ids: list[int] = []
    for tweet in shown:
        if tweet.retweet_of_id is not None:
            tweet_id, author_id = int(tweet.retweet_of_id), tweet.retweet_of_author_id
        else:
            tweet_id, author_id = int(tweet.id), tweet.author_id
        if author_id is not None and int(author_id) == reader_id:
            continue
        if tweet_id not in ids:
            ids.append(tweet_id)
    return ids


def group_of(reader_id: int) -> int:
    """The reader's message group: a hash, since a Snowflake id's low bits
    (its sequence) are mostly zero."""
    digest = hashlib.blake2b(reader_id.to_bytes(8, "big"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % settings.VIEWS_GROUPS


def record(reader_id: int | None, shown: Iterable[TweetModel]) -> None:
    """Hands the views of one page to the views queue: one SendMessage, no
    DynamoDB call. Anonymous readers (None) count nothing.

    Best effort at this one step: the SDK retries the send (standard mode,
    AWS_CALL_ATTEMPTS; the deduplication id makes its retries harmless),
    and if it still fails the page is served anyway and its views are lost,
    with a `views_lost` line in the log. From the queue on, views are exact."""
    if reader_id is None:
        return
    ids = viewed(reader_id, shown)
    if not ids:
        return
    try:
        jobs.sqs().send_message(QueueUrl=jobs.queue_url(settings.QUEUE_NAMES["views"]),
                                MessageBody=json.dumps({"tweets": ids}, separators=(",", ":")),
                                MessageGroupId=str(group_of(reader_id)),
                                MessageDeduplicationId=uuid.uuid4().hex)
    except (ClientError, BotoCoreError):
        log.warning("views_lost=%d: could not send the views of a page", len(ids), exc_info=True)


# --- the consumer ----------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    """One views message, as the consumer needs it."""

    id: str  # SQS's MessageId: what a failure report names
    group: int
    sequence: int  # SQS's SequenceNumber, increasing within the group
    tweets: tuple[int, ...]


@dataclass(frozen=True)
class Share:
    """One group's part of a batch for one tweet: its views, and the first
    and last sequence numbers of the messages they came in."""

    views: int
    first: int
    last: int


def parse(message_id: str, body: str, group: str, sequence: str) -> Message:
    """A views message from SQS's fields; ValueError if it is not one."""
    tweets = json.loads(body)["tweets"]
    if not isinstance(tweets, list) or not all(type(t) is int for t in tweets):
        raise ValueError(f"not a list of tweet ids: {tweets!r}")
    if not group.isdigit() or not sequence.isdigit():
        raise ValueError(f"group {group!r} and sequence number {sequence!r} must be numbers")
    if len(sequence.lstrip("0")) > settings.VIEWS_MARK_DIGITS:
        raise ValueError(f"sequence number {sequence} has more digits than a DynamoDB number holds")
    return Message(message_id, int(group), int(sequence), tuple(dict.fromkeys(tweets)))


def shares(messages: Sequence[Message], tweet_id: int,
           marks: Mapping[int, int] | None = None) -> dict[int, Share]:
    """Group -> Share of `tweet_id`'s views in `messages`, counting only the
    messages numbered above the group's mark (a group without one: all)."""
    found: dict[int, Share] = {}
    for message in messages:
        if tweet_id not in message.tweets:
            continue
        mark = (marks or {}).get(message.group)
        if mark is not None and message.sequence <= mark:
            continue
        share = found.get(message.group)
        found[message.group] = Share(1, message.sequence, message.sequence) if share is None else Share(
            share.views + 1, min(share.first, message.sequence), max(share.last, message.sequence))
    return found


def aggregate(messages: Sequence[Message]) -> dict[int, dict[int, Share]]:
    """Tweet -> group -> Share, for a batch none of which is counted yet."""
    tweets = dict.fromkeys(t for message in messages for t in message.tweets)
    return {tweet_id: shares(messages, tweet_id) for tweet_id in tweets}


def count(messages: Sequence[Message]) -> set[str]:
    """Counts a batch's views, one update per distinct tweet; returns the ids
    of the messages to report as failed: in each group, every message from
    the first one not fully counted on. (The others in that suffix may be
    counted already on some tweets: their redelivery finds that in the
    marks.) Other tweets are still counted after a failure, so the
    redelivery has less to do."""
    metrics.count("ViewsBatchMessages", len(messages))
    failed_from: dict[int, int] = {}  # group -> first sequence number not fully counted
    for tweet_id, by_group in aggregate(messages).items():
        try:
            _count_tweet(tweet_id, messages, by_group)
        except Exception:
            log.exception("views of tweet %s not counted; the messages from it on are retried", tweet_id)
            for group, share in by_group.items():
                failed_from[group] = min(failed_from.get(group, share.first), share.first)
    return {m.id for m in messages if m.group in failed_from and m.sequence >= failed_from[m.group]}


def _count_tweet(tweet_id: int, messages: Sequence[Message], by_group: dict[int, Share]) -> None:
    marks: dict[int, int] | None = None  # unknown: expect none of these messages counted yet
    for _ in range(settings.VIEWS_UPDATE_ATTEMPTS):
        if marks is not None:
            by_group = shares(messages, tweet_id, marks)
        if not by_group:
            return
        try:
            _update(tweet_id, by_group, marks)
            return
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            item: dict[str, dict[str, str]] | None = error.response.get("Item")  # type: ignore[assignment]
            if item is None:
                return  # the tweet is gone, and its views with it
            marks = {int(name.removeprefix(VIEW_MARK_PREFIX)): int(value["N"]) for name, value in item.items()
                     if name.startswith(VIEW_MARK_PREFIX) and "N" in value}
    raise RuntimeError(f"the views of tweet {tweet_id} kept meeting concurrent updates")


def _update(tweet_id: int, by_group: Mapping[int, Share], marks: Mapping[int, int] | None) -> None:
    """One UpdateItem: the views of `by_group`, each group's mark moved to
    its last message. With `marks` None, on condition that no message of
    the batch is counted yet (every mark below the group's first number);
    otherwise that every mark is still what was read."""
    names = {"#id": "id", "#views": "views_count"}
    values = {":n": {"N": str(sum(s.views for s in by_group.values()))}}
    sets, conditions = [], ["attribute_exists(#id)"]
    for group, share in sorted(by_group.items()):
        name, last, bound = f"#g{group}", f":last{group}", f":bound{group}"
        names[name] = f"{VIEW_MARK_PREFIX}{group}"
        values[last] = {"N": str(share.last)}
        sets.append(f"{name} = {last}")
        if marks is None:
            values[bound] = {"N": str(share.first)}
            conditions.append(f"(attribute_not_exists({name}) OR {name} < {bound})")
        elif group in marks:
            values[bound] = {"N": str(marks[group])}
            conditions.append(f"{name} = {bound}")
        else:
            conditions.append(f"attribute_not_exists({name})")
    update_item(TableName=TweetModel.Meta.table_name, Key={"id": {"N": str(tweet_id)}},
                UpdateExpression=f"ADD #views :n SET {', '.join(sets)}",
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names, ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD")


def update_item(**request) -> None:
    """The one DynamoDB call views make (a seam for the failure tests)."""
    tables.client().update_item(**request)
