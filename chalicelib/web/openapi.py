"""The API's contract as an OpenAPI 3.1 document: served at GET /openapi.json,
rendered by GET /docs, fuzzed by schemathesis (tests/e2e/test_fuzz.py).

The paths, methods, path parameters and which routes need a bearer token
come from the Chalice app itself; what each operation takes and answers is
the OPERATIONS table below. `document` refuses a route the table does not
describe (and the reverse), and tests/integration/test_openapi.py holds the
table to the code: every status a route answers in the tests is listed,
every query parameter listed is one the route reads.

The document is not the API Gateway definition: Chalice generates that
(Swagger 2.0, from the same routes), and API Gateway imports OpenAPI 3.0 at
most, not 3.1 (README, "The API contract").
"""
from collections import Counter
from functools import cache
from typing import Any

from chalicelib import settings
from chalicelib.accounts.users import HANDLE_RE
from chalicelib.web import errors
from chalicelib.web.auth import TOKENLESS
from chalicelib.web.docs import ASSETS
from chalicelib.web.inputs import DISPLAY_NAME_PATTERN

# --- schemas ---------------------------------------------------------------------

ID = {"type": "string", "pattern": r"^[1-9][0-9]{0,18}$", "description": "A 64-bit id, as a string",
      "examples": ["916005710418292736"]}
NULLABLE_ID = {**ID, "type": ["string", "null"]}
TIME = {"type": "string", "format": "date-time", "description": "ISO 8601, UTC"}
HANDLE = {"type": "string", "pattern": f"^{HANDLE_RE.pattern.strip('^$')}$", "minLength": 1,
          "maxLength": settings.HANDLE_MAX, "examples": ["alice"]}
INDICES = {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 2, "maxItems": 2,
           "description": "Start and end, in code points of the text as sent"}


def _object(properties: dict, required: list[str] | None = None, **extra: Any) -> dict:
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required,
            "additionalProperties": False, **extra}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _entity(**properties: dict) -> dict:
    return {"type": "array", "items": _object({**properties, "indices": INDICES})}


TWEET = {
    "id": ID,
    "author": _object({"id": ID, "handle": HANDLE, "display_name": {"type": "string"}}),
    "text": {"type": "string", "description": "Empty on a retweet"},
    "created_at": TIME,
    "entities": _ref("Entities"),
    "reply_to_id": NULLABLE_ID, "quote_of_id": NULLABLE_ID, "conversation_id": NULLABLE_ID,
    "counts": _object({name: {"type": "integer", "minimum": 0}
                       for name in ("likes", "retweets", "replies", "quotes", "views")}),
    "retweet_of": {"oneOf": [_ref("Tweet"), {"type": "null"}],
                   "description": "The original, on a retweet; null otherwise"}}

SCHEMAS: dict[str, dict] = {
    "Error": _object({"error": _object({
        "code": {"type": "string", "description": "Stable, for programs: `not_found`, `invalid_cursor`, ..."},
        "message": {"type": "string", "description": "For people"}})}),
    "User": _object({
        "id": ID, "handle": HANDLE,
        "display_name": {"type": "string", "maxLength": settings.DISPLAY_NAME_MAX},
        "bio": {"type": "string"}, "created_at": TIME,
        "followers_count": {"type": "integer", "minimum": 0},
        "following_count": {"type": "integer", "minimum": 0},
        "tweets_count": {"type": "integer", "minimum": 0}}),
    "Entities": _object({
        "hashtags": _entity(tag={"type": "string"}),
        "mentions": _entity(handle={"type": "string"}, user_id=NULLABLE_ID),
        "urls": _entity(url={"type": "string"}),
        "cashtags": _entity(tag={"type": "string"})}),
    "Tweet": _object(TWEET),
    # A tweet and why it is where it is (Tweet is closed: its properties, not an allOf).
    "RankedTweet": _object({**TWEET, "ranking": _object({
        "score": {"type": "number"}, "reasons": {"type": "array", "items": {"type": "string"}}})}),
    "Notification": _object({
        "id": ID, "type": {"enum": ["mention", "reply", "like", "retweet", "follow"]},
        "actor": _ref("User"), "tweet": {"oneOf": [_ref("Tweet"), {"type": "null"}]}, "created_at": TIME}),
    "ListMeta": {"type": "object", "properties": {
        "next_cursor": {"type": ["string", "null"],
                        "description": "Pass back as `cursor`; null on the last page"},
        "newest_id": NULLABLE_ID, "oldest_id": NULLABLE_ID},
        "required": ["next_cursor", "newest_id", "oldest_id"]},
}


