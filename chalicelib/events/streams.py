"""What each table's stream sets off. Every step is idempotent, so a record
that fails part-way is delivered again and the steps already done only
rewrite what they wrote."""
from chalicelib.discovery import hashtags
from chalicelib.home import affinity, feed
from chalicelib.notifications import inbox
from chalicelib.observe import logs
from chalicelib.tweets import deletion


def on_tweet_record(record: dict) -> None:
    key = record["dynamodb"].get("Keys", {}).get("id", {}).get("N")
    logs.bind(tweet_id=int(key) if key else None)
    feed.on_tweet_record(record)  # home timelines
    hashtags.on_tweet_record(record)  # hashtag timelines and trend counters
    inbox.on_tweet_record(record)  # mentions, replies, retweets
    affinity.on_tweet_record(record)  # a reply, retweet or quote engages with the other tweet's author
    deletion.on_tweet_record(record)  # a deleted original takes its retweets and likes


def on_follow_record(record: dict) -> None:
    feed.on_follow_record(record)
    inbox.on_follow_record(record)


def on_like_record(record: dict) -> None:
    inbox.on_like_record(record)
    affinity.on_like_record(record)  # a like engages with the liked tweet's author
