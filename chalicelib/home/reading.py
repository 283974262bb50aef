"""The home timeline read path: a page of the reader's materialised entries
merged with the followed celebrities' recent tweets, hydrated, checked and
de-duplicated.

Reading a page costs 1 GetItem (the reader's celebrity list and rebuild
flag), 1 Query on the reader's timeline, 1 Query per followed celebrity
(served from a short in-container cache when warm) and 1 BatchGetItem per
100 keys to hydrate the tweets and check the follows they came through.
Nothing here grows with how many accounts the reader follows.

Retweets: an original appears at most once in a timeline. The entry shown
for it is the oldest that carries it: the original itself if it is there
(materialised, or pulled from a followed celebrity; an original is older
than its retweets), else its oldest retweet there (by id, whenever it
arrived: a backfill can bring an older one); the others are kept but
skipped, so undoing the shown retweet lets the next one take its place.
Checking costs keys in the same BatchGetItem (the reader's entries for the
originals, and the followed celebrities' retweets of them that the pull
cache lists); 1 more BatchGetItem when an original there as itself is by
an author with nothing else on the page (is that author still followed?
an entry can outlive an unfollow); and, for a retweet whose original is
not there as itself, 1 Query per distinct original on the page (the
by-original index).

A followed celebrity's retweet can also be older than the CELEBRITY_PULL
newest tweets the cache holds. The cache rules that out for an original
newer than the oldest tweet it holds (a retweet is newer than its
original), for a celebrity with fewer tweets than it holds, and for one
whose retweet of it is listed (one retweet per user and original). The
rest of the (original, celebrity) pairs are known from the caches and the
candidates before anything is read, so their markers in the retweets
table are keys in the same hydration BatchGetItem: no extra call unless
they take it past a multiple of 100 keys. That reads some markers a page
turns out not to need (an original shown as itself, an older retweet on
the page), at 1 read unit each. They are read strongly consistently
(ConsistentRead on that table alone; the tweets stay eventually
consistent): a marker and its retweet go in one transaction, and a marker
still seen after an undo would hide the next retweet of the original with
nothing shown for it. A marker just written would not need it (its
retweet's id is newer than the retweets already on the page, so it does
not win); a marker just deleted does. Those celebrities' follows are checked in the same
call. Pages with no such pair read no marker.
"""
import time
from dataclasses import dataclass
from typing import NamedTuple

from chalicelib import errors, settings
from chalicelib.home import entries
from chalicelib.observe import metrics
from chalicelib.storage import batches
from chalicelib.storage.paging import EMPTY, PageRequest, range_condition
from chalicelib.storage.tables import FollowModel, RetweetModel, TimelineModel, TweetModel, UserModel


class Candidate(NamedTuple):
    """A tweet that may be on a page: from the reader's entries or pulled
    from a followed celebrity."""
    tweet_id: int
    author_id: int
    original_id: int | None  # set for a retweet


Shown = tuple[TweetModel, TweetModel | None]  # a tweet, and the original if it is a retweet


@dataclass
class HomePage:
    tweets: list[Shown]
    more: bool  # older entries exist past this page
    last_key: int | None  # the oldest id this page considered: the next page starts below it
    partial: bool  # the timeline is being rebuilt for a returning user


# What a read goes through (with the shared client batches use), for its call count.
MODELS = (UserModel, TimelineModel, TweetModel)
_celebrity_cache: dict[int, tuple[float, list[Candidate]]] = {}
_PULLED = ["id", "author_id", "retweet_of_id"]


def _pulled(tweets) -> list[Candidate]:
    return [Candidate(int(t.id), int(t.author_id), None if t.retweet_of_id is None else int(t.retweet_of_id))
            for t in tweets]


