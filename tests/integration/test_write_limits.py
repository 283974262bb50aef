"""Per-user write limits (chalicelib.accounts.limits): 429 with Retry-After
in the contract's shape once a minute's or a day's writes are used up,
per user and per kind, exact under concurrency, against moto."""
import itertools
import math
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from support import assert_error

from chalicelib import errors, settings
from chalicelib.accounts import limits
from chalicelib.storage.tables import LimitModel

DAY = settings.LIMIT_WINDOWS["day"]
MINUTE = settings.LIMIT_WINDOWS["minute"]


@pytest.fixture
def limit(monkeypatch):
    def set_(action, minute, day=10**6):
        monkeypatch.setitem(settings.WRITE_LIMITS, action, {"minute": minute, "day": day})
    return set_


def refused_for(reply, action):
    """The 429's Retry-After, checked against its message and the window."""
    error = assert_error(reply, 429, "too_many_requests", action)
    wait = reply.headers.get("retry-after")
    assert wait is not None and re.fullmatch(r"[1-9][0-9]*", wait), reply.headers
    assert f"try again in {wait} seconds" in error["message"]
    assert limits.LABELS[action] in error["message"]
    return int(wait)


def test_tweets_per_minute(api, make_user, limit):
    limit("tweets", minute=3)
    _, token = make_user("ada")
    for n in range(3):
        assert api.post("/tweets", {"text": f"tweet {n}"}, token=token).status == 201
    reply = api.post("/tweets", {"text": "one too many"}, token=token)
    assert 1 <= refused_for(reply, "tweets") <= MINUTE
    assert len(api.get("/users/ada/tweets").json["data"]) == 3  # the refused one was not written


def test_a_retweet_and_a_reply_count_as_tweets(api, make_user, make_tweet, limit):
    limit("tweets", minute=3)
    _, ada = make_user("ada")
    _, bob = make_user("bob")
    original = make_tweet(ada)
    assert api.post(f"/tweets/{original['id']}/retweet", token=bob).status == 201
    assert api.post("/tweets", {"text": "a reply", "reply_to_id": original["id"]}, token=bob).status == 201
    assert api.post("/tweets", {"text": "a third"}, token=bob).status == 201
    refused_for(api.post(f"/tweets/{original['id']}/retweet", token=bob), "tweets")
    refused_for(api.post("/tweets", {"text": "a fourth"}, token=bob), "tweets")


def test_follows_and_likes_have_limits_of_their_own(api, make_user, make_tweet, limit):
    limit("follows", minute=2)
    limit("likes", minute=2)
    _, ada = make_user("ada")
    targets = [make_user(f"t{n}") for n in range(3)]
    for user, _ in targets[:2]:
        assert api.post(f"/users/{user['handle']}/follow", token=ada).status == 200
    refused_for(api.post(f"/users/{targets[2][0]['handle']}/follow", token=ada), "follows")
    tweets = [make_tweet(targets[0][1], f"t {n}") for n in range(3)]
    for tweet in tweets[:2]:
        assert api.post(f"/tweets/{tweet['id']}/like", token=ada).status == 200
    refused_for(api.post(f"/tweets/{tweets[2]['id']}/like", token=ada), "likes")
    # Undoing is never limited: it takes away.
    assert api.delete(f"/tweets/{tweets[0]['id']}/like", token=ada).status == 200
    assert api.delete(f"/users/{targets[0][0]['handle']}/follow", token=ada).status == 200
    assert api.post("/tweets", {"text": "tweets are another limit"}, token=ada).status == 201


def test_limits_are_per_user(api, make_user, limit):
    limit("tweets", minute=1)
    _, ada = make_user("ada")
    _, bob = make_user("bob")
    assert api.post("/tweets", {"text": "ada's"}, token=ada).status == 201
    refused_for(api.post("/tweets", {"text": "ada's second"}, token=ada), "tweets")
    assert api.post("/tweets", {"text": "bob's"}, token=bob).status == 201


def test_an_invalid_request_spends_nothing(api, make_user, limit):
    limit("tweets", minute=1)
    _, ada = make_user("ada")
    for _ in range(3):
        assert_error(api.post("/tweets", {"text": ""}, token=ada), 400)
    assert api.post("/tweets", {"text": "the one"}, token=ada).status == 201


def test_password_changes_are_limited(api, make_user, limit):
    limit("password_changes", minute=2)
    _, token = make_user("ada")
    for _ in range(2):
        guess = {"password": "a wrong guess", "new_password": "battery staple"}
        assert_error(api.post("/auth/password", guess, token=token), 403, "wrong_password")
    reply = api.post("/auth/password", {"password": "correct horse", "new_password": "battery staple"},
                     token=token)
    refused_for(reply, "password_changes")  # even the right one: guessing has to wait


