"""Home timelines: the materialised entries (ids only) and the read path
that merges in followed celebrities' tweets.

Reading a page costs 1 GetItem (the reader's celebrity list and rebuild
flag), 1 Query on the reader's timeline, 1 Query per followed celebrity
(served from a short in-container cache when warm) and 1 BatchGetItem per
100 keys to hydrate the tweets and check the follows they came through.
Nothing here grows with how many accounts the reader follows.
"""
import hashlib
import time
from dataclasses import dataclass

from chalicelib import batches, errors, settings
from chalicelib.pages import EMPTY, PageRequest, range_condition
from chalicelib.tables import FollowModel, TimelineModel, TweetModel, UserModel

READ_ROUNDS = 3  # re-query when hydration drops entries, at most this often


# --- writing entries --------------------------------------------------------

def entry(user_id: int, tweet_id: int, author_id: int) -> dict:
    return batches.put_request(TimelineModel(user_id=user_id, tweet_id=tweet_id, author_id=author_id))


def add_entries(requests: list[dict]) -> None:
    """Writes timeline entries (from `entry`) in batches of 25."""
    batches.write(TimelineModel.Meta.table_name, requests)


def write_entries(users: list[int], tweet_id: int, author_id: int) -> None:
    """One tweet into many users' timelines (fan-out), trimming some."""
    add_entries([entry(user, tweet_id, author_id) for user in users])
    for user in users:
        if should_trim(user, tweet_id):
            trim(user)


def write_entries_for(user_id: int, tweet_ids: list[int], author_id: int) -> None:
    """Many tweets of one author into one user's timeline (backfill), then a trim."""
    add_entries([entry(user_id, t, author_id) for t in tweet_ids])
    if tweet_ids:
        trim(user_id)


def remove_entries(keys: list[tuple[int, int]]) -> None:
    """Deletes (user_id, tweet_id) entries in batches of 25."""
    unique = list(dict.fromkeys(keys))
    batches.write(TimelineModel.Meta.table_name,
                  [batches.delete_request(TimelineModel, user, tweet) for user, tweet in unique])


def remove_author(user_id: int, author_id: int) -> None:
    """Removes every entry of `author_id` from `user_id`'s timeline (an
    unfollow): one Query page at a time on the by-author index."""
    entries = TimelineModel.by_author.query(user_id, TimelineModel.author_id == author_id)
    remove_entries([(user_id, int(e.tweet_id)) for e in entries])


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
        remove_entries(keys)


# --- reading ----------------------------------------------------------------

@dataclass
class HomePage:
    tweets: list[TweetModel]
    more: bool  # older entries exist past this page
    last_key: int | None  # the oldest id this page considered: the next page starts below it
    partial: bool  # the timeline is being rebuilt for a returning user


_celebrity_cache: dict[int, tuple[float, list[tuple[int, int]]]] = {}


def _celebrity_recent(author_id: int) -> list[tuple[int, int]]:
    """The newest CELEBRITY_PULL (tweet id, author id) of a celebrity, from
    the in-container cache while fresh: every reader of a celebrity in this
    container shares one Query."""
    now = time.monotonic()
    cached = _celebrity_cache.get(author_id)
    if cached and cached[0] > now:
        return cached[1]
    recent = [(int(t.id), author_id) for t in TweetModel.by_author.query(
        author_id, scan_index_forward=False, limit=settings.CELEBRITY_PULL,
        page_size=settings.CELEBRITY_PULL, attributes_to_get=["id", "author_id"])]
    if settings.CELEBRITY_CACHE_SECONDS > 0:
        _celebrity_cache[author_id] = (now + settings.CELEBRITY_CACHE_SECONDS, recent)
    return recent