def _list(item: str, **meta: dict) -> dict:
    return _object({"data": {"type": "array", "items": _ref(item)},
                    "meta": {"allOf": [_ref("ListMeta")], "type": "object", "properties": meta,
                             "required": sorted(meta)} if meta else _ref("ListMeta")})


SCHEMAS.update({
    "TweetList": _list("Tweet"),
    "UserList": _list("User"),
    "NotificationList": _list("Notification"),
    "HomeTimeline": _list("Tweet", ranked={"const": False},
                          partial={"type": "boolean", "description": "True while a returning user's "
                                                                     "timeline is rebuilt"}),
    "RankedHomeTimeline": _list("RankedTweet", ranked={"const": True}, partial={"type": "boolean"},
                                snapshot_expires_at={"type": ["string", "null"], "format": "date-time"}),
})

# --- parameters --------------------------------------------------------------------


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": settings.PAGE_MAX, "default": 20},
               "Items per page")
CURSOR = _query("cursor", {"type": "string"}, "`meta.next_cursor` of the previous page; opaque, signed")
MAX_ID = _query("max_id", ID, "Only items older than this id (not with `cursor`)")
SINCE_ID = _query("since_id", ID, "Only items newer than this id (not with `cursor`)")
RANKED = _query("ranked", {"enum": ["0", "1", "true", "false"]},
                "1 for interesting first (each item with its `ranking`); takes `cursor`, not the id bounds")
TWEET_PAGE = [LIMIT, CURSOR, MAX_ID, SINCE_ID]
USER_PAGE = [LIMIT, CURSOR]
PATH_SCHEMAS = {"handle": HANDLE, "tweet_id": ID, "tag": {"type": "string", "minLength": 1},
                "asset": {"enum": sorted(ASSETS)}}
IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "schema": {"type": "string", "minLength": 1, "maxLength": settings.IDEMPOTENCY_KEY_MAX,
                              # printable ASCII; spaces inside only (HTTP trims a header's ends)
                              "pattern": "^[!-~]([ -~]*[!-~])?$"},
                   "description": "Retry freely: the same key from the same author within 24 hours "
                                  "returns the first tweet (with `Idempotent-Replayed: true`)"}

# --- operations -----------------------------------------------------------------------

PASSWORD = {"type": "string", "minLength": settings.PASSWORD_MIN, "maxLength": settings.PASSWORD_MAX}
BODIES = {
    "Signup": _object({"handle": HANDLE, "password": PASSWORD,
                       "display_name": {"type": ["string", "null"], "minLength": 1,
                                        "maxLength": settings.DISPLAY_NAME_MAX,
                                        "pattern": DISPLAY_NAME_PATTERN}},
                      required=["handle", "password"]),
    "Login": _object({"handle": {"type": "string"}, "password": {"type": "string"}}),
    "PasswordChange": _object({"password": {"type": "string", "description": "The current one"},
                               "new_password": PASSWORD}),
    "NewTweet": _object({"text": {"type": "string", "minLength": 1,
                                  "pattern": "^[^\\x00\\ufeff\\ufffe\\uffff]*$",
                                  "description": f"A valid tweet by twitter-text: not blank, at most "
                                                 f"{settings.TWEET_MAX_CHARS} weighted characters (a URL "
                                                 f"weighs 23, most CJK characters and emoji 2)"},
                         "reply_to_id": NULLABLE_ID, "quote_of_id": NULLABLE_ID}, required=["text"]),
}
ERRORS = {
    400: "Invalid input (the message says which), or a query parameter this route does not take",
    401: "A valid bearer token is required; a token sent to a public route must be valid too "
         "(signed, unexpired, its user existing and not logged out everywhere since)",
    403: "Not yours to do (someone else's tweet; following yourself; a wrong current password)",
    404: "No such thing (or route)",
    409: "Taken, or (an idempotency key) still being used by a request in flight",
    413: f"The body is over {settings.MAX_BODY_BYTES} bytes",
    415: "The body must be application/json",
    422: "The idempotency key was used for another tweet",
    429: "Too many requests: slow down (API Gateway's throttling of the stage); retry after "
         "`Retry-After` seconds",
}
# Writes counted by the caller's write limits (settings.WRITE_LIMITS): their 429 says which.
LIMITED = {("/tweets", "POST"): "tweets", ("/tweets/{tweet_id}/retweet", "POST"): "tweets",
           ("/users/{handle}/follow", "POST"): "follows", ("/tweets/{tweet_id}/like", "POST"): "likes",
           ("/auth/password", "POST"): "password_changes"}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again", "required": True,
                               "schema": {"type": "string", "pattern": "^[1-9][0-9]*$"}}}


