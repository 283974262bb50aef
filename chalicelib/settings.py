"""Every setting and limit in one place.

Values come from environment variables so that the same code runs under
`make run`, the tests and a deployed Lambda (where `.chalice/config.json`
sets them per stage). Read at import: Lambda containers never change their
environment, and PynamoDB models need their table names when defined.
"""
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


STAGE = os.environ.get("CHIRP_STAGE", "local")
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")  # chalicelib.observe.logs
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")  # json (Lambda, CloudWatch) or text (the local console)
METRICS_NAMESPACE = os.environ.get("METRICS_NAMESPACE", "Chirp")  # chalicelib.observe.metrics
# X-Ray (chalicelib.observe.traces): in Lambda (which sets LAMBDA_TASK_ROOT; the
# deployment turns active tracing on) unless POWERTOOLS_TRACE_DISABLED says not.
TRACING = bool(os.environ.get("LAMBDA_TASK_ROOT")) and \
    os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() not in ("1", "true")
REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

# Table names follow one pattern, also used by infra/ (with the stage left as
# a CloudFormation parameter); any one can be overridden, e.g. USERS_TABLE.
NAME_PATTERN = "chirp-{stage}-{name}"  # tables and queues
TABLE_NAMES = {
    table: os.environ.get(f"{table.upper()}_TABLE",
                          NAME_PATTERN.format(stage=STAGE, name=table))
    for table in ("users", "handles", "tweets", "follows", "idempotency", "timelines",
                  "retweets", "likes", "hashtags", "trends", "notifications", "affinity",
                  "snapshots", "limits")
}

# Queues (SQS): "jobs" carries every background job (chalicelib.storage.jobs),
# "jobs-dlq" what failed JOBS_MAX_RECEIVES times, "stream-failures" where
# stream batches that ran out of retries are recorded, "parked" what the
# automatic redrive (chalicelib.events.redrive) gave up on: only an operator
# brings that back. "views" (FIFO) carries the tweets each page showed a
# signed-in reader (chalicelib.tweets.views), "views-dlq" (FIFO: a FIFO
# queue's dead-letter queue must be one) what failed VIEWS_MAX_RECEIVES times.
# Names follow the same pattern as tables; SQS wants a FIFO queue's name to
# end in ".fifo", so theirs do (the short name, the key here, does not).
FIFO_QUEUES = ("views", "views-dlq")
FIFO_SUFFIX = ".fifo"
QUEUE_NAMES = {
    queue: os.environ.get(f"{queue.upper().replace('-', '_')}_QUEUE",
                          NAME_PATTERN.format(stage=STAGE, name=queue)
                          + (FIFO_SUFFIX if queue in FIFO_QUEUES else ""))
    for queue in ("jobs", "jobs-dlq", "stream-failures", "parked", "views-dlq", "views")
}
JOBS_MAX_RECEIVES = 5  # then a job goes to the dead-letter queue
SQS_MAX_DELAY_SECONDS = 900  # SendMessage's DelaySeconds limit
SQS_RECEIVE_MAX = 10  # ReceiveMessage's own limit per call

# Stream mappings (deploy.event_sources): a failing record is retried this
# often (bisect isolates it first, without using retries), or until it is
# this old, then described on stream-failures. Each retry of an invocation
# that keeps meeting 5xx answers takes seconds inside the SDK's own retries,
# so 100 ride out a storm of minutes, while a real poison record (which
# fails at once) holds its shard up for 100 quick invocations only.
STREAM_RETRY_ATTEMPTS = 100
STREAM_RECORD_MAX_AGE_SECONDS = 6 * 3600

# The redrive: every REDRIVE_EVERY_MINUTES a scheduled function re-runs what
# ran out of retries. A stream failure is tried REDRIVE_MAX_RECEIVES times
# (two hours, well inside the stream's 24-hour retention), a job is moved
# back from jobs-dlq JOBS_MAX_REDRIVES times; then both are parked.
REDRIVE_EVERY_MINUTES = _int("REDRIVE_EVERY_MINUTES", 5)
REDRIVE_MAX_RECEIVES = 24
JOBS_MAX_REDRIVES = 3
REDRIVE_MAX_PER_RUN = 200  # messages a run takes from each queue; a backlog takes several runs
REDRIVE_VISIBILITY_SECONDS = 300  # a redrive holds the messages it received this long at most
REDRIVE_RECORDS_PER_READ = 100  # records per GetRecords call of a redrive (the API allows 1000)

