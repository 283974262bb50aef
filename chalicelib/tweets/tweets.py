"""Tweets: posting (with idempotency keys and twitter-text entities),
reading, deleting a plain tweet, replies and a user's timeline. Retweets
build on this module (chalicelib.tweets.retweets), and so does deletion
(chalicelib.tweets.deletion)."""
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from chalicelib import errors, settings
from chalicelib.accounts.users import HANDLE_RE
from chalicelib.observe import logs
from chalicelib.storage import batches
from chalicelib.storage.ids import new_id
from chalicelib.storage.paging import PageRequest, query_page
from chalicelib.storage.tables import HandleModel, IdempotencyModel, TweetModel, UserModel
from chalicelib.storage.transactions import ConditionsFailed, delete, save, transact_write, update
from chalicelib.tweets import tweet_text


@dataclass(frozen=True)
class NewTweet:
    text: str
    reply_to_id: int | None = None
    quote_of_id: int | None = None

    def fingerprint(self) -> str:
        """What an Idempotency-Key is bound to: reusing the key for a
        different tweet is an error, not a silent replay."""
        body = json.dumps([self.text, self.reply_to_id, self.quote_of_id])
        return hashlib.sha256(body.encode()).hexdigest()


def validate_text(text) -> str:
    """Text is stored as sent and must be a valid tweet by twitter-text's
    rules: not blank, no invalid characters, a weighted length of at most
    280 (URLs weigh 23, most CJK characters and emoji 2, after NFC)."""
    if not isinstance(text, str):
        raise errors.Invalid("`text` must be a string.")
    if "\x00" in text:
        raise errors.Invalid("`text` must not contain NUL characters.", "invalid_text")
    parsed = tweet_text.parse_tweet(text)
    if not parsed.valid:
        if parsed.weighted_length > settings.TWEET_MAX_CHARS:
            message = (f"`text` is too long: it weighs {parsed.weighted_length}, "
                       f"at most {settings.TWEET_MAX_CHARS} is allowed.")
        elif not text.strip():
            message = "`text` must not be blank."
        else:
            message = "`text` contains characters a tweet cannot hold (U+FFFE, U+FEFF, U+FFFF)."
        raise errors.Invalid(message, "invalid_text")
    return text


def entities_of(text: str) -> dict:
    """The tweet's entities, each mention with the id of the user whose
    handle it names (None if nobody has it): one BatchGetItem on the handles
    table when the text mentions anyone."""
    entities = tweet_text.extract_entities(text)
    handles = {m["handle"].lower() for m in entities["mentions"] if HANDLE_RE.fullmatch(m["handle"])}
    table = HandleModel.Meta.table_name
    found = batches.get({table: [{"handle_key": {"S": h}} for h in sorted(handles)]}) if handles else {}
    owners = {item["handle_key"]["S"]: item["user_id"]["N"] for item in found.get(table, [])}
    for mention in entities["mentions"]:
        mention["user_id"] = owners.get(mention["handle"].lower())
    return entities


def validate_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    max_len = settings.IDEMPOTENCY_KEY_MAX
    if not 1 <= len(key) <= max_len or not key.isascii() or not key.isprintable():
        raise errors.Invalid(
            f"`Idempotency-Key` must be 1 to {settings.IDEMPOTENCY_KEY_MAX} printable ASCII characters.")
    return key


