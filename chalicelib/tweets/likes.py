"""Likes: one per user per tweet, with an exact count on the tweet. The
like item and the count change in one transaction, so concurrent likes
and repeated requests can neither lose nor double a count."""
from chalicelib import errors
from chalicelib.storage.ids import new_id
from chalicelib.storage.tables import LikeModel, TweetModel
from chalicelib.storage.transactions import ConditionsFailed, delete, save, transact_write, update
from chalicelib.tweets import tweets


def like(user_id: int, tweet_id: int) -> TweetModel:
    """Likes the tweet (a retweet's original, if given a retweet); liking
    twice is a no-op. Returns the liked tweet as it was read."""
    tweet = tweets.get_original(tweet_id)
    try:
        transact_write({
            "like": save(LikeModel(tweet_id=int(tweet.id), user_id=user_id, like_id=new_id(),
                                   author_id=int(tweet.author_id)),
                         condition=LikeModel.user_id.does_not_exist()),
            "tweet": update(TweetModel(id=tweet.id), [TweetModel.like_count.add(1)],
                            condition=TweetModel.id.exists()),
        })
    except ConditionsFailed as exc:
        if "tweet" in exc.failed:  # deleted since it was read (liked before or not)
            raise errors.NotFound("Tweet") from None
    return tweet


def unlike(user_id: int, tweet_id: int) -> None:
    """Removes the like, if any. If the tweet is gone its likes are being
    removed with it (chalicelib.tweets.deletion.drop_likes): nothing to uncount."""
    target = _find(tweet_id)
    if target is not None and target.retweet_of_id is not None:
        tweet_id = int(target.retweet_of_id)
    steps = {
        "like": delete(LikeModel(tweet_id=tweet_id, user_id=user_id), condition=LikeModel.user_id.exists()),
        "tweet": update(TweetModel(id=tweet_id), [TweetModel.like_count.add(-1)],
                        condition=TweetModel.id.exists()),
    }
    while True:  # at most twice: the second round has no "tweet" step
        try:
            transact_write(steps)
            return
        except ConditionsFailed as exc:
            if "like" in exc.failed:
                if target is None and "tweet" in steps:  # no tweet, and no like of it
                    raise errors.NotFound("Tweet") from None
                return  # not liked, or unliked meanwhile (or dropped with its tweet): idempotent
            del steps["tweet"]  # the tweet is gone: only the like goes


def _find(tweet_id: int) -> TweetModel | None:
    """Strongly consistent: a retweet id that was just written must be seen
    as one, or its original's like would be looked for under its own id."""
    try:
        return TweetModel.get(tweet_id, consistent_read=True)
    except TweetModel.DoesNotExist:
        return None
