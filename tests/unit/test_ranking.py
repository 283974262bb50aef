"""The ranked home timeline's score (chalicelib.home.ranking): properties of
the pure score and order (hypothesis), the worked examples of the module's
docstring, author diversity, ties, and the reasons shown to a person."""
import dataclasses
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chalicelib import settings as chirp_settings
from chalicelib.home import ranking
from chalicelib.home.ranking import Candidate, rank, reasons, score, wilson_lower_bound
from tests import profiles

NOW = 1_800_000_000.0  # Unix seconds
HOUR = 3600.0

DEFAULTS = {
    "RANKED_HALF_LIFE_HOURS": 12.0, "RANKED_LIKE_WEIGHT": 1.0, "RANKED_RETWEET_WEIGHT": 2.0,
    "RANKED_REPLY_WEIGHT": 4.0, "RANKED_QUOTE_WEIGHT": 3.0, "RANKED_ENGAGEMENT_WEIGHT": 2.0,
    "RANKED_VIEWER_WEIGHT": 14.0, "WILSON_Z": 2.576, "RANKED_AFFINITY_WEIGHT": 2.0,
    "AUTHOR_DIVERSITY_DECAY": 0.5, "RANKED_NEW_HOURS": 2.0, "RANKED_POPULAR_WILSON": 0.05,
    "RANKED_POPULAR_MIN_VIEWS": 10, "RANKED_AFFINITY_REASON": 3.0,
}
COUNTS = ("like_count", "retweet_count", "reply_count", "quote_count")


