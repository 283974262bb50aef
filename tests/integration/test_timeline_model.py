"""Home timelines against a naive model, under at-least-once delivery.

A hypothesis state machine posts, retweets, undoes retweets, deletes (a
deleted original takes its retweets with it, through the tweets stream),
follows and unfollows through the API among a few users, with a celebrity
threshold (2 or 3 followers) low enough that authors cross it both ways,
and fan-out pages of one follower.
Events are delivered by one pump per handler, stepped in any order (AWS
orders nothing between the two streams and the queue); deliveries are
duplicated, and invocations crash after their k-th write (DynamoDB or SQS)
and are retried by the pump.

Mid-flight, a home timeline may lack what is still on its way, but never
serves a deleted tweet or retweet, an unfollowed author's, one item twice,
or one original twice (as itself or inside retweets). Whenever everything
is drained (at steps that drain, and at the end), every user's home
timeline, read through the API page by page (pages of 1, 2 or 4), must be
exactly what the model says:

- their own tweets and those of whom they follow now, minus the deleted;
- for each other original that they or a followee retweeted, one item:
  the oldest of those retweets, with the original in `retweet_of`;

newest first. So an original shows at most once, and never through a
retweet when it is there as itself.

Kept inside the model's assumptions: fewer tweets and retweets per author
than BACKFILL_TWEETS and CELEBRITY_PULL and fewer in all than TIMELINE_MAX
(test_home_timeline and test_home_retweets cover those limits), and fewer
injected crashes than the stream retry limit and the queue's receive
limit, so no event is given up on.
"""
import copy
from typing import NamedTuple

import boto3
import pytest
import requests
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test
from support import user_item

from chalicelib import settings as chirp
from chalicelib.storage import jobs
from chaos.model import expected_home
from devstack.resources import ensure_queues, ensure_tables
from tests import profiles

pytestmark = pytest.mark.slow  # minutes of API calls and pump steps; `make test-fast` leaves it out

USERS = 4
HANDLERS = ("on_tweet_change", "on_follow_change", "on_job")
WRITES = ("BatchWriteItem", "UpdateItem", "PutItem", "DeleteItem", "TransactWriteItems")
ACTIONS = ("post", "post", "retweet", "echo", "spotlight", "undo", "delete", "follow", "unfollow", "rally",
           "desert")
MAX_CRASHES = chirp.JOBS_MAX_RECEIVES - 1  # below every retry limit: nothing may end in an on-failure queue


class Tweet(NamedTuple):
    author: int  # a user's index
    original: str | None  # for a retweet, the original's id


class Crash(Exception):
    """An invocation dying after its k-th write (the pump retries it)."""


class Deliveries:
    """Wraps the handlers the pumps call: the next invocation of a handler
    can be made to run twice (a duplicate delivery) or to crash after its
    k-th write."""

    def __init__(self, hooks):
        self.duplicate: set[str] = set()
        self.crash_after: dict[str, int] = {}
        self.writes: int | None = None  # counting, in an invocation that is to crash
        self.crashes = 0
        for operation in WRITES:
            hooks.on(operation, self._count_write)
        jobs.sqs().meta.events.register("before-call.sqs.SendMessage", self._count_write)

    def close(self):
        jobs.sqs().meta.events.unregister("before-call.sqs.SendMessage", self._count_write)

    def _count_write(self, *args, **kwargs):
        if self.writes is not None:
            if self.writes == 0:
                self.crashes += 1
                self.writes = None
                raise Crash("injected after the k-th write")
            self.writes -= 1
        return None

    def wrap(self, name, handler):
        def invoke(event, context):
            if name in self.duplicate:
                self.duplicate.discard(name)
                handler(copy.deepcopy(event), context)
            self.writes = self.crash_after.pop(name, None)
            try:
                return handler(event, context)
            finally:
                self.writes = None
        return invoke


