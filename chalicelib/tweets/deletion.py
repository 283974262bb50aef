"""Deleting a tweet: what the request does at once, and what the tweets
stream does after (a deleted original takes its retweets and likes with
it, one idempotent page at a time, the rest as background jobs).

Timelines, hashtags, trends and notifications retract a deleted tweet from
their own stream handlers (chalicelib.home, discovery, notifications).
"""
from chalicelib import errors, settings
from chalicelib.storage import batches, jobs
from chalicelib.storage.tables import LikeModel, RetweetModel, TweetModel
from chalicelib.tweets import retweets, tweets


def delete(caller_id: int, tweet_id: int) -> None:
    """Deletes a tweet if the caller wrote it. Deleting a retweet undoes it."""
    tweet = tweets.get(tweet_id)
    if int(tweet.author_id) != caller_id:
        raise errors.Forbidden("Only the author can delete a tweet.")
    if tweet.retweet_of_id is not None:
        retweets.undo_retweet(caller_id, int(tweet.retweet_of_id))
    else:
        tweets.delete_tweet(tweet)


# --- the tweets stream -------------------------------------------------------

def on_tweet_record(record: dict) -> None:
    """A deleted original takes its retweets and likes with it. Each page is
    idempotent; large ones continue as jobs."""
    if record["eventName"] != "REMOVE":
        return
    tweet = TweetModel.from_raw_data(record["dynamodb"]["OldImage"])
    if tweet.retweet_of_id is None:
        drop_retweets(int(tweet.id), None)
        drop_likes(int(tweet.id), None)


@jobs.handler("drop-retweets")
def drop_retweets(tweet_id: int, cursor: int | None) -> None:
    markers = _page(RetweetModel, tweet_id, RetweetModel.user_id, cursor)
    for marker in markers:
        retweets.remove(marker, count_on_original=False)
    if len(markers) == settings.CASCADE_PAGE_SIZE:
        jobs.send("drop-retweets", tweet_id=tweet_id, cursor=int(markers[-1].user_id))


@jobs.handler("drop-likes")
def drop_likes(tweet_id: int, cursor: int | None) -> None:
    """Deletes the likes of a deleted tweet; their stream records delete the
    like notifications."""
    likes = _page(LikeModel, tweet_id, LikeModel.user_id, cursor)
    batches.write(LikeModel.Meta.table_name,
                  [batches.delete_request(LikeModel, tweet_id, int(like.user_id)) for like in likes])
    if len(likes) == settings.CASCADE_PAGE_SIZE:
        jobs.send("drop-likes", tweet_id=tweet_id, cursor=int(likes[-1].user_id))


def _page(model, tweet_id: int, range_attribute, cursor: int | None) -> list:
    condition = None if cursor is None else range_attribute > cursor
    return list(model.query(tweet_id, range_key_condition=condition, consistent_read=True,
                            limit=settings.CASCADE_PAGE_SIZE, page_size=settings.CASCADE_PAGE_SIZE))