def _celebrity_slice(author_id: int, page: PageRequest, want: int) -> list[tuple[int, int]]:
    """Up to `want` of a celebrity's tweets in the page's range, newest first.
    First pages come from the cache when it holds enough; deeper pages
    (with max_id) query the author's index directly."""
    if page.max_id is None and want <= settings.CELEBRITY_PULL:
        recent = _celebrity_recent(author_id)
        in_range = [(t, a) for t, a in recent if page.since_id is None or t > page.since_id]
        holds_all = len(recent) < settings.CELEBRITY_PULL or len(in_range) < len(recent)
        if holds_all or len(in_range) >= want:
            return in_range[:want]
    condition = range_condition(TweetModel.id, page)
    if condition is EMPTY:
        return []
    return [(int(t.id), author_id) for t in TweetModel.by_author.query(
        author_id, range_key_condition=condition, scan_index_forward=False, limit=want,
        page_size=want, attributes_to_get=["id", "author_id"])]


def _candidates(reader_id: int, celebrities: set[int], page: PageRequest,
                want: int) -> tuple[list[tuple[int, int]], bool]:
    """Up to `want` (tweet id, author id) newest first from the materialised
    timeline and the followed celebrities, and whether more exist."""
    condition = range_condition(TimelineModel.tweet_id, page)
    if condition is EMPTY:
        return [], False
    own = [(int(e.tweet_id), int(e.author_id)) for e in TimelineModel.query(
        reader_id, range_key_condition=condition, scan_index_forward=False,
        limit=want + 1, page_size=want + 1)]
    merged = dict(own)
    for celebrity in sorted(celebrities):
        merged.update(dict(_celebrity_slice(celebrity, page, want + 1)))
    ordered = sorted(merged.items(), reverse=True)
    return ordered[:want], len(ordered) > want


def home_page(reader_id: int, page: PageRequest) -> HomePage:
    try:
        reader = UserModel.get(reader_id,
                               attributes_to_get=["id", "celebrity_followees", "timeline_rebuilding"])
    except UserModel.DoesNotExist:
        raise errors.not_found("User") from None
    celebrities = {int(c) for c in reader.celebrity_followees or ()}
    shown: list[TweetModel] = []
    more, last_key, window = False, None, page
    for _ in range(READ_ROUNDS):  # more rounds only when entries were dropped
        candidates, more = _candidates(reader_id, celebrities, window, page.limit - len(shown))
        if not candidates:
            break
        tweets, unfollowed = _hydrate(reader_id, candidates)
        shown.extend(tweets)
        last_key = candidates[-1][0]
        if unfollowed & celebrities:
            _forget_celebrities(reader_id, unfollowed & celebrities)
            celebrities -= unfollowed
        if not more or len(shown) >= page.limit:
            break
        window = PageRequest(page.limit, last_key, page.since_id)
    return HomePage(shown, more, last_key, bool(reader.timeline_rebuilding))


def _forget_celebrities(reader_id: int, stale: set[int]) -> None:
    UserModel(id=reader_id).update(actions=[UserModel.celebrity_followees.delete(stale)])


def _hydrate(reader_id: int, candidates: list[tuple[int, int]]) -> tuple[list[TweetModel], set[int]]:
    """Tweets for the candidates, and the authors the reader does not follow.

    Drops (and deletes) any entry whose tweet is gone or whose author the
    reader no longer follows: the tweets and follows streams are not ordered
    with each other, so such an entry can exist for a moment, but it is never
    served. The follows are read consistently, in the same BatchGetItem.
    """
    authors = sorted({a for _, a in candidates if a != reader_id})
    tweets_table, follows_table = TweetModel.Meta.table_name, FollowModel.Meta.table_name
    found = batches.get(
        {tweets_table: [batches.number_key("id", t) for t, _ in candidates],
         follows_table: [{**batches.number_key("follower_id", reader_id),
                          **batches.number_key("followee_id", a)} for a in authors]},
        consistent={follows_table})
    tweets = {int(t.id): t for t in map(TweetModel.from_raw_data, found[tweets_table])}
    followed = {int(f["followee_id"]["N"]) for f in found[follows_table]}
    shown, stale = [], []
    for tweet_id, author_id in candidates:
        if tweet_id in tweets and (author_id == reader_id or author_id in followed):
            shown.append(tweets[tweet_id])
        else:
            stale.append((reader_id, tweet_id))
    if stale:
        remove_entries(stale)  # a pulled celebrity tweet has no entry: deleting it is a no-op
    return shown, set(authors) - followed