# Stream ARNs for the event handlers' decorators, which Chalice reads at
# import. Deployed, `chalice package` output gets the real ARNs from the
# infra stack's exports (see infra/api-<stage>.json); `chalice deploy`
# needs them in the environment. Locally the pump finds a stream by the
# table name in the ARN, so a placeholder ARN naming the table is enough.
def _stream_arn(table: str) -> str:
    return os.environ.get(
        f"{table.upper()}_STREAM_ARN",
        f"arn:aws:dynamodb:{REGION}:000000000000:table/{TABLE_NAMES[table]}/stream/local")


TWEETS_STREAM_ARN = _stream_arn("tweets")
FOLLOWS_STREAM_ARN = _stream_arn("follows")
LIKES_STREAM_ARN = _stream_arn("likes")

# Auth. Locally the key is an environment variable; deployed stages name an
# SSM SecureString parameter instead, so no real key is ever in the repo.
JWT_SECRET = os.environ.get("JWT_SECRET")
JWT_SECRET_PARAMETER = os.environ.get("JWT_SECRET_PARAMETER")
TOKEN_TTL_SECONDS = _int("TOKEN_TTL_SECONDS", 24 * 3600)
JWT_ISSUER = "chirp"
JWT_MIN_SECRET_BYTES = 32  # HS256 keys shorter than the hash are refused

# Limits of the API contract.
HANDLE_MAX = 15
PASSWORD_MIN = 8
PASSWORD_MAX = 256  # scrypt cost is per byte too; cap it to stay cheap
DISPLAY_NAME_MAX = 50
TWEET_MAX_CHARS = 280
PAGE_DEFAULT = 20
PAGE_MAX = 100
MAX_BODY_BYTES = 16 * 1024
IDEMPOTENCY_KEY_MAX = 255
# API Gateway's own, which the contract inherits (devstack.gateway enforces
# them alike; 413 beyond): a REST API's payload limit, the URL of an
# edge-optimized API (chalice deploys those; a regional one allows 10240),
# and "total combined size of all header values, including header names,
# values, any line terminators, and white space".
GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024
GATEWAY_MAX_URL_CHARS = 8192
GATEWAY_MAX_HEADER_BYTES = 10240
# Every method of the stage, per second. API Gateway's account default is
# 10,000 requests per second with a burst of 5,000, shared by every API in
# the region, so one stage (or a client in a loop) could take the lot, and
# every request costs DynamoDB on-demand capacity and API handler
# concurrency. At ~100 ms a request, 100 requests per second keep ~10 API
# handler instances busy and a burst of 200 at most ~20 at once: far inside
# the unreserved pool the background functions' reservations leave (see
# infra/README.md, "Concurrency"), so a burst is answered 429 by the gateway,
# in the contract's shape (deploy.gateway_responses), not throttled by
# Lambda into 5xx. Raise both together when the API's real load needs it.
THROTTLING_RATE_LIMIT = 100  # requests per second, steady
THROTTLING_BURST_LIMIT = 200  # requests at once (the token bucket's size)
# (deploy.api_stage sets them on the stage.)
IDEMPOTENCY_TTL_SECONDS = 24 * 3600

# Per-user write limits (chalicelib.accounts.limits): at most this many per
# minute and per UTC day, then 429 with Retry-After. Tweets count retweets
# and replies. The day limits are Twitter's own (2,400 tweets, 400 follows,
# 1,000 likes); the minute limits stop a script from spending a day's in a
# burst while leaving room for a person's fastest. Password changes are
# limited because each try tests a guess of the current password.
# Read at call time (settings.WRITE_LIMITS) so tests can change them.
WRITE_LIMITS = {
    "tweets": {"minute": _int("TWEETS_PER_MINUTE", 30), "day": _int("TWEETS_PER_DAY", 2400)},
    "follows": {"minute": _int("FOLLOWS_PER_MINUTE", 30), "day": _int("FOLLOWS_PER_DAY", 400)},
    "likes": {"minute": _int("LIKES_PER_MINUTE", 60), "day": _int("LIKES_PER_DAY", 1000)},
    "password_changes": {"minute": 5, "day": 20},
}
LIMIT_WINDOWS = {"minute": 60, "day": 86400}  # seconds; each window starts at a multiple (UTC)

