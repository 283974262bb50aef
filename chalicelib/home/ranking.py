"""The score of a ranked home timeline (issue 11): a pure function of one
candidate's counts, its age, and the reader's affinity with its author, plus
the order of a whole set of candidates with author diversity and reasons a
person understands. No I/O: the home page reader gathers the candidates
(`Candidate`), calls `rank`, and stores and shapes what it returns.

The formula
-----------

For a candidate of age `age` hours at `now`::

    engagement = RANKED_LIKE_WEIGHT·likes + RANKED_RETWEET_WEIGHT·retweets
               + RANKED_REPLY_WEIGHT·replies + RANKED_QUOTE_WEIGHT·quotes
    engaged    = min(likes + retweets + replies + quotes, views)
    wilson     = the lower bound of the Wilson score interval of engaged/views
                 at z = WILSON_Z (0 with no views)
    score      = (1 + RANKED_ENGAGEMENT_WEIGHT · ln(1 + engagement))
               · (1 + RANKED_VIEWER_WEIGHT · wilson)
               · (1 + RANKED_AFFINITY_WEIGHT · ln(1 + affinity))
               · 2 ^ (-age / RANKED_HALF_LIFE_HOURS)

and on the ranked list each candidate's score is further multiplied by
AUTHOR_DIVERSITY_DECAY ^ k, k being how many tweets by the same author rank
above it (`rank` places them greedily, so the author's best tweet is the
one at full weight). Ties go to the newer tweet, then the higher id.

Why this shape
--------------

- **Weights.** X's published heavy ranker (twitter/the-algorithm-ml,
  projects/home/recap) weighs the predicted probability of a like 0.5, a
  retweet 1.0 and a reply 13.5. We keep its order and its retweet-to-like
  ratio (2) but damp the reply from 27 likes' worth to 4: X can afford 27
  because it also subtracts negative feedback (-74) and reports (-369),
  which Chirp does not have, so a reply count cannot tell a conversation
  from a pile-on. X has no quote label; a quote is a retweet with something
  to say, so it sits between the two (3).
- **Logarithms** of engagement and affinity: diminishing returns, so a
  viral tweet does not bury a day of its neighbours. With the defaults, 10,000
  likes lift a tweet about 2.2 times as much as 50 likes do, about one
  half-life's worth of age.
- **A Wilson lower bound, not a raw rate**, for engagement per view: few
  views are weak evidence, so 1 like in 1 view bounds 0.13 (at z = 2.576,
  99%), 5 likes in 20 views 0.087, 50 likes in 100,000 views 0.0004.
  Engaged viewers are capped at the views, since views are counted
  asynchronously and may lag.
- **A product, not a sum.** The bound above shows why: 1 like in 1 view has
  a higher bound than 5 in 20, so in a sum any viewer weight big enough for
  5 in 20 to beat 50 in 100,000 would also let a single lucky like beat an
  ordinarily engaged tweet. Multiplied, the rate amplifies the engagement
  there is (how much evidence times how good it is). With the defaults, at
  the same age: 5 likes in 20 views score 4.58 · 2.22 = 10.2, 50 likes in
  100,000 views 8.86 · 1.005 = 8.9, 1 like in 1 view 2.39 · 2.83 = 6.8,
  and an ordinary 20 likes, 3 retweets, 2 replies in 1,000 views
  8.11 · 1.21 = 9.8 (tests/unit/test_ranking.py holds these, and that an
  unengaged new tweet scores 1). Affinity scales the
  whole score too, so a friend's tweet beats the same tweet by a stranger
  by a fixed ratio however popular both are, and the half-life means what
  it says: a tweet `RANKED_HALF_LIFE_HOURS` old weighs exactly half of the
  same tweet now, whatever else it has.
- **The 1s** keep an unengaged, unviewed tweet by a stranger at 2^(-age/h),
  not 0, so such tweets still rank among themselves by recency.
- **Author diversity** is applied on the list, not per tweet, because it
  depends on what else ranks above: each further tweet by one author weighs
  AUTHOR_DIVERSITY_DECAY times the one before (1, 0.5, 0.25, ...), so one
  prolific account cannot take the top with ordinary tweets.

The reader's own tweets score like anyone's but without affinity (a reader
does not need to be told they engage with themselves) and say "your tweet".

Every setting is read at call time (settings.X), so tests can change them.
"""
import math
from collections.abc import Iterable
from dataclasses import dataclass

