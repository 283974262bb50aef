"""The HTTP edges shared by every route: the bearer-token authorizer, the
error middleware, and reading the caller and body from a request."""
from chalice import AuthResponse, Response

from chalicelib import activity, errors, tokens


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
    """The authenticated user's id (set by `authorize`), recorded as active:
    fan-out delivers only to users active within ACTIVE_DAYS."""
    user_id = int(request.context["authorizer"]["principalId"])
    activity.mark_active(user_id)
    return user_id


def to_contract_response(response: Response) -> Response:
    """Rewrites Chalice's own error bodies ({"Code", "Message"}) into the
    contract's error shape; leaves every other response alone."""
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        code = errors.CHALICE_CODES.get(body["Code"], "error")
        message = body.get("Message") or "Request failed."
        if code == "internal_error":
            message = "An internal error occurred."
        response.body = errors.error_body(code, message)
    return response


def error_middleware(event, get_response) -> Response:
    try:
        response = get_response(event)
    except errors.ApiError as exc:
        return Response(body=errors.error_body(exc.code, exc.message),
                        status_code=exc.status, headers=exc.headers)
    return to_contract_response(response)