@pytest.fixture(autouse=True, scope="module")
def defaults():
    """The settings these tests were worked out for, whatever the environment
    says (module-scoped, so the hypothesis tests share it)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in DEFAULTS.items():
            patch.setattr(chirp_settings, name, value)
        yield


def tweet(tweet_id=1, author_id=1, age_hours=0.0, **fields) -> Candidate:
    return Candidate(tweet_id=tweet_id, author_id=author_id, created_at=NOW - age_hours * HOUR, **fields)


def value(candidate: Candidate, now: float = NOW) -> float:
    return score(candidate, now).value


# --- strategies ----------------------------------------------------------------------------------

counts = st.integers(0, 10**6)
candidates = st.builds(
    Candidate,
    tweet_id=st.integers(1, 2**63 - 1),
    author_id=st.integers(1, 4),  # few authors, so lists have several tweets by one
    created_at=st.floats(NOW - 30 * 24 * HOUR, NOW + 60, allow_nan=False),
    like_count=counts, retweet_count=counts, reply_count=counts, quote_count=counts,
    views_count=st.integers(0, 10**7),
    affinity=st.floats(0, 1000, allow_nan=False),
    own=st.booleans(),
    author_handle=st.one_of(st.none(), st.sampled_from(["bob", "carol"])),
)
candidate_lists = st.lists(candidates, max_size=30, unique_by=lambda c: c.tweet_id)


# --- the score: properties -----------------------------------------------------------------------

@settings(max_examples=profiles.examples(400))
@given(candidate=candidates, field=st.sampled_from(COUNTS), more=st.integers(1, 10**6))
def test_more_of_any_engagement_never_lowers_a_score(candidate, field, more):
    more_engaged = dataclasses.replace(candidate, **{field: getattr(candidate, field) + more})
    assert value(more_engaged) >= value(candidate)


@given(candidate=candidates, field=st.sampled_from(COUNTS), more=st.integers(1, 1000))
def test_more_engagement_counts_for_something_while_the_views_are_fixed(candidate, field, more):
    """Not only "never lower": each engagement raises the score (engagement's
    logarithm grows), whether or not it also raises the per-view bound."""
    more_engaged = dataclasses.replace(candidate, **{field: getattr(candidate, field) + more})
    assume(value(candidate) > 1e-300)
    assert value(more_engaged) > value(candidate)


@given(candidate=candidates, later=st.floats(0, 60 * 24 * HOUR, allow_nan=False))
def test_age_never_raises_a_score(candidate, later):
    assert value(candidate, NOW + later) <= value(candidate, NOW)


@given(candidate=candidates, more=st.floats(0, 1000, allow_nan=False))
def test_more_affinity_never_lowers_a_score(candidate, more):
    closer = dataclasses.replace(candidate, affinity=candidate.affinity + more)
    assert value(closer) >= value(candidate)


@given(candidate=candidates)
def test_a_score_is_positive_and_its_parts_in_range(candidate):
    parts = score(candidate, NOW)
    assert parts.value > 0
    assert 0 <= parts.wilson <= 1
    assert 0 < parts.recency <= 1
    assert parts.age_hours >= 0
    assert parts.value == pytest.approx(parts.engagement_factor * parts.viewer_factor
                                        * parts.affinity_factor * parts.recency)


# --- the Wilson bound ----------------------------------------------------------------------------

@settings(max_examples=profiles.examples(400))
@given(views=st.integers(0, 10**9), engaged=st.integers(0, 10**9))
def test_the_wilson_bound_is_within_0_and_1_and_below_the_observed_rate(views, engaged):
    bound = wilson_lower_bound(engaged, views)
    assert 0 <= bound <= 1
    if views:
        assert bound <= min(engaged, views) / views + 1e-12


@settings(max_examples=profiles.examples(400))
@given(views=st.integers(1, 10**9), engaged=st.integers(0, 10**9), more=st.integers(1, 10**9))
def test_the_wilson_bound_grows_with_engaged_for_fixed_views(views, engaged, more):
    assume(engaged < views)
    assert wilson_lower_bound(min(engaged + more, views), views) > wilson_lower_bound(engaged, views)


def test_the_wilson_bound_examples():
    z = DEFAULTS["WILSON_Z"]
    assert wilson_lower_bound(0, 0) == 0
    assert wilson_lower_bound(5, 0) == 0  # engagement without counted views yet
    assert wilson_lower_bound(0, 100) == 0
    assert wilson_lower_bound(1, 1) == pytest.approx(1 / (1 + z * z))  # 0.131
    assert wilson_lower_bound(5, 20) == pytest.approx(0.0874, abs=1e-4)
    assert wilson_lower_bound(50, 100_000) == pytest.approx(0.00035, abs=1e-5)
    assert wilson_lower_bound(7, 5) == wilson_lower_bound(5, 5)  # capped at the views
    assert wilson_lower_bound(1, 1, z=1.96) == pytest.approx(1 / (1 + 1.96**2))


# --- the score: examples -------------------------------------------------------------------------

def test_an_unengaged_unviewed_new_tweet_by_a_stranger_scores_1():
    assert value(tweet()) == 1.0


def test_five_likes_in_twenty_views_beat_fifty_likes_in_a_hundred_thousand():
    small = tweet(1, 1, like_count=5, views_count=20)
    wide = tweet(2, 2, like_count=50, views_count=100_000)
    assert value(small) == pytest.approx(10.19, abs=0.01)
    assert value(wide) == pytest.approx(8.91, abs=0.01)
    assert [r.candidate for r in rank([wide, small], NOW)] == [small, wide]


@pytest.mark.parametrize(("likes", "retweets", "replies", "views"), [
    (20, 3, 2, 1000),  # 2.5% of viewers engage
    (10, 1, 1, 500),
    (8, 1, 1, 200),
    (50, 5, 5, 5000),  # 1.2%
])
def test_one_like_in_one_view_does_not_win_over_an_ordinarily_engaged_tweet(likes, retweets, replies, views):
    lucky = tweet(1, 1, like_count=1, views_count=1)
    normal = tweet(2, 2, like_count=likes, retweet_count=retweets, reply_count=replies, views_count=views)
    assert value(lucky) == pytest.approx(6.76, abs=0.01)
    assert value(normal) > value(lucky)
    assert [r.candidate for r in rank([lucky, normal], NOW)] == [normal, lucky]


def test_a_well_engaged_older_tweet_ranks_above_a_newer_unengaged_one_and_both_say_why():
    older = tweet(1, 1, age_hours=20, like_count=10, reply_count=2, views_count=60, author_handle="bob")
    newer = tweet(2, 2, age_hours=0.5, views_count=40, author_handle="carol")
    first, second = rank([newer, older], NOW)
    assert (first.candidate, second.candidate) == (older, newer)
    assert first.reasons == ("10 likes, 2 replies", "popular with its viewers")
    assert second.reasons == ("new",)


def test_the_half_life_halves_a_score():
    fresh = tweet(like_count=3, views_count=30)
    aged = dataclasses.replace(fresh, created_at=NOW - DEFAULTS["RANKED_HALF_LIFE_HOURS"] * HOUR)
    assert value(aged) == pytest.approx(value(fresh) / 2)
    assert value(aged, NOW + 12 * HOUR) == pytest.approx(value(fresh) / 4)


def test_a_tweet_from_the_future_counts_as_new():
    ahead = tweet(age_hours=-1, like_count=2)
    assert score(ahead, NOW).age_hours == 0
    assert value(ahead) == value(tweet(like_count=2))


def test_the_weights_give_a_reply_and_a_retweet_more_than_a_like():
    liked, retweeted, replied = (tweet(**{f: 1}) for f in ("like_count", "retweet_count", "reply_count"))
    quoted = tweet(quote_count=1)
    assert value(replied) > value(quoted) > value(retweeted) > value(liked)


def test_affinity_lifts_and_the_readers_own_tweets_take_none():
    stranger = tweet(like_count=3)
    friend = dataclasses.replace(stranger, affinity=10.0)
    own = dataclasses.replace(friend, own=True)
    assert value(friend) == pytest.approx(value(stranger) * (1 + 2.0 * math.log1p(10.0)))
    assert value(own) == value(stranger)
    assert score(own, NOW).affinity == 0


def test_settings_are_read_at_call_time(monkeypatch):
    replied = tweet(reply_count=1)
    before = value(replied)
    monkeypatch.setattr(chirp_settings, "RANKED_REPLY_WEIGHT", 27.0)
    assert value(replied) > before
    monkeypatch.setattr(chirp_settings, "RANKED_HALF_LIFE_HOURS", 1.0)
    assert value(tweet(age_hours=1)) == pytest.approx(0.5)


def test_negative_counts_and_affinity_count_as_zero():
    assert value(tweet(like_count=-3, views_count=-1, affinity=-2.0)) == value(tweet())


# --- rank: properties ----------------------------------------------------------------------------

@given(candidate_lists)
def test_rank_is_a_permutation_of_its_input(pool):
    ranked = rank(pool, NOW)
    assert sorted((r.candidate for r in ranked), key=lambda c: c.tweet_id) == \
        sorted(pool, key=lambda c: c.tweet_id)


@given(pool=candidate_lists, data=st.data())
def test_rank_is_deterministic_whatever_the_input_order(pool, data):
    shuffled = data.draw(st.permutations(pool))
    assert rank(shuffled, NOW) == rank(pool, NOW) == rank(pool, NOW)


@given(candidate_lists)
def test_ranked_scores_never_rise_and_each_author_decays_in_turn(pool):
    ranked = rank(pool, NOW)
    assert all(a.score >= b.score for a, b in zip(ranked, ranked[1:], strict=False))
    decay = DEFAULTS["AUTHOR_DIVERSITY_DECAY"]
    by_author: dict[int, list] = {}
    for item in ranked:
        by_author.setdefault(item.candidate.author_id, []).append(item)
    for items in by_author.values():
        assert [item.diversity for item in items] == [decay**k for k in range(len(items))]
        assert all(item.score == item.parts.value * item.diversity for item in items)
        assert all(a.parts.value >= b.parts.value for a, b in zip(items, items[1:], strict=False))
        assert all(len(item.reasons) <= ranking.REASONS_MAX for item in items)


@given(pool=candidate_lists, original=candidates, data=st.data())
def test_a_second_tweet_by_the_same_author_never_ranks_above_an_otherwise_identical_first(
        pool, original, data):
    """Of two identical tweets by one author, the one placed second weighs at
    most AUTHOR_DIVERSITY_DECAY times the first, and an identical tweet by an
    author with nothing else on the list ranks above it."""
    taken = {c.tweet_id for c in pool}
    assume(original.tweet_id not in taken)
    fresh_ids = data.draw(st.lists(st.integers(1, 2**63 - 1).filter(lambda i: i not in taken
                                                                     and i != original.tweet_id),
                                   min_size=2, max_size=2, unique=True))
    twin = dataclasses.replace(original, tweet_id=fresh_ids[0])
    stranger = dataclasses.replace(original, tweet_id=fresh_ids[1],
                                   author_id=max([c.author_id for c in pool] + [original.author_id]) + 1)
    ranked = rank(pool + [original, twin, stranger], NOW)
    place = {r.candidate.tweet_id: i for i, r in enumerate(ranked)}
    first, second = sorted([original.tweet_id, twin.tweet_id], key=place.__getitem__)
    assert ranked[place[second]].score <= ranked[place[first]].score * DEFAULTS["AUTHOR_DIVERSITY_DECAY"]
    assert place[stranger.tweet_id] < place[second]


@given(pool=candidate_lists, field=st.sampled_from(COUNTS + ("affinity",)), data=st.data())
def test_more_engagement_never_lowers_a_tweets_ranked_score(pool, field, data):
    """Diversity included: a better tweet can only pass its author's others."""
    assume(pool)
    target = data.draw(st.sampled_from(pool))
    better = dataclasses.replace(target, **{field: getattr(target, field) + data.draw(st.integers(1, 1000))})
    before = {r.candidate.tweet_id: r.score for r in rank(pool, NOW)}
    after = {r.candidate.tweet_id: r.score for r in rank([better if c is target else c for c in pool], NOW)}
    assert after[target.tweet_id] >= before[target.tweet_id]


