"""The API's one error shape: {"error": {"code": ..., "message": ...}}.

Views raise ApiError; the HTTP middleware in app.py turns it (and any error
Chalice itself produces) into that shape. ApiError derives from Chalice's
ChaliceUnhandledError only because Chalice re-raises exactly that class to
middleware instead of turning it into its own error body.
"""
from chalice import ChaliceUnhandledError


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


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found.")


def conflict(message: str, code: str = "conflict") -> ApiError:
    return ApiError(409, code, message)


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
