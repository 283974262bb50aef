"""Writes that DynamoDB applied although the caller saw an error: the SDK's
retry finds its own write (a condition now false) and must take it as done.
Faults are injected at the wire (faults.WireFaults): the request reaches
moto, and the answer is replaced by a 500."""
import json

import pytest
from support import celebrity_followees, timeline_entries, user_item

from chalicelib import settings
from chalicelib.home import celebrities
from chaos.faults import WireFaults


@pytest.mark.parametrize("keyed", [False, True])
def test_a_post_that_landed_behind_a_500_is_one_tweet(api, make_user, no_backoff, keyed):
    _, token = make_user("ada")
    headers = {"Idempotency-Key": "post-1"} if keyed else None
    with WireFaults() as faults:
        faults.fail("TransactWriteItems", times=1, kind="write-then-500")
        reply = api.post("/tweets", {"text": "once"}, token=token, headers=headers)
    assert faults.injected == {"write-then-500": 1}
    assert reply.status == 201, reply.json
    tweets = api.get("/users/ada/tweets").json["data"]
    assert [t["id"] for t in tweets] == [reply.json["id"]]
    assert api.get("/users/ada").json["tweets_count"] == 1


# --- celebrity transitions ------------------------------------------------------

def _promote(api, make_user, follow, pump, fault):
    star, _ = make_user("star")
    fans = []
    for n in range(3):
        fan, token = make_user(f"fan{n}")
        follow(token, "star")
        fans.append(fan)
    with WireFaults() as faults:
        fault(faults)
        pump.drain()
    return star, fans, faults


def test_a_promotion_that_landed_behind_a_500_still_pages_the_followers(
        api, make_user, follow, pump, no_backoff, monkeypatch, cheap_passwords):
    monkeypatch.setattr(settings, "CELEBRITY_THRESHOLD", 3)
    monkeypatch.setattr(settings, "TRANSITION_DELAY_SECONDS", 0)

    def fault(faults):  # the first UpdateItem of the follow records is the move to "promoting"
        faults.fail("UpdateItem", times=1, kind="write-then-500")

    star, fans, faults = _promote(api, make_user, follow, pump, fault)
    assert faults.injected == {"write-then-500": 1}
    assert user_item(star["id"]).celebrity_state == celebrities.CELEBRITY
    for fan in fans:
        assert celebrity_followees(fan["id"]) == {star["id"]}


def test_a_promotion_whose_job_cannot_be_sent_sends_it_when_the_record_is_retried(
        api, make_user, follow, pump, no_backoff, monkeypatch, cheap_passwords):
    monkeypatch.setattr(settings, "CELEBRITY_THRESHOLD", 3)
    monkeypatch.setattr(settings, "TRANSITION_DELAY_SECONDS", 0)

    def fault(faults):  # every try of one SendMessage: the SDK gives up, the record is retried
        faults.fail("SendMessage", times=settings.AWS_CALL_ATTEMPTS, kind="500")

    star, fans, faults = _promote(api, make_user, follow, pump, fault)
    assert faults.injected == {"500": settings.AWS_CALL_ATTEMPTS}
    assert user_item(star["id"]).celebrity_state == celebrities.CELEBRITY
    for fan in fans:
        assert celebrity_followees(fan["id"]) == {star["id"]}


# A transition whose move to its new state has landed, and whose job is not
# sent, must still be paged through when the stream record is retried, however
# the step between them fails: the send and then its undo, or the read of the
# move's own marker after the move landed behind a 500.

def _job_and_undo_fail(faults, dynamodb_hooks, monkeypatch):
    """The first transition job's every try fails, and so does the next
    UpdateItem (what used to take the move back)."""
    from chalicelib.storage import jobs

    send, armed = jobs.send, []

    def failing_send(kind, delay_seconds=0, **fields):
        if kind in ("promote", "demote") and not armed:
            armed.append(kind)
            faults.fail("SendMessage", times=settings.AWS_CALL_ATTEMPTS)
            faults.fail("UpdateItem", times=settings.AWS_CALL_ATTEMPTS)
        send(kind, delay_seconds, **fields)

    monkeypatch.setattr(jobs, "send", failing_send)
    return armed


