"""Affinity: how much a reader engages with an author, for the ranked home
timeline (chalicelib.home.ranking lifts the authors a reader engages with).

What counts
-----------

A reader's like, reply, retweet or quote of an author's tweet is one
engagement with that author, worth AFFINITY_WEIGHTS[kind] when new and
halving every AFFINITY_HALF_LIFE_DAYS::

    affinity(now) = Σ AFFINITY_WEIGHTS[kind] · 2 ^ (-(now - at) / half-life)

so about 1 per recent like. Engaging with oneself is not affinity and is
not kept. Undoing an engagement (an unlike, deleting the reply or quote,
undoing the retweet, or the original's deletion cascading its likes and
retweets away) takes it out again.

How it is kept
--------------

One item per (reader, author) in the affinity table (AffinityModel), with
one number attribute per engagement still counted: its name is the kind's
prefix and the id of what was engaged with (AFFINITY_PREFIXES: `l<tweet
id>` for a like of that tweet; `r`, `t`, `q` + the id of the reply, the
retweet, the quote), its value the engagement's time in Unix seconds (taken
from the Snowflake id of the like or tweet, so a replay writes the same
number). The decay is computed when the item is read, never written, so
nothing has to revisit old items as time passes.

Written only by the likes and tweets stream handlers (`on_like_record`,
`on_tweet_record`), one UpdateItem per engagement and no read:

- `engage`: `SET #e = :at`, returning the item as it now is (ReturnValues
  costs no extra capacity). Writing the same attribute again is harmless,
  so a redelivered record counts once. If the item then holds more than
  AFFINITY_MAX_ENGAGEMENTS engagements, a second UpdateItem removes the
  oldest beyond the cap (rare: only a reader's 33rd engagement with one
  author): the item stays under 1 KB, one write unit per update.
- `disengage`: `REMOVE #e`, conditional on the item existing, so an undo
  that finds no item (its engagement predates affinity) does not leave a
  key-only item behind (moto creates one for a bare REMOVE; with the
  condition, neither moto nor DynamoDB can). Removing twice, or
  removing an engagement the cap already dropped, is harmless. An item whose last engagement is
  removed stays, holding only its keys; `of` skips it.

Under redrive (chalicelib.events.redrive) a replayed INSERT whose like or
tweet is gone again is skipped as superseded before it gets here, so it
cannot bring back an engagement that was undone.

Read by `of`: the reader's items for a page's authors in BatchGetItem
calls of at most 100 keys, eventually consistent (an engagement a second
old may be missed; the ranking does not need it).
"""
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import settings
from chalicelib.storage import batches, tables
from chalicelib.storage.ids import id_timestamp_ms
from chalicelib.storage.tables import AffinityModel, LikeModel, TweetModel

SECONDS_PER_DAY = 86_400
_KEY = {"#reader": "reader_id"}  # the condition's name for "the item exists"


@dataclass(frozen=True)
class Affinity:
    """A reader's affinity with one author at some `now`: the decayed sum,
    and the kind of engagement contributing most to it (for a reason like
    "you often like @bob")."""

    value: float
    kind: str


# --- the decay: pure -------------------------------------------------------------

def attribute_name(kind: str, engaged_id: int) -> str:
    return f"{settings.AFFINITY_PREFIXES[kind]}{engaged_id}"


def kind_of(name: str) -> str | None:
    """The kind of engagement an attribute name holds, or None for the keys
    (`reader_id` starts like a reply's `r<id>`, hence the digits check)."""
    for kind, prefix in settings.AFFINITY_PREFIXES.items():
        rest = name.removeprefix(prefix)
        if rest != name and rest.isdigit():
            return kind
    return None


def engagements(item: Mapping[str, Any]) -> dict[str, int]:
    """Attribute name -> time (Unix seconds) of each engagement in a raw item."""
    return {name: int(value["N"]) for name, value in item.items() if kind_of(name) and "N" in value}


def value(engaged: Mapping[str, float], now: float) -> Affinity | None:
    """The affinity the engagements `engaged` (attribute name -> Unix
    seconds) add up to at `now`; None if there are none. An engagement
    dated after `now` (clock skew between writers) counts as new."""
    half_life = settings.AFFINITY_HALF_LIFE_DAYS * SECONDS_PER_DAY
    terms: dict[str, list[float]] = {}
    for name, at in engaged.items():
        kind = kind_of(name)
        if kind is not None:
            decayed = settings.AFFINITY_WEIGHTS[kind] * math.pow(2.0, -max(0.0, now - at) / half_life)
            terms.setdefault(kind, []).append(decayed)
    if not terms:
        return None
    # fsum: exactly rounded, so the value does not depend on the attributes' order
    # (and another engagement never lowers it, not even in the last digit).
    by_kind = {kind: math.fsum(kind_terms) for kind, kind_terms in terms.items()}
    # The top kind; ties go to the first in settings' order, so the reason is stable.
    top = max((kind for kind in settings.AFFINITY_WEIGHTS if kind in by_kind), key=by_kind.__getitem__)
    return Affinity(value=math.fsum(t for kind_terms in terms.values() for t in kind_terms), kind=top)

