"""Who is calling: the bearer-token authorizer, and the caller's id in a view."""
from chalice import AuthResponse

from chalicelib.accounts import activity, tokens
from chalicelib.home import feed
from chalicelib.observe import logs


class Unauthorized(Exception):
    """Raised by the authorizer. API Gateway answers 401 when a token
    authorizer fails with exactly this message (a Deny policy would be 403)."""

    def __init__(self):
        super().__init__("Unauthorized")


def authorize(auth_request) -> AuthResponse:
    """Verifies the bearer token and names its user as the principal.
    The policy allows every route: API Gateway caches it per token."""
    token = tokens.bearer_token(auth_request.token)
    if token is None:
        raise Unauthorized()
    try:
        user_id = tokens.verify_token(token)
    except tokens.InvalidToken:
        raise Unauthorized() from None
    return AuthResponse(routes=["*"], principal_id=str(user_id))


def caller_id(request) -> int:
    """The authenticated user's id (set by `authorize`), recorded as active."""
    user_id = int(request.context["authorizer"]["principalId"])
    logs.bind(user_id=user_id)
    seen(user_id)
    return user_id


def seen(user_id: int) -> None:
    """Records that the user is active (fan-out delivers only to users active
    within ACTIVE_DAYS); one back after longer gets their timeline populated."""
    if activity.mark_active(user_id):
        feed.populate(user_id)
        activity.remember(user_id)


def reader_id(request) -> int | None:
    """Who reads a public route: the user of a valid bearer token, or None
    (anonymous; a missing, malformed, expired or forged token alike, since
    the route needs none). Used only to count views: it records no activity."""
    context = request.context.get("authorizer") or {}
    if context.get("principalId"):
        return int(context["principalId"])
    token = tokens.bearer_token(request.headers.get("authorization"))
    if token is None:
        return None
    try:
        return tokens.verify_token(token)
    except tokens.InvalidToken:
        return None