def _move_lands_behind_a_500_and_the_marker_read_fails(faults, dynamodb_hooks, monkeypatch):
    """The move to the new state (the UpdateItem that writes the marker) is
    applied but answered 500; its retry finds its condition false, and every
    try of the GetItem that reads the marker fails."""
    armed = []

    def on_update(request, operation):
        if "celebrity_transition" in json.dumps(request) and not armed:
            armed.append(operation)
            faults.fail("UpdateItem", times=1, kind="write-then-500")
            faults.fail("GetItem", times=settings.AWS_CALL_ATTEMPTS)

    dynamodb_hooks.on("UpdateItem", on_update)
    return armed


@pytest.mark.parametrize("fault", [_job_and_undo_fail, _move_lands_behind_a_500_and_the_marker_read_fails])
@pytest.mark.parametrize("kind", ["promote", "demote"])
def test_a_transition_whose_job_is_not_sent_after_its_move_landed_is_still_paged(
        api, make_user, make_tweet, follow, unfollow, pump, no_backoff, monkeypatch, cheap_passwords,
        dynamodb_hooks, kind, fault):
    monkeypatch.setattr(settings, "CELEBRITY_THRESHOLD", 3)  # in at three followers, out below 2.4
    star, star_token = make_user("star")
    fans = [make_user(f"fan{n}") for n in range(3)]
    for _, token in fans[:2]:
        follow(token, "star")
    pump.drain()
    follow(fans[2][1], "star")  # the third: a promotion
    if kind == "demote":
        pump.drain()
        assert user_item(star["id"]).celebrity_state == celebrities.CELEBRITY
        pulled = make_tweet(star_token, "pulled, not fanned out")["id"]
        pump.drain()
        unfollow(fans[2][1], "star")  # two left: a demotion
    with WireFaults() as faults:
        armed = fault(faults, dynamodb_hooks, monkeypatch)
        pump.drain()
    assert armed and faults.injected
    pump.drain()
    author = user_item(star["id"])
    if kind == "promote":
        assert author.celebrity_state == celebrities.CELEBRITY
        for fan, _ in fans:
            assert celebrity_followees(fan["id"]) == {star["id"]}, fan["handle"]
    else:
        assert author.celebrity_state is None
        for fan, _ in fans[:2]:  # backfilled, and no longer pulling
            assert celebrity_followees(fan["id"]) == set(), fan["handle"]
            assert pulled in timeline_entries(fan["id"]), fan["handle"]
    assert author.celebrity_job_epoch == author.celebrity_epoch


# --- a returning reader's timeline is populated once, whatever is lost ----------------

@pytest.fixture
def back_after_a_break(api, monkeypatch, make_user, make_tweet, follow, pump):
    """@bob follows @alice, goes away for longer than ACTIVE_DAYS, misses a
    tweet; returns (bob's token, the tweets his rebuilt timeline holds)."""
    from chalicelib.accounts import activity

    alice, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    follow(bob_token, "alice")
    before = make_tweet(alice_token, "before the break")["id"]
    pump.drain()
    later = activity.today() + settings.ACTIVE_DAYS + 1
    monkeypatch.setattr(activity, "today", lambda: later)
    monkeypatch.setattr(activity, "_marked_today", {})
    missed = make_tweet(alice_token, "while bob was away")["id"]
    pump.drain()
    assert timeline_entries(bob["id"]) == [before]
    return bob, bob_token, [missed, before]


def test_a_return_marked_behind_a_500_still_populates(api, pump, no_backoff, sent_jobs, back_after_a_break):
    bob, token, rebuilt = back_after_a_break
    with WireFaults() as faults:
        faults.fail("UpdateItem", times=1, kind="write-then-500")  # the activity mark
        assert api.get("/me", token=token).status == 200
    assert faults.injected == {"write-then-500": 1}
    pump.drain()
    assert sum(kind == "rebuild" and job["user_id"] == int(bob["id"]) for kind, job in sent_jobs) == 1
    assert timeline_entries(bob["id"]) == rebuilt
    assert api.get("/timelines/home", token=token).json["meta"]["partial"] is False


