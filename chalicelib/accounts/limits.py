"""Per-user write limits: how many tweets, follows, likes and password
changes a user may make per minute and per UTC day (settings.WRITE_LIMITS).

Each limit is a fixed window: one counter item per user, action and window
(LimitModel), moved by one conditional ADD that refuses once the count has
reached the limit, and dropped by TTL after the window. `spend` costs two
UpdateItems (2 write units) and no read. The minute is spent before the
day: a request the minute refuses spends nothing else, and one the day
refuses has spent a minute's unit of a user who cannot write again before
the day ends anyway.

Counted are requests that passed validation, not the writes they made: an
idempotent replay of a tweet or a second like of the same tweet count
too. A counter update whose answer was lost, retried by the SDK, counts
twice. All of these err towards refusing, by a unit.

A fixed window lets up to twice a limit through around a window's edge
(the end of one minute and the start of the next): the price of one write
per window instead of a log of every request.
"""
import logging
import math
import time
from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from chalicelib import errors, settings
from chalicelib.observe import metrics
from chalicelib.storage.tables import LimitModel

_log = logging.getLogger("chirp.limits")

LABELS = {"tweets": "tweets (retweets and replies included)", "follows": "follows", "likes": "likes",
          "password_changes": "password changes"}


def spend(user_id: int, action: str, now: float | None = None) -> None:
    """Counts one `action` of the user's; TooMany (429) with the seconds
    until the refusing window ends when a limit is used up."""
    now = time.time() if now is None else now
    for span, seconds in settings.LIMIT_WINDOWS.items():
        limit = settings.WRITE_LIMITS[action][span]
        window = int(now // seconds)
        ends = (window + 1) * seconds
        if not _take(f"{user_id}:{action}:{span}:{window}", limit, ends):
            wait = max(1, math.ceil(ends - now))
            metrics.count_by("WritesLimited", "action", action)  # many: a script, or limits set too low
            _log.info("write limit reached", extra={"action": action, "span": span, "retry_after": wait})
            raise errors.TooMany(f"At most {limit} {LABELS[action]} a {span}; try again in {wait} seconds.",
                                 retry_after=wait)


def _take(window_key: str, limit: int, ends: int) -> bool:
    """One unit of the window's count, if any is left."""
    try:
        LimitModel(window_key=window_key).update(
            actions=[LimitModel.spent.add(1), LimitModel.expires_at.set(datetime.fromtimestamp(ends, UTC))],
            condition=LimitModel.spent.does_not_exist() | (LimitModel.spent < limit))
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True
