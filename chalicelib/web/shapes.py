"""How stored items look to API clients (the contract's shapes)."""
from chalicelib.storage.ids import id_created_at
from chalicelib.storage.tables import NotificationModel, TweetModel, UserModel

NO_ENTITIES: dict[str, list[dict]] = {"hashtags": [], "mentions": [], "urls": [], "cashtags": []}


def _id(value) -> str | None:
    return None if value is None else str(int(value))


def user_json(user: UserModel) -> dict:
    return {
        "id": _id(user.id),
        "handle": user.handle,
        "display_name": user.display_name,
        "bio": user.bio or "",
        "created_at": id_created_at(int(user.id)),
        "followers_count": int(user.followers_count or 0),
        "following_count": int(user.following_count or 0),
        "tweets_count": int(user.tweets_count or 0),
    }


def tweet_json(tweet: TweetModel, original: TweetModel | None = None) -> dict:
    """A tweet; for a retweet, pass the original it carries in `retweet_of`."""
    return {
        "id": _id(tweet.id),
        "author": {
            "id": _id(tweet.author_id),
            "handle": tweet.author_handle,
            "display_name": tweet.author_display_name,
        },
        "text": tweet.text,
        "created_at": id_created_at(int(tweet.id)),
        "entities": tweet.entities or NO_ENTITIES,
        "reply_to_id": _id(tweet.reply_to_id),
        "quote_of_id": _id(tweet.quote_of_id),
        "conversation_id": _id(tweet.conversation_id),
        "counts": {
            "likes": int(tweet.like_count or 0),
            "retweets": int(tweet.retweet_count or 0),
            "replies": int(tweet.reply_count or 0),
            "quotes": int(tweet.quote_count or 0),
            "views": int(tweet.views_count or 0),  # counted off the request path, seconds behind
        },
        "retweet_of": tweet_json(original) if original is not None else None,
    }


def ranking_json(score: float, reasons: tuple[str, ...]) -> dict:
    """Why a ranked item is where it is (chalicelib.home.ranking)."""
    return {"score": round(score, 4), "reasons": list(reasons)}


def notification_json(notification: NotificationModel, actor: UserModel, tweet: TweetModel | None) -> dict:
    return {
        "id": _id(notification.id),
        "type": notification.type,
        "actor": user_json(actor),
        "tweet": tweet_json(tweet) if tweet is not None else None,
        "created_at": id_created_at(int(notification.id)),
    }
