"""Who is calling: the bearer-token authorizer, and the caller in a view.

A token is checked twice, in two places:
- `authorize`, API Gateway's token authorizer on the protected routes,
  verifies the signature and the expiry. It reads no table, and API
  Gateway caches its answer per token (app.py's ttl_seconds).
- `authenticate`, HTTP middleware on every route, checks that the token's
  user exists and that the token's version is the user's current one: one
  strongly consistent GetItem per request that carries a bearer token.
  A token failing either check is 401 wherever it is sent, public reads
  included, so a client holding a dead token learns at once. Because this
  check runs on every request, revoking (chalicelib.accounts.users:
  revoke_tokens, change_password) takes effect at once, whatever the
  authorizer's cache still holds.

Views that need the caller's user item (posting, /me) get the one this
check read; the others its id.
"""
from weakref import WeakKeyDictionary

from chalice import AuthResponse
from chalice.app import Request

from chalicelib.accounts import activity, tokens, users
from chalicelib.home import feed
from chalicelib.observe import logs
from chalicelib.storage.tables import UserModel
from chalicelib.web import errors

REVOKED = "This token was revoked (logged out everywhere, or the password changed); log in again."
NO_USER = "No user holds this token any more; log in again."


class Unauthorized(Exception):
    """Raised by the authorizer. API Gateway answers 401 when a token
    authorizer fails with exactly this message (a Deny policy would be 403)."""

    def __init__(self):
        super().__init__("Unauthorized")


def authorize(auth_request) -> AuthResponse:
    """Verifies the bearer token and names its user as the principal, with
    the token's version for `authenticate`. The policy allows every route:
    API Gateway caches it per token."""
    token = tokens.bearer_token(auth_request.token)
    if token is None:
        raise Unauthorized()
    try:
        claims = tokens.verify_token(token)
    except tokens.InvalidToken:
        raise Unauthorized() from None
    return AuthResponse(routes=["*"], principal_id=str(claims.user_id),
                        context={"token_version": str(claims.version)})


# The caller `authenticate` found for each request in flight (None: anonymous).
_callers: "WeakKeyDictionary[Request, UserModel | None]" = WeakKeyDictionary()

# Where the body carries the credentials, a token sent along is not looked
# at: a client whose token died must still be able to log in again.
TOKENLESS = frozenset({"/auth/signup", "/auth/login"})


def authenticate(event, get_response):
    """HTTP middleware: the request's bearer token, if it carries one, must
    name an existing user at their current token version, or the answer is
    401 (raised to errors.error_middleware, outside this one)."""
    _callers[event] = None if event.path in TOKENLESS else _caller(event)
    return get_response(event)


def _caller(request) -> UserModel | None:
    claims = _claims(request)
    if claims is None:
        return None
    user = users.find_by_id(claims.user_id, consistent=True)  # consistent: a revocation holds at once
    if user is None:
        raise errors.unauthorized(NO_USER)
    if int(user.token_version or 0) != claims.version:
        raise errors.unauthorized(REVOKED)
    return user


def _claims(request) -> tokens.Claims | None:
    """What the request's token claims, signature checked: by the authorizer
    on protected routes (its context), here on public ones. None without a
    bearer token (an anonymous read); 401 for one that does not verify."""
    context = request.context.get("authorizer") or {}
    if context.get("principalId"):
        return tokens.Claims(int(context["principalId"]), int(context.get("token_version", 0)))
    header = request.headers.get("authorization") or ""
    token = tokens.bearer_token(header)
    if token is None:
        if header.strip().partition(" ")[0].lower() == "bearer":  # "Bearer" with no token
            raise errors.unauthorized()
        return None
    try:
        return tokens.verify_token(token)
    except tokens.InvalidToken:
        raise errors.unauthorized() from None


def caller(request) -> UserModel:
    """The authenticated user's item (read by `authenticate`), recorded as
    active. Only for routes behind the authorizer."""
    user = _callers.get(request)
    if user is None:  # a protected route always has one: the authorizer refused the rest
        raise errors.unauthorized()
    logs.bind(user_id=int(user.id))
    if seen(int(user.id)):  # a returning user's rebuild started: the item read before is stale
        user = users.find_by_id(int(user.id), consistent=True) or user
        _callers[request] = user
    return user


def caller_id(request) -> int:
    """The authenticated user's id (see `caller`)."""
    return int(caller(request).id)


def seen(user_id: int) -> bool:
    """Records that the user is active (fan-out delivers only to users active
    within ACTIVE_DAYS); one back after longer gets their timeline populated
    (True: it was)."""
    if activity.mark_active(user_id):
        feed.populate(user_id)
        activity.remember(user_id)
        return True
    return False


def reader_id(request) -> int | None:
    """Who reads a public route: the user of the request's token, or None
    when it carries none (an anonymous read; a bad token was refused by
    `authenticate`). Used only to count views: it records no activity."""
    user = _callers.get(request)
    return None if user is None else int(user.id)
