"""Celebrity transitions overtaken by newer ones (chalicelib.home.celebrities):
each transition has an epoch, its jobs carry it, and a page of an older
epoch neither undoes a newer transition's work nor finishes it early.

The jobs are taken off the queue and run by hand (`jobs.run`, what the
`on_job` handler does with each message), in the order that hurts."""
import json

import pytest
from support import celebrity_followees, user_item

from chalicelib import settings
from chalicelib.home import celebrities
from chalicelib.storage import jobs


@pytest.fixture
def streams(pump_factory, monkeypatch, cheap_passwords):
    """Five followers make a celebrity, fewer than four an ordinary author
    again. The follows and tweets streams have pumps of their own; the jobs
    queue is read and run by hand (or by the `jobs` pump)."""
    monkeypatch.setattr(settings, "CELEBRITY_THRESHOLD", 5)
    monkeypatch.setattr(settings, "CELEBRITY_CACHE_SECONDS", 0)
    return {name: pump_factory([name]) for name in ("on_follow_change", "on_tweet_change", "on_job")}


def run(job: dict) -> None:
    jobs.run(json.dumps(job))


def transition_jobs(queue_messages) -> list[dict]:
    waiting = queue_messages("jobs")
    assert all(job["kind"] in ("promote", "demote") for job in waiting), waiting
    return waiting


def assert_every_follower_pulls(api, star, readers):
    assert user_item(star["id"]).celebrity_state == celebrities.CELEBRITY
    for reader, _ in readers:
        assert celebrity_followees(reader["id"]) == {star["id"]}, reader["handle"]


def test_a_demotion_page_does_not_undo_a_newer_promotion(api, make_user, make_tweet, follow, unfollow,
                                                         streams, queue_messages, monkeypatch, home):
    """Race 1: a demotion page passes its state check; before it removes its
    followers from the pull list, the author is promoted again and that
    promotion's pages add them. The demotion's removals land last."""
    star, star_token = make_user("star")
    fans = [make_user(f"fan{n}") for n in range(5)]
    for _, token in fans:
        follow(token, "star")
    streams["on_follow_change"].drain()
    streams["on_job"].drain()
    assert_every_follower_pulls(api, star, fans)

    for _, token in fans[3:]:
        unfollow(token, "star")  # three left: below 80% of five
    streams["on_follow_change"].drain()
    assert user_item(star["id"]).celebrity_state is None
    [demote] = transition_jobs(queue_messages)
    assert demote["kind"] == "demote"

    newcomers = [make_user(f"newcomer{n}") for n in range(2)]
    real_remove, overtaken = celebrities.remove_followee, []

    def remove_after_a_promotion(reader_id, author_id):
        if not overtaken:  # the page has read the state and its followers: now it is overtaken
            overtaken.append(True)
            for _, token in newcomers:
                follow(token, "star")  # five again: promoted
            streams["on_follow_change"].drain()
            assert user_item(star["id"]).celebrity_state == celebrities.PROMOTING
            streams["on_job"].drain()  # the whole promotion runs
            assert_every_follower_pulls(api, star, fans[:3] + newcomers)
        real_remove(reader_id, author_id)

    monkeypatch.setattr(celebrities, "remove_followee", remove_after_a_promotion)
    run(demote)
    monkeypatch.setattr(celebrities, "remove_followee", real_remove)
    assert overtaken
    streams["on_job"].drain()  # whatever the page sent on

    assert_every_follower_pulls(api, star, fans[:3] + newcomers)
    tweet = make_tweet(star_token, "famous again")["id"]
    streams["on_tweet_change"].drain()
    streams["on_job"].drain()
    for _, token in fans[:3] + newcomers:
        assert tweet in home(token)


def test_a_stale_page_of_an_older_promotion_does_not_finish_a_newer_one(
        api, make_user, make_tweet, follow, unfollow, streams, queue_messages, monkeypatch, home):
    """Race 2: a page of the first promotion is redelivered late, while a
    second promotion is under way (the state is "promoting" again). Its
    cursor belongs to the old follower list: run to its end, it would set
    "celebrity" before the second promotion has added the newest followers."""
    monkeypatch.setattr(settings, "FANOUT_PAGE_SIZE", 2)
    star, star_token = make_user("star")
    fans = [make_user(f"fan{n}") for n in range(5)]
    for _, token in fans:
        follow(token, "star")
    streams["on_follow_change"].drain()
    [first] = transition_jobs(queue_messages)
    run(first)
    [second_page] = transition_jobs(queue_messages)  # the first promotion's page 2, kept to redeliver
    assert second_page["kind"] == "promote" and second_page["cursor"] is not None
    run(second_page)
    streams["on_job"].drain()
    assert_every_follower_pulls(api, star, fans)

    for _, token in fans[:2]:  # the oldest two leave: demotion
        unfollow(token, "star")
    streams["on_follow_change"].drain()
    streams["on_job"].drain()
    assert user_item(star["id"]).celebrity_state is None
    assert all(celebrity_followees(fan["id"]) == set() for fan, _ in fans)

    newcomers = [make_user(f"newcomer{n}") for n in range(2)]
    for _, token in newcomers:
        follow(token, "star")  # five again: the second promotion
    streams["on_follow_change"].drain()
    assert user_item(star["id"]).celebrity_state == celebrities.PROMOTING
    [newer] = transition_jobs(queue_messages)

    run(second_page)  # the stale page, redelivered
    streams["on_job"].drain()  # and whatever it sent on
    run(newer)
    streams["on_job"].drain()

    followers = fans[2:] + newcomers
    assert_every_follower_pulls(api, star, followers)
    tweet = make_tweet(star_token, "famous again")["id"]
    streams["on_tweet_change"].drain()
    streams["on_job"].drain()
    for _, token in followers:
        assert tweet in home(token)


def test_a_job_sent_before_epochs_existed_still_runs(api, make_user, follow, streams, queue_messages,
                                                    monkeypatch):
    """Jobs already queued when epochs were deployed carry none: they check
    the state only, as before."""
    monkeypatch.setattr(settings, "FANOUT_PAGE_SIZE", 2)
    star, _ = make_user("star")
    fans = [make_user(f"fan{n}") for n in range(5)]
    for _, token in fans:
        follow(token, "star")
    streams["on_follow_change"].drain()
    pages = 0
    while waiting := transition_jobs(queue_messages):
        for job in waiting:
            job.pop("epoch", None)
            run(job)
            pages += 1
    assert pages == 3
    assert_every_follower_pulls(api, star, fans)


def test_the_jobs_carry_the_epoch_of_their_transition(api, make_user, follow, unfollow, streams,
                                                       queue_messages, sent_jobs):
    star, _ = make_user("star")
    fans = [make_user(f"fan{n}") for n in range(5)]
    for _, token in fans:
        follow(token, "star")
    streams["on_follow_change"].drain()
    streams["on_job"].drain()
    for _, token in fans[:2]:
        unfollow(token, "star")
    streams["on_follow_change"].drain()
    streams["on_job"].drain()
    sent = [(kind, job["epoch"]) for kind, job in sent_jobs if kind in ("promote", "demote")]
    assert sent == [("promote", 1), ("demote", 2)]
    assert user_item(star["id"]).celebrity_epoch == 2
