"""One chaos run: a seeded random workload through the API while faults of
one kind are injected at the wire, then silence, healing, and a comparison
of everything readable with the model (chaos.model).

1. **Storm.** A few users post (with an Idempotency-Key; hashtags and
   @mentions sometimes), delete, follow, unfollow, like, unlike, retweet and
   undo retweets, through the in-process API (devstack.gateway), while
   `WireFaults` answers about `rate` of the calls of `kind` with faults, on
   chalicelib's clients and the event pump's own. Between operations the
   pump gets a few polls or is drained. Clients behave like real ones: a 5xx
   is retried, the same request (the same Idempotency-Key), up to
   CLIENT_TRIES times; a retried DELETE that answers 404 is done (an earlier
   try landed). A request still failing after that is tried again once the
   faults have stopped (the client comes back later), and only its answer
   then goes into the model.
2. **Silence.** No more faults. The requests given up on are sent again.
3. **Healing**, what the stack does by itself: drain the pump, run the
   redrive (chalicelib.events.redrive), again, until the pump is idle and
   the failure queues are empty (at most HEAL_ROUNDS rounds).
4. **Check**, read through the API: every home timeline (all pages), user
   timeline, user counts, like and retweet counts of every live tweet (and a
   404 for every deleted one), hashtag timelines, notifications; and each
   user's stored celebrity_state.

The settings are the small ones the model tests use (a celebrity threshold of
3, fan-out pages of 2 followers, no cache of pulled tweets, no transition
delay) and no waits: botocore's backoff is zero (the faults are what is under
test, not the clock), as are the batch and conflict backoffs.

`run` needs the environment pointed at a moto (devstack.stack) before
chalicelib is imported, as the tests' conftest and chaos.__main__ do.
"""
from __future__ import annotations

import contextlib
import json
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from chaos.faults import KINDS, WireFaults, pump_clients
from chaos.model import Model, Tweet, User

CLIENT_TRIES = 30  # a client retries a 5xx this often, then comes back after the storm
HEAL_ROUNDS = 8  # drain, redrive, drain; until idle and empty
TAGS = ("storm", "calm", "Chirp")  # in the text as written; looked up in lower case
PAGE = 7  # home and list pages are read this many items at a time (several pages each)
FAILURE_QUEUES = ("stream-failures", "jobs", "jobs-dlq", "parked", "views", "views-dlq")  # those settings has
OPERATIONS = {  # name -> weight
    "post": 26, "delete": 7, "follow": 22, "unfollow": 10, "like": 12, "unlike": 5, "retweet": 12, "undo": 6,
}
POLLS = (0, 0, 0, 1, 1, 2, None)  # pump polls between operations; None drains it


@dataclass
class Result:
    kind: str
    seed: int
    rate: float
    operations: int = 0
    calls: int = 0  # AWS calls made in the storm (by the app, the handlers and the pump)
    faults: int = 0
    client_5xx: int = 0
    gave_up: int = 0  # requests still failing after CLIENT_TRIES, sent again after the storm
    unexpected: int = 0  # answers no client should get (besides 5xx)
    home_divergent: int = 0  # users whose home timeline is not the model's
    user_timelines_divergent: int = 0
    lists_divergent: int = 0  # hashtag timelines and notification lists
    counts_wrong: int = 0  # user counts and tweet counts (each wrong number once)
    celebrity_wrong: int = 0
    duplicates: int = 0  # an item (or a home timeline's original) shown twice
    lost: int = 0  # items the model has that a list lacks
    extra: int = 0  # items a list shows that the model does not have (deleted, unfollowed, ...)
    resurrected: int = 0  # deleted tweets that still answer GET /tweets/{id}
    queues_empty: bool = False
    heal_rounds: int = 0
    redriven: int = 0  # messages the redrive processed
    seconds: float = 0.0
    landed_404: int = 0  # DELETEs whose first try landed behind a 500 and answered 404 (see op_delete)
    calls_by_operation: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)  # seconds: storm (with set-up), heal, check
    details: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return (self.queues_empty and not self.unexpected and not any(
            (self.home_divergent, self.user_timelines_divergent, self.lists_divergent, self.counts_wrong,
             self.celebrity_wrong, self.duplicates, self.lost, self.extra, self.resurrected)))

    def as_dict(self) -> dict:
        return {**asdict(self), "clean": self.clean}