def post_tweet(author: UserModel, new: NewTweet,
               idempotency_key: str | None = None) -> tuple[TweetModel, bool]:
    """Writes a tweet and returns it with `replayed`: True when the same
    author already sent the same Idempotency-Key and this is that tweet.

    One transaction writes the tweet, counts it on its author (and on the
    tweet it replies to), and claims the idempotency key, so a retried or
    concurrent duplicate can never produce a second tweet.
    """
    record_key = f"{int(author.id)}#{idempotency_key}" if idempotency_key else None
    if record_key:
        replay = _replay(record_key, new)
        if replay:
            return replay, True
    parent = _original("reply_to_id", new.reply_to_id)
    quoted = _original("quote_of_id", new.quote_of_id)
    entities = entities_of(new.text)
    for _ in range(settings.ID_CLASH_RETRIES):
        tweet_id = new_id()
        tweet = TweetModel(
            id=tweet_id, author_id=int(author.id), author_handle=author.handle,
            author_display_name=author.display_name, text=new.text, entities=entities,
            reply_to_id=int(parent.id) if parent else None,
            reply_to_author_id=int(parent.author_id) if parent else None,
            quote_of_id=int(quoted.id) if quoted else None,
            quote_of_author_id=int(quoted.author_id) if quoted else None,
            conversation_id=int(parent.conversation_id) if parent else tweet_id,
        )
        steps = {
            "tweet": save(tweet, condition=TweetModel.id.does_not_exist()),
            "author": update(UserModel(id=author.id), [UserModel.tweets_count.add(1)],
                             condition=UserModel.id.exists()),
        }
        steps.update(_parent_counts(tweet, +1))
        if record_key:
            record = IdempotencyModel(key=record_key, tweet_id=tweet_id, fingerprint=new.fingerprint(),
                                      expires_at=timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS))
            # TTL deletion can lag by days, so an expired record counts as free.
            steps["idempotency"] = save(record, condition=IdempotencyModel.key.does_not_exist()
                                        | (IdempotencyModel.expires_at < datetime.now(UTC)))
        try:
            transact_write(steps)
            logs.bind(tweet_id=tweet_id)
            return tweet, False
        except ConditionsFailed as exc:
            failed = exc.failed
            if "author" in failed:
                raise errors.Unauthenticated("The account no longer exists.") from None
            if "reply_to" in failed:
                raise errors.NotFound("Tweet", "`reply_to_id` names no tweet.", "unknown_tweet") from None
            if "quote_of" in failed:
                raise errors.NotFound("Tweet", "`quote_of_id` names no tweet.", "unknown_tweet") from None
            if "idempotency" in failed and record_key:  # the step is there only with a key
                replay = _replay(record_key, new)
                if replay:
                    return replay, True
            if "tweet" in failed:
                landed = _landed(tweet)
                if landed is not None:
                    return landed, False
            # Otherwise the id clashed with another container's: try a new one.
    raise RuntimeError("could not write the tweet")


def _landed(tweet: TweetModel) -> TweetModel | None:
    """The stored tweet under `tweet`'s id if it is this very tweet: the
    transaction was applied but its answer lost, and the SDK's retry found
    its own write. DynamoDB (and the local stack's moto) honours the client
    request token for ten minutes, so this is for a retry later than that,
    or a moto without devstack's patch, where the conditions fail instead."""
    try:
        stored = TweetModel.get(int(tweet.id), consistent_read=True)
    except TweetModel.DoesNotExist:
        return None
    same = [stored.author_id, stored.text, stored.reply_to_id, stored.quote_of_id] == \
        [tweet.author_id, tweet.text, tweet.reply_to_id, tweet.quote_of_id]
    return stored if same else None


def _original(field: str, tweet_id: int | None) -> TweetModel | None:
    """The tweet a reply or quote refers to. Naming a retweet means its
    original, as on Twitter: a retweet has no text to answer."""
    if tweet_id is None:
        return None
    tweet = find(tweet_id)
    if tweet is not None and tweet.retweet_of_id is not None:
        tweet = find(int(tweet.retweet_of_id))
    if tweet is None:
        raise errors.NotFound("Tweet", f"`{field}` names no tweet.", "unknown_tweet")
    return tweet


def get_original(tweet_id: int) -> TweetModel:
    """The tweet a like or retweet of `tweet_id` is about: the tweet itself,
    or the original if it is a retweet. 404 if either is gone."""
    tweet = get(tweet_id)
    if tweet.retweet_of_id is not None:
        tweet = get(int(tweet.retweet_of_id))
    return tweet


def _replay(record_key: str, new: NewTweet) -> TweetModel | None:
    try:
        record = IdempotencyModel.get(record_key, consistent_read=True)
    except IdempotencyModel.DoesNotExist:
        return None
    if record.expires_at < datetime.now(UTC):
        return None
    if record.fingerprint != new.fingerprint():
        raise errors.Unprocessable("This Idempotency-Key was already used for a different tweet.",
                                   "idempotency_key_reused")
    tweet = find(int(record.tweet_id))
    if tweet is None:
        raise errors.Conflict("The tweet this Idempotency-Key created has since been deleted.",
                              "idempotent_tweet_deleted")
    return tweet


def find(tweet_id: int) -> TweetModel | None:
    try:
        return TweetModel.get(tweet_id)
    except TweetModel.DoesNotExist:
        return None


def exists(tweet_id: int) -> bool:
    try:
        TweetModel.get(tweet_id, consistent_read=True, attributes_to_get=["id"])
        return True
    except TweetModel.DoesNotExist:
        return False


class Ref(NamedTuple):
    """What a timeline entry needs of a tweet: its id and, for a retweet,
    the original's id."""
    tweet_id: int
    original_id: int | None = None