def test_the_day_limit_answers_the_wait_until_the_utc_day_ends(api, make_user, limit):
    limit("tweets", minute=100, day=2)
    _, token = make_user("ada")
    for n in range(2):
        assert api.post("/tweets", {"text": f"tweet {n}"}, token=token).status == 201
    wait = refused_for(api.post("/tweets", {"text": "tomorrow"}, token=token), "tweets")
    assert abs(wait - (DAY - time.time() % DAY)) <= 2  # until UTC midnight (rounded up, a second passed)


# --- the windows, through the domain with a clock -------------------------------------------

_users = itertools.count(1)


def test_a_new_minute_brings_new_room(limit):
    limit("tweets", minute=2)
    user, start = next(_users), 1_800_000_000.0  # a minute's start
    limits.spend(user, "tweets", now=start)
    limits.spend(user, "tweets", now=start + 30)
    with pytest.raises(errors.TooMany) as refused:
        limits.spend(user, "tweets", now=start + 45.5)
    assert refused.value.retry_after == 15  # 14.5 seconds left, rounded up: never early
    limits.spend(user, "tweets", now=start + MINUTE)


def test_a_minute_refusal_spends_none_of_the_day(limit):
    limit("tweets", minute=2, day=3)
    user, start = next(_users), 1_800_000_000.0
    for at in (start, start + 1):
        limits.spend(user, "tweets", now=at)
    for _ in range(5):  # refused by the minute: the day keeps its one unit left
        with pytest.raises(errors.TooMany):
            limits.spend(user, "tweets", now=start + 2)
    limits.spend(user, "tweets", now=start + MINUTE)
    with pytest.raises(errors.TooMany) as refused:
        limits.spend(user, "tweets", now=start + MINUTE + 1)
    assert refused.value.retry_after > MINUTE  # the day's: the minute had room


def test_counters_expire_with_their_window(limit):
    user, now = next(_users), 1_800_000_030.0
    limits.spend(user, "likes", now=now)
    minute = LimitModel.get(f"{user}:likes:minute:{int(now // MINUTE)}")
    day = LimitModel.get(f"{user}:likes:day:{int(now // DAY)}")
    assert minute.spent == day.spent == 1
    assert minute.expires_at.timestamp() == (int(now // MINUTE) + 1) * MINUTE
    assert day.expires_at.timestamp() == (int(now // DAY) + 1) * DAY


def test_concurrent_writes_never_pass_the_limit(limit):
    """The count is a conditional ADD on one item: of 40 writes at once
    against a limit of 15, exactly 15 pass, whatever the interleaving."""
    limit("likes", minute=15)
    user, now = next(_users), 1_800_000_000.0

    def attempt(_):
        try:
            limits.spend(user, "likes", now=now)
            return True
        except errors.TooMany:
            return False

    with ThreadPoolExecutor(max_workers=8) as pool:
        passed = sum(pool.map(attempt, range(40)))
    assert passed == 15
    assert LimitModel.get(f"{user}:likes:minute:{int(now // MINUTE)}").spent == 15


@hypothesis_settings(deadline=None, max_examples=25)
@given(minute=st.integers(1, 4), day=st.integers(1, 8),
       gaps=st.lists(st.floats(0, 2.5 * MINUTE, allow_nan=False), min_size=1, max_size=20))
def test_spending_matches_the_fixed_window_model(minute, day, gaps):
    """A request passes iff its minute and its day both have room; one the
    minute refuses spends nothing, one the day refuses spends its minute's
    unit; a refusal's wait is to the end of the window that refused.
    Checked against that model over random arrival times, near a day's end
    so that days roll over too."""
    user, now = next(_users), 1_800_000_000.0 + DAY - 3 * MINUTE
    minutes: dict[int, int] = {}
    days: dict[int, int] = {}
    old = settings.WRITE_LIMITS["follows"]
    settings.WRITE_LIMITS["follows"] = {"minute": minute, "day": day}
    try:
        for gap in gaps:
            now += gap
            m, d = int(now // MINUTE), int(now // DAY)
            wait = None  # the model's: None passes
            if minutes.get(m, 0) >= minute:
                wait = max(1, math.ceil((m + 1) * MINUTE - now))
            else:
                minutes[m] = minutes.get(m, 0) + 1
                if days.get(d, 0) >= day:
                    wait = max(1, math.ceil((d + 1) * DAY - now))
                else:
                    days[d] = days.get(d, 0) + 1
            try:
                limits.spend(user, "follows", now=now)
                assert wait is None, (minute, day, now)
            except errors.TooMany as exc:
                assert exc.retry_after == wait, (minute, day, now)
    finally:
        settings.WRITE_LIMITS["follows"] = old


def test_a_refusal_is_counted_and_logged(limit, monkeypatch):
    from chalicelib.observe import metrics

    heard = []
    monkeypatch.setattr(metrics, "listeners", [lambda name, value, dim: heard.append((name, dim))])
    limit("likes", minute=1)
    user = next(_users)
    limits.spend(user, "likes", now=1_800_000_000.0)
    with pytest.raises(errors.TooMany):
        limits.spend(user, "likes", now=1_800_000_001.0)
    assert heard == [("WritesLimited", "likes")]
