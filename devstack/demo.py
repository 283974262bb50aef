"""A small demo world, created through the public HTTP API (so it exercises
exactly what a client would), and the curl commands to explore it.

It shows both delivery paths: ordinary authors are fanned out on write;
@nasa has more followers than the demo's celebrity threshold, so its tweets
are pulled and merged when a follower reads their home timeline. It also
shows tweet content: #hashtags and @mentions (with notifications), a reply
thread, likes, a quote, and two retweets of one tweet that @alice's home
timeline shows once. Ranked (`?ranked=1`), @alice's home timeline puts
@carol's quoted and liked tweet first, not the newest (@nasa's): @alice
often likes @carol's tweets.
"""
import time
from collections.abc import Callable

import requests

PASSWORD = "chirp-demo-password"
USERS = [
    ("alice", "Alice Liddell"),
    ("bob", "Bob Builder"),
    ("carol", "Carol Danvers"),
    ("dave", "Dave Bowman"),
    ("nasa", "NASA"),
] + [(f"fan{n}", f"Space Fan {n}") for n in range(1, 9)]
CELEBRITY = "nasa"
DEMO_CELEBRITY_THRESHOLD = 10  # @nasa gets 12 followers
FOLLOWS = [("alice", "bob"), ("alice", "carol"), ("bob", "alice"), ("carol", "alice"),
           ("dave", "alice"), ("dave", "bob"), ("dave", "carol")] + [
    (handle, CELEBRITY) for handle, _ in USERS if handle != CELEBRITY]
CELEBRITY_TWEETS = [
    ("nasa", "Liftoff! Tweets from accounts this big are merged at read time, not fanned out."),
]
TWEETS = [
    ("bob", "Just set up my chirp. Hello, world! #firstchirp"),
    ("carol", "Serverless timelines are mostly about where you pay: on write or on read. #serverless"),
    ("alice", "Down the rabbit hole with #DynamoDB Streams today, @bob. https://aws.amazon.com/dynamodb"),
    ("dave", "Open the pod bay doors, please."),
    ("alice", "Fan-out on write for most, merge on read for the famous. #Serverless"),
    ("fan1", "Watching the launch from the beach! #liftoff"),
    ("carol", "Cheap per tweet means counting write units, not servers."),
    ("carol", "A ranked timeline should say why each tweet is where it is."),
]
# Interactions with the tweets above, by index into TWEETS.
REPLIES = [("bob", 2, "@alice Streams are the best part. #dynamodb"), ("carol", 2, "Same here!")]
LIKES = [("bob", 4), ("carol", 4), ("dave", 4), ("alice", 1), ("alice", 6), ("alice", 7)]
REPLY_LIKES = [("alice", 1)]  # by index into REPLIES: @alice likes four of @carol's tweets in all
# @alice and @dave follow both retweeters but not @fan1: their homes show the tweet once.
RETWEETS = [("bob", 5), ("carol", 5)]
QUOTES = [("dave", 1, "This is the whole trade-off in one line. #serverless")]
TWEET_COUNT = len(TWEETS) + len(REPLIES) + len(QUOTES) + len(CELEBRITY_TWEETS)
WORLD = f"{len(USERS)} users, {TWEET_COUNT} tweets and {len(RETWEETS)} retweets"