def ref(tweet: TweetModel) -> Ref:
    return Ref(int(tweet.id), None if tweet.retweet_of_id is None else int(tweet.retweet_of_id))


def recent(author_id: int, count: int, since_id: int | None = None) -> list[Ref]:
    """The author's newest `count` tweets and retweets, newer than
    `since_id` if given (one Query, ids only)."""
    condition = TweetModel.id > since_id if since_id is not None else None
    return [ref(t) for t in TweetModel.by_author.query(
        author_id, range_key_condition=condition, scan_index_forward=False, limit=count, page_size=count,
        attributes_to_get=["id", "retweet_of_id"])]


def get(tweet_id: int) -> TweetModel:
    tweet = find(tweet_id)
    if tweet is None:
        raise errors.NotFound("Tweet")
    return tweet


def _parent_counts(tweet: TweetModel, delta: int) -> dict:
    """Transaction steps counting `tweet` (+1) or uncounting it (-1) on the
    tweet it replies to and the one it quotes; one step if they are the same
    tweet (a transaction may touch an item once)."""
    counters: dict[int, tuple[str, list]] = {}
    for step, parent_id, count in (("reply_to", tweet.reply_to_id, TweetModel.reply_count),
                                   ("quote_of", tweet.quote_of_id, TweetModel.quote_count)):
        if parent_id:
            counters.setdefault(int(parent_id), (step, []))[1].append(count.add(delta))
    return {name: update(TweetModel(id=parent_id), actions, condition=TweetModel.id.exists())
            for parent_id, (name, actions) in counters.items()}


def delete_tweet(tweet: TweetModel) -> None:
    """Deletes a plain tweet (not a retweet), uncounting it on its author and
    on the tweets it replies to and quotes. The author check is also the
    delete's own condition, so a concurrent delete cannot make it count twice."""
    tweet_id, caller_id = int(tweet.id), int(tweet.author_id)
    steps = {
        "tweet": delete(TweetModel(id=tweet_id), condition=TweetModel.author_id == caller_id),
        "author": update(UserModel(id=caller_id), [UserModel.tweets_count.add(-1)],
                         condition=UserModel.id.exists()),
    }
    steps.update(_parent_counts(tweet, -1))
    while True:  # at most three rounds: each drops a parent that is gone
        try:
            transact_write(steps)
            return
        except ConditionsFailed as exc:
            if "tweet" in exc.failed:
                raise errors.NotFound("Tweet") from None  # deleted meanwhile
            gone = exc.failed & {"reply_to", "quote_of"}
            if not gone or exc.failed - gone:  # something else failed
                raise
            for step in gone:  # that parent is gone: nothing left to uncount on it
                del steps[step]


def user_timeline(author_id: int, page: PageRequest) -> tuple[list[TweetModel], bool]:
    """A page of a user's tweets and retweets, newest first, and whether
    more follow. One Query on the by-author index."""
    return _query_page(TweetModel.by_author, author_id, page)


def replies(tweet_id: int, page: PageRequest) -> tuple[list[TweetModel], bool]:
    """A page of the replies to a tweet, newest first. They stay readable
    after the tweet itself is deleted; only a tweet that never had any is
    unknown (the GetItem runs only when the page is empty)."""
    items, more = _query_page(TweetModel.replies, tweet_id, page)
    if not items and find(tweet_id) is None:
        bounded = page.max_id is not None or page.since_id is not None
        if not bounded or not _query_page(TweetModel.replies, tweet_id, PageRequest(1))[0]:
            raise errors.NotFound("Tweet")
    return items, more


def _query_page(index, hash_key: int, page: PageRequest) -> tuple[list[TweetModel], bool]:
    return query_page(index, hash_key, TweetModel.id, page)


def with_originals(items: list[TweetModel]) -> list[tuple[TweetModel, TweetModel | None]]:
    """Each tweet with the original it retweets (None for a plain tweet):
    one BatchGetItem per 100 originals, none without retweets. A retweet
    whose original is gone is left out: it is being deleted with it."""
    wanted = sorted({int(t.retweet_of_id) for t in items if t.retweet_of_id is not None})
    table = TweetModel.Meta.table_name
    found = batches.get({table: [batches.number_key("id", i) for i in wanted]})[table] if wanted else []
    originals = {int(t.id): t for t in map(TweetModel.from_raw_data, found)}
    return [(t, originals.get(int(t.retweet_of_id)) if t.retweet_of_id is not None else None) for t in items
            if t.retweet_of_id is None or int(t.retweet_of_id) in originals]
