"""What the domain says when it refuses: one exception per kind of refusal.

The domain speaks no HTTP. Each error carries a stable machine-readable
`code` (the contract's `error.code`) and a message a client developer can
act on; the HTTP edge (chalicelib.web.errors) alone decides which status
each kind is answered with.
"""


class DomainError(Exception):
    """Base of every refusal. `code` defaults to the kind's own."""

    default_code = "error"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class Invalid(DomainError):
    """The request is malformed or names something it may not (400)."""

    default_code = "invalid_request"


class Unauthenticated(DomainError):
    """The caller's identity does not hold, e.g. the account is gone (401)."""

    default_code = "unauthorized"


class Forbidden(DomainError):
    """The caller may not do this to that (403)."""

    default_code = "forbidden"


class NotFound(DomainError):
    """`what` does not exist, or not for this caller (404)."""

    default_code = "not_found"

    def __init__(self, what: str, message: str | None = None, code: str | None = None):
        super().__init__(message or f"{what} not found.", code)


class Conflict(DomainError):
    """The request clashes with what is stored (409)."""

    default_code = "conflict"


class Unprocessable(DomainError):
    """Well-formed, but contradicts an earlier request (422)."""

    default_code = "unprocessable"


class TooMany(DomainError):
    """The caller has used up a limit; it may try again in `retry_after`
    seconds (429, with Retry-After)."""

    default_code = "too_many_requests"

    def __init__(self, message: str, retry_after: int, code: str | None = None):
        super().__init__(message, code)
        self.retry_after = retry_after
