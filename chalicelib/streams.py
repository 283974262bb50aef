"""What each table's stream sets off. Every step is idempotent, so a record
that fails part-way is delivered again and the steps already done only
rewrite what they wrote."""
from chalicelib import fanout, hashtags, notifications, retweets


def on_tweet_record(record: dict) -> None:
    fanout.on_tweet_record(record)  # home timelines
    hashtags.on_tweet_record(record)  # hashtag timelines and trend counters
    notifications.on_tweet_record(record)  # mentions, replies, retweets
    retweets.on_tweet_record(record)  # a deleted original takes its retweets and likes


def on_follow_record(record: dict) -> None:
    fanout.on_follow_record(record)
    notifications.on_follow_record(record)


def on_like_record(record: dict) -> None:
    notifications.on_like_record(record)
