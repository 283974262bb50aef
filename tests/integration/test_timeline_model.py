"""Home timelines against a naive model, under at-least-once delivery.

A hypothesis state machine posts, deletes, follows and unfollows through the
API among a few users, with a celebrity threshold (2 or 3 followers) low
enough that authors cross it both ways, and fan-out pages of one follower.
Events are delivered by one pump per handler, stepped in any order (AWS
orders nothing between the two streams and the queue); deliveries are
duplicated, and invocations crash after their k-th write (DynamoDB or SQS)
and are retried by the pump.

Mid-flight, a home timeline may lack what is still on its way, but never
serves a deleted tweet, an unfollowed author's, or one twice. Once
everything is drained, every user's home timeline, read through the API
page by page, must be exactly: their own tweets and those of whom they
follow now, minus the deleted ones, newest first.

Kept inside the model's assumptions: fewer tweets per author than
BACKFILL_TWEETS and fewer in all than TIMELINE_MAX (test_home_timeline
covers both limits), and fewer injected crashes than the stream retry limit
and the queue's receive limit, so no event is given up on.
"""
import copy

import boto3
import pytest
import requests
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from chalicelib import jobs
from chalicelib import settings as chirp
from devstack.schema import FANOUT_MAX_RECEIVES, ensure_queues, ensure_tables

USERS = 4
HANDLERS = ("on_tweet_change", "on_follow_change", "on_fanout_job")
WRITES = ("BatchWriteItem", "UpdateItem", "PutItem", "DeleteItem", "TransactWriteItems")
ACTIONS = ("post", "post", "delete", "follow", "unfollow", "rally", "desert")
MAX_CRASHES = FANOUT_MAX_RECEIVES - 1  # below every retry limit: nothing may end in an on-failure queue


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
        jobs._sqs().meta.events.register("before-call.sqs.SendMessage", self._count_write)

    def close(self):
        jobs._sqs().meta.events.unregister("before-call.sqs.SendMessage", self._count_write)

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
                    threshold=st.sampled_from([2, 2, 3]))
        def fresh_world(self, follows, posts, threshold):
            """New tables and users, then some follows and tweets whose events
            are left for the rules below to deliver. With a threshold of 2, an
            author is a celebrity at 2 followers and ordinary again at 1."""
            chirp.CELEBRITY_THRESHOLD = threshold  # monkeypatched: restored after the test
            requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
            ensure_tables(boto3.client("dynamodb"))
            ensure_queues(boto3.client("sqs"))
            self.pumps = pumps
            deliveries.crashes = 0
            example = next(examples)
            self.users = []  # (handle, id, token)
            for n in range(USERS):
                handle = f"u{example}x{n}"
                reply = api.post("/auth/signup", {"handle": handle, "password": "password1"})
                assert reply.status == 201, reply.json
                self.users.append((handle, reply.json["user"]["id"], reply.json["token"]))
            self.tweets: dict[str, int] = {}  # live tweet id -> author
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
            """`action` by `user` (users 0 and 1 are the stars a rally or a
            desertion is about); then `handler` gets `polls` polls while the
            others wait (None: everything is drained), its next invocation
            running twice, or crashing after `crash_after` writes; then
            `reader` reads their home timeline, mid-flight."""
            self.act(action, user, other, pick)
            if twice:
                deliveries.duplicate.add(handler)
            if crash_after is not None and deliveries.crashes < MAX_CRASHES:
                deliveries.crash_after[handler] = crash_after
            if polls is None:
                self.drain()
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
            elif action == "delete" and self.tweets:
                tweet = sorted(self.tweets)[pick % len(self.tweets)]
                author = self.tweets.pop(tweet)
                assert api.delete(f"/tweets/{tweet}", token=self.users[author][2]).status == 204
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
            self.tweets[reply.json["id"]] = author

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
            what is on its way; it never serves what it must not (a deleted
            tweet, or one of an author the reader no longer follows), and
            never one twice."""
            served = self.home(self.users[reader][2])
            assert served == sorted(set(served), key=int, reverse=True), "newest first, each once"
            assert set(served) <= set(self.expected(reader)), f"@{self.users[reader][0]} was served too much"

        def teardown(self):
            if hasattr(self, "pumps"):
                self.check()

        # --- the model ---

        def check(self):
            self.drain()
            assert queue_messages("stream-failures") == []
            assert queue_messages("fanout-dlq") == []
            for reader, (handle, _, token) in enumerate(self.users):
                assert self.home(token) == self.expected(reader), f"@{handle}'s home timeline"

        def expected(self, reader):
            """Own tweets and those of current followees, minus deleted, newest first."""
            sources = {reader} | {followee for follower, followee in self.follows if follower == reader}
            return sorted((t for t, by in self.tweets.items() if by in sources), key=int, reverse=True)

        def home(self, token):
            ids, query = [], "limit=4"
            while True:
                reply = api.get(f"/timelines/home?{query}", token=token)
                assert reply.status == 200, reply.json
                assert reply.json["meta"]["partial"] is False
                ids += [t["id"] for t in reply.json["data"]]
                if reply.json["meta"]["next_cursor"] is None:
                    return ids
                query = f"limit=4&cursor={reply.json['meta']['next_cursor']}"

    try:
        run_state_machine_as_test(HomeTimelines, settings=settings(
            max_examples=20, stateful_step_count=15, deadline=None,
            suppress_health_check=[HealthCheck.too_slow]))
    finally:
        deliveries.close()
