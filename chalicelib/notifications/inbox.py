"""Notifications: mentions, replies, likes, retweets and follows addressed
to a user, written by the stream handlers, never on the request path.

A notification's key is (recipient, id of its cause), so a redelivered
stream record rewrites the same item and the cause's removal (a deleted
tweet, an unlike, an undone retweet, an unfollow) deletes exactly it.
Nobody is notified of their own actions.
"""
from typing import NamedTuple

from chalicelib.storage import batches
from chalicelib.storage.paging import PageRequest, query_page
from chalicelib.storage.tables import FollowModel, LikeModel, NotificationModel, TweetModel, UserModel


class Notice(NamedTuple):
    user_id: int
    id: int
    type: str
    actor_id: int
    tweet_id: int | None


# --- from the streams --------------------------------------------------------

def of_tweet(tweet: TweetModel) -> list[Notice]:
    """A retweet notifies the original's author; a reply its parent's
    author; a mention the user it names (a reply's author only once)."""
    author, tweet_id = int(tweet.author_id), int(tweet.id)
    if tweet.retweet_of_id is not None:
        original_author = int(tweet.retweet_of_author_id)
        return [Notice(original_author, tweet_id, "retweet", author, int(tweet.retweet_of_id))]
    notices = {}
    if tweet.reply_to_author_id is not None:
        recipient = int(tweet.reply_to_author_id)
        notices[recipient] = Notice(recipient, tweet_id, "reply", author, tweet_id)
    for mention in (tweet.entities or {}).get("mentions", []):
        if mention.get("user_id") is not None:
            recipient = int(mention["user_id"])
            notices.setdefault(recipient, Notice(recipient, tweet_id, "mention", author, tweet_id))
    return list(notices.values())


def of_follow(follow: FollowModel) -> list[Notice]:
    return [Notice(int(follow.followee_id), int(follow.follow_id), "follow", int(follow.follower_id), None)]


def of_like(like: LikeModel) -> list[Notice]:
    return [Notice(int(like.author_id), int(like.like_id), "like", int(like.user_id), int(like.tweet_id))]


def _handler(model, notices_of):
    def on_record(record: dict) -> None:
        change = record["dynamodb"]
        if record["eventName"] == "INSERT":
            write(notices_of(model.from_raw_data(change["NewImage"])))
        elif record["eventName"] == "REMOVE":
            remove(notices_of(model.from_raw_data(change["OldImage"])))
    return on_record


on_tweet_record = _handler(TweetModel, of_tweet)
on_follow_record = _handler(FollowModel, of_follow)
on_like_record = _handler(LikeModel, of_like)


def write(notices: list[Notice]) -> None:
    batches.write(NotificationModel.Meta.table_name, [
        batches.put_request(NotificationModel(user_id=n.user_id, id=n.id, type=n.type, actor_id=n.actor_id,
                                              tweet_id=n.tweet_id))
        for n in notices if n.user_id != n.actor_id])


def remove(notices: list[Notice]) -> None:
    requests = [batches.delete_request(NotificationModel, n.user_id, n.id)
                for n in notices if n.user_id != n.actor_id]
    batches.write(NotificationModel.Meta.table_name, requests)


# --- reading -------------------------------------------------------------------

class Shown(NamedTuple):
    notification: NotificationModel
    actor: UserModel
    tweet: TweetModel | None


def page(user_id: int, page: PageRequest) -> tuple[list[Shown], bool, int | None]:
    """A page of the user's notifications, newest first: one Query and one
    BatchGetItem for the actors and tweets. One whose tweet was deleted is
    skipped until the deletion's stream record removes it."""
    items, more = query_page(NotificationModel, user_id, NotificationModel.id, page)
    users, tweets = UserModel.Meta.table_name, TweetModel.Meta.table_name
    actor_ids = sorted({int(n.actor_id) for n in items})
    tweet_ids = sorted({int(n.tweet_id) for n in items if n.tweet_id is not None})
    found = batches.get({users: [batches.number_key("id", i) for i in actor_ids],
                         tweets: [batches.number_key("id", i) for i in tweet_ids]}) if items else {
        users: [], tweets: []}
    actors = {int(u.id): u for u in map(UserModel.from_raw_data, found[users])}
    tweet_by_id = {int(t.id): t for t in map(TweetModel.from_raw_data, found[tweets])}
    shown = []
    for n in items:
        tweet = tweet_by_id.get(int(n.tweet_id)) if n.tweet_id is not None else None
        if int(n.actor_id) in actors and (n.tweet_id is None or tweet is not None):
            shown.append(Shown(n, actors[int(n.actor_id)], tweet))
    return shown, more, (int(items[-1].id) if items else None)
