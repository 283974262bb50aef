"""Tweets: posting (with idempotency keys), reading, deleting, and a user's
timeline."""
import hashlib
import json
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib import errors, settings
from chalicelib.ids import new_id
from chalicelib.pages import EMPTY, PageRequest, range_condition
from chalicelib.tables import IdempotencyModel, TweetModel, UserModel
from chalicelib.transactions import ConditionsFailed, check, delete, save, transact_write, update

ID_CLASH_RETRIES = 3


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
    """Text is stored as sent. Its length is counted in code points after
    NFC normalisation, as twitter-text counts it (the weighted count comes
    with the tweet content work)."""
    if not isinstance(text, str):
        raise errors.bad_request("`text` must be a string.")
    length = len(unicodedata.normalize("NFC", text))
    if not text.strip() or length > settings.TWEET_MAX_CHARS:
        raise errors.bad_request(
            f"`text` must have 1 to {settings.TWEET_MAX_CHARS} characters and not be blank.",
            "invalid_text")
    if "\x00" in text:
        raise errors.bad_request("`text` must not contain NUL characters.", "invalid_text")
    return text


def validate_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    max_len = settings.IDEMPOTENCY_KEY_MAX
    if not 1 <= len(key) <= max_len or not key.isascii() or not key.isprintable():
        raise errors.bad_request(
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
    parent = _reply_parent(new.reply_to_id)
    for _ in range(ID_CLASH_RETRIES):
        tweet_id = new_id()
        tweet = TweetModel(
            id=tweet_id, author_id=int(author.id), author_handle=author.handle,
            author_display_name=author.display_name, text=new.text,
            reply_to_id=new.reply_to_id, quote_of_id=new.quote_of_id,
            conversation_id=int(parent.conversation_id) if parent else tweet_id,
        )
        steps = {
            "tweet": save(tweet, condition=TweetModel.id.does_not_exist()),
            "author": update(UserModel(id=author.id), [UserModel.tweets_count.add(1)],
                             condition=UserModel.id.exists()),
        }
        if new.reply_to_id:
            steps["reply_to"] = update(TweetModel(id=new.reply_to_id), [TweetModel.reply_count.add(1)],
                                       condition=TweetModel.id.exists())
        if new.quote_of_id:
            steps["quote_of"] = check(TweetModel, new.quote_of_id, condition=TweetModel.id.exists())
        if record_key:
            record = IdempotencyModel(key=record_key, tweet_id=tweet_id, fingerprint=new.fingerprint(),
                                      expires_at=timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS))
            # TTL deletion can lag by days, so an expired record counts as free.
            steps["idempotency"] = save(record, condition=IdempotencyModel.key.does_not_exist()
                                        | (IdempotencyModel.expires_at < datetime.now(UTC)))
        try:
            transact_write(steps)
            return tweet, False
        except ConditionsFailed as exc:
            failed = exc.failed
            if "author" in failed:
                raise errors.unauthorized("The account no longer exists.") from None
            if "reply_to" in failed:
                raise errors.bad_request("`reply_to_id` names no tweet.", "unknown_tweet") from None
            if "quote_of" in failed:
                raise errors.bad_request("`quote_of_id` names no tweet.", "unknown_tweet") from None
            if "idempotency" in failed:
                replay = _replay(record_key, new)
                if replay:
                    return replay, True
            # Otherwise the id clashed with another container's: try a new one.
    raise RuntimeError("could not write the tweet")


def _reply_parent(reply_to_id: int | None) -> TweetModel | None:
    if reply_to_id is None:
        return None
    parent = find(reply_to_id)
    if parent is None:
        raise errors.bad_request("`reply_to_id` names no tweet.", "unknown_tweet")
    return parent


def _replay(record_key: str, new: NewTweet) -> TweetModel | None:
    try:
        record = IdempotencyModel.get(record_key, consistent_read=True)
    except IdempotencyModel.DoesNotExist:
        return None
    if record.expires_at < datetime.now(UTC):
        return None
    if record.fingerprint != new.fingerprint():
        raise errors.ApiError(422, "idempotency_key_reused",
                              "This Idempotency-Key was already used for a different tweet.")
    tweet = find(int(record.tweet_id))
    if tweet is None:
        raise errors.ApiError(409, "idempotent_tweet_deleted",
                              "The tweet this Idempotency-Key created has since been deleted.")
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


def recent_ids(author_id: int, count: int) -> list[int]:
    """The author's newest `count` tweet ids (one Query, ids only)."""
    return [int(t.id) for t in TweetModel.by_author.query(
        author_id, scan_index_forward=False, limit=count, page_size=count, attributes_to_get=["id"])]


def get(tweet_id: int) -> TweetModel:
    tweet = find(tweet_id)
    if tweet is None:
        raise errors.not_found("Tweet")
    return tweet


def delete_tweet(caller_id: int, tweet_id: int) -> None:
    """Deletes a tweet if the caller wrote it, uncounting it on its author
    and on the tweet it replies to. The author check is also the delete's
    own condition, so a concurrent delete cannot make it count twice."""
    tweet = get(tweet_id)
    if int(tweet.author_id) != caller_id:
        raise errors.forbidden("Only the author can delete a tweet.")
    steps = {
        "tweet": delete(TweetModel(id=tweet_id), condition=TweetModel.author_id == caller_id),
        "author": update(UserModel(id=caller_id), [UserModel.tweets_count.add(-1)],
                         condition=UserModel.id.exists()),
    }
    if tweet.reply_to_id:
        steps["reply_to"] = update(TweetModel(id=tweet.reply_to_id), [TweetModel.reply_count.add(-1)],
                                   condition=TweetModel.id.exists())
    try:
        transact_write(steps)
    except ConditionsFailed as exc:
        if "tweet" in exc.failed:
            raise errors.not_found("Tweet") from None  # deleted meanwhile
        if exc.failed == {"reply_to"}:  # the parent is gone: nothing left to uncount
            del steps["reply_to"]
            transact_write(steps)
        else:
            raise


def user_timeline(author_id: int, page: PageRequest) -> tuple[list[TweetModel], bool]:
    """A page of a user's tweets, newest first, and whether more follow.
    One Query on the by-author index."""
    condition = range_condition(TweetModel.id, page)
    if condition is EMPTY:
        return [], False
    items = list(TweetModel.by_author.query(
        author_id, range_key_condition=condition, scan_index_forward=False,
        limit=page.limit + 1, page_size=page.limit + 1))
    return items[: page.limit], len(items) > page.limit