from chalicelib import settings

REASONS_MAX = 3


@dataclass(frozen=True)
class Candidate:
    """One tweet (an original: the caller shows each original once) as the
    ranker sees it. Counts are the tweet's own (`TweetModel.like_count`,
    `retweet_count`, `reply_count`; `quote_count` and `views_count` where
    they are kept, else 0). `created_at` is in Unix seconds (the caller
    derives it from the id). `affinity` is the reader's engagement with the
    author, already decayed to now (>= 0; about 1 per recent engagement).
    `author_handle`, without the @, is only used in reasons."""

    tweet_id: int
    author_id: int
    created_at: float
    like_count: int = 0
    retweet_count: int = 0
    reply_count: int = 0
    quote_count: int = 0
    views_count: int = 0
    affinity: float = 0.0
    affinity_kind: str | None = None  # the engagement most of the affinity comes from ("like", ...)
    own: bool = False
    author_handle: str | None = None


@dataclass(frozen=True)
class Score:
    """A candidate's score and the parts it is made of (before diversity)."""

    value: float
    engagement: float  # the weighted count
    wilson: float  # the lower bound of engaged viewers per view, in [0, 1]
    affinity: float  # as used: 0 for the reader's own tweets
    recency: float  # 2^(-age / half-life), in (0, 1]
    age_hours: float

    @property
    def engagement_factor(self) -> float:
        return 1 + settings.RANKED_ENGAGEMENT_WEIGHT * math.log1p(self.engagement)

    @property
    def viewer_factor(self) -> float:
        return 1 + settings.RANKED_VIEWER_WEIGHT * self.wilson

    @property
    def affinity_factor(self) -> float:
        return 1 + settings.RANKED_AFFINITY_WEIGHT * math.log1p(self.affinity)


@dataclass(frozen=True)
class Ranked:
    """One place on a ranked list: `score` includes the author diversity
    factor (`diversity`); `parts` is the candidate's own score."""

    candidate: Candidate
    score: float
    parts: Score
    diversity: float
    reasons: tuple[str, ...]


def wilson_lower_bound(engaged: int, views: int, z: float | None = None) -> float:
    """The lower end of the Wilson score interval for a proportion of
    `engaged` out of `views` (engaged capped at views; 0 with no views)."""
    z = settings.WILSON_Z if z is None else z
    if views <= 0 or engaged <= 0:
        return 0.0
    n = float(views)
    p = min(engaged, views) / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, min(1.0, (centre - spread) / (1 + z2 / n)))


def _counts(candidate: Candidate) -> tuple[int, int, int, int]:
    return (max(0, candidate.like_count), max(0, candidate.retweet_count),
            max(0, candidate.reply_count), max(0, candidate.quote_count))


def score(candidate: Candidate, now: float) -> Score:
    """The candidate's score at `now` (Unix seconds) and its parts; see the
    module's docstring for the formula. A tweet from the future (clock skew)
    counts as new."""
    likes, retweets, replies, quotes = _counts(candidate)
    engagement = (settings.RANKED_LIKE_WEIGHT * likes + settings.RANKED_RETWEET_WEIGHT * retweets
                  + settings.RANKED_REPLY_WEIGHT * replies + settings.RANKED_QUOTE_WEIGHT * quotes)
    views = max(0, candidate.views_count)
    wilson = wilson_lower_bound(min(likes + retweets + replies + quotes, views), views)
    affinity = 0.0 if candidate.own else max(0.0, candidate.affinity)
    age_hours = max(0.0, now - candidate.created_at) / 3600
    recency = 2.0 ** (-age_hours / settings.RANKED_HALF_LIFE_HOURS)
    parts = Score(value=0.0, engagement=engagement, wilson=wilson, affinity=affinity,
                  recency=recency, age_hours=age_hours)
    value = parts.engagement_factor * parts.viewer_factor * parts.affinity_factor * recency
    return Score(value=value, engagement=engagement, wilson=wilson, affinity=affinity,
                 recency=recency, age_hours=age_hours)


