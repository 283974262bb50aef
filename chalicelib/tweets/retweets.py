"""Retweets: one per user per original, each a tweet item of its own (so it
reaches the retweeter's followers through the same stream fan-out as a
tweet). What happens to them when their original is deleted is in
chalicelib.tweets.deletion."""
from chalicelib import errors, settings
from chalicelib.storage.ids import new_id
from chalicelib.storage.tables import RetweetModel, TweetModel, UserModel
from chalicelib.storage.transactions import ConditionsFailed, delete, save, transact_write, update
from chalicelib.tweets import tweets


def retweet(user: UserModel, tweet_id: int) -> tuple[TweetModel, TweetModel, bool]:
    """Retweets `tweet_id` (or, if that is a retweet, its original) and
    returns (retweet, original, created). Retweeting again returns the
    existing retweet: one transaction claims the (original, user) marker,
    writes the retweet item and counts it, so a race makes one retweet."""
    original = tweets.get_original(tweet_id)
    user_id, original_id = int(user.id), int(original.id)
    for _ in range(settings.ID_CLASH_RETRIES):
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
                raise errors.NotFound("Tweet") from None
            if "user" in exc.failed:
                raise errors.Unauthenticated("The account no longer exists.") from None
            # The marker: a concurrent retweet won (the loop returns it); or an id clash.
    raise RuntimeError("could not write the retweet")


def _counted_original(original_id: int) -> TweetModel:
    original = _find(original_id)
    if original is None:
        raise errors.NotFound("Tweet")
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
            raise errors.NotFound("Tweet") from None
        return  # not retweeted: undoing is idempotent
    remove(marker, count_on_original=True)


def remove(marker: RetweetModel, count_on_original: bool) -> None:
    """Removes one retweet: its marker, its item and its counts, skipping the
    counts whose items are gone. Idempotent."""
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
