"""Fan-out on write: what the tweets and follows streams do to home
timelines, and the paged jobs they start on the fan-out queue.

A tweet reaches its author's timeline and every active follower's, in
BatchWriteItem calls of 25: one page of FANOUT_PAGE_SIZE followers in the
stream handler, the rest one page per SQS job. An author on the celebrity
path (chalicelib.celebrities) is not fanned out; readers pull those tweets.
Every step is idempotent (an entry's key is (user, tweet)), so redelivery
and retries only rewrite what is already there.
"""
from chalicelib import activity, celebrities, follows, jobs, retweets, settings, timelines, tweets
from chalicelib.tables import FollowModel, TweetModel, UserModel
from chalicelib.tweets import Ref

# --- the tweets stream ------------------------------------------------------

def on_tweet_record(record: dict) -> None:
    change = record["dynamodb"]
    if record["eventName"] == "INSERT":
        tweet = TweetModel.from_raw_data(change["NewImage"])
        deliver_tweet(tweets.ref(tweet), int(tweet.author_id))
    elif record["eventName"] == "REMOVE":
        tweet = TweetModel.from_raw_data(change["OldImage"])
        retract_tweet(int(tweet.id), int(tweet.author_id))
    # MODIFY only changes counts: timeline entries hold ids, nothing to do.


def deliver_tweet(ref: Ref, author_id: int) -> None:
    """A tweet or retweet (which travels exactly like a tweet)."""
    author = UserModel.get(author_id, consistent_read=True, attributes_to_get=["id", "celebrity_state"])
    if author.celebrity_state == celebrities.CELEBRITY:
        timelines.write_entries([author_id], ref, author_id)  # its own entry only, trimmed like any
        return
    # The author's own entry rides in the first batch: ceil((F + 1) / 25) writes.
    deliver_page(ref, author_id, cursor=None, carry=[author_id])


def deliver_page(ref: Ref, author_id: int, cursor: int | None, carry: list[int]) -> None:
    """Delivers to one page of followers, then hands the next page to a job.

    Recipients that do not fill a batch of 25 are carried into the next
    page's job, so F followers cost exactly ceil(F / 25) BatchWriteItem
    calls however the pages fall.
    """
    followers, next_cursor = follows.follower_page(author_id, cursor)
    if not tweets.exists(ref.tweet_id):
        return  # deleted meanwhile: the retraction covers what was written
    recipients = carry + activity.active_only(followers)
    if next_cursor is not None:
        keep = len(recipients) - len(recipients) % settings.BATCH_WRITE_MAX
        recipients, carry = recipients[:keep], recipients[keep:]
    timelines.write_entries(recipients, ref, author_id)
    if next_cursor is not None:
        jobs.send("deliver", tweet_id=ref.tweet_id, original_id=ref.original_id, author_id=author_id,
                  cursor=next_cursor, carry=carry)


def retract_tweet(tweet_id: int, author_id: int, cursor: int | None = None) -> None:
    """Removes a deleted tweet from every timeline it may be in: the author's
    and all followers' (active or not: activity may have changed since)."""
    followers, next_cursor = follows.follower_page(author_id, cursor)
    users = ([author_id] if cursor is None else []) + followers
    timelines.remove_entries([(user, tweet_id) for user in users])
    if next_cursor is not None:
        jobs.send("retract", tweet_id=tweet_id, author_id=author_id, cursor=next_cursor)


# --- the follows stream -----------------------------------------------------

def on_follow_record(record: dict) -> None:
    change = record["dynamodb"]
    if record["eventName"] == "INSERT":
        follow = FollowModel.from_raw_data(change["NewImage"])
        follower, followee = int(follow.follower_id), int(follow.followee_id)
        state = celebrities.state_of(followee)
        if state in celebrities.PULLED:
            celebrities.add_followee(follower, followee)
        if state != celebrities.CELEBRITY:
            backfill(follower, followee)  # a celebrity's older tweets are pulled on read too
        celebrities.check_transition(followee)
    elif record["eventName"] == "REMOVE":
        follow = FollowModel.from_raw_data(change["OldImage"])
        follower, followee = int(follow.follower_id), int(follow.followee_id)
        timelines.remove_author(follower, followee)
        celebrities.remove_followee(follower, followee)
        celebrities.check_transition(followee)


def backfill(follower_id: int, followee_id: int) -> None:
    """Copies the followee's most recent tweets into the follower's timeline,
    unless the follower has unfollowed again since (the stream may lag)."""
    if follows.is_following(follower_id, followee_id):
        recent = tweets.recent(followee_id, settings.BACKFILL_TWEETS)
        timelines.write_entries_for(follower_id, recent, followee_id)


# --- jobs on the fan-out queue ---------------------------------------------

def run_job_message(body: str) -> None:
    run_job(*jobs.parse(body))


def run_job(kind: str, job: dict) -> None:
    if kind == "deliver":
        ref = Ref(job["tweet_id"], job.get("original_id"))
        deliver_page(ref, job["author_id"], job["cursor"], job["carry"])
    elif kind == "retract":
        retract_tweet(job["tweet_id"], job["author_id"], job["cursor"])
    elif kind in ("promote", "demote"):
        celebrities.run_transition_page(kind, job["author_id"], job.get("cursor"))
    elif kind == "rebuild":
        rebuild_page(job["user_id"], job.get("cursor"))
    elif kind == "drop-retweets":
        retweets.drop_retweets(job["tweet_id"], job["cursor"])
    elif kind == "drop-likes":
        retweets.drop_likes(job["tweet_id"], job["cursor"])
    else:
        raise ValueError(f"unknown job kind {kind!r}")


def rebuild_page(user_id: int, cursor: int | None) -> None:
    """Rebuilds a returning user's timeline from their followees' recent
    tweets, one page of followees per job; the last page clears the flag
    that makes reads say `partial`."""
    followees, next_cursor = follows.following_page(user_id, cursor)
    pulled = celebrities.pulled_authors(followees)
    for celebrity in pulled:  # normally there already; cheap to make sure
        celebrities.add_followee(user_id, celebrity)
    requests = [timelines.entry(user_id, t, followee) for followee in followees if followee not in pulled
                for t in tweets.recent(followee, settings.BACKFILL_TWEETS)]
    if cursor is None:
        own = tweets.recent(user_id, settings.BACKFILL_TWEETS)
        requests += [timelines.entry(user_id, t, user_id) for t in own]
    newest = sorted(requests, key=lambda r: -int(r["PutRequest"]["Item"]["tweet_id"]["N"]))
    timelines.add_entries(newest[: settings.TIMELINE_MAX])
    if next_cursor is not None:
        jobs.send("rebuild", user_id=user_id, cursor=next_cursor)
        return
    timelines.trim(user_id)
    UserModel(id=user_id).update(actions=[UserModel.timeline_rebuilding.remove()])