# Retries in the AWS SDK. Every DynamoDB and SQS client (PynamoDB's, the
# transactions connection's, the jobs queue's) uses botocore's "standard"
# mode, as AWS recommends: throttles, 5xx answers and dropped connections are
# retried with full-jitter exponential backoff (for DynamoDB, waits of up to
# 25 ms doubling after a 5xx and up to 1 s doubling after a throttle, each
# capped at 20 s), within a per-client retry quota (500 tokens; a retried
# 5xx costs 14, a throttle 5, a success gives one back). AWS_CALL_ATTEMPTS
# counts the first try. The request path keeps it small: a call that fails 4
# times answers 500 and the client retries the request. The event functions
# set it higher in .chalice/config.json: their timeouts leave room to wait
# (docs/architecture.md, "Retries", has the worst cases).
AWS_CALL_ATTEMPTS = _int("AWS_CALL_ATTEMPTS", 4)

# Retries of our own, where botocore does not retry.
ID_CLASH_RETRIES = 3  # new ids tried when a conditional put finds one taken
CONFLICT_RETRIES = 5  # TransactionConflict cancellations retried (botocore does not)
CONFLICT_BACKOFF_SECONDS = 0.02  # base of their jittered exponential backoff

# Home timelines (chalicelib.home; docs/architecture.md). Read at call time
# (settings.X, never `from settings import X`) so tests can change them.
TIMELINE_MAX = _int("TIMELINE_MAX", 800)  # materialised entries kept per user
CELEBRITY_THRESHOLD = _int("CELEBRITY_THRESHOLD", 10_000)  # enter the pull path here...
CELEBRITY_EXIT_RATIO = 0.8  # ...and leave it only below 80% of it, so no flapping
ACTIVE_DAYS = _int("ACTIVE_DAYS", 30)  # followers idle longer get no fan-out
BACKFILL_TWEETS = 200  # a new follow copies this many of the followee's recent tweets
FANOUT_PAGE_SIZE = _int("FANOUT_PAGE_SIZE", 1000)  # followers per page (and per job)
BATCH_WRITE_MAX = 25  # DynamoDB's BatchWriteItem limit (moto does not enforce it)
BATCH_GET_MAX = 100  # DynamoDB's BatchGetItem limit
BATCH_WRITE_ATTEMPTS = 8  # tries for a batch's UnprocessedItems before giving up
BATCH_BACKOFF_SECONDS = 0.05  # base of the jittered exponential backoff
CELEBRITY_CACHE_SECONDS = _int("CELEBRITY_CACHE_SECONDS", 15)  # in-container cache of pulled tweets
CELEBRITY_PULL = 50  # newest tweets pulled per followed celebrity per page
TRIM_EVERY = _int("TRIM_EVERY", 50)  # trim a timeline on about one delivery in this many
HOME_READ_ROUNDS = 3  # a home page re-queries when hydration drops entries, at most this often
# Transitions in and out of the pull path wait this long before paging the
# author's followers, so follows written just before are visible in the
# followers index (GSIs are eventually consistent).
TRANSITION_DELAY_SECONDS = _int("TRANSITION_DELAY_SECONDS", 5)

# Tweet content (chalicelib.tweets, chalicelib.discovery, chalicelib.notifications).
HASHTAG_SHARDS = _int("HASHTAG_SHARDS", 4)  # partitions a tag's timeline is spread over
HASHTAGS_PER_TRANSACTION = 50  # marker + counter per tag: 100 operations, DynamoDB's cap
CASCADE_PAGE_SIZE = 100  # retweets or likes of a deleted tweet removed per call
TREND_WINDOW_MINUTES = _int("TREND_WINDOW_MINUTES", 60)  # trends count the last hour...
TREND_HALF_LIFE_MINUTES = 20  # ...a use this old counts half as much as one now
TREND_BUCKET_MINUTES = 5  # counters are kept per tag per bucket of this many minutes
TREND_SHARDS = 4  # each bucket's counters are spread over this many partitions
TREND_REFRESH_SECONDS = _int("TREND_REFRESH_SECONDS", 60)  # how stale the trends list may get
TRENDS_LISTED = 10  # tags in GET /trends

