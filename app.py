"""Chirp's HTTP API and event handlers: the table of contents.

Each route is a few lines that parse input (chalicelib.web), call the domain
(chalicelib.accounts, tweets, home, discovery, notifications), and shape the
answer. The layers and the data flow are in docs/architecture.md; the API
contract is in the README.
"""
from chalice import Chalice, Rate, Response

from chalicelib import settings
from chalicelib.accounts import follows, limits, tokens, users
from chalicelib.discovery import hashtags, trends
from chalicelib.events import consumers, redrive, streams
from chalicelib.home import feed, ranked
from chalicelib.notifications import inbox
from chalicelib.storage import jobs
from chalicelib.tweets import deletion, likes, retweets, tweets, views
from chalicelib.web import access_log, auth, docs, errors, inputs, openapi, pages
from chalicelib.web.shapes import notification_json, ranking_json, tweet_json, user_json

app = Chalice(app_name="chirp")
app.register_middleware(access_log.lambda_context, "all")  # outermost: every log line carries the invocation
app.register_middleware(access_log.access, "http")  # one line per request, as the client got it
app.register_middleware(errors.error_middleware, "http")
app.register_middleware(auth.authenticate, "http")  # a token sent must name a user, at their current version
app.register_middleware(openapi.refuse_unknown_query, "http")  # the documented query parameters only
route = errors.route(app)  # app.route, answering the domain's refusals in the contract's shape


@app.authorizer(ttl_seconds=300)
def bearer_auth(auth_request):
    return auth.authorize(auth_request)


def _request():
    return app.current_request


# --- health and the contract ---------------------------------------------------

@route("/health")
def health():
    return {"status": "ok"}


@route("/openapi.json")
def openapi_document():
    """The contract, OpenAPI 3.1 (chalicelib.web.openapi)."""
    return openapi.document(app)


@route("/docs")
def docs_page():
    """The contract, to read and try (chalicelib.web.docs)."""
    return docs.page()


@route("/docs/{asset}")
def docs_asset(asset):
    return docs.asset(asset)


# --- accounts ---------------------------------------------------------------

@route("/auth/signup", methods=["POST"])
def signup():
    body = inputs.json_object(_request().raw_body, {"handle", "password", "display_name"},
                              {"handle", "password"})
    handle = inputs.handle_field(body["handle"])
    user = users.signup(handle, inputs.password_field(body), inputs.display_name_field(body))
    return Response({"user": user_json(user), "token": tokens.issue_token(int(user.id))},
                    status_code=201)


@route("/auth/login", methods=["POST"])
def login():
    body = inputs.json_object(_request().raw_body, {"handle", "password"}, {"handle", "password"})
    handle, password = body["handle"], body["password"]
    if not isinstance(handle, str) or not isinstance(password, str):
        raise errors.bad_request("`handle` and `password` must be strings.")
    user = users.login(handle, password)
    if user is None:
        raise errors.unauthorized("The handle or password is wrong.")
    auth.seen(int(user.id))
    return {"token": tokens.issue_token(int(user.id), int(user.token_version or 0))}


@route("/auth/logout-all", methods=["POST"], authorizer=bearer_auth)
def logout_all():
    """Revokes every token of the caller's, this one included."""
    users.revoke_tokens(auth.caller_id(_request()))
    return Response(body="", status_code=204)


@route("/auth/password", methods=["POST"], authorizer=bearer_auth)
def change_password():
    """A new password; every earlier token is revoked, and the answer
    carries the caller's new one."""
    body = inputs.json_object(_request().raw_body, {"password", "new_password"}, {"password", "new_password"})
    if not isinstance(body["password"], str):
        raise errors.bad_request("`password` must be a string.")
    new_password = inputs.password_field(body, "new_password")
    user = auth.caller(_request())
    limits.spend(int(user.id), "password_changes")  # each try costs, so a stolen token cannot guess on
    version = users.change_password(user, body["password"], new_password)
    return {"token": tokens.issue_token(int(user.id), version)}


@route("/me", authorizer=bearer_auth)
def me():
    return user_json(auth.caller(_request()))


# --- users and follows ------------------------------------------------------

@route("/users/{handle}")
def get_user(handle):
    return user_json(users.get_by_handle(inputs.path_handle(handle)))