def _ok(schema: dict | None, description: str, status: int = 200) -> dict:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = {"application/json": {"schema": schema}}
    return {status: answer}


TEXT = {"schema": {"type": "string"}}


def _flag(name: str) -> dict:
    return _object({name: {"type": "boolean"}})


# (path, method) -> summary, what it takes (query, header, body) and answers
# (success statuses with their schemas, then the error statuses it can give).
OPERATIONS: dict[tuple[str, str], dict] = {
    ("/health", "GET"): {"summary": "Liveness", "ok": _ok(_object({"status": {"const": "ok"}}), "Up")},
    ("/openapi.json", "GET"): {"summary": "This document", "ok": _ok({"type": "object"}, "OpenAPI 3.1")},
    ("/docs", "GET"): {"summary": "This document, to read and try (Swagger UI)",
                       "ok": {200: {"description": "A page", "content": {"text/html": TEXT}}}},
    ("/docs/{asset}", "GET"): {"summary": "The docs page's script and style sheet",
                               "ok": {200: {"description": "The file", "content": {
                                   media.split(";")[0]: TEXT for media in ASSETS.values()}}},
                               "errors": [404]},
    ("/auth/signup", "POST"): {"summary": "Create an account", "body": "Signup",
                               "ok": _ok(_object({"user": _ref("User"), "token": {"type": "string"}}),
                                         "The user and a token", 201),
                               "errors": [400, 409, 413, 415]},
    ("/auth/login", "POST"): {"summary": "Get a token (valid 24 hours)", "body": "Login",
                              "ok": _ok(_object({"token": {"type": "string"}}), "A token"),
                              "errors": [400, 401, 413, 415]},
    ("/auth/logout-all", "POST"): {"summary": "Log out everywhere: revoke every token of yours, this one too",
                                   "ok": _ok(None, "Revoked", 204)},
    ("/auth/password", "POST"): {"summary": "Change your password; revokes every earlier token",
                                 "body": "PasswordChange",
                                 "ok": _ok(_object({"token": {"type": "string"}}), "Your new token"),
                                 "errors": [400, 403, 413, 415]},
    ("/me", "GET"): {"summary": "The caller", "ok": _ok(_ref("User"), "The caller's user")},
    ("/users/{handle}", "GET"): {"summary": "A user", "ok": _ok(_ref("User"), "The user"), "errors": [404]},
    ("/users/{handle}/tweets", "GET"): {"summary": "A user's tweets, newest first", "query": TWEET_PAGE,
                                        "ok": _ok(_ref("TweetList"), "A page"), "errors": [400, 404]},
    ("/users/{handle}/followers", "GET"): {"summary": "Who follows the user, newest follow first",
                                           "query": USER_PAGE, "ok": _ok(_ref("UserList"), "A page"),
                                           "errors": [400, 404]},
    ("/users/{handle}/following", "GET"): {"summary": "Whom the user follows, newest follow first",
                                           "query": USER_PAGE, "ok": _ok(_ref("UserList"), "A page"),
                                           "errors": [400, 404]},
    ("/users/{handle}/follow", "POST"): {"summary": "Follow (idempotent)",
                                         "ok": _ok(_flag("following"), "Done"), "errors": [403, 404]},
    ("/users/{handle}/follow", "DELETE"): {"summary": "Unfollow (idempotent)",
                                           "ok": _ok(_flag("following"), "Done"), "errors": [403, 404]},
    ("/tweets", "POST"): {"summary": "Post a tweet, a reply or a quote", "body": "NewTweet",
                          "headers": [IDEMPOTENCY_KEY], "ok": _ok(_ref("Tweet"), "The tweet", 201),
                          "errors": [400, 404, 409, 413, 415, 422]},
    ("/tweets/{tweet_id}", "GET"): {"summary": "A tweet", "ok": _ok(_ref("Tweet"), "The tweet"),
                                    "errors": [404]},
    ("/tweets/{tweet_id}", "DELETE"): {"summary": "Delete your tweet", "ok": _ok(None, "Deleted", 204),
                                       "errors": [403, 404]},
    ("/tweets/{tweet_id}/replies", "GET"): {"summary": "Replies, newest first", "query": TWEET_PAGE,
                                            "ok": _ok(_ref("TweetList"), "A page"), "errors": [400, 404]},
    ("/tweets/{tweet_id}/retweet", "POST"): {"summary": "Retweet (idempotent)",
                                             "ok": {**_ok(_ref("Tweet"), "The retweet", 201),
                                                    **_ok(_ref("Tweet"), "Already retweeted: that retweet")},
                                             "errors": [404]},
    ("/tweets/{tweet_id}/retweet", "DELETE"): {"summary": "Undo a retweet (idempotent)",
                                               "ok": _ok(_flag("retweeted"), "Done"), "errors": [404]},
    ("/tweets/{tweet_id}/like", "POST"): {"summary": "Like (idempotent)", "ok": _ok(_flag("liked"), "Done"),
                                          "errors": [404]},
    ("/tweets/{tweet_id}/like", "DELETE"): {"summary": "Unlike (idempotent)",
                                            "ok": _ok(_flag("liked"), "Done"), "errors": [404]},
    ("/hashtags/{tag}/tweets", "GET"): {"summary": "Tweets with a hashtag, any case, newest first",
                                        "query": TWEET_PAGE, "ok": _ok(_ref("TweetList"), "A page"),
                                        "errors": [400, 404]},
    ("/trends", "GET"): {"summary": "The most used hashtags of the last hour",
                         "ok": _ok(_object({"data": {"type": "array", "items": _object(
                             {"tag": {"type": "string"}, "count": {"type": "integer", "minimum": 0}})},
                             "meta": _object({"window_minutes": {"type": "integer"}})}), "The trends")},
    ("/notifications", "GET"): {"summary": "Your notifications, newest first", "query": TWEET_PAGE,
                                "ok": _ok(_ref("NotificationList"), "A page"), "errors": [400]},
    ("/timelines/home", "GET"): {"summary": "Your home timeline: newest first, or interesting first",
                                 "query": [*TWEET_PAGE, RANKED],
                                 "ok": _ok({"oneOf": [_ref("HomeTimeline"), _ref("RankedHomeTimeline")]},
                                           "A page"), "errors": [400]},
}