def _celebrity_recent(author_id: int) -> list[Candidate]:
    """The newest CELEBRITY_PULL tweets of a celebrity, from the
    in-container cache while fresh: every reader of a celebrity in this
    container shares one Query."""
    now = time.monotonic()
    cached = _celebrity_cache.get(author_id)
    if cached and cached[0] > now:
        metrics.count("CelebrityCacheHits")
        return cached[1]
    metrics.count("CelebrityCacheMisses")
    recent = _pulled(TweetModel.by_author.query(
        author_id, scan_index_forward=False, limit=settings.CELEBRITY_PULL,
        page_size=settings.CELEBRITY_PULL, attributes_to_get=_PULLED))
    if settings.CELEBRITY_CACHE_SECONDS > 0:
        _celebrity_cache[author_id] = (now + settings.CELEBRITY_CACHE_SECONDS, recent)
    return recent


def _celebrity_slice(author_id: int, page: PageRequest, want: int) -> list[Candidate]:
    """Up to `want` of a celebrity's tweets in the page's range, newest first.
    First pages come from the cache when it holds enough (all `want`, or
    the whole range: a ranked window's lower bound falls inside it); deeper
    pages (with max_id) query the author's index directly."""
    if page.max_id is None:
        recent = _celebrity_recent(author_id)
        in_range = [c for c in recent if page.since_id is None or c.tweet_id > page.since_id]
        holds_all = len(recent) < settings.CELEBRITY_PULL or len(in_range) < len(recent)
        if holds_all or len(in_range) >= want:
            return in_range[:want]
    condition = range_condition(TweetModel.id, page)
    if condition is EMPTY:
        return []
    return _pulled(TweetModel.by_author.query(
        author_id, range_key_condition=condition, scan_index_forward=False, limit=want,
        page_size=want, attributes_to_get=_PULLED))


def _candidates(reader_id: int, celebrities: set[int], page: PageRequest,
                want: int) -> tuple[list[Candidate], bool]:
    """Up to `want` candidates newest first from the materialised timeline
    and the followed celebrities, and whether more exist."""
    condition = range_condition(TimelineModel.tweet_id, page)
    if condition is EMPTY:
        return [], False
    merged = {int(e.tweet_id): Candidate(int(e.tweet_id), int(e.author_id),
                                         None if e.original_id is None else int(e.original_id))
              for e in TimelineModel.query(reader_id, range_key_condition=condition,
                                           scan_index_forward=False, limit=want + 1, page_size=want + 1)}
    for celebrity in sorted(celebrities):
        merged.update({c.tweet_id: c for c in _celebrity_slice(celebrity, page, want + 1)})
    ordered = [merged[t] for t in sorted(merged, reverse=True)]
    return ordered[:want], len(ordered) > want


def home_page(reader_id: int, page: PageRequest, window_only: bool = False,
              reader: UserModel | None = None) -> HomePage:
    """A page of the reader's home timeline. `window_only` (the ranked
    timeline's candidates, chalicelib.home.ranked) treats the page as the
    whole list: an original is shown once among the page's own items (by
    the oldest of them that carries it), with nothing looked up outside it,
    so retweets cost no by-original Queries. `reader` is the reader's item
    when the caller has it already (the request's authentication read it),
    saving the read."""
    if reader is None:
        try:
            reader = UserModel.get(reader_id,
                                   attributes_to_get=["id", "celebrity_followees", "timeline_rebuilding"])
        except UserModel.DoesNotExist:
            raise errors.NotFound("User") from None
    celebrities = {int(c) for c in reader.celebrity_followees or ()}
    shown: list[Shown] = []
    more, last_key, window, rounds = False, None, page, 0
    # More rounds only when entries were dropped or skipped.
    for rounds in range(1, settings.HOME_READ_ROUNDS + 1):  # noqa: B007 (counted after the loop)
        candidates, more = _candidates(reader_id, celebrities, window, page.limit - len(shown))
        if not candidates:
            break
        tweets, unfollowed = _hydrate(reader_id, candidates, celebrities, window_only)
        shown.extend(tweets)
        last_key = candidates[-1].tweet_id
        if unfollowed & celebrities:
            _forget_celebrities(reader_id, unfollowed & celebrities)
            celebrities -= unfollowed
        if not more or len(shown) >= page.limit:
            break
        window = PageRequest(page.limit, last_key, page.since_id)
    metrics.count("HomeReadRounds", rounds)
    return HomePage(shown, more, last_key, bool(reader.timeline_rebuilding))