def greedy(pool, now):
    """The diversity rule as stated, slowly: take the best score times decay^(the
    author's tweets taken so far), again and again (ties: newer, then higher id)."""
    decay, left, taken, order = DEFAULTS["AUTHOR_DIVERSITY_DECAY"], list(pool), {}, []
    while left:
        best = min(left, key=lambda c: (-value(c, now) * decay ** taken.get(c.author_id, 0),
                                        -c.created_at, -c.tweet_id))
        left.remove(best)
        taken[best.author_id] = taken.get(best.author_id, 0) + 1
        order.append(best)
    return order


@given(candidate_lists)
def test_rank_is_the_greedy_diversity_order(pool):
    assert [r.candidate for r in rank(pool, NOW)] == greedy(pool, NOW)


def test_rank_refuses_duplicate_ids():
    with pytest.raises(ValueError):
        rank([tweet(1, 1), tweet(1, 2)], NOW)


def test_rank_of_nothing_is_nothing():
    assert rank([], NOW) == []


# --- rank: examples ------------------------------------------------------------------------------

def ordinary(tweet_id, author_id, age_hours):
    return tweet(tweet_id, author_id, age_hours, like_count=3, reply_count=1, views_count=40)


def test_one_author_cannot_take_the_top_three_with_three_ordinary_tweets():
    prolific = [ordinary(1, 1, 1), ordinary(2, 1, 2), ordinary(3, 1, 3)]
    others = [ordinary(4, 2, 4), ordinary(5, 3, 4)]
    ranked = rank(prolific + others, NOW)
    assert [r.candidate.tweet_id for r in ranked] == [1, 5, 4, 2, 3]
    assert [r.diversity for r in ranked] == [1, 1, 1, 0.5, 0.25]