def beyond_cap(engaged: Mapping[str, int]) -> list[str]:
    """The engagements to drop to keep the newest AFFINITY_MAX_ENGAGEMENTS.
    Times are whole seconds, so ties are broken by the engaged id (for a
    reply, retweet or quote its own id, which orders them exactly), then the
    name: every writer picks the same ones."""
    def newness(name: str) -> tuple[int, int, str]:
        kind = kind_of(name)
        engaged_id = int(name.removeprefix(settings.AFFINITY_PREFIXES[kind])) if kind else 0
        return engaged[name], engaged_id, name

    newest_first = sorted(engaged, key=newness, reverse=True)
    return newest_first[settings.AFFINITY_MAX_ENGAGEMENTS:]


# --- writing: the stream handlers' verbs -----------------------------------------

def engage(reader_id: int, author_id: int, kind: str, engaged_id: int, at: int) -> None:
    """Counts one engagement (`kind` of `engaged_id` at Unix second `at`)
    of the reader with the author: one UpdateItem, a second if over the cap."""
    if reader_id == author_id:
        return
    item = _update(reader_id, author_id, "SET #e = :at", {"#e": attribute_name(kind, engaged_id)},
                   values={":at": {"N": str(at)}}, ReturnValues="ALL_NEW")
    dropped = beyond_cap(engagements(item))
    if dropped:
        names = {f"#d{i}": name for i, name in enumerate(dropped)}
        _update(reader_id, author_id, "REMOVE " + ", ".join(names), names)


def disengage(reader_id: int, author_id: int, kind: str, engaged_id: int) -> None:
    """Takes one engagement out again: one UpdateItem, none if it is the
    reader's own. Nothing to take out (no item) is done, not an error."""
    if reader_id == author_id:
        return
    try:
        _update(reader_id, author_id, "REMOVE #e", {"#e": attribute_name(kind, engaged_id), **_KEY},
                ConditionExpression="attribute_exists(#reader)")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise


def _update(reader_id: int, author_id: int, expression: str, names: dict[str, str],
            values: dict | None = None, **request) -> Mapping[str, Any]:
    """One UpdateItem on the (reader, author) item; its attributes as
    ReturnValues asks (none by default). Raises on failure, so the stream
    record is retried."""
    if values:
        request["ExpressionAttributeValues"] = values
    response = tables.client().update_item(
        TableName=AffinityModel.Meta.table_name,
        Key={"reader_id": {"N": str(reader_id)}, "author_id": {"N": str(author_id)}},
        UpdateExpression=expression, ExpressionAttributeNames=names, **request)
    return response.get("Attributes", {})


# --- from the streams ------------------------------------------------------------

def _seconds(snowflake: int) -> int:
    return id_timestamp_ms(snowflake) // 1000


def on_like_record(record: dict) -> None:
    """A like engages its user with the liked tweet's author, at the like's time."""
    change = record["dynamodb"]
    if record["eventName"] == "INSERT":
        like = LikeModel.from_raw_data(change["NewImage"])
        engage(int(like.user_id), int(like.author_id), "like", int(like.tweet_id),
               _seconds(int(like.like_id)))
    elif record["eventName"] == "REMOVE":
        like = LikeModel.from_raw_data(change["OldImage"])
        disengage(int(like.user_id), int(like.author_id), "like", int(like.tweet_id))


def of_tweet(tweet: TweetModel) -> list[tuple[int, str]]:
    """(author engaged with, kind) for each engagement a tweet is: a retweet
    one, a reply and a quote one each (a reply may also quote)."""
    engaged = [(tweet.retweet_of_author_id, "retweet"), (tweet.reply_to_author_id, "reply"),
               (tweet.quote_of_author_id, "quote")]
    return [(int(author_id), kind) for author_id, kind in engaged if author_id is not None]


def on_tweet_record(record: dict) -> None:
    """A new retweet, reply or quote engages its author with the other
    tweet's author; its removal (deleted, undone, or cascaded) undoes that.
    MODIFY only changes counts: nothing to do."""
    change = record["dynamodb"]
    if record["eventName"] == "INSERT":
        tweet = TweetModel.from_raw_data(change["NewImage"])
        for author_id, kind in of_tweet(tweet):
            engage(int(tweet.author_id), author_id, kind, int(tweet.id), _seconds(int(tweet.id)))
    elif record["eventName"] == "REMOVE":
        tweet = TweetModel.from_raw_data(change["OldImage"])
        for author_id, kind in of_tweet(tweet):
            disengage(int(tweet.author_id), author_id, kind, int(tweet.id))


# --- reading -----------------------------------------------------------------------

def of(reader_id: int, author_ids: Iterable[int], now: float) -> dict[int, Affinity]:
    """Author -> the reader's affinity with them at `now` (Unix seconds), for
    the authors the reader has engagements with; the others are absent.
    One BatchGetItem per 100 distinct authors (the reader's own id is not
    asked for), none for no authors."""
    wanted = sorted(set(author_ids) - {reader_id})
    if not wanted:
        return {}
    table = AffinityModel.Meta.table_name
    keys = [{**batches.number_key("reader_id", reader_id), **batches.number_key("author_id", author_id)}
            for author_id in wanted]
    found = {}
    for item in batches.get({table: keys})[table]:
        affinity = value(engagements(item), now)
        if affinity is not None:
            found[int(item["author_id"]["N"])] = affinity
    return found
