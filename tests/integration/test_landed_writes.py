"""Writes that DynamoDB applied although the caller saw an error: the SDK's
retry finds its own write (a condition now false) and must take it as done.
Faults are injected at the wire (faults.WireFaults): the request reaches
moto, and the answer is replaced by a 500."""
import pytest
from faults import WireFaults
from support import celebrity_followees, user_item

from chalicelib import settings
from chalicelib.home import celebrities


@pytest.fixture
def no_backoff(monkeypatch):
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)


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


def test_a_promotion_whose_job_cannot_be_sent_is_taken_back_and_retried(
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