@route("/users/{handle}/tweets")
def user_tweets(handle):
    user = users.get_by_handle(inputs.path_handle(handle))
    scope = f"user-tweets:{int(user.id)}"
    return _tweet_list(scope, lambda page: tweets.user_timeline(int(user.id), page))


def _tweet_list(scope, list_page):
    """A list of tweets read by `list_page(page) -> (tweets, more)`, with
    the originals of any retweets among them."""
    page = pages.page_request(_request().query_params, scope)
    items, more = list_page(page)
    pairs = tweets.with_originals(items)
    views.record(auth.reader_id(_request()), [tweet for tweet, _ in pairs])
    shown = [tweet_json(*pair) for pair in pairs]
    return pages.page(shown, page, scope, more, int(items[-1].id) if items else None)


@route("/users/{handle}/followers")
def user_followers(handle):
    return _user_list(handle, "followers", follows.followers)


@route("/users/{handle}/following")
def user_following(handle):
    return _user_list(handle, "following", follows.following)


def _user_list(handle, name, list_page):
    user = users.get_by_handle(inputs.path_handle(handle))
    scope = f"{name}:{int(user.id)}"
    page = pages.page_request(_request().query_params, scope, bounds=False)
    listed, more, last_key = list_page(int(user.id), page)
    return pages.page([user_json(u) for u in listed], page, scope, more, last_key)


@route("/users/{handle}/follow", methods=["POST", "DELETE"], authorizer=bearer_auth)
def follow(handle):
    followee = users.get_by_handle(inputs.path_handle(handle))
    caller = auth.caller_id(_request())
    if _request().method == "POST":
        limits.spend(caller, "follows")
        follows.follow(caller, followee)
        return {"following": True}
    follows.unfollow(caller, followee)
    return {"following": False}


# --- tweets -----------------------------------------------------------------

@route("/tweets", methods=["POST"], authorizer=bearer_auth)
def post_tweet():
    request = _request()
    body = inputs.json_object(request.raw_body, {"text", "reply_to_id", "quote_of_id"}, {"text"})
    new = tweets.NewTweet(text=tweets.validate_text(body["text"]),
                          reply_to_id=inputs.id_field(body, "reply_to_id"),
                          quote_of_id=inputs.id_field(body, "quote_of_id"))
    key = tweets.validate_idempotency_key(request.headers.get("idempotency-key"))
    author = auth.caller(request)
    limits.spend(int(author.id), "tweets")
    tweet, replayed = tweets.post_tweet(author, new, key)
    headers: dict[str, str | list[str]] = {"Idempotent-Replayed": "true"} if replayed else {}
    return Response(tweet_json(tweet), status_code=201, headers=headers)


@route("/tweets/{tweet_id}")
def get_tweet(tweet_id):
    tweet = tweets.get(inputs.path_id(tweet_id, "Tweet"))
    original = tweets.get(int(tweet.retweet_of_id)) if tweet.retweet_of_id is not None else None
    views.record(auth.reader_id(_request()), [tweet])
    return tweet_json(tweet, original)


@route("/tweets/{tweet_id}", methods=["DELETE"], authorizer=bearer_auth)
def delete_tweet(tweet_id):
    deletion.delete(auth.caller_id(_request()), inputs.path_id(tweet_id, "Tweet"))
    return Response(body="", status_code=204)


@route("/tweets/{tweet_id}/replies")
def tweet_replies(tweet_id):
    parent = inputs.path_id(tweet_id, "Tweet")
    return _tweet_list(f"replies:{parent}", lambda page: tweets.replies(parent, page))


@route("/tweets/{tweet_id}/retweet", methods=["POST", "DELETE"], authorizer=bearer_auth)
def retweet(tweet_id):
    target, caller = inputs.path_id(tweet_id, "Tweet"), auth.caller(_request())
    if _request().method == "POST":
        limits.spend(int(caller.id), "tweets")  # a retweet is a tweet
        item, original, created = retweets.retweet(caller, target)
        return Response(tweet_json(item, original), status_code=201 if created else 200)
    retweets.undo_retweet(int(caller.id), target)
    return {"retweeted": False}


@route("/tweets/{tweet_id}/like", methods=["POST", "DELETE"], authorizer=bearer_auth)
def like(tweet_id):
    target, caller = inputs.path_id(tweet_id, "Tweet"), auth.caller_id(_request())
    if _request().method == "POST":
        limits.spend(caller, "likes")
        likes.like(caller, target)
        return {"liked": True}
    likes.unlike(caller, target)
    return {"liked": False}


