"""Parsing and validating what clients send. Everything here raises a 400
(or 413) ApiError with a message a client developer can act on."""
import json
import re
from collections.abc import Set
from urllib.parse import unquote

from chalicelib import settings
from chalicelib.accounts.users import HANDLE_RE
from chalicelib.storage.ids import parse_id
from chalicelib.tweets import tweet_text
from chalicelib.web import errors


def json_object(raw_body: bytes | None, allowed: Set[str], required: Set[str] = frozenset()) -> dict:
    """The request body as a JSON object with only `allowed` keys.

    Unknown keys are rejected rather than ignored: that is how a client learns
    it cannot set server-owned fields such as id, author, counts or times.
    """
    if raw_body is not None and len(raw_body) > settings.MAX_BODY_BYTES:
        raise errors.ApiError(413, "payload_too_large",
                              f"The body must be at most {settings.MAX_BODY_BYTES} bytes.")
    if not raw_body:
        raise errors.bad_request("A JSON object body is required.", "invalid_json")
    try:
        body = json.loads(raw_body)
        # Lone surrogates ("\\ud800") parse but are not text: nothing can store them.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError):  # RecursionError: absurdly deep nesting
        raise errors.bad_request("The body is not valid JSON.", "invalid_json") from None
    if not isinstance(body, dict):
        raise errors.bad_request("The body must be a JSON object.", "invalid_json")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise errors.bad_request(f"Unknown or read-only field(s): {', '.join(unknown)}.")
    missing = sorted(k for k in required if body.get(k) is None)
    if missing:
        raise errors.bad_request(f"Missing required field(s): {', '.join(missing)}.")
    return body


def string_field(body: dict, name: str, *, min_len: int = 0, max_len: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise errors.bad_request(f"`{name}` must be a string.")
    if not min_len <= len(value) <= max_len:
        raise errors.bad_request(f"`{name}` must be {min_len} to {max_len} characters long.")
    if "\x00" in value:
        raise errors.bad_request(f"`{name}` must not contain NUL characters.")
    return value


def handle_field(value) -> str:
    if not isinstance(value, str) or not HANDLE_RE.fullmatch(value):
        raise errors.bad_request(
            f"`handle` must be 1 to {settings.HANDLE_MAX} letters, digits or underscores.")
    return value


# No control characters, and at least one that is not white space (what
# str.strip removes); the OpenAPI document gives clients the same pattern.
_CONTROL = r"\x00-\x1f\x7f"
_SPACE = r"\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
DISPLAY_NAME_PATTERN = f"^[^{_CONTROL}]*[^{_CONTROL}{_SPACE}][^{_CONTROL}]*$"
_DISPLAY_NAME_RE = re.compile(DISPLAY_NAME_PATTERN)


def display_name_field(body: dict) -> str | None:
    name = string_field(body, "display_name", min_len=1, max_len=settings.DISPLAY_NAME_MAX)
    if name is not None:
        if not _DISPLAY_NAME_RE.fullmatch(name):
            raise errors.bad_request("`display_name` must be printable and not blank.")
        name = name.strip()
    return name


def password_field(body: dict, name: str = "password") -> str:
    """A password being set (sign-up, a new password): a string within the length limits."""
    value = body.get(name)
    if not isinstance(value, str):
        raise errors.bad_request(f"`{name}` must be a string.")
    if not settings.PASSWORD_MIN <= len(value) <= settings.PASSWORD_MAX:
        raise errors.bad_request(
            f"`{name}` must be {settings.PASSWORD_MIN} to {settings.PASSWORD_MAX} characters long.")
    return value


def id_field(body: dict, name: str) -> int | None:
    """An optional id in a body: a decimal string (ids exceed JSON's safe
    integer range, so numbers are refused to spare clients silent rounding)."""
    value = body.get(name)
    if value is None:
        return None
    parsed = parse_id(value) if isinstance(value, str) else None
    if parsed is None:
        raise errors.bad_request(f"`{name}` must be an id string.")
    return parsed


def path_id(value: str, what: str) -> int:
    """An id in a URL path; anything that is not one names nothing: 404."""
    parsed = parse_id(value)
    if parsed is None:
        raise errors.not_found(what)
    return parsed


def path_handle(value: str) -> str:
    if not HANDLE_RE.fullmatch(value or ""):
        raise errors.not_found("User")
    return value


def path_hashtag(value: str) -> str:
    """A hashtag in a URL path, with or without its `#` (sent as %23); one
    that is not a hashtag names nothing: 404, like any path parameter."""
    tag = unquote(value or "")
    tag = tag[1:] if tag[:1] in ("#", "\uff03") else tag
    if not tweet_text.is_valid_hashtag("#" + tag):
        raise errors.ApiError(404, "invalid_hashtag", f"`{tag}` is not a hashtag.")
    return tag
