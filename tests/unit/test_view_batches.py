"""Views: what a page counts, and how a batch of views messages is aggregated
and reported (chalicelib.tweets.views), without DynamoDB."""
import json

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from chalicelib import settings
from chalicelib.events import consumers
from chalicelib.storage.tables import TweetModel
from chalicelib.tweets import views
from chalicelib.tweets.views import Message, Share


def tweet(tweet_id, author_id, retweet_of=None, original_author=None):
    return TweetModel(id=tweet_id, author_id=author_id, retweet_of_id=retweet_of,
                      retweet_of_author_id=original_author)


def test_a_page_counts_each_original_once_and_never_the_readers_own():
    page = [tweet(10, 2), tweet(11, 1), tweet(12, 3, retweet_of=10, original_author=2),
            tweet(13, 1, retweet_of=20, original_author=4), tweet(14, 3, retweet_of=15, original_author=1),
            tweet(16, 5)]
    # 11 is the reader's own; 12 is 10 again; 13, the reader's retweet, counts for 20; 14 retweets
    # the reader's own 15.
    assert views.viewed(1, page) == [10, 20, 16]
    assert views.viewed(2, page) == [11, 20, 15, 16]


def test_groups_are_spread_and_stable():
    readers = [millisecond << 22 for millisecond in range(10**12, 10**12 + 200)]  # Snowflakes: sequence 0
    groups = [views.group_of(reader) for reader in readers]
    assert all(0 <= g < settings.VIEWS_GROUPS for g in groups)
    assert len(set(groups)) == settings.VIEWS_GROUPS
    assert groups == [views.group_of(reader) for reader in readers]


def test_parse_takes_sqs_fields_and_refuses_what_is_not_a_views_message():
    assert views.parse("m", '{"tweets":[3,1,3]}', "7", "00000000000000000042") == Message("m", 7, 42, (3, 1))
    for body, group, sequence in [('{"tweets":"3"}', "1", "1"), ('{"tweets":[true]}', "1", "1"),
                                  ("{}", "1", "1"), ("nope", "1", "1"), ('{"tweets":[1]}', "g1", "1"),
                                  ('{"tweets":[1]}', "1", "9" * 39)]:
        with pytest.raises((ValueError, KeyError)):
            views.parse("m", body, group, sequence)
    assert views.parse("m", '{"tweets":[1]}', "1", "0" * 10 + "9" * 38).sequence == int("9" * 38)


def test_aggregate_is_one_share_per_tweet_and_group():
    batch = [Message("a", 0, 1, (100, 200)), Message("b", 0, 2, (100,)), Message("c", 3, 5, (100, 300)),
             Message("d", 3, 9, (100,))]
    assert views.aggregate(batch) == {
        100: {0: Share(2, 1, 2), 3: Share(2, 5, 9)},
        200: {0: Share(1, 1, 1)},
        300: {3: Share(1, 5, 5)},
    }
    # With marks (what the item says is counted), only the messages numbered above them.
    assert views.shares(batch, 100, {0: 1, 3: 9}) == {0: Share(1, 2, 2)}
    assert views.shares(batch, 100, {0: 2}) == {3: Share(2, 5, 9)}


@st.composite
def batches(draw):
    """A batch as Lambda hands one over: each group's messages in increasing order."""
    sequence, batch = 0, []
    for index in range(draw(st.integers(1, 10))):
        sequence += draw(st.integers(1, 5))
        tweets = draw(st.lists(st.integers(1, 8), min_size=1, max_size=5, unique=True))
        batch.append(Message(f"m{index}", draw(st.integers(0, 3)), sequence, tuple(tweets)))
    return batch


@given(batches())
def test_aggregate_counts_every_view_once_within_its_group_bounds(batch):
    aggregated = views.aggregate(batch)
    assert sum(s.views for by_group in aggregated.values() for s in by_group.values()) == \
        sum(len(m.tweets) for m in batch)
    for tweet_id, by_group in aggregated.items():
        for group, share in by_group.items():
            numbers = [m.sequence for m in batch if m.group == group and tweet_id in m.tweets]
            assert share == Share(len(numbers), min(numbers), max(numbers))