def test_without_the_diversity_decay_the_prolific_author_would_take_the_top(monkeypatch):
    monkeypatch.setattr(chirp_settings, "AUTHOR_DIVERSITY_DECAY", 1.0)
    pool = [ordinary(1, 1, 1), ordinary(2, 1, 2), ordinary(3, 1, 3), ordinary(4, 2, 4), ordinary(5, 3, 4)]
    assert [r.candidate.tweet_id for r in rank(pool, NOW)] == [1, 2, 3, 5, 4]


def test_a_much_better_second_tweet_still_beats_a_strangers_ordinary_one():
    """Diversity discounts, it does not forbid."""
    great = tweet(1, 1, 1, like_count=300, reply_count=30, views_count=900)
    very_good = tweet(2, 1, 1, like_count=200, reply_count=20, views_count=800)
    ranked = rank([ordinary(3, 2, 1), very_good, great], NOW)
    assert [r.candidate.tweet_id for r in ranked] == [1, 2, 3]
    assert ranked[1].diversity == 0.5


def test_ties_go_to_the_newer_tweet_then_the_higher_id(monkeypatch):
    monkeypatch.setattr(chirp_settings, "RANKED_HALF_LIFE_HOURS", math.inf)  # age costs nothing: all tie
    pool = [tweet(1, 1, 3.0), tweet(2, 2, 1.0), tweet(3, 3, 2.0), tweet(5, 4, 2.0), tweet(4, 5, 2.0)]
    ranked = rank(pool, NOW)
    assert {r.score for r in ranked} == {1.0}
    assert [r.candidate.tweet_id for r in ranked] == [2, 5, 4, 3, 1]


