"""Ranked home timelines (`GET /timelines/home?ranked=1`): the reader's
recent home timeline, interesting first, paged through a snapshot.

- `first_page` gathers the candidates: what the chronological timeline
  shows from the last RANKED_WINDOW_HOURS, at most its newest
  RANKED_CANDIDATES (followed celebrities' tweets and the reader's own
  included, deleted and unfollowed never, each original once: the same
  read, chalicelib.home.reading). It reads the reader's affinity with their
  authors (chalicelib.home.affinity), ranks them (chalicelib.home.ranking),
  serves the top `limit`, and keeps the order of the rest, ids only, in a
  snapshot for RANKED_SNAPSHOT_SECONDS.
- `later_page` serves the next `limit` places of a snapshot: the order was
  fixed when it was taken, so paging through never repeats or skips an item
  while new tweets, likes and views arrive. What was deleted or unfollowed
  since is left out (a shorter page, not a skipped place).

A snapshot stores for each place the tweet shown (a retweet, or the
original itself), its original, the author shown (for the follow check),
the score and the affinity used: 33 bytes a place, so the rest of 200
candidates costs one PutItem of at most 7 write units, and a first page
with nothing after it writes nothing. A later page re-reads its tweets (current
counts, and whether they still exist) and the follows in one BatchGetItem,
and says its reasons from those counts and the stored affinity; its score
is the stored one, so scores fall from page to page as the order does.

Cost: a first page is the chronological read of the window (1 GetItem, 1
Query, the followed celebrities' cached Queries, hydration BatchGetItems of
100 keys), 1 BatchGetItem per 100 authors for affinity, and 1 PutItem; a
later page is 1 GetItem and 1 BatchGetItem (of up to 3 keys a place, so
pages of more than 33 places take 2).
"""
import struct
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib import errors, settings
from chalicelib.home import affinity, ranking, reading
from chalicelib.observe import metrics, traces
from chalicelib.storage import batches, calls
from chalicelib.storage.ids import id_timestamp_ms, min_id_at, new_id
from chalicelib.storage.paging import PageRequest
from chalicelib.storage.tables import FollowModel, SnapshotModel, TweetModel, UserModel

clock = time.time  # Unix seconds now; tests move it

# One place: shown tweet id, original id (0: the shown tweet is the
# original), the shown tweet's author, score, affinity, affinity kind.
_PLACE = struct.Struct(">qqqffB")
_KINDS = (None, *sorted(settings.AFFINITY_WEIGHTS))  # affinity kinds by number; 0 for none


@dataclass(frozen=True)
class Place:
    """One item of a ranked page: the tweet shown (and its original for a
    retweet), its score and its reasons."""
    tweet: TweetModel
    original: TweetModel | None
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class RankedPage:
    places: list[Place]
    snapshot_id: int | None  # where the next page is kept; None when this was the last
    offset: int  # the next page's first place in the snapshot
    partial: bool  # the timeline is being rebuilt for a returning user
    expires_at: float | None  # Unix seconds after which the snapshot is gone


@dataclass(frozen=True)
class _Kept:
    """A place as the snapshot keeps it."""
    tweet_id: int
    original_id: int  # 0 when the shown tweet is the original
    author_id: int  # of the shown tweet
    score: float
    affinity: float
    kind: str | None


# What a ranked page goes through (with the shared client batches use), for its call count.
MODELS = (*reading.MODELS, SnapshotModel)


def first_page(reader_id: int, limit: int, bounds: PageRequest | None = None,
               reader: UserModel | None = None) -> RankedPage:
    """The top `limit` of the reader's ranked candidates; the rest kept for
    the next pages (a new snapshot every time: a request without a cursor
    starts again). `reader`: their item, if read already."""
    with traces.span("ranked first page", reader_id=reader_id), calls.counting(MODELS) as made:
        page = _first_page(reader_id, limit, bounds, reader)
    metrics.count("RankedReadCalls", made.total())
    return page


def _first_page(reader_id: int, limit: int, bounds: PageRequest | None,
                reader: UserModel | None) -> RankedPage:
    now = clock()
    since = min_id_at(int((now - settings.RANKED_WINDOW_HOURS * 3600) * 1000)) - 1
    if bounds is not None and bounds.since_id is not None:
        since = max(since, bounds.since_id)
    window = PageRequest(settings.RANKED_CANDIDATES, bounds.max_id if bounds else None, since)
    home = reading.home_page(reader_id, window, window_only=True, reader=reader)
    # Each original once: a later read round (older entries) can carry one an
    # earlier round did. The original itself, else its oldest retweet, stands for it.
    originals: dict[int, reading.Shown] = {}
    for tweet, original in home.tweets:
        key = int((original or tweet).id)
        if key not in originals or originals[key][1] is not None:
            originals[key] = (tweet, original)
    authors = {int((original or tweet).author_id) for tweet, original in originals.values()} - {reader_id}
    affinities = affinity.of(reader_id, sorted(authors), now)
    candidates = [_candidate(reader_id, tweet, original, affinities.get(int((original or tweet).author_id)))
                  for tweet, original in originals.values()]
    ranked = ranking.rank(candidates, now)
    places = [Place(*originals[r.candidate.tweet_id], score=r.score, reasons=r.reasons)
              for r in ranked[:limit]]
    rest = [_kept(originals[r.candidate.tweet_id], r) for r in ranked[limit:]]
    if not rest:
        return RankedPage(places, None, 0, home.partial, None)
    snapshot_id, expires_at = new_id(), now + settings.RANKED_SNAPSHOT_SECONDS
    SnapshotModel(reader_id=reader_id, snapshot_id=snapshot_id, entries=_pack(rest),
                  expires_at=datetime.fromtimestamp(expires_at, UTC)).save()
    return RankedPage(places, snapshot_id, 0, home.partial, expires_at)