def _conditional_check_failed(item=None):
    response = {"Error": {"Code": "ConditionalCheckFailedException", "Message": "no"}}
    if item is not None:
        response["Item"] = item
    return ClientError(response, "UpdateItem")


def test_a_failed_tweet_fails_a_suffix_of_each_of_its_groups(monkeypatch):
    batch = [Message("a", 0, 1, (1,)), Message("b", 0, 2, (2,)), Message("c", 0, 3, (1,)),
             Message("d", 1, 4, (1,)), Message("e", 1, 5, (2, 3)), Message("f", 2, 6, (3,))]
    requests = []

    def update_item(**request):
        requests.append(request)
        if request["Key"]["id"]["N"] == "2":
            raise RuntimeError("injected")

    monkeypatch.setattr(views, "update_item", update_item)
    # Tweet 2 came in b (group 0) and e (group 1): both groups again from there; group 2 is done.
    assert views.count(batch) == {"b", "c", "e"}
    assert len(requests) == 3  # one update per distinct tweet, whatever the groups
    first = next(r for r in requests if r["Key"]["id"]["N"] == "1")
    assert first["ExpressionAttributeValues"][":n"] == {"N": "3"}
    assert first["UpdateExpression"] == "ADD #views :n SET #g0 = :last0, #g1 = :last1"
    assert first["ExpressionAttributeNames"]["#g1"] == "vseq_1"


def test_a_redelivery_counts_only_what_the_marks_do_not_cover(monkeypatch):
    batch = [Message("a", 0, 1, (1,)), Message("b", 0, 2, (1,)), Message("c", 4, 7, (1,))]
    requests = []

    def update_item(**request):
        requests.append(request)
        if len(requests) == 1:  # a and c are in already (b failed on another tweet, say)
            raise _conditional_check_failed({"id": {"N": "1"}, "vseq_0": {"N": "1"}, "vseq_4": {"N": "7"},
                                             "views_count": {"N": "5"}})

    monkeypatch.setattr(views, "update_item", update_item)
    assert views.count(batch) == set()
    retry = requests[1]
    assert retry["ExpressionAttributeValues"][":n"] == {"N": "1"}
    assert retry["UpdateExpression"] == "ADD #views :n SET #g0 = :last0"
    assert retry["ConditionExpression"] == "attribute_exists(#id) AND #g0 = :bound0"
    assert retry["ExpressionAttributeValues"][":bound0"] == {"N": "1"}


def test_a_gone_tweet_or_a_fully_counted_one_needs_nothing_more(monkeypatch):
    calls = []

    def gone(**request):
        calls.append(request)
        raise _conditional_check_failed()

    monkeypatch.setattr(views, "update_item", gone)
    assert views.count([Message("a", 0, 1, (1,))]) == set()
    assert len(calls) == 1

    def counted(**request):
        calls.append(request)
        raise _conditional_check_failed({"id": {"N": "1"}, "vseq_0": {"N": "3"}})

    monkeypatch.setattr(views, "update_item", counted)
    assert views.count([Message("a", 0, 2, (1,)), Message("b", 0, 3, (1,))]) == set()
    assert len(calls) == 2


def test_the_consumer_reports_failures_and_drops_what_is_not_a_views_message(monkeypatch):
    def record(message_id, body, group="0", sequence="1"):
        return {"messageId": message_id, "body": body,
                "attributes": {"MessageGroupId": group, "SequenceNumber": sequence}}

    seen = []

    def count(messages):
        seen.extend(messages)
        return {"b"}

    event = {"Records": [record("a", json.dumps({"tweets": [1]})), record("x", "not json"),
                         record("b", json.dumps({"tweets": [2]}), "0", "2"),
                         {"messageId": "y", "body": "{}"}]}
    reply = consumers.fifo_views_batch(event, count, views.parse)
    assert reply == {"batchItemFailures": [{"itemIdentifier": "b"}]}
    assert [m.id for m in seen] == ["a", "b"]
