"""Pagination: `limit`, `max_id`, `since_id` and opaque `cursor` query
parameters, and the `meta` block of every list.

A cursor is the bounds of the next page plus the list it belongs to, signed
with an HMAC: clients cannot forge one to read other keys or move a cursor
from one list to another, and its contents are ours to change.
"""
import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib import settings
from chalicelib.accounts import tokens
from chalicelib.storage.ids import parse_id
from chalicelib.storage.paging import PageRequest
from chalicelib.web import errors


def _cursor_key() -> bytes:
    return hmac.new(tokens.signing_key(), b"chirp-cursor-v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(values: list) -> str:
    payload = _b64(json.dumps(values, separators=(",", ":")).encode())
    signature = _b64(hmac.new(_cursor_key(), payload.encode(), hashlib.sha256).digest()[:16])
    return f"{payload}.{signature}"


def _verified(cursor: str, scope: str, size: int) -> list:
    """The values a cursor of `scope` carries (`size` of them, the scope
    first); anything else is a 400."""
    invalid = errors.bad_request("`cursor` is not valid for this list.", "invalid_cursor")
    try:
        payload, signature = cursor.split(".")
        expected = _b64(hmac.new(_cursor_key(), payload.encode(), hashlib.sha256).digest()[:16])
        if not hmac.compare_digest(signature, expected):
            raise invalid
        values = json.loads(_unb64(payload))
    except errors.ApiError:
        raise
    except (ValueError, TypeError, UnicodeError):
        raise invalid from None
    if not isinstance(values, list) or len(values) != size or values[0] != scope:
        raise invalid
    return values


def encode_cursor(scope: str, max_id: int, since_id: int | None) -> str:
    return _sign([scope, str(max_id), since_id and str(since_id)])


def decode_cursor(cursor: str, scope: str) -> tuple[int, int | None]:
    _, max_id, since_id = _verified(cursor, scope, 3)
    return int(max_id), (int(since_id) if since_id else None)


def _limit(params: dict) -> int:
    limit_text = params.get("limit")
    if limit_text is None:
        return settings.PAGE_DEFAULT
    valid = limit_text.isascii() and limit_text.isdigit() and 1 <= int(limit_text) <= settings.PAGE_MAX
    if not valid:
        raise errors.bad_request(f"`limit` must be an integer from 1 to {settings.PAGE_MAX}.")
    return int(limit_text)


def page_request(params: dict | None, scope: str, bounds: bool = True) -> PageRequest:
    """Parses a list's query parameters; `scope` names the list for cursors.
    Lists that are not ordered by item id (users lists) take no `max_id` or
    `since_id`: only `cursor`."""
    params = params or {}
    limit = _limit(params)
    if not bounds:
        for name in ("max_id", "since_id"):
            if params.get(name) is not None:
                raise errors.bad_request(f"This list takes `cursor`, not `{name}`.")
    max_id, since_id = _bounds(params)
    cursor = params.get("cursor")
    if cursor is not None:  # the cursor's range, narrowed by the bounds sent with it
        after_max, after_since = decode_cursor(cursor, scope)
        max_id = after_max if max_id is None else min(max_id, after_max)
        since_id = after_since if since_id is None else max(since_id, after_since or 0)
    return PageRequest(limit, max_id, since_id)


def _bounds(params: dict) -> tuple[int | None, int | None]:
    """`max_id` and `since_id`, if sent: exclusive bounds on the items' ids."""
    given: dict[str, int | None] = {}
    for name in ("max_id", "since_id"):
        value = params.get(name)
        given[name] = None if value is None else parse_id(value)
        if value is not None and given[name] is None:
            raise errors.bad_request(f"`{name}` must be an id.")
    return given["max_id"], given["since_id"]


def page(items: list[dict], request: PageRequest, scope: str, more: bool, last_key: int | None) -> dict:
    """A list response. `more` says whether older items exist past this page;
    `last_key` is the sort key of the page's last item, where the next page
    starts (exclusive)."""
    next_cursor = encode_cursor(scope, last_key, request.since_id) if more and last_key else None
    return {
        "data": items,
        "meta": {
            "next_cursor": next_cursor,
            "newest_id": items[0]["id"] if items else None,
            "oldest_id": items[-1]["id"] if items else None,
        },
    }


# --- ranked lists -------------------------------------------------------------
# A ranked list is not ordered by id: its cursor names the snapshot its first
# page kept and the next place in it (chalicelib.home.ranked).

def is_ranked(params: dict | None) -> bool:
    """`ranked=1` (or true) asks for the interesting-first order; 0, false or
    nothing for the chronological one."""
    value = (params or {}).get("ranked")
    if value is None or value in ("0", "false"):
        return False
    if value in ("1", "true"):
        return True
    raise errors.bad_request("`ranked` must be 1 or 0 (true or false).")


@dataclass(frozen=True)
class RankedRequest:
    limit: int
    snapshot_id: int | None  # None: a first page (a new snapshot)
    offset: int
    bounds: PageRequest  # max_id and since_id, if sent: only tweets between them are shown


def ranked_request(params: dict | None, scope: str) -> RankedRequest:
    """A ranked list is not in id order, so its cursor is a place in a
    snapshot; `max_id` and `since_id` only narrow which tweets it shows."""
    params = params or {}
    limit, cursor = _limit(params), params.get("cursor")
    bounds = PageRequest(limit, *_bounds(params))
    if cursor is None:
        return RankedRequest(limit, None, 0, bounds)
    _, _, snapshot_id, offset = _verified(cursor, scope, 4)
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise errors.bad_request("`cursor` is not valid for this list.", "invalid_cursor")
    return RankedRequest(limit, int(snapshot_id), offset, bounds)


def ranked_page(items: list[dict], scope: str, snapshot_id: int | None, offset: int,
                expires_at: float | None) -> dict:
    """A ranked list response: `items` best first; a next cursor while the
    snapshot holds more places."""
    # Four values (an id cursor has three), so neither kind passes for the other.
    next_cursor = _sign([scope, "ranked", str(snapshot_id), offset]) if snapshot_id is not None else None
    ids = [int(item["id"]) for item in items]
    return {
        "data": items,
        "meta": {
            "next_cursor": next_cursor,
            "newest_id": str(max(ids)) if ids else None,
            "oldest_id": str(min(ids)) if ids else None,
            "ranked": True,
            "snapshot_expires_at": (datetime.fromtimestamp(expires_at, UTC).isoformat(timespec="seconds")
                                    .replace("+00:00", "Z") if expires_at is not None else None),
        },
    }