def later_page(reader_id: int, snapshot_id: int, offset: int, limit: int,
               bounds: PageRequest | None = None) -> RankedPage:
    """Places offset .. offset + limit of a snapshot the reader's first page
    took, less any outside `bounds` (the page is then shorter). Gone
    (expired, or never this reader's): errors.Invalid."""
    with traces.span("ranked later page", reader_id=reader_id), calls.counting(MODELS) as made:
        page = _later_page(reader_id, snapshot_id, offset, limit, bounds)
    metrics.count("RankedReadCalls", made.total())
    return page


def _later_page(reader_id: int, snapshot_id: int, offset: int, limit: int,
                bounds: PageRequest | None) -> RankedPage:
    now = clock()
    try:
        snapshot = SnapshotModel.get(reader_id, snapshot_id)
    except SnapshotModel.DoesNotExist:
        snapshot = None
    # TTL deletion can lag by days: an expired snapshot counts as gone.
    if snapshot is None or snapshot.expires_at.timestamp() <= now:
        raise errors.Invalid("This ranked timeline has expired; start again without `cursor`.",
                             "cursor_expired")
    kept = _unpack(snapshot.entries)
    window = [k for k in kept[offset:offset + limit] if bounds is None or _within(k.tweet_id, bounds)]
    places = _hydrate(reader_id, window, now)
    more = offset + limit < len(kept)
    return RankedPage(places, snapshot_id if more else None, offset + limit, False,
                      snapshot.expires_at.timestamp())


def _within(tweet_id: int, bounds: PageRequest) -> bool:
    return (bounds.max_id is None or tweet_id < bounds.max_id) and \
        (bounds.since_id is None or tweet_id > bounds.since_id)


def _candidate(reader_id: int, tweet: TweetModel, original: TweetModel | None,
               found: "affinity.Affinity | None") -> ranking.Candidate:
    """What the ranker sees of a shown tweet: its original's counts and age."""
    shown = original or tweet
    author_id = int(shown.author_id)
    return ranking.Candidate(
        tweet_id=int(shown.id), author_id=author_id, created_at=id_timestamp_ms(int(shown.id)) / 1000,
        like_count=int(shown.like_count or 0), retweet_count=int(shown.retweet_count or 0),
        reply_count=int(shown.reply_count or 0), quote_count=int(shown.quote_count or 0),
        views_count=int(shown.views_count or 0), affinity=found.value if found else 0.0,
        affinity_kind=found.kind if found else None, own=author_id == reader_id,
        author_handle=shown.author_handle)


def _kept(shown: tuple[TweetModel, TweetModel | None], ranked: ranking.Ranked) -> _Kept:
    tweet, original = shown
    return _Kept(int(tweet.id), int(original.id) if original is not None else 0, int(tweet.author_id),
                 ranked.score, ranked.candidate.affinity, ranked.candidate.affinity_kind)


def _pack(kept: list[_Kept]) -> bytes:
    return b"".join(_PLACE.pack(k.tweet_id, k.original_id, k.author_id, k.score, k.affinity,
                                _KINDS.index(k.kind)) for k in kept)


def _unpack(data: bytes) -> list[_Kept]:
    return [_Kept(tweet_id, original_id, author_id, score, value, _KINDS[kind])
            for tweet_id, original_id, author_id, score, value, kind in _PLACE.iter_unpack(data)]


def _hydrate(reader_id: int, window: list[_Kept], now: float) -> list[Place]:
    """The window's tweets as they are now, in one BatchGetItem (per 100
    keys) with the follows they came through; deleted or unfollowed left out."""
    tweets_table, follows_table = TweetModel.Meta.table_name, FollowModel.Meta.table_name
    ids = sorted({k.tweet_id for k in window} | {k.original_id for k in window if k.original_id})
    authors = sorted({k.author_id for k in window} - {reader_id})
    found = batches.get(
        {tweets_table: [batches.number_key("id", i) for i in ids],
         follows_table: [{**batches.number_key("follower_id", reader_id),
                          **batches.number_key("followee_id", a)} for a in authors]},
        consistent={follows_table})
    tweets = {int(t.id): t for t in map(TweetModel.from_raw_data, found[tweets_table])}
    followed = {int(f["followee_id"]["N"]) for f in found[follows_table]} | {reader_id}
    places = []
    for k in window:
        tweet, original = tweets.get(k.tweet_id), tweets.get(k.original_id) if k.original_id else None
        if tweet is None or k.author_id not in followed or (k.original_id and original is None):
            continue
        found_affinity = affinity.Affinity(k.affinity, k.kind) if k.affinity > 0 and k.kind else None
        candidate = _candidate(reader_id, tweet, original, found_affinity)
        places.append(Place(tweet, original, k.score,
                            tuple(ranking.reasons(candidate, ranking.score(candidate, now)))))
    return places
