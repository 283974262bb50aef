"""What Chirp should show once everything has run: a naive model of the
workload's users, tweets, retweets, follows and likes.

The home-timeline rule is tests/integration/test_timeline_model.py's: a
reader's own originals and those of whom they follow, minus the deleted;
and for each other original that they or a followee retweeted, one item,
the oldest of those retweets; newest first. The rest is read off the same
state: user timelines (tweets and retweets), follower, following and tweet
counts, like and retweet counts, hashtag timelines, notifications, and the
celebrity state the follower counts call for (entered at the threshold,
left below CELEBRITY_EXIT_RATIO of it: in between, either is right, since
the state depends on which counts the transitions happened to read).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CELEBRITY = "celebrity"


@dataclass(frozen=True)
class Tweet:
    id: str
    author: int  # a user's index
    original: str | None = None  # for a retweet, the original's id
    tags: frozenset[str] = frozenset()  # lower case, as they are looked up
    mentions: frozenset[int] = frozenset()  # users named with @, by index


@dataclass(frozen=True)
class User:
    handle: str
    id: str
    token: str


def expected_home(tweets: Mapping[str, Any], sources: set[int]) -> list[tuple[str, str | None]]:
    """The home timeline rule (docs/architecture.md section 6), for tweets
    by id with `author` and `original` (None unless a retweet): the
    originals by `sources` (the reader and their followees), and for each
    other original any of them retweeted, its oldest retweet; newest first."""
    items: set[tuple[str, str | None]] = {(t, None) for t, tweet in tweets.items()
                                          if tweet.original is None and tweet.author in sources}
    oldest: dict[str, str] = {}
    for rt, tweet in tweets.items():
        if (tweet.original is not None and tweet.author in sources
                and tweets[tweet.original].author not in sources):
            oldest[tweet.original] = min(oldest.get(tweet.original, rt), rt, key=int)
    items |= {(rt, original) for original, rt in oldest.items()}
    return sorted(items, key=lambda item: int(item[0]), reverse=True)


@dataclass
class Model:
    users: list[User]
    threshold: int
    exit_ratio: float
    tweets: dict[str, Tweet] = field(default_factory=dict)  # live tweets and retweets by id
    follows: set[tuple[int, int]] = field(default_factory=set)  # (follower, followee)
    likes: set[tuple[int, str]] = field(default_factory=set)  # (user, original id)
    states: dict[int, str | None] = field(default_factory=dict)  # what transitions in step would give

    # --- the workload's operations, as the API answered them -----------------------------------------

    def post(self, tweet: Tweet) -> None:
        self.tweets[tweet.id] = tweet

    def delete(self, tweet_id: str) -> None:
        """A deleted tweet; for an original also its retweets and likes
        (the tweets stream removes them)."""
        self.tweets.pop(tweet_id, None)
        for rt in [rt for rt, t in self.tweets.items() if t.original == tweet_id]:
            del self.tweets[rt]
        self.likes = {(u, t) for u, t in self.likes if t != tweet_id}

    def follow(self, follower: int, followee: int) -> None:
        self.follows.add((follower, followee))
        self._transition(followee)

    def unfollow(self, follower: int, followee: int) -> None:
        self.follows.discard((follower, followee))
        self._transition(followee)

    def _transition(self, user: int) -> None:
        count, state = self.followers(user), self.states.get(user)
        if state is None and count >= self.threshold:
            self.states[user] = CELEBRITY
        elif state == CELEBRITY and count < self.threshold * self.exit_ratio:
            self.states[user] = None

    def like(self, user: int, original: str) -> None:
        self.likes.add((user, original))

    def unlike(self, user: int, original: str) -> None:
        self.likes.discard((user, original))

    def original_of(self, tweet_id: str) -> str:
        return self.tweets[tweet_id].original or tweet_id

    def retweets(self) -> dict[tuple[int, str], str]:
        """(retweeter, original) -> the live retweet's id."""
        return {(t.author, t.original): rt for rt, t in self.tweets.items() if t.original is not None}

    def originals(self) -> list[str]:
        return sorted((t for t, tweet in self.tweets.items() if tweet.original is None), key=int)

    # --- what should be shown ------------------------------------------------------------------------

    def followers(self, user: int) -> int:
        return sum(1 for _, followee in self.follows if followee == user)

    def following(self, user: int) -> int:
        return sum(1 for follower, _ in self.follows if follower == user)

    def tweets_count(self, user: int) -> int:
        return sum(1 for t in self.tweets.values() if t.author == user)

    def celebrity_states(self, user: int) -> set[str | None]:
        """The celebrity states that are right for the user's follower count."""
        count = self.followers(user)
        if count >= self.threshold:
            return {CELEBRITY}
        if count < self.threshold * self.exit_ratio:
            return {None}
        return {None, CELEBRITY}

    def sources(self, reader: int) -> set[int]:
        return {reader} | {followee for follower, followee in self.follows if follower == reader}

    def home(self, reader: int) -> list[tuple[str, str | None]]:
        """(item id, original id or None), newest first."""
        return expected_home(self.tweets, self.sources(reader))

    def user_timeline(self, user: int) -> list[tuple[str, str | None]]:
        return sorted(((t, tweet.original) for t, tweet in self.tweets.items() if tweet.author == user),
                      key=lambda item: int(item[0]), reverse=True)

    def hashtag(self, tag: str) -> list[str]:
        return sorted((t for t, tweet in self.tweets.items() if tweet.original is None and tag in tweet.tags),
                      key=int, reverse=True)

    def tweet_counts(self, original: str) -> dict[str, int]:
        return {"likes": sum(1 for _, t in self.likes if t == original),
                "retweets": sum(1 for t in self.tweets.values() if t.original == original),
                "replies": 0, "quotes": 0}  # the workload posts neither

    def notifications(self, user: int) -> Counter[tuple[str, str, str | None]]:
        """(type, actor id, tweet id or None) of each notification `user` should have."""
        ids = [u.id for u in self.users]
        notes: Counter[tuple[str, str, str | None]] = Counter()
        for t, tweet in self.tweets.items():
            if tweet.original is None and user in tweet.mentions and tweet.author != user:
                notes["mention", ids[tweet.author], t] += 1
            if (tweet.original is not None and self.tweets[tweet.original].author == user
                    and tweet.author != user):
                notes["retweet", ids[tweet.author], tweet.original] += 1
        for liker, original in self.likes:
            if self.tweets[original].author == user and liker != user:
                notes["like", ids[liker], original] += 1
        for follower, followee in self.follows:
            if followee == user:
                notes["follow", ids[follower], None] += 1
        return notes