@dataclass
class Reply:
    status: int
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Api:
    """The app through the local gateway, as an HTTP client would call it."""

    def __init__(self) -> None:
        from app import app
        from devstack.gateway import make_gateway

        self.gateway = make_gateway(app)

    def request(self, method: str, path: str, body: Any = None, token: str | None = None,
                headers: dict | None = None) -> Reply:
        sent = {"content-type": "application/json", **(headers or {})}
        if token:
            sent["authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        response = self.gateway.handle_request(method, path, sent, data)
        out = response.get("body") or b""
        return Reply(response["statusCode"], out.encode() if isinstance(out, str) else out)


@contextlib.contextmanager
def tuned() -> Iterator[None]:
    """The small settings of a chaos run, and no waits; restored afterwards."""
    from botocore.retries import standard

    from chalicelib import settings
    from chalicelib.accounts import passwords
    from chalicelib.home import reading

    changes: list[tuple[Any, str, Any]] = [
        (settings, "CELEBRITY_THRESHOLD", 3), (settings, "FANOUT_PAGE_SIZE", 2),
        (settings, "BATCH_WRITE_MAX", 5), (settings, "CELEBRITY_CACHE_SECONDS", 0),
        (settings, "TRANSITION_DELAY_SECONDS", 0), (settings, "BATCH_BACKOFF_SECONDS", 0.0),
        (settings, "CONFLICT_BACKOFF_SECONDS", 0.0), (passwords, "LOG2_N", 4),
        (reading, "_celebrity_cache", {}),
        (standard.ExponentialBackoff, "delay_amount", lambda self, context: 0),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in changes]
    for owner, name, value in changes:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


def fresh_stack() -> None:
    """Empty tables and queues on the moto the environment names."""
    import os

    import boto3
    import requests

    from devstack.resources import ensure_queues, ensure_tables

    requests.post(f"{os.environ['AWS_ENDPOINT_URL']}/moto-api/reset", timeout=30).raise_for_status()
    ensure_tables(boto3.client("dynamodb"))
    ensure_queues(boto3.client("sqs"))


def queue_lengths() -> dict[str, int]:
    """Messages on each failure queue (visible, in flight or delayed)."""
    import boto3

    from chalicelib import settings

    sqs = boto3.client("sqs")
    lengths = {}
    for short in FAILURE_QUEUES:
        if short not in settings.QUEUE_NAMES:
            continue
        try:
            url = sqs.get_queue_url(QueueName=settings.QUEUE_NAMES[short])["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            continue
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"])["Attributes"]
        lengths[short] = sum(int(v) for v in attributes.values())
    return lengths


def redrive_once() -> int:
    """The redrive, as the stack runs it by itself (redrive_all where it
    exists); returns the messages it processed."""
    from chalicelib.events import redrive

    every = getattr(redrive, "redrive_all", None)
    counts = list(every().values()) if every else [redrive.redrive_stream_failures(), redrive.redrive_jobs()]
    return sum(c.processed for c in counts)


class Run:
    def __init__(self, kind: str, seed: int, operations: int, rate: float, users: int, api: Api):
        assert kind in KINDS, kind
        self.kind, self.seed, self.count, self.rate, self.api = kind, seed, operations, rate, api
        self.rng = random.Random(f"workload:{kind}:{seed}")
        self.result = Result(kind, seed, rate)
        self.n_users = users
        self.created: set[str] = set()
        self.later: list[Callable[[], None]] = []  # requests given up on in the storm, for the silence
        self.storming = False

    # --- a client ---------------------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None, token: str | None = None,
             headers: dict | None = None) -> tuple[Reply | None, int]:
        """Sends a request until it answers below 500 (in the storm, at most
        CLIENT_TRIES times). Returns (the answer or None, tries)."""
        tries = CLIENT_TRIES if self.storming else 3
        for attempt in range(tries):
            reply = self.api.request(method, path, body, token, headers)
            if reply.status < 500:
                return reply, attempt + 1
            self.result.client_5xx += 1
        return None, tries

    def unexpected(self, what: str, reply: Reply | None) -> None:
        self.result.unexpected += 1
        self.result.details.append(f"unexpected answer to {what}: "
                                   f"{reply and reply.status} {reply and reply.body[:200]!r}")

    def act(self, what: str, send: Callable[[], tuple[Reply | None, int]],
            settle: Callable[[Reply, int], None]) -> None:
        """Sends; on an answer, `settle` applies it to the model; a request
        still failing is kept for after the storm."""
        reply, tries = send()
        if reply is not None:
            settle(reply, tries)
            return
        self.result.gave_up += 1
        self.result.details.append(f"gave up on {what} after {tries} tries; sent again after the storm")

        def again() -> None:
            reply, tries = send()
            if reply is None:
                self.unexpected(f"{what} (after the storm)", reply)
            else:
                settle(reply, tries + CLIENT_TRIES)
        self.later.append(again)

    # --- the operations ---------------------------------------------------------------------------------

    def user(self, n: int) -> User:
        return self.model.users[n]

    def op_post(self, author: int) -> None:
        words = [f"tweet {self.rng.randrange(10**6)}"]
        tags, mentions = set(), set()
        if self.rng.random() < 0.4:
            tag = self.rng.choice(TAGS)
            words.append(f"#{tag}")
            tags.add(tag.lower())
        if self.rng.random() < 0.3:
            other = self.rng.randrange(self.n_users)
            words.append(f"@{self.user(other).handle}")
            mentions.add(other)
        self.rng.shuffle(words)
        text, key = " ".join(words), str(uuid.UUID(int=self.rng.getrandbits(128)))
        token = self.user(author).token

        def settle(reply: Reply, tries: int) -> None:
            if reply.status != 201:
                return self.unexpected(f"POST /tweets {text!r}", reply)
            self.add(Tweet(reply.json["id"], author, None, frozenset(tags), frozenset(mentions)))
        self.act(f"POST /tweets by @{self.user(author).handle}", lambda: self.call(
            "POST", "/tweets", {"text": text}, token, {"idempotency-key": key}), settle)

    def op_delete(self, author: int) -> None:
        mine = sorted((t for t, tweet in self.model.tweets.items() if tweet.author == author), key=int)
        if not mine:
            return self.op_post(author)
        tweet = self.rng.choice(mine)

        landed_before = self.faults.injected["write-then-500"]

        def settle(reply: Reply, tries: int) -> None:
            if reply.status == 204 or (reply.status == 404 and tries > 1):
                self.model.delete(tweet)
            elif reply.status == 404 and self.faults.injected["write-then-500"] > landed_before:
                # The delete's transaction landed behind a 500; the SDK's retry
                # found its condition false. DynamoDB would answer that retry
                # with success (the transaction's ClientRequestToken), moto
                # does not: a local-stack gap, not Chirp's, counted apart.
                self.result.landed_404 += 1
                self.result.details.append(f"DELETE /tweets/{tweet} landed behind a 500 and answered 404 "
                                           "(moto ignores ClientRequestToken)")
                self.model.delete(tweet)
            else:
                self.unexpected(f"DELETE /tweets/{tweet} (try {tries})", reply)
        self.act(f"DELETE /tweets/{tweet}", lambda: self.call(
            "DELETE", f"/tweets/{tweet}", token=self.user(author).token), settle)

    def _followee(self, follower: int) -> int:
        # users 0 and 1 are followed more, so they cross the celebrity line both ways
        other = self.rng.choice([0, 1, 0, 1, *range(self.n_users)])
        return other if other != follower else (follower + 1) % self.n_users

    def op_follow(self, follower: int) -> None:
        self._follow(follower, self._followee(follower), True)

    def op_unfollow(self, follower: int) -> None:
        mine = sorted(f for f in self.model.follows if f[0] == follower)
        if not mine:
            return self.op_follow(follower)
        self._follow(follower, self.rng.choice(mine)[1], False)

    def _follow(self, follower: int, followee: int, on: bool) -> None:
        path = f"/users/{self.user(followee).handle}/follow"

        def settle(reply: Reply, tries: int) -> None:
            if reply.status != 200 or reply.json != {"following": on}:
                return self.unexpected(f"{'POST' if on else 'DELETE'} {path}", reply)
            (self.model.follow if on else self.model.unfollow)(follower, followee)
        self.act(path, lambda: self.call("POST" if on else "DELETE", path,
                                         token=self.user(follower).token), settle)

    def _any_tweet(self) -> str | None:
        return self.rng.choice(sorted(self.model.tweets, key=int)) if self.model.tweets else None

    def op_like(self, user: int) -> None:
        originals = self.model.originals()
        if originals:
            self._like(user, self.rng.choice(originals), True)

    def op_unlike(self, user: int) -> None:
        mine = sorted(t for u, t in self.model.likes if u == user)
        if not mine:
            return self.op_like(user)
        self._like(user, self.rng.choice(mine), False)

    def _like(self, user: int, original: str, on: bool) -> None:
        path = f"/tweets/{original}/like"

        def settle(reply: Reply, tries: int) -> None:
            if reply.status == 404 and original not in self.model.tweets:
                return  # deleted meanwhile (only after the storm)
            if reply.status != 200 or reply.json != {"liked": on}:
                return self.unexpected(f"{'POST' if on else 'DELETE'} {path}", reply)
            (self.model.like if on else self.model.unlike)(user, original)
        self.act(path, lambda: self.call("POST" if on else "DELETE", path, token=self.user(user).token),
                 settle)

    def op_retweet(self, user: int) -> None:
        target = self._any_tweet()
        if target is None:
            return self.op_post(user)
        original = self.model.original_of(target)
        path = f"/tweets/{target}/retweet"

        def settle(reply: Reply, tries: int) -> None:
            if target not in self.model.tweets:  # deleted or undone meanwhile (only after the storm)
                if reply.status != 404:
                    self.unexpected(f"POST {path} of a deleted tweet", reply)
                return
            before = self.model.retweets().get((user, original))
            body = reply.json or {}
            if (reply.status not in (200, 201) or (body.get("retweet_of") or {}).get("id") != original
                    or before not in (None, body.get("id"))):
                return self.unexpected(f"POST {path} (had {before})", reply)
            self.add(Tweet(body["id"], user, original))
        self.act(path, lambda: self.call("POST", path, token=self.user(user).token), settle)

    def op_undo(self, user: int) -> None:
        mine = sorted((original, rt) for (u, original), rt in self.model.retweets().items() if u == user)
        if not mine:
            return self.op_retweet(user)
        original, retweet = self.rng.choice(mine)
        named = self.rng.choice([original, retweet])
        path = f"/tweets/{named}/retweet"

        def settle(reply: Reply, tries: int) -> None:
            if reply.status == 404 and retweet not in self.model.tweets:
                return  # the original was deleted meanwhile, and the retweet with it
            if reply.status == 404 and named == retweet and tries > 1:
                self.model.delete(retweet)  # an earlier try landed: the retweet's id is gone with it
                return
            if reply.status != 200 or reply.json != {"retweeted": False}:
                return self.unexpected(f"DELETE {path}", reply)
            self.model.delete(retweet)
        self.act(path, lambda: self.call("DELETE", path, token=self.user(user).token), settle)

    # --- the run ----------------------------------------------------------------------------------------

    def run(self) -> Result:
        from app import app
        from chalicelib import settings
        from deploy.event_sources import mapping_policies
        from devstack.pump import EventPump

        started = time.monotonic()
        fresh_stack()
        pump = EventPump.for_app(app, mapping_policies())
        users = []
        for n in range(self.n_users):
            handle = f"c{self.seed}{self.kind.replace('-', '')[:4]}{n}"
            reply = self.api.request("POST", "/auth/signup", {"handle": handle, "password": "password1"})
            assert reply.status == 201, reply.body
            users.append(User(handle, reply.json["user"]["id"], reply.json["token"]))
        self.model = Model(users, settings.CELEBRITY_THRESHOLD, settings.CELEBRITY_EXIT_RATIO)
        pump.drain()
        names = list(OPERATIONS)
        weights = [OPERATIONS[name] for name in names]
        with WireFaults(extra_clients=pump_clients(pump)) as faults:
            self.faults = faults
            faults.storm(self.kind, self.rate, random.Random(f"faults:{self.kind}:{self.seed}"))
            self.storming = True
            for _ in range(self.count):
                operation = self.rng.choices(names, weights)[0]
                getattr(self, f"op_{operation}")(self.rng.randrange(self.n_users))
                self.result.operations += 1
                polls = self.rng.choice(POLLS)
                try:
                    if polls is None:
                        pump.drain(timeout=120)
                    for _ in range(polls or 0):
                        pump.poll_once()
                except TimeoutError as error:
                    self.result.details.append(f"storm: {error}")
            faults.calm()
            self.storming = False
            self.result.faults = faults.total
            self.result.calls = sum(faults.attempts.values())
            self.result.calls_by_operation = dict(faults.attempts.most_common())
            for again in self.later:  # the clients that gave up come back
                again()
            storm_end = time.monotonic()
            self.heal(pump)
        heal_end = time.monotonic()
        self.check()
        self.result.phases = {"storm": round(storm_end - started, 1), "heal": round(heal_end - storm_end, 1),
                              "check": round(time.monotonic() - heal_end, 1)}
        self.result.seconds = round(time.monotonic() - started, 1)
        return self.result

    def heal(self, pump: Any) -> None:
        for round_ in range(1, HEAL_ROUNDS + 1):
            self.result.heal_rounds = round_
            pump.drain(timeout=300)
            self.result.redriven += redrive_once()
            pump.drain(timeout=300)
            lengths = queue_lengths()
            if not any(lengths.values()) and not pump.poll_once():
                self.result.queues_empty = True
                return
        self.result.details.append(f"after {HEAL_ROUNDS} rounds of healing the queues hold {queue_lengths()}")

    # --- the comparison ---------------------------------------------------------------------------------

    def pages(self, path: str, token: str | None = None) -> list[dict]:
        items: list[dict] = []
        cursor = None
        for _ in range(500):
            sep = "&" if "?" in path else "?"
            query = f"{sep}limit={PAGE}" + (f"&cursor={cursor}" if cursor else "")
            reply = self.api.request("GET", path + query, token=token)
            if reply.status != 200:
                self.unexpected(f"GET {path}", reply)
                return items
            items += reply.json["data"]
            cursor = reply.json["meta"]["next_cursor"]
            if cursor is None:
                return items
        raise AssertionError(f"{path} never ended")

    def compare(self, what: str, actual: list, expected: list, originals: list | None = None) -> bool:
        """Counts duplicates, lost and extra items; True if the lists differ."""
        r = self.result
        duplicates = len(actual) - len(set(actual))
        if originals is not None:
            duplicates += len(originals) - len(set(originals))
        lost, extra = set(expected) - set(actual), set(actual) - set(expected)
        r.duplicates += duplicates
        r.lost += len(lost)
        r.extra += len(extra)
        if actual == expected:
            return False
        described = [f"{what}:"]
        if duplicates:
            described.append(f"duplicates {[a for a, n in Counter(actual).items() if n > 1]}")
        if lost:
            described.append(f"lost {sorted(lost, key=str)}")
        if extra:
            described.append(f"extra {sorted(extra, key=str)}")
        if not (duplicates or lost or extra):
            described.append(f"out of order: {actual} instead of {expected}")
        r.details.append(" ".join(described))
        return True

    def check(self) -> None:
        from chalicelib.storage.tables import UserModel

        r, model = self.result, self.model
        shown_counts: dict[str, dict | None] = {}  # an original's counts, as its author's timeline shows them
        for n, user in enumerate(model.users):
            served = self.pages("/timelines/home", user.token)
            home = [(t["id"], t["retweet_of"] and t["retweet_of"]["id"]) for t in served]
            r.home_divergent += self.compare(f"@{user.handle}'s home timeline", home, model.home(n),
                                             originals=[o or t for t, o in home])
            listed = self.pages(f"/users/{user.handle}/tweets")
            shown_counts.update((t["id"], t["counts"]) for t in listed if t["retweet_of"] is None)
            own = [(t["id"], t["retweet_of"] and t["retweet_of"]["id"]) for t in listed]
            r.user_timelines_divergent += self.compare(f"@{user.handle}'s tweets", own,
                                                       model.user_timeline(n))
            notes = [(x["type"], x["actor"]["id"], x["tweet"] and x["tweet"]["id"])
                     for x in self.pages("/notifications", user.token)]
            expected_notes = sorted(model.notifications(n).elements(), key=str)
            r.lists_divergent += self.compare(f"@{user.handle}'s notifications", sorted(notes, key=str),
                                              expected_notes)
            shown = self.api.request("GET", f"/users/{user.handle}").json
            wanted = {"followers_count": model.followers(n), "following_count": model.following(n),
                      "tweets_count": model.tweets_count(n)}
            for name, want in wanted.items():
                if shown.get(name) != want:
                    r.counts_wrong += 1
                    r.details.append(f"@{user.handle}: {name} {shown.get(name)}, the model says {want}")
            state = UserModel.get(int(user.id), consistent_read=True).celebrity_state
            if state not in model.celebrity_states(n):
                r.celebrity_wrong += 1
                r.details.append(f"@{user.handle}: celebrity_state {state!r} with {model.followers(n)} "
                                 f"followers (the model says {model.states.get(n)!r})")
        for tag in sorted({t.lower() for t in TAGS}):
            tagged = [t["id"] for t in self.pages(f"/hashtags/{tag}/tweets")]
            r.lists_divergent += self.compare(f"#{tag}", tagged, model.hashtag(tag))
        for original in model.originals():
            if original not in shown_counts:  # not on its author's timeline (that was counted): ask it
                answer = self.api.request("GET", f"/tweets/{original}").json or {}
                shown_counts[original] = answer.get("counts")
            # Views are not modelled: a page's views are sent best effort, and under a fault storm
            # a send may fail for good (chalicelib.tweets.views); the queue's side is held by
            # tests/integration/test_views.py.
            shown = {k: v for k, v in (shown_counts[original] or {}).items() if k != "views"}
            counts = model.tweet_counts(original)
            if shown != counts:
                r.counts_wrong += sum(shown.get(k) != v for k, v in counts.items())
                r.details.append(f"tweet {original}: counts {shown}, the model says {counts}")
        for deleted in self.deleted_ids():
            if self.api.request("GET", f"/tweets/{deleted}").status != 404:
                r.resurrected += 1
                r.details.append(f"tweet {deleted} was deleted but is still there")

    def deleted_ids(self) -> list[str]:
        """Every tweet id the workload saw created that the model no longer has."""
        return sorted(self.created - set(self.model.tweets), key=int)

    def add(self, tweet: Tweet) -> None:
        self.created.add(tweet.id)
        self.model.post(tweet)


def run(kind: str, seed: int, operations: int = 120, rate: float = 0.3, users: int = 8,
        api: Api | None = None) -> Result:
    """One run of `kind` (chaos.faults.KINDS) with `seed`."""
    api = api or Api()
    with quiet(), tuned():  # quiet after the app's import, which may set its own levels
        return Run(kind, seed, operations, rate, users, api).run()


def as_dict(kind: str, seed: int, operations: int, rate: float, users: int) -> dict:
    """`run`, for a worker process of chaos.__main__."""
    return run(kind, seed, operations, rate, users).as_dict()


def start_worker() -> None:
    """A worker process's own moto and environment, before chalicelib is
    imported (chaos.__main__)."""
    import os

    from devstack import stack

    server, endpoint = stack.start_moto()
    os.environ["CHIRP_STAGE"] = "chaos"
    stack.configure_environment(endpoint)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    _servers.append(server)  # lives as long as the worker


_servers: list[Any] = []


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The pump and the handlers log every retry; a storm makes thousands.
    The levels are restored afterwards (tests that read logs run after)."""
    names = ("chirp", "aws_lambda_powertools", "botocore", "pynamodb", "urllib3", "werkzeug")
    saved = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