@pytest.mark.timeout(900)  # hypothesis shrinks a failure for up to 5 minutes; let it report
def test_home_timelines_match_the_model(api, moto_endpoint, pump_factory, dynamodb_hooks, monkeypatch,
                                        queue_messages, cheap_passwords):
    monkeypatch.setattr(chirp, "CELEBRITY_THRESHOLD", 3)  # each example sets its own, 2 or 3
    monkeypatch.setattr(chirp, "CELEBRITY_CACHE_SECONDS", 0)
    monkeypatch.setattr(chirp, "FANOUT_PAGE_SIZE", 1)  # a job for each follower after the first
    monkeypatch.setattr(chirp, "BATCH_WRITE_MAX", 3)  # several batches per fan-out, to crash between
    monkeypatch.setattr(chirp, "BATCH_BACKOFF_SECONDS", 0.001)
    deliveries = Deliveries(dynamodb_hooks)
    examples = iter(range(10**6))
    # One pump per handler, for every example: each follows its table's current
    # stream, so the tables can be dropped and made again under it.
    pumps = {name: pump_factory([name], wrap=deliveries.wrap) for name in HANDLERS}

    class HomeTimelines(RuleBasedStateMachine):
        @initialize(follows=st.lists(st.tuples(st.integers(0, USERS - 1), st.integers(0, USERS - 1)),
                                     max_size=8),
                    posts=st.lists(st.integers(0, USERS - 1), max_size=4),
                    threshold=st.sampled_from([2, 2, 3]), page=st.sampled_from([1, 2, 4]))
        def fresh_world(self, follows, posts, threshold, page):
            """New tables and users, then some follows and tweets whose events
            are left for the rules below to deliver. With a threshold of 2, an
            author is a celebrity at 2 followers and ordinary again at 1."""
            chirp.CELEBRITY_THRESHOLD = threshold  # monkeypatched: restored after the test
            requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
            ensure_tables(boto3.client("dynamodb"))
            ensure_queues(boto3.client("sqs"))
            self.pumps = pumps
            self.page = page  # the page size home timelines are read with
            deliveries.crashes = 0
            example = next(examples)
            self.users = []  # (handle, id, token)
            for n in range(USERS):
                handle = f"u{example}x{n}"
                reply = api.post("/auth/signup", {"handle": handle, "password": "password1"})
                assert reply.status == 201, reply.json
                self.users.append((handle, reply.json["user"]["id"], reply.json["token"]))
            self.tweets: dict[str, Tweet] = {}  # live tweets and retweets by id
            self.follows: set[tuple[int, int]] = set()
            for follower, followee in follows:
                self.follow(follower, followee)
            for author in posts:
                self.post(author)

        # --- a step: a user acts, then one stream or the queue moves on ---

        @rule(action=st.sampled_from(ACTIONS), user=st.integers(0, USERS - 1),
              other=st.integers(0, USERS - 1), pick=st.integers(0, 10**6), handler=st.sampled_from(HANDLERS),
              polls=st.sampled_from([0, 1, 1, 2, 3, None]), twice=st.sampled_from([False, False, True]),
              crash_after=st.none() | st.integers(0, 4), reader=st.none() | st.integers(0, USERS - 1))
        def step(self, action, user, other, pick, handler, polls, twice, crash_after, reader):
            """`action` by `user` (users 0 and 1 are the stars that a rally,
            a desertion or a spotlight is about; a spotlight is a new tweet
            of a star that everyone retweets, an echo the same for any
            tweet); then `handler` gets `polls` polls while the others wait
            (None: everything is drained, and checked against the model),
            its next invocation running twice, or crashing after
            `crash_after` writes; then `reader` reads their home timeline,
            mid-flight."""
            self.act(action, user, other, pick)
            if twice:
                deliveries.duplicate.add(handler)
            if crash_after is not None and deliveries.crashes < MAX_CRASHES:
                deliveries.crash_after[handler] = crash_after
            if polls is None:
                self.check()  # drained: every home timeline is what the model says
            for _ in range(polls or 0):
                self.pumps[handler].poll_once()
            deliveries.duplicate.clear()
            deliveries.crash_after.clear()
            if reader is not None:
                self.peek(reader)

        def drain(self):
            while True:
                busy = [pump.poll_once() for pump in self.pumps.values()]  # every pump, every round
                if not any(busy):
                    return

        def act(self, action, user, other, pick):
            if action == "post":
                self.post(user)
            elif action == "retweet" and self.tweets:
                self.retweet(user, sorted(self.tweets)[pick % len(self.tweets)])
            elif action == "echo" and self.tweets:
                self.echo(sorted(self.tweets)[pick % len(self.tweets)])
            elif action == "spotlight":
                self.echo(self.post(user % 2))
            elif action == "undo" and self.retweets():
                self.undo(sorted(self.retweets())[pick % len(self.retweets())], by_original=pick % 2 == 0)
            elif action == "delete" and self.tweets:
                tweet = sorted(self.tweets)[pick % len(self.tweets)]
                author = self.tweets[tweet].author
                assert api.delete(f"/tweets/{tweet}", token=self.users[author][2]).status == 204
                self.forget(tweet)
            elif action == "follow":
                self.follow(user, other)
            elif action == "unfollow" and self.follows:
                self.unfollow(*sorted(self.follows)[pick % len(self.follows)])
            elif action == "rally":  # everyone follows a star: over the threshold
                for follower in range(USERS):
                    self.follow(follower, user % 2)
            elif action == "desert":  # all but 0 to 2 followers leave: below the way out (80%)
                for follower, star in sorted(f for f in self.follows if f[1] == user % 2)[pick % 3:]:
                    self.unfollow(follower, star)

        def post(self, author):
            reply = api.post("/tweets", {"text": "hi"}, token=self.users[author][2])
            assert reply.status == 201, reply.json
            self.tweets[reply.json["id"]] = Tweet(author, None)
            return reply.json["id"]

        def retweet(self, user, target):
            """`user` retweets `target`, or its original if it is a retweet:
            once per user and original; again returns the same retweet."""
            original = self.tweets[target].original or target
            before = self.retweets().get((user, original))
            reply = api.post(f"/tweets/{target}/retweet", token=self.users[user][2])
            assert reply.status == (201 if before is None else 200), reply.json
            assert reply.json["retweet_of"]["id"] == original
            assert reply.json["author"]["id"] == self.users[user][1]
            assert before in (None, reply.json["id"])
            self.tweets[reply.json["id"]] = Tweet(user, original)

        def echo(self, target):
            """Everyone but the original's author retweets `target` (some
            maybe again)."""
            original = self.tweets[target].original or target
            for user in range(USERS):
                if user != self.tweets[original].author:
                    self.retweet(user, target)

        def undo(self, key, by_original):
            """The retweeter undoes it, naming the original or the retweet."""
            (user, original), retweet = key, self.retweets()[key]
            reply = api.delete(f"/tweets/{original if by_original else retweet}/retweet",
                               token=self.users[user][2])
            assert (reply.status, reply.json) == (200, {"retweeted": False})
            self.forget(retweet)

        def retweets(self) -> dict[tuple[int, str], str]:
            """(retweeter, original) -> the live retweet's id."""
            return {(t.author, t.original): rt for rt, t in self.tweets.items() if t.original is not None}

        def forget(self, tweet):
            """A deleted tweet, and for an original its retweets (which the
            tweets stream deletes; reads never serve them meanwhile)."""
            del self.tweets[tweet]
            for rt in [rt for rt, t in self.tweets.items() if t.original == tweet]:
                del self.tweets[rt]

        def follow(self, follower, followee):
            if follower != followee and (follower, followee) not in self.follows:
                reply = api.post(f"/users/{self.users[followee][0]}/follow", token=self.users[follower][2])
                assert reply.json == {"following": True}
                self.follows.add((follower, followee))

        def unfollow(self, follower, followee):
            reply = api.delete(f"/users/{self.users[followee][0]}/follow", token=self.users[follower][2])
            assert reply.json == {"following": False}
            self.follows.discard((follower, followee))

        def peek(self, reader):
            """Mid-flight, with events undelivered, a home timeline may lack
            what is on its way, and which retweet carries an original may
            not be settled yet; it never serves what it must not (a deleted
            tweet or retweet, or one by an author the reader no longer
            follows), and never one item or one original twice."""
            served = self.home(self.users[reader][2])
            handle, sources = self.users[reader][0], self.sources(reader)
            ids = [item for item, _ in served]
            assert ids == sorted(set(ids), key=int, reverse=True), "newest first, each once"
            originals = [original or item for item, original in served]
            assert len(set(originals)) == len(originals), f"@{handle} was shown an original twice: {served}"
            for item, original in served:
                assert item in self.tweets and self.tweets[item] in {Tweet(a, original) for a in sources}, (
                    f"@{handle} was served {item} (of {original}): deleted, unfollowed or mislabelled")

        def teardown(self):
            if hasattr(self, "pumps"):
                self.check()

        # --- the model ---

        def check(self):
            self.drain()
            assert queue_messages("stream-failures") == []
            assert queue_messages("jobs-dlq") == []
            for reader, (handle, _, token) in enumerate(self.users):
                self.note_coverage(reader)
                assert self.home(token) == self.expected(reader), f"@{handle}'s home timeline"

        def note_coverage(self, reader):
            """Hypothesis events: how often a check meets the cases the
            retweet rule is about (for tuning the rules' odds)."""
            sources = self.sources(reader)
            carried = [t.original for t in self.tweets.values() if t.original and t.author in sources]
            if any(self.tweets[o].author in sources for o in carried):
                event("checked: an original shown as itself is also retweeted")
            pulled = {u for u in sources - {reader} if user_item(self.users[u][1]).celebrity_state}
            if any(self.tweets[o].author in pulled for o in carried):
                event("checked: a pulled original is also retweeted")
            if any(carried.count(o) > 1 and self.tweets[o].author not in sources for o in set(carried)):
                event("checked: one original retweeted twice, shown once")

        def sources(self, reader) -> set[int]:
            return {reader} | {followee for follower, followee in self.follows if follower == reader}

        def expected(self, reader) -> list[tuple[str, str | None]]:
            """(item id, original id or None), newest first: the originals
            of the reader and their followees, minus deleted; and for each
            other original that any of them retweeted, its oldest retweet."""
            return expected_home(self.tweets, self.sources(reader))

        def home(self, token) -> list[tuple[str, str | None]]:
            """Every page, as (item id, the id in its `retweet_of` or None)."""
            served, query = [], f"limit={self.page}"
            for _ in range(200):
                reply = api.get(f"/timelines/home?{query}", token=token)
                assert reply.status == 200, reply.json
                assert reply.json["meta"]["partial"] is False
                assert len(reply.json["data"]) <= self.page
                served += [(t["id"], t["retweet_of"] and t["retweet_of"]["id"]) for t in reply.json["data"]]
                if reply.json["meta"]["next_cursor"] is None:
                    return served
                query = f"limit={self.page}&cursor={reply.json['meta']['next_cursor']}"
            raise AssertionError("the home timeline never ended")

    try:
        run_state_machine_as_test(HomeTimelines, settings=settings(
            max_examples=profiles.examples(12), stateful_step_count=15, deadline=None,
            suppress_health_check=[HealthCheck.too_slow]))
    finally:
        deliveries.close()
