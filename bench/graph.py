"""A seeded synthetic social graph with heavy tails on both sides.

Popularity follows Zipf's law: the account ranked r is chosen as a followee
with weight 1 / r**ZIPF_EXPONENT, so a few accounts gather a large share of
all follows and most gather a handful. How many accounts each user follows
is heavy-tailed too (a discretised Pareto draw): most follow a few dozen, a
few follow thousands. Everything comes from one `random.Random(seed)`, so a
seed always gives the same graph.
"""
import bisect
import itertools
import random
from dataclasses import dataclass

ZIPF_EXPONENT = 0.9  # popularity of the account ranked r ~ 1 / r**0.9
FOLLOWING_PARETO_SHAPE = 1.5  # following counts ~ Pareto(1.5): a heavy tail, finite mean
FOLLOWING_MIN = 10  # nobody follows fewer (the scale of the Pareto draw)
FOLLOWING_MAX_SHARE = 0.2  # nor more than a fifth of all users


@dataclass(frozen=True)
class Graph:
    users: int
    following: list[list[int]]  # following[u]: whom user u follows (user numbers 0..users-1)

    @property
    def followers(self) -> list[list[int]]:
        result: list[list[int]] = [[] for _ in range(self.users)]
        for follower, followees in enumerate(self.following):
            for followee in followees:
                result[followee].append(follower)
        return result

    @property
    def edges(self) -> int:
        return sum(len(f) for f in self.following)

    def follower_counts(self) -> list[int]:
        return [len(f) for f in self.followers]


def following_count(rng: random.Random, users: int, minimum: int = FOLLOWING_MIN) -> int:
    cap = max(minimum, int(users * FOLLOWING_MAX_SHARE))
    draw = minimum * (1 - rng.random()) ** (-1 / FOLLOWING_PARETO_SHAPE)
    return min(cap, users - 1, int(draw))


def build(users: int, seed: int, following_min: int = FOLLOWING_MIN) -> Graph:
    """The graph for `users` accounts, nobody following fewer than
    `following_min` (the mean is about three times that, less the cap).
    Which account is popular is shuffled by the seed, so popularity does not
    follow user numbers."""
    rng = random.Random(seed)
    order = list(range(users))
    rng.shuffle(order)  # order[r] is the account with popularity rank r
    cumulative = list(itertools.accumulate(1 / (rank + 1) ** ZIPF_EXPONENT for rank in range(users)))
    following = []
    for user in range(users):
        wanted = following_count(rng, users, following_min)
        chosen: dict[int, None] = {}
        while len(chosen) < wanted:
            for _ in range(wanted - len(chosen)):
                rank = bisect.bisect(cumulative, rng.random() * cumulative[-1])
                followee = order[min(rank, users - 1)]
                if followee != user:
                    chosen[followee] = None
        following.append(list(chosen))
    return Graph(users, following)