# --- hashtags, trends, notifications -----------------------------------------

@route("/hashtags/{tag}/tweets")
def hashtag_tweets(tag):
    tag = inputs.path_hashtag(tag)
    scope = f"hashtag:{hashtags.tag_key(tag)}"
    page = pages.page_request(_request().query_params, scope)
    items, more, last_key = hashtags.page(tag, page)
    views.record(auth.reader_id(_request()), items)
    return pages.page([tweet_json(t) for t in items], page, scope, more, last_key)


@route("/trends")
def current_trends():
    return {"data": trends.current(), "meta": {"window_minutes": settings.TREND_WINDOW_MINUTES}}


@route("/notifications", authorizer=bearer_auth)
def user_notifications():
    caller = auth.caller_id(_request())
    scope = f"notifications:{caller}"
    page = pages.page_request(_request().query_params, scope)
    shown, more, last_key = inbox.page(caller, page)
    return pages.page([notification_json(*s) for s in shown], page, scope, more, last_key)


# --- home timeline ----------------------------------------------------------

@route("/timelines/home", authorizer=bearer_auth)
def home_timeline():
    reader = auth.caller(_request())  # the reader's item: the home read needs no second read of it
    if pages.is_ranked(_request().query_params):
        return _ranked_home(reader)
    scope = f"home:{int(reader.id)}"
    page = pages.page_request(_request().query_params, scope)
    home = feed.read(int(reader.id), page, reader)
    views.record(int(reader.id), [tweet for tweet, _ in home.tweets])
    body = pages.page([tweet_json(*shown) for shown in home.tweets], page, scope, home.more, home.last_key)
    body["meta"]["ranked"] = False
    body["meta"]["partial"] = home.partial  # true while a returning user's timeline is rebuilt
    return body


def _ranked_home(reader):
    """Interesting first (chalicelib.home.ranked): a first page ranks and
    keeps the order, its cursor pages through what was kept."""
    reader_id = int(reader.id)
    scope = f"home-ranked:{reader_id}"
    request = pages.ranked_request(_request().query_params, scope)
    if request.snapshot_id is None:
        home = ranked.first_page(reader_id, request.limit, request.bounds, reader)
    else:
        home = ranked.later_page(reader_id, request.snapshot_id, request.offset, request.limit,
                                 request.bounds)
    views.record(reader_id, [place.tweet for place in home.places])
    shown = [{**tweet_json(p.tweet, p.original), "ranking": ranking_json(p.score, p.reasons)}
             for p in home.places]
    body = pages.ranked_page(shown, scope, home.snapshot_id, home.offset, home.expires_at)
    body["meta"]["partial"] = home.partial
    return body


# --- event handlers: the streams, the jobs queue, the redrive --------------

@app.on_dynamodb_record(stream_arn=settings.TWEETS_STREAM_ARN, batch_size=100,
                        starting_position="TRIM_HORIZON")
def on_tweet_change(event):
    return consumers.stream_batch(event.to_dict(), streams.on_tweet_record)


@app.on_dynamodb_record(stream_arn=settings.FOLLOWS_STREAM_ARN, batch_size=100,
                        starting_position="TRIM_HORIZON")
def on_follow_change(event):
    return consumers.stream_batch(event.to_dict(), streams.on_follow_record)


@app.on_dynamodb_record(stream_arn=settings.LIKES_STREAM_ARN, batch_size=100,
                        starting_position="TRIM_HORIZON")
def on_like_change(event):
    return consumers.stream_batch(event.to_dict(), streams.on_like_record)


@app.on_sqs_message(queue=settings.QUEUE_NAMES["jobs"], batch_size=10)
def on_job(event):
    return consumers.queue_batch(event.to_dict(), jobs.run, event.context)


@app.on_sqs_message(queue=settings.QUEUE_NAMES["views"], batch_size=10)
def on_views(event):
    """Counts the views the read routes hand off (chalicelib.tweets.views)."""
    return consumers.fifo_views_batch(event.to_dict(), views.count, views.parse)


@app.schedule(Rate(settings.REDRIVE_EVERY_MINUTES, unit=Rate.MINUTES))
def redrive_failures(event):
    """What ran out of retries, run again (chalicelib.events.redrive)."""
    redrive.redrive_all()
