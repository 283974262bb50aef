"""Who is active: signed up or made an authenticated request within
ACTIVE_DAYS. Fan-out skips everyone else, and a user coming back after
longer gets their home timeline populated (chalicelib.home.feed).

Recording costs at most one write per user per day: the day is kept on the
user item and only ever moved forward by a conditional update, and each
container remembers whom it has already marked today.
"""
import time
from typing import cast

from chalicelib import settings
from chalicelib.storage import batches, tables
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
    """Records the user as active today; True if today's mark found them away
    longer than ACTIVE_DAYS, so fan-out skipped them and their timeline needs
    populating (chalicelib.home.feed.populate, which runs once a day).

    The mark also keeps the day it replaced, so "back today" is known to
    every container, and to this one when its own write landed behind a lost
    answer (the SDK's retry then finds the condition false): the failed
    condition returns the item as it is, at no extra call. A returning user
    is remembered here only once `remember` says the populate is done."""
    day = today()
    if _marked_today.get(user_id) == day:
        return False
    client = tables.client()
    try:
        old = client.update_item(
            TableName=UserModel.Meta.table_name, Key={"id": {"N": str(user_id)}},
            UpdateExpression="SET previous_active_day = if_not_exists(last_active_day, :day), "
                             "last_active_day = :day",
            ConditionExpression="attribute_exists(id) AND "
                                "(attribute_not_exists(last_active_day) OR last_active_day < :day)",
            ExpressionAttributeValues={":day": {"N": str(day)}},
            ReturnValues="UPDATED_OLD", ReturnValuesOnConditionCheckFailure="ALL_OLD")
        previous = old.get("Attributes", {}).get("last_active_day", {}).get("N")
    except client.exceptions.ConditionalCheckFailedException as exc:
        item = cast(dict, exc.response.get("Item") or {})  # none: no such user
        marked_today = item.get("last_active_day", {}).get("N") == str(day)
        previous = item.get("previous_active_day", {}).get("N") if marked_today else None
    returned = previous is not None and not is_active(int(previous), day)
    if not returned:
        remember(user_id)
    return returned


def remember(user_id: int) -> None:
    """This container need not mark the user again today."""
    _marked_today[user_id] = today()