# Views (chalicelib.tweets.views; docs/architecture.md, "Views"). A page
# served to a signed-in reader sends one message to the views FIFO queue, in
# one of VIEWS_GROUPS message groups (chosen by a hash of the reader). Lambda
# runs at most one batch per group at a time, so more groups is more
# concurrency (and more writes to a hot tweet at once: at most one update per
# group in flight), and each group is one attribute on every tweet it touched.
# Changing it is safe: a group's number only has to stay the group's own.
VIEWS_GROUPS = _int("VIEWS_GROUPS", 16)
VIEWS_MAX_RECEIVES = 10  # then a views message goes to views-dlq (not redriven: see architecture.md)
VIEWS_UPDATE_ATTEMPTS = 5  # conditional counter updates tried per tweet when a concurrent one moved first
VIEWS_MARK_DIGITS = 38  # DynamoDB numbers' precision: longer sequence numbers are refused, loudly

# Ranked home timelines (chalicelib.home.ranking; issue 11). The formula and
# why each weight has its value are in chalicelib/home/ranking.py's docstring.
# Read at call time (settings.X) so tests can change them.
RANKED_WINDOW_HOURS = _int("RANKED_WINDOW_HOURS", 48)  # candidates this recent: more choice, more reads
RANKED_CANDIDATES = _int("RANKED_CANDIDATES", 200)  # at most this many: more choice, bigger hydration
RANKED_HALF_LIFE_HOURS = 12.0  # a tweet this old weighs half: shorter favours fresh, longer favours the best
RANKED_LIKE_WEIGHT = 1.0  # engagement counted per like: the unit (X's ranker: fav 0.5)
RANKED_RETWEET_WEIGHT = 2.0  # per retweet, 2 likes' worth as in X's ranker (retweet 1.0 vs fav 0.5)
RANKED_REPLY_WEIGHT = 4.0  # per reply: X gives 27 likes' worth; damped (no signal tells a pile-on)
RANKED_QUOTE_WEIGHT = 3.0  # per quote, a retweet with something to say: between a retweet and a reply
RANKED_ENGAGEMENT_WEIGHT = 2.0  # of log(1 + engagement): lift of engaged over unengaged tweets
RANKED_VIEWER_WEIGHT = 14.0  # of the Wilson bound: how much a good rate per view beats sheer reach
WILSON_Z = 2.576  # that bound at 99%: higher trusts few views less (1 in 1 bounds 0.13)
RANKED_AFFINITY_WEIGHT = 2.0  # of log(1 + affinity): how much authors the reader engages with are lifted
AUTHOR_DIVERSITY_DECAY = 0.5  # each further tweet of an author scaled by this again: lower spreads the top
RANKED_NEW_HOURS = 2.0  # younger than this says "new": a reason only, the score uses the half-life
RANKED_POPULAR_WILSON = 0.05  # a Wilson bound this high says "popular with its viewers"...
RANKED_POPULAR_MIN_VIEWS = 10  # ...given at least this many views, so 1 like in 1 view does not claim it
RANKED_AFFINITY_REASON = 3.0  # affinity this high says "you often engage with @x" (~3 recent engagements)
AFFINITY_HALF_LIFE_DAYS = 14.0  # an engagement this old counts half: shorter follows changing tastes
# Affinity (chalicelib.home.affinity): each engagement of a reader with an
# author's tweet counts its kind's weight, halving every AFFINITY_HALF_LIFE_DAYS;
# about 1 per recent like. A reply or a quote says more than a tap does.
AFFINITY_WEIGHTS = {"like": 1.0, "retweet": 1.0, "reply": 1.5, "quote": 1.5}
AFFINITY_PREFIXES = {"like": "l", "retweet": "t", "reply": "r", "quote": "q"}  # attribute name = prefix + id
# The most recent this many engagements per (reader, author) are kept: the
# item stays within 1 KB (1 write unit per update), and ln(1 + affinity)
# hardly moves past 32 recent engagements anyway.
AFFINITY_MAX_ENGAGEMENTS = 32
# A ranked timeline's order is kept this long for its cursor; a later page
# after that is a 400 ("start again"). Long enough to read a day's best.
RANKED_SNAPSHOT_SECONDS = 30 * 60