# "you often like @bob": what most of the reader's affinity with the author is.
_OFTEN = {"like": "you often like", "retweet": "you often retweet", "reply": "you often reply to",
          "quote": "you often quote"}
_NOUNS = (("like", "likes"), ("retweet", "retweets"), ("reply", "replies"), ("quote", "quotes"))


def _counts_text(candidate: Candidate) -> str:
    """The two largest counts, e.g. "12 likes, 3 replies" (ties in the order
    likes, retweets, replies, quotes)."""
    counted = [(count, i) for i, count in enumerate(_counts(candidate)) if count > 0]
    top = sorted(counted, key=lambda pair: (-pair[0], pair[1]))[:2]
    return ", ".join(f"{count:,} {_NOUNS[i][0 if count == 1 else 1]}" for count, i in top)


def reasons(candidate: Candidate, parts: Score) -> list[str]:
    """Why the candidate is where it is, most important first, at most
    REASONS_MAX: "your tweet" first for the reader's own; then, ordered by
    how much each multiplies the score, its counts ("12 likes, 3 replies"),
    "popular with its viewers" (a Wilson bound of at least
    RANKED_POPULAR_WILSON over at least RANKED_POPULAR_MIN_VIEWS views) and
    "you often like @handle" (or reply to, retweet, quote, engage with:
    the kind most of it comes from; affinity of at least
    RANKED_AFFINITY_REASON); then "new" (younger than RANKED_NEW_HOURS)."""
    found = ["your tweet"] if candidate.own else []
    weighed: list[tuple[float, int, str]] = []
    if parts.engagement > 0:
        weighed.append((parts.engagement_factor, 0, _counts_text(candidate)))
    if parts.wilson >= settings.RANKED_POPULAR_WILSON and \
            candidate.views_count >= settings.RANKED_POPULAR_MIN_VIEWS:
        weighed.append((parts.viewer_factor, 1, "popular with its viewers"))
    if not candidate.own and parts.affinity >= settings.RANKED_AFFINITY_REASON:
        who = f"@{candidate.author_handle}" if candidate.author_handle else "its author"
        often = _OFTEN.get(candidate.affinity_kind or "", "you often engage with")
        weighed.append((parts.affinity_factor, 2, f"{often} {who}"))
    found += [text for _, _, text in sorted(weighed, key=lambda item: (-item[0], item[1]))]
    if parts.age_hours < settings.RANKED_NEW_HOURS:
        found.append("new")
    return found[:REASONS_MAX]


def _order(candidate: Candidate, value: float) -> tuple[float, float, int]:
    """Sort key: highest value first, then newer, then the higher id."""
    return (-value, -candidate.created_at, -candidate.tweet_id)


def rank(candidates: Iterable[Candidate], now: float) -> list[Ranked]:
    """The candidates, best first, each with its score after author
    diversity and its reasons. The order depends only on the set of
    candidates (not the order given); ids must be distinct.

    Greedy diversity: repeatedly take the candidate with the highest score
    times AUTHOR_DIVERSITY_DECAY^(its author's tweets taken so far). Within an
    author that factor is shared, so the author's tweets are taken in their
    own order, the k-th (from 0) at decay^k; with a decay of at most 1 those
    products never rise along an author's tweets, so the greedy order is a
    plain sort by them."""
    pool = list(candidates)
    ids = [c.tweet_id for c in pool]
    if len(set(ids)) != len(ids):
        raise ValueError("rank: candidates must have distinct tweet ids")
    decay = settings.AUTHOR_DIVERSITY_DECAY
    scored = [(c, score(c, now)) for c in pool]
    scored.sort(key=lambda pair: _order(pair[0], pair[1].value))
    taken: dict[int, int] = {}
    placed: list[Ranked] = []
    for candidate, parts in scored:
        k = taken.get(candidate.author_id, 0)
        taken[candidate.author_id] = k + 1
        diversity = decay ** k
        placed.append(Ranked(candidate=candidate, score=parts.value * diversity, parts=parts,
                             diversity=diversity, reasons=tuple(reasons(candidate, parts))))
    placed.sort(key=lambda item: _order(item.candidate, item.score))
    return placed