def _call(base: str, method: str, path: str, body=None, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.request(method, base + path, json=body, headers=headers, timeout=30)
    return response.status_code, (response.json() if response.content else None)


def _token(base: str, handle: str, display_name: str) -> str:
    status, body = _call(base, "POST", "/auth/signup",
                         {"handle": handle, "password": PASSWORD, "display_name": display_name})
    if status == 409:  # an existing endpoint that was seeded before
        status, body = _call(base, "POST", "/auth/login", {"handle": handle, "password": PASSWORD})
    if status not in (200, 201):
        raise RuntimeError(f"demo sign-up of @{handle} failed: {status} {body}")
    return body["token"]


def seed(base: str, settle: Callable[[], object] | None = None,
         is_celebrity: Callable[[str], bool] | None = None, timeout: float = 30) -> dict[str, str]:
    """Creates the demo users, follows and tweets; returns handle -> token.

    @nasa's tweet waits until the follows stream has moved @nasa to the pull
    path, so the demo shows the merge: `settle()` returns once the event
    pump has handled everything written so far (the follows included), and
    `is_celebrity(handle)` tells whether it has (polled, up to `timeout`
    seconds, if `settle` did not do it)."""
    tokens = {handle: _token(base, handle, name) for handle, name in USERS}
    for follower, followee in FOLLOWS:
        _call(base, "POST", f"/users/{followee}/follow", token=tokens[follower])
    posted = [_call(base, "POST", "/tweets", {"text": text}, token=tokens[author])[1]["id"]
              for author, text in TWEETS]
    replies = [_call(base, "POST", "/tweets", {"text": text, "reply_to_id": posted[index]},
                     token=tokens[author])[1]["id"] for author, index, text in REPLIES]
    for author, index, text in QUOTES:
        _call(base, "POST", "/tweets", {"text": text, "quote_of_id": posted[index]}, token=tokens[author])
    for user, index in LIKES:
        _call(base, "POST", f"/tweets/{posted[index]}/like", token=tokens[user])
    for user, index in REPLY_LIKES:
        _call(base, "POST", f"/tweets/{replies[index]}/like", token=tokens[user])
    for user, index in RETWEETS:
        _call(base, "POST", f"/tweets/{posted[index]}/retweet", token=tokens[user])
    if settle is not None:
        settle()
    deadline = time.monotonic() + timeout
    while is_celebrity and not is_celebrity(CELEBRITY) and time.monotonic() < deadline:
        time.sleep(0.1)
    for author, text in CELEBRITY_TWEETS:
        _call(base, "POST", "/tweets", {"text": text}, token=tokens[author])
    return tokens


def curl_examples(base: str, token: str) -> str:
    json_type = '-H "Content-Type: application/json"'
    return "\n".join([
        "Try it (the token is @alice's, valid for this run):",
        f"  export TOKEN={token}",
        f"  curl -s {base}/me -H \"Authorization: Bearer $TOKEN\"",
        f"  curl -s {base}/timelines/home -H \"Authorization: Bearer $TOKEN\"   "
        "# bob's and carol's tweets fanned out, @nasa's merged on read",
        f"  curl -s '{base}/timelines/home?ranked=1' -H \"Authorization: Bearer $TOKEN\"   "
        "# interesting first, each with its score and reasons",
        f"  curl -s {base}/notifications -H \"Authorization: Bearer $TOKEN\"   "
        "# mentions, replies, likes, retweets, follows",
        f"  curl -s {base}/hashtags/serverless/tweets   # case-insensitive: #serverless and #Serverless",
        f"  curl -s {base}/trends",
        f"  curl -s {base}/users/bob",
        f"  curl -s '{base}/users/alice/tweets?limit=2'",
        f"  curl -s {base}/users/alice/followers",
        f"  curl -s -X POST {base}/tweets -H \"Authorization: Bearer $TOKEN\" {json_type} "
        "-d '{\"text\": \"my first chirp\"}'",
        f"  curl -s -X POST {base}/users/dave/follow -H \"Authorization: Bearer $TOKEN\"",
        "  # with a tweet id from any list above:",
        f"  curl -s -X POST {base}/tweets/<id>/like -H \"Authorization: Bearer $TOKEN\"",
        f"  curl -s -X POST {base}/tweets/<id>/retweet -H \"Authorization: Bearer $TOKEN\"",
        f"  curl -s {base}/tweets/<id>/replies",
        f"  curl -s -X POST {base}/auth/signup {json_type} "
        "-d '{\"handle\": \"you\", \"password\": \"at-least-8-chars\"}'",
        "Demo accounts: " + " ".join(f"@{handle}" for handle, _ in USERS),
        f"  every demo account's password: {PASSWORD}",
        f"  curl -s -X POST {base}/auth/login {json_type} "
        f"-d '{{\"handle\": \"bob\", \"password\": \"{PASSWORD}\"}}'   # a token for @bob",
    ])