def _forget_celebrities(reader_id: int, stale: set[int]) -> None:
    UserModel(id=reader_id).update(actions=[UserModel.celebrity_followees.delete(stale)])


def _hydrate(reader_id: int, candidates: list[Candidate], celebrities: set[int],
             window_only: bool = False) -> tuple[list[Shown], set[int]]:
    """The tweets to show for the candidates, and the authors the reader
    does not follow.

    Drops (and deletes) any entry whose tweet or original is gone or whose
    author the reader no longer follows: the tweets and follows streams are
    not ordered with each other, so such an entry can exist for a moment,
    but it is never served. The follows are read consistently, in the same
    BatchGetItem as the tweets, the retweets' originals, the reader's own
    entries for those originals and the followed celebrities' retweets of
    them that the pull cache lists (it may list one undone since, which
    must not keep another retweet from taking its place), and the retweet
    markers of the followed celebrities whose retweet of an original the
    cache cannot rule out (older than what it holds), strongly consistent
    as well. Retweets whose original is shown otherwise are skipped (see
    the module docstring). With `window_only`, see `home_page`.
    """
    originals = sorted({c.original_id for c in candidates if c.original_id is not None})
    # The followed celebrities' pull caches (no call while warm): their
    # retweets of these originals, and what the caches cannot rule out.
    recent = {c: _celebrity_recent(c) for c in sorted(celebrities)} if originals and not window_only else {}
    wanted = set(originals)
    pulled = [c for celebrity in sorted(recent) for c in recent[celebrity] if c.original_id in wanted]
    unsure = _uncovered(recent, originals, candidates)
    authors = sorted({c.author_id for c in candidates + pulled if c.author_id != reader_id}
                     | {celebrity for _, celebrity in unsure})
    tweets_table, follows_table = TweetModel.Meta.table_name, FollowModel.Meta.table_name
    timelines_table, retweets_table = TimelineModel.Meta.table_name, RetweetModel.Meta.table_name
    found = batches.get(
        {tweets_table: [batches.number_key("id", t) for t in
                        sorted({c.tweet_id for c in candidates + pulled} | set(originals))],
         follows_table: [{**batches.number_key("follower_id", reader_id),
                          **batches.number_key("followee_id", a)} for a in authors],
         timelines_table: [{**batches.number_key("user_id", reader_id),
                            **batches.number_key("tweet_id", o)} for o in originals],
         retweets_table: [{**batches.number_key("tweet_id", o), **batches.number_key("user_id", celebrity)}
                          for o, celebrity in unsure]},
        projections={timelines_table: "tweet_id", retweets_table: "tweet_id, user_id, retweet_id"},
        consistent={follows_table, retweets_table})
    tweets = {int(t.id): t for t in map(TweetModel.from_raw_data, found[tweets_table])}
    followed = {int(f["followee_id"]["N"]) for f in found[follows_table]}
    entered = {int(e["tweet_id"]["N"]) for e in found[timelines_table]}
    markers = [(int(m["tweet_id"]["N"]), int(m["user_id"]["N"]), int(m["retweet_id"]["N"]))
               for m in found[retweets_table]]
    # Originals there as themselves: their entry is there, or their author
    # is a pulled celebrity, and (as either can outlive an unfollow) the
    # reader follows their author: checked above if the author is on the
    # page, else in 1 more BatchGetItem for all of them.
    on_page = {c.tweet_id for c in candidates}
    claimed = {o: int(tweets[o].author_id) for o in originals
               if o in tweets and (o in entered or int(tweets[o].author_id) in celebrities)
               and (not window_only or o in on_page)}
    checked = set(authors) | (set(claimed.values()) - {reader_id})
    followed |= _followed(reader_id, checked - set(authors))
    itself = {o for o, author in claimed.items() if author == reader_id or author in followed}
    stale = [(reader_id, o) for o in sorted(entered - itself)]  # an original's entry that outlived it
    kept: list[tuple[Candidate, TweetModel, TweetModel | None]] = []
    for c in candidates:
        original = tweets.get(c.original_id) if c.original_id is not None else None
        if (c.tweet_id not in tweets or (c.author_id != reader_id and c.author_id not in followed)
                or (c.original_id is not None and original is None)):
            stale.append((reader_id, c.tweet_id))
        elif original is None:
            kept.append((c, tweets[c.tweet_id], None))
        elif c.original_id not in itself:
            kept.append((c, tweets[c.tweet_id], original))
        # else: the original is in this timeline as itself; the retweet is skipped
    if stale:
        metrics.count("HomeReadStaleDropped", len(stale))
        entries.remove(stale)  # a pulled celebrity tweet has no entry: deleting it is a no-op
    pulled = [c for c in pulled if c.tweet_id in tweets and c.author_id in followed]
    carried = {int(o.id) for _, _, o in kept if o is not None}
    if window_only:  # the oldest retweet on the page stands for its original
        first: dict[int, int] = {}
        for c, _, original in kept:
            if original is not None:
                first[int(original.id)] = min(first.get(int(original.id), c.tweet_id), c.tweet_id)
    else:
        first = _first_retweets(reader_id, carried, pulled)
    # A followed celebrity's retweet from before its pull window, by marker.
    for original_id, celebrity, retweet_id in markers:
        if celebrity in followed:
            first[original_id] = min(first.get(original_id, retweet_id), retweet_id)
    shown = [(tweet, original) for c, tweet, original in kept
             if original is None or first.get(int(original.id), c.tweet_id) >= c.tweet_id]
    return shown, checked - followed


