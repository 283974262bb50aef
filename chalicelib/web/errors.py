"""The API's one error shape, {"error": {"code": ..., "message": ...}}, and
the one place where refusals become HTTP statuses.

- The domain raises chalicelib.errors exceptions; `api_error` maps each kind
  to its status (STATUS) and `route` applies that to every view.
- The HTTP edge itself raises ApiError for what only HTTP knows (a body too
  large, a missing bearer token, a malformed query parameter).
- `error_middleware` answers both, and rewrites Chalice's own error bodies.

ApiError derives from Chalice's ChaliceUnhandledError only because Chalice
re-raises exactly that class to middleware; any other exception raised by
a view becomes Chalice's own 500 before middleware sees it.
"""
import functools
import logging

from chalice import Chalice, ChaliceUnhandledError, Response

from chalicelib.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    TooMany,
    Unauthenticated,
    Unprocessable,
)

_log = logging.getLogger("chirp.errors")


class ApiError(ChaliceUnhandledError):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def bad_request(message: str, code: str = "invalid_request") -> ApiError:
    return ApiError(400, code, message)


def unauthorized(message: str = "A valid bearer token is required.") -> ApiError:
    return ApiError(401, "unauthorized", message, {"WWW-Authenticate": "Bearer"})


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found.")


STATUS = {
    Invalid: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Unprocessable: 422,
    TooMany: 429,
}


def api_error(exc: DomainError) -> ApiError:
    """The contract's answer to a domain refusal."""
    headers = {}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooMany):
        headers["Retry-After"] = str(exc.retry_after)
    return ApiError(STATUS[type(exc)], exc.code, exc.message, headers)


def route(app: Chalice):
    """`app.route` for views that call the domain: a domain refusal raised
    by the view is answered in the contract's shape instead of as a 500."""
    def route_(path: str, **options):
        def register(view):
            @functools.wraps(view)
            def answering(*args, **kwargs):
                try:
                    return view(*args, **kwargs)
                except DomainError as exc:
                    raise api_error(exc) from None
            return app.route(path, **options)(answering)
        return register
    return route_


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


# Chalice's own error classes (its "Code" field) mapped to the contract.
CHALICE_CODES = {
    "BadRequestError": "invalid_request",
    "UnauthorizedError": "unauthorized",
    "ForbiddenError": "forbidden",
    "NotFoundError": "not_found",
    "MethodNotAllowedError": "method_not_allowed",
    "RequestTimeoutError": "timeout",
    "ConflictError": "conflict",
    "UnprocessableEntityError": "unprocessable",
    "TooManyRequestsError": "too_many_requests",
    "UnsupportedMediaType": "unsupported_media_type",
    "BadRequest": "invalid_request",
    "InternalServerError": "internal_error",
}


def to_contract_response(response: Response) -> Response:
    """Rewrites Chalice's own error bodies ({"Code", "Message"}) into the
    contract's error shape; leaves every other response alone."""
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        code = CHALICE_CODES.get(body["Code"], "error")
        message = body.get("Message") or "Request failed."
        if code == "internal_error":
            message = "An internal error occurred."
        response.body = error_body(code, message)
    return response


def error_middleware(event, get_response) -> Response:
    try:
        response = get_response(event)
    except ApiError as exc:
        return Response(body=error_body(exc.code, exc.message), status_code=exc.status, headers=exc.headers)
    except Exception:
        # Raised by a middleware inside this one (a view's own failure is
        # Chalice's logged 500 by now); escaping, it would fail the whole
        # invocation, which API Gateway answers 502 in its own shape.
        _log.exception("Unhandled error before the view")
        return Response(body=error_body("internal_error", "An internal error occurred."), status_code=500)
    return to_contract_response(response)