# What a client can do next with what an answer holds (OpenAPI links; the
# fuzzer's stateful phase follows them): name -> (operationId, parameter, where).
_NEW_USER = "$response.body#/user/handle"
_NEW_TWEET = "$response.body#/id"
LINKS: dict[tuple[str, str], dict[int, dict[str, tuple[str, str, str]]]] = {
    ("/auth/signup", "POST"): {201: {
        "GetUser": ("get_user", "handle", _NEW_USER),
        "UserTweets": ("user_tweets", "handle", _NEW_USER),
        "Follow": ("post_follow", "handle", _NEW_USER),
        "Unfollow": ("delete_follow", "handle", _NEW_USER),
        "Followers": ("user_followers", "handle", _NEW_USER)}},
    ("/tweets", "POST"): {201: {
        "GetTweet": ("get_tweet", "tweet_id", _NEW_TWEET),
        "Like": ("post_like", "tweet_id", _NEW_TWEET),
        "Unlike": ("delete_like", "tweet_id", _NEW_TWEET),
        "Retweet": ("post_retweet", "tweet_id", _NEW_TWEET),
        "Replies": ("tweet_replies", "tweet_id", _NEW_TWEET),
        "Delete": ("delete_tweet", "tweet_id", _NEW_TWEET)}},
    ("/tweets/{tweet_id}/retweet", "POST"): {201: {
        "UndoRetweet": ("delete_retweet", "tweet_id", "$response.body#/retweet_of/id"),
        "GetRetweet": ("get_tweet", "tweet_id", _NEW_TWEET)}},
}