def _followed(reader_id: int, authors: set[int]) -> set[int]:
    """The ones among `authors` the reader follows: a consistent
    BatchGetItem per 100, none for none."""
    table = FollowModel.Meta.table_name
    found = batches.get({table: [{**batches.number_key("follower_id", reader_id),
                                  **batches.number_key("followee_id", a)} for a in sorted(authors)]},
                        consistent={table})[table] if authors else []
    return {int(f["followee_id"]["N"]) for f in found}


def _uncovered(recent: dict[int, list[Candidate]], originals: list[int],
               candidates: list[Candidate]) -> list[tuple[int, int]]:
    """(original, celebrity) pairs for which the pull cache cannot rule out a
    retweet older than what it holds: the celebrity has at least
    CELEBRITY_PULL tweets, the original is older than the oldest of them
    (so a retweet of it may be older too), and neither the cache nor the
    page lists that celebrity's retweet of it (one per user and original)."""
    known = {(c.original_id, c.author_id) for c in candidates if c.original_id is not None}
    known |= {(c.original_id, c.author_id) for listed in recent.values() for c in listed
              if c.original_id is not None}
    return [(o, celebrity) for celebrity, listed in sorted(recent.items())
            if len(listed) >= settings.CELEBRITY_PULL
            for o in originals if o < listed[-1].tweet_id and (o, celebrity) not in known]


def _first_retweets(reader_id: int, originals: set[int], pulled: list[Candidate]) -> dict[int, int]:
    """For each original, the id of the oldest retweet of it in the reader's
    timeline: their entries (1 Query each on the by-original index) and the
    followed celebrities' retweets (`pulled`, checked to exist)."""
    first: dict[int, int] = {}
    for original in sorted(originals):
        for e in TimelineModel.by_original.query(reader_id, TimelineModel.original_id == original):
            first[original] = min(first.get(original, int(e.tweet_id)), int(e.tweet_id))
    for c in pulled:
        if c.original_id in originals:
            first[c.original_id] = min(first.get(c.original_id, c.tweet_id), c.tweet_id)
    return first