def test_a_rebuild_job_that_cannot_be_sent_leaves_no_partial_flag_and_the_next_request_sends_it(
        api, pump, no_backoff, monkeypatch, sent_jobs, back_after_a_break):
    from chalicelib.accounts import activity

    bob, token, rebuilt = back_after_a_break
    with WireFaults() as faults:
        faults.fail("SendMessage", times=settings.AWS_CALL_ATTEMPTS)
        assert api.get("/me", token=token).status == 500
    assert not user_item(bob["id"]).timeline_rebuilding

    def rebuilds_tried():
        return sum(kind == "rebuild" and job["user_id"] == int(bob["id"]) for kind, job in sent_jobs)

    assert rebuilds_tried() == 1  # the one that could not be sent
    assert api.get("/me", token=token).status == 200  # tries again
    assert rebuilds_tried() == 2 and user_item(bob["id"]).timeline_rebuilding
    monkeypatch.setattr(activity, "_marked_today", {})  # another container sees bob: no second rebuild
    assert api.get("/me", token=token).status == 200
    assert rebuilds_tried() == 2
    pump.drain()
    assert timeline_entries(bob["id"]) == rebuilt
    assert api.get("/timelines/home", token=token).json["meta"]["partial"] is False


def test_a_sign_up_that_landed_behind_a_500_is_the_account_not_a_taken_handle(api, no_backoff):
    with WireFaults() as faults:
        faults.fail("TransactWriteItems", times=1, kind="write-then-500")
        reply = api.post("/auth/signup", {"handle": "ada", "password": "analytical"})
    assert faults.injected == {"write-then-500": 1}
    assert reply.status == 201, reply.json
    assert api.get("/users/ada").json["id"] == reply.json["user"]["id"]
    assert api.post("/auth/login", {"handle": "ada", "password": "analytical"}).status == 200
    again = api.post("/auth/signup", {"handle": "ADA", "password": "analytical"})
    assert (again.status, again.json["error"]["code"]) == (409, "handle_taken")


@pytest.mark.parametrize("path, method, body", [
    ("/users/alice/follow", "POST", {"following": True}),
    ("/tweets/{tweet}/like", "POST", {"liked": True}),
])
def test_an_interaction_that_landed_behind_a_500_counts_once(api, make_user, make_tweet, no_backoff,
                                                             path, method, body):
    alice, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    tweet = make_tweet(alice_token, "likeable")
    with WireFaults() as faults:
        faults.fail("TransactWriteItems", times=1, kind="write-then-500")
        reply = api.request(method, path.format(tweet=tweet["id"]), token=bob_token)
    assert faults.injected == {"write-then-500": 1}
    assert (reply.status, reply.json) == (200, body)
    assert api.get("/users/alice").json["followers_count"] == (1 if "follow" in path else 0)
    assert api.get(f"/tweets/{tweet['id']}").json["counts"]["likes"] == (1 if "like" in path else 0)


def test_a_retweet_that_landed_behind_a_500_is_one_retweet(api, make_user, make_tweet, no_backoff):
    alice, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    original = make_tweet(alice_token, "worth sharing")
    with WireFaults() as faults:
        faults.fail("TransactWriteItems", times=1, kind="write-then-500")
        reply = api.post(f"/tweets/{original['id']}/retweet", token=bob_token)
    assert faults.injected == {"write-then-500": 1}
    assert reply.status in (200, 201), reply.json  # 200: the retry found the retweet it had made
    assert reply.json["retweet_of"]["counts"]["retweets"] == 1
    assert [t["id"] for t in api.get("/users/bob/tweets").json["data"]] == [reply.json["id"]]
    assert api.get(f"/tweets/{original['id']}").json["counts"]["retweets"] == 1


def test_trend_counts_that_landed_behind_a_500_count_once(api, make_user, make_tweet, pump, no_backoff):
    from chalicelib.discovery import trends

    _, token = make_user("alice")
    make_tweet(token, "#landed once")
    with WireFaults() as faults:  # the tweets stream's one transaction: the tag's item and its counter
        faults.fail("TransactWriteItems", times=1, kind="write-then-500")
        pump.drain()
    assert faults.injected == {"write-then-500": 1}
    assert trends.current() == [{"tag": "landed", "count": 1}]