# --- reasons -------------------------------------------------------------------------------------

def reasons_of(candidate, now=NOW):
    return reasons(candidate, score(candidate, now))


def test_reasons_say_the_two_largest_counts():
    assert reasons_of(tweet(age_hours=5, like_count=12, reply_count=3)) == ["12 likes, 3 replies"]
    assert reasons_of(tweet(age_hours=5, like_count=1)) == ["1 like"]
    assert reasons_of(tweet(age_hours=5, like_count=2, retweet_count=5, reply_count=1, quote_count=5)) == \
        ["5 retweets, 5 quotes"]
    assert reasons_of(tweet(age_hours=5, like_count=1234, quote_count=1)) == ["1,234 likes, 1 quote"]
    assert reasons_of(tweet(age_hours=5)) == []


def test_reasons_name_the_author_the_reader_engages_with():
    assert reasons_of(tweet(age_hours=5, affinity=4.0, author_handle="bob")) == ["you often engage with @bob"]
    assert reasons_of(tweet(age_hours=5, affinity=4.0)) == ["you often engage with its author"]
    assert reasons_of(tweet(age_hours=5, affinity=4.0, affinity_kind="like", author_handle="bob")) == \
        ["you often like @bob"]
    assert reasons_of(tweet(age_hours=5, affinity=4.0, affinity_kind="reply", author_handle="bob")) == \
        ["you often reply to @bob"]
    assert reasons_of(tweet(age_hours=5, affinity=2.9, author_handle="bob")) == []


def test_popular_with_its_viewers_needs_enough_views():
    assert reasons_of(tweet(age_hours=5, like_count=5, views_count=20)) == \
        ["5 likes", "popular with its viewers"]
    assert "popular with its viewers" not in reasons_of(tweet(age_hours=5, like_count=1, views_count=1))
    wide = tweet(age_hours=5, like_count=50, views_count=100_000)
    assert "popular with its viewers" not in reasons_of(wide)


def test_new_is_younger_than_the_setting():
    assert reasons_of(tweet(age_hours=1.9)) == ["new"]
    assert reasons_of(tweet(age_hours=2.0)) == []


def test_at_most_three_reasons_most_important_first():
    busy = tweet(age_hours=0.1, like_count=5, views_count=20, affinity=100.0, author_handle="bob")
    # affinity factor 1 + 2 ln 101 = 10.2 > engagement's 4.6 > viewers' 2.2; "new" would be fourth
    assert reasons_of(busy) == ["you often engage with @bob", "5 likes", "popular with its viewers"]
    mild = dataclasses.replace(busy, affinity=3.0)  # factor 3.8: below engagement's
    assert reasons_of(mild) == ["5 likes", "you often engage with @bob", "popular with its viewers"]


def test_the_readers_own_tweet_says_so_first_and_claims_no_affinity():
    own = tweet(age_hours=0.5, like_count=2, affinity=50.0, own=True, author_handle="me")
    assert reasons_of(own) == ["your tweet", "2 likes", "new"]


@given(candidates)
def test_reasons_are_short_distinct_and_at_most_three(candidate):
    said = reasons_of(candidate)
    assert len(said) <= ranking.REASONS_MAX
    assert len(set(said)) == len(said)
    assert all(0 < len(text) <= 60 for text in said)
