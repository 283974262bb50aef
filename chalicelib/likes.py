"""Likes: one per user per tweet, with an exact count on the tweet. The
like item and the count change in one transaction, so concurrent likes
and repeated requests can neither lose nor double a count."""
from chalicelib import errors, tweets
from chalicelib.ids import new_id
from chalicelib.tables import LikeModel, TweetModel
from chalicelib.transactions import ConditionsFailed, delete, save, transact_write, update


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
        if "tweet" in exc.failed and "like" not in exc.failed:
            raise errors.not_found("Tweet") from None
    return tweet


def unlike(user_id: int, tweet_id: int) -> None:
    """Removes the like, if any. If the tweet is gone its likes are being
    removed with it (chalicelib.retweets.drop_likes): nothing to uncount."""
    target = tweets.find(tweet_id)
    if target is not None and target.retweet_of_id is not None:
        tweet_id = int(target.retweet_of_id)
    steps = {
        "like": delete(LikeModel(tweet_id=tweet_id, user_id=user_id), condition=LikeModel.user_id.exists()),
        "tweet": update(TweetModel(id=tweet_id), [TweetModel.like_count.add(-1)],
                        condition=TweetModel.id.exists()),
    }
    try:
        transact_write(steps)
    except ConditionsFailed as exc:
        if "like" in exc.failed:
            if target is None:
                raise errors.not_found("Tweet") from None
            return  # not liked: unliking is idempotent
        del steps["tweet"]
        transact_write(steps)