def _operation(path: str, method: str, operation_id: str, authorized: bool) -> dict:
    spec = OPERATIONS[(path, method)]
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    parameters = [{"name": n, "in": "path", "required": True, "schema": PATH_SCHEMAS[n]} for n in names]
    parameters += spec.get("query", []) + spec.get("headers", [])
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": spec["summary"],
        "responses": {str(status): answer for status, answer in spec["ok"].items()},
    }
    if parameters:
        operation["parameters"] = parameters
    if "body" in spec:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{spec['body']}"}}}}
    # Every route: 400 for a query parameter it does not document (refuse_unknown_query),
    # 401 for a bad token (chalicelib.web.auth), 429 from API Gateway's throttling
    # (infra/api-<stage>.json) or the caller's write limits (chalicelib.accounts.limits).
    checked = set() if path in TOKENLESS else {401}
    for status in sorted(set(spec.get("errors", [])) | {400, 429} | checked):
        description = ERRORS[status]
        if status == 429 and (path, method) in LIMITED:
            description += f", or when the caller's {LIMITED[(path, method)]} limit is used up"
        operation["responses"][str(status)] = {"description": description, "content": {
            "application/json": {"schema": _ref("Error")}}}
        if status == 429:
            operation["responses"][str(status)]["headers"] = RETRY_AFTER
    for status, links in LINKS.get((path, method), {}).items():
        operation["responses"][str(status)]["links"] = {
            name: {"operationId": target, "parameters": {parameter: expression}}
            for name, (target, parameter, expression) in links.items()}
    # A public route takes a token too: it must be valid, and counts the reader's views.
    if path not in TOKENLESS:
        operation["security"] = [{"bearer": []}] if authorized else [{}, {"bearer": []}]
    return operation


def refuse_unknown_query(event, get_response):
    """HTTP middleware: a query parameter the route does not document is
    refused (400), as unknown body fields are, so a misspelt `max_ids` is
    an error, not an ignored filter; the table above is the one list."""
    allowed = _query_names().get((event.path, event.method), frozenset())
    unknown = sorted(set(event.query_params or {}) - allowed)
    if unknown:  # answered by errors.error_middleware, outside this one
        raise errors.bad_request(f"Unknown query parameter(s): {', '.join(unknown)}.")
    return get_response(event)


@cache
def _query_names() -> dict[tuple[str, str], frozenset[str]]:
    return {key: frozenset(p["name"] for p in spec.get("query", [])) for key, spec in OPERATIONS.items()}


@cache
def _built(routes: tuple[tuple[str, str, str, bool], ...]) -> dict:
    paths: dict[str, dict] = {}
    views = Counter(view for _, _, view, _ in routes)
    for path, method, view, authorized in routes:
        # The view's name, or for a view serving two methods (follow, unfollow) method_view.
        operation_id = view if views[view] == 1 else f"{method.lower()}_{view}"
        paths.setdefault(path, {})[method.lower()] = _operation(path, method, operation_id, authorized)
    described = {(p, m) for p, m, _, _ in routes}
    undescribed = sorted(set(OPERATIONS) - described)
    if undescribed:
        raise LookupError(f"OPERATIONS describes routes the app does not have: {undescribed}")
    return {
        "openapi": "3.1.0",
        "info": {"title": "Chirp", "version": "1",
                 "description": _DESCRIPTION},
        "servers": [{"url": ".", "description": "Where this document is served from"}],
        "paths": paths,
        "components": {"schemas": {**SCHEMAS, **BODIES},
                       "securitySchemes": {"bearer": {
                           "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                           "description": "From POST /auth/signup or /auth/login"}}},
    }


def _limits() -> str:
    return "; ".join(f"{action.replace('_', ' ')}: {spans['minute']} a minute, {spans['day']} a day"
                     for action, spans in settings.WRITE_LIMITS.items())


_DESCRIPTION = (
    "A Twitter-style timeline service. JSON in and out; ids are strings; errors are "
    "`{\"error\": {\"code\", \"message\"}}`. See the README.\n\n"
    "**Tokens** last 24 hours. Sent to any route, a token must be valid (401 otherwise); "
    "`POST /auth/logout-all` and a password change revoke every earlier one at once.\n\n"
    f"**Write limits** per user: {_limits()}. Past one: 429 with `Retry-After` (seconds).\n\n"
    f"**Request limits**: a body of at most {settings.MAX_BODY_BYTES // 1024} KiB, a URL of "
    f"{settings.GATEWAY_MAX_URL_CHARS:,} characters, headers of {settings.GATEWAY_MAX_HEADER_BYTES:,} bytes "
    f"(413 beyond); the stage takes {settings.THROTTLING_RATE_LIMIT} requests a second, bursts of "
    f"{settings.THROTTLING_BURST_LIMIT} (429 beyond).")


def document(app) -> dict:
    """The OpenAPI document of `app`'s routes (built once per container)."""
    routes = []
    for path, methods in sorted(app.routes.items()):
        for method, entry in sorted(methods.items()):
            if (path, method) not in OPERATIONS:
                raise LookupError(f"{method} {path} is not described in chalicelib.web.openapi.OPERATIONS")
            routes.append((path, method, entry.view_name, entry.authorizer is not None))
    return _built(tuple(routes))
