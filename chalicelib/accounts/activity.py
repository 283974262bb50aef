"""Who is active: signed up or made an authenticated request within
ACTIVE_DAYS. Fan-out skips everyone else, and a user coming back after
longer gets their home timeline populated (chalicelib.home.feed).

Recording costs at most one write per user per day: the day is kept on the
user item and only ever moved forward by a conditional update, and each
container remembers whom it has already marked today.
"""
import time

from pynamodb.exceptions import UpdateError

from chalicelib import settings
from chalicelib.storage import batches
from chalicelib.storage.tables import UserModel

_marked_today: dict[int, int] = {}


def today() -> int:
    """Days since the Unix epoch (UTC)."""
    return int(time.time() // 86400)


def is_active(last_active_day: int | None, day: int | None = None) -> bool:
    """Users from before activity was recorded count as active."""
    return last_active_day is None or last_active_day >= (day or today()) - settings.ACTIVE_DAYS


def active_only(user_ids: list[int]) -> list[int]:
    """The users among `user_ids` active within ACTIVE_DAYS, in order
    (one BatchGetItem per 100 ids, reading two attributes)."""
    if not user_ids:
        return []
    table = UserModel.Meta.table_name
    found = batches.get({table: [batches.number_key("id", u) for u in user_ids]},
                        projections={table: "id, last_active_day"})[table]
    day = today()
    active = {int(u["id"]["N"]) for u in found
              if is_active(int(u["last_active_day"]["N"]) if "last_active_day" in u else None, day)}
    return [u for u in user_ids if u in active]


def mark_active(user_id: int) -> bool:
    """Records the user as active today; True if they were away longer than
    ACTIVE_DAYS (so fan-out skipped them and their timeline needs populating)."""
    day = today()
    if _marked_today.get(user_id) == day:
        return False
    connection = UserModel._get_connection()
    try:
        old = connection.update_item(
            str(user_id), actions=[UserModel.last_active_day.set(day)],
            condition=UserModel.id.exists() & (UserModel.last_active_day.does_not_exist()
                                               | (UserModel.last_active_day < day)),
            return_values="UPDATED_OLD")
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        _marked_today[user_id] = day  # already marked today (or no such user)
        return False
    _marked_today[user_id] = day
    previous = old.get("Attributes", {}).get("last_active_day", {}).get("N")
    return previous is not None and not is_active(int(previous), day)

