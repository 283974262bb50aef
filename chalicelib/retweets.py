"""Retweets: one per user per original, each a tweet item of its own (so it
reaches the retweeter's followers through the same stream fan-out as a
tweet), and what happens to them when their original is deleted."""
from chalicelib import batches, errors, jobs, settings, tweets
from chalicelib.ids import new_id
from chalicelib.tables import LikeModel, RetweetModel, TweetModel, UserModel
from chalicelib.transactions import ConditionsFailed, delete, save, transact_write, update


def retweet(user: UserModel, tweet_id: int) -> tuple[TweetModel, TweetModel, bool]:
    """Retweets `tweet_id` (or, if that is a retweet, its original) and
    returns (retweet, original, created). Retweeting again returns the
    existing retweet: one transaction claims the (original, user) marker,
    writes the retweet item and counts it, so a race makes one retweet."""
    original = tweets.get_original(tweet_id)
    user_id, original_id = int(user.id), int(original.id)
    for _ in range(tweets.ID_CLASH_RETRIES):
        existing = _existing(original_id, user_id)
        if existing is not None:
            # Read again: the original read above may predate this retweet (a concurrent request's).
            return existing, _counted_original(original_id), False
        retweet_id = new_id()
        item = TweetModel(
            id=retweet_id, author_id=user_id, author_handle=user.handle,
            author_display_name=user.display_name, text="", conversation_id=retweet_id,
            retweet_of_id=original_id, retweet_of_author_id=int(original.author_id))
        try:
            transact_write({
                "marker": save(RetweetModel(tweet_id=original_id, user_id=user_id, retweet_id=retweet_id),
                               condition=RetweetModel.user_id.does_not_exist()),
                "retweet": save(item, condition=TweetModel.id.does_not_exist()),
                "original": update(TweetModel(id=original_id), [TweetModel.retweet_count.add(1)],
                                   condition=TweetModel.id.exists()),
                "user": update(UserModel(id=user_id), [UserModel.tweets_count.add(1)],
                               condition=UserModel.id.exists()),
            })
            # The original as it is now, counting this retweet (it was read before).
            original.retweet_count = int(original.retweet_count or 0) + 1
            return item, original, True
        except ConditionsFailed as exc:
            if "original" in exc.failed:
                raise errors.not_found("Tweet") from None
            if "user" in exc.failed:
                raise errors.unauthorized("The account no longer exists.") from None
            # The marker: a concurrent retweet won (the loop returns it); or an id clash.
    raise RuntimeError("could not write the retweet")


def _counted_original(original_id: int) -> TweetModel:
    original = _find(original_id)
    if original is None:
        raise errors.not_found("Tweet")
    return original


def _existing(original_id: int, user_id: int) -> TweetModel | None:
    try:
        marker = RetweetModel.get(original_id, user_id, consistent_read=True)
    except RetweetModel.DoesNotExist:
        return None
    return _find(int(marker.retweet_id))


def _find(tweet_id: int) -> TweetModel | None:
    """A strongly consistent read: the retweet a concurrent request has just
    written must be seen, or this request would try to write another."""
    try:
        return TweetModel.get(tweet_id, consistent_read=True)
    except TweetModel.DoesNotExist:
        return None


def undo_retweet(user_id: int, tweet_id: int) -> None:
    """Removes the user's retweet of `tweet_id` (or of its original), if
    there is one. The marker, the retweet item and both counts change in
    one transaction; the retweet's stream record retracts it from
    timelines. The original may be gone: then only the retweet goes."""
    target = _find(tweet_id)
    if target is not None and target.retweet_of_id is not None:
        tweet_id = int(target.retweet_of_id)
    try:
        marker = RetweetModel.get(tweet_id, user_id, consistent_read=True)
    except RetweetModel.DoesNotExist:
        if target is None:
            raise errors.not_found("Tweet") from None
        return  # not retweeted: undoing is idempotent
    _remove(marker, count_on_original=True)


def _remove(marker: RetweetModel, count_on_original: bool) -> None:
    original_id, user_id, retweet_id = int(marker.tweet_id), int(marker.user_id), int(marker.retweet_id)
    steps = {
        "marker": delete(RetweetModel(tweet_id=original_id, user_id=user_id),
                         condition=RetweetModel.retweet_id == retweet_id),
        "retweet": delete(TweetModel(id=retweet_id), condition=TweetModel.id.exists()),
        "user": update(UserModel(id=user_id), [UserModel.tweets_count.add(-1)],
                       condition=UserModel.id.exists()),
    }
    if count_on_original:
        steps["original"] = update(TweetModel(id=original_id), [TweetModel.retweet_count.add(-1)],
                                   condition=TweetModel.id.exists())
    while True:  # each round drops at least one step, so this ends
        try:
            transact_write(steps)
            return
        except ConditionsFailed as exc:
            if "marker" in exc.failed:
                return  # removed meanwhile (a concurrent undo, or redelivery of a cascade)
            for name in exc.failed:
                del steps[name]  # already gone: nothing left to uncount there


# --- when an original is deleted -------------------------------------------

def on_tweet_record(record: dict) -> None:
    """A deleted original takes its retweets and likes with it. Each page is
    idempotent; large ones continue as jobs on the fan-out queue."""
    if record["eventName"] != "REMOVE":
        return
    tweet = TweetModel.from_raw_data(record["dynamodb"]["OldImage"])
    if tweet.retweet_of_id is None:
        drop_retweets(int(tweet.id), None)
        drop_likes(int(tweet.id), None)


def drop_retweets(tweet_id: int, cursor: int | None) -> None:
    markers = _page(RetweetModel, tweet_id, RetweetModel.user_id, cursor)
    for marker in markers:
        _remove(marker, count_on_original=False)
    if len(markers) == settings.CASCADE_PAGE_SIZE:
        jobs.send("drop-retweets", tweet_id=tweet_id, cursor=int(markers[-1].user_id))


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
