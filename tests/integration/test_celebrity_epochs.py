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


def followed_by_five(make_user, follow, streams) -> list:
    """Five fans follow @star (the threshold), their records handled; the
    promotion's jobs are left on the queue for the test to run."""
    fans = [make_user(f"fan{n}") for n in range(5)]
    for _, token in fans:
        follow(token, "star")
    streams["on_follow_change"].drain()
    return fans


def promoted_then_demoted(make_user, follow, unfollow, streams) -> list:
    """@star promoted by five fans, then demoted by two unfollows, every job run."""
    fans = followed_by_five(make_user, follow, streams)
    streams["on_job"].drain()
    for _, token in fans[:2]:
        unfollow(token, "star")
    streams["on_follow_change"].drain()
    streams["on_job"].drain()
    return fans


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
    fans = followed_by_five(make_user, follow, streams)
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
    fans = followed_by_five(make_user, follow, streams)
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
    fans = followed_by_five(make_user, follow, streams)
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
    promoted_then_demoted(make_user, follow, unfollow, streams)
    sent = [(kind, job["epoch"]) for kind, job in sent_jobs if kind in ("promote", "demote")]
    assert sent == [("promote", 1), ("demote", 2)]
    assert user_item(star["id"]).celebrity_epoch == 2


# --- the first job of a transition goes out, once -----------------------------------

def forget_job_epoch(author_id):
    """As a transition begun before job epochs were recorded leaves the author."""
    from chalicelib.storage.tables import UserModel

    UserModel(int(author_id)).update(actions=[UserModel.celebrity_job_epoch.remove()])


def transition_kinds(sent_jobs) -> list[tuple[str, int | None, int | None]]:
    return [(kind, job.get("epoch"), job.get("cursor"))
            for kind, job in sent_jobs if kind in ("promote", "demote")]


def test_follows_during_a_promotion_send_no_more_jobs(api, make_user, follow, streams, queue_messages,
                                                      sent_jobs):
    """Every follow record checks the author; one whose transition's job is
    recorded as sent sends nothing (a big promotion sees many follows)."""
    star, _ = make_user("star")
    for n in range(8):
        follow(make_user(f"fan{n}")[1], "star")
        streams["on_follow_change"].drain()
    assert user_item(star["id"]).celebrity_state == celebrities.PROMOTING
    assert transition_kinds(sent_jobs) == [("promote", 1, None)]
    assert user_item(star["id"]).celebrity_job_epoch == 1
    assert len(transition_jobs(queue_messages)) == 1


def test_a_promotion_that_ends_in_a_demotion_whose_job_is_lost_sends_it_when_the_page_is_retried(
        api, make_user, make_tweet, follow, unfollow, streams, queue_messages, monkeypatch):
    """The promotion's last page sets "celebrity" and checks the author again:
    unfollows meanwhile start a demotion, whose job cannot be sent. The page
    raises and is redelivered; it is stale now, and sends the lost job."""
    star, star_token = make_user("star")
    fans = followed_by_five(make_user, follow, streams)
    for _, token in fans[:2]:
        unfollow(token, "star")  # three left, while still promoting
    streams["on_follow_change"].drain()
    [promote] = transition_jobs(queue_messages)

    send = jobs.send

    def no_demote(kind, delay_seconds=0, **fields):
        if kind == "demote":
            raise RuntimeError("the queue is away")
        send(kind, delay_seconds, **fields)

    monkeypatch.setattr(jobs, "send", no_demote)
    with pytest.raises(RuntimeError):
        run(promote)
    monkeypatch.setattr(jobs, "send", send)
    run(promote)  # redelivered
    streams["on_job"].drain()

    author = user_item(star["id"])
    assert (author.celebrity_state, author.celebrity_epoch, author.celebrity_job_epoch) == (None, 2, 2)
    for fan, _ in fans:
        assert celebrity_followees(fan["id"]) == set(), fan["handle"]


def test_a_duplicate_chain_of_one_epoch_ends_right(api, make_user, follow, streams, queue_messages,
                                                   monkeypatch):
    """Two checks resending at once (or one resending between another's send
    and its record) make two chains of one epoch: both page the same
    followers, and the slower stops once the faster has ended."""
    monkeypatch.setattr(settings, "FANOUT_PAGE_SIZE", 2)
    star, _ = make_user("star")
    fans = followed_by_five(make_user, follow, streams)
    [first] = transition_jobs(queue_messages)
    run(first)
    run(first)  # the same first page again: two chains
    while waiting := transition_jobs(queue_messages):
        for job in waiting:
            run(job)
    assert_every_follower_pulls(api, star, fans)


def test_transitions_begun_before_job_epochs_were_recorded(api, make_user, follow, unfollow, streams,
                                                         queue_messages, sent_jobs):
    """No job epoch on the author: a finished demotion is not sent again; a
    promotion still under way is, once (its job may be the one lost)."""
    star, _ = make_user("star")
    promoted_then_demoted(make_user, follow, unfollow, streams)
    assert transition_kinds(sent_jobs) == [("promote", 1, None), ("demote", 2, None)]
    forget_job_epoch(star["id"])
    follow(make_user("newcomer0")[1], "star")  # four: a check, below the threshold
    streams["on_follow_change"].drain()
    assert transition_kinds(sent_jobs) == [("promote", 1, None), ("demote", 2, None)]

    follow(make_user("newcomer1")[1], "star")  # five: the next promotion
    streams["on_follow_change"].drain()
    assert user_item(star["id"]).celebrity_state == celebrities.PROMOTING
    transition_jobs(queue_messages)  # its job lost, as the old code could lose it
    forget_job_epoch(star["id"])
    for n in (2, 3):
        follow(make_user(f"newcomer{n}")[1], "star")
        streams["on_follow_change"].drain()
    assert transition_kinds(sent_jobs)[2:] == [("promote", 3, None), ("promote", 3, None)]  # sent once more
    streams["on_job"].drain()
    author = user_item(star["id"])
    assert (author.celebrity_state, author.celebrity_epoch, author.celebrity_job_epoch) == (
        celebrities.CELEBRITY, 3, 3)
