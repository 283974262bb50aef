"""Conditional updates that know whose they are.

A conditional UpdateItem that DynamoDB applied but whose answer was lost (a
500, a dropped connection) is retried by the SDK, finds its own condition
false, and looks exactly like someone else's update. A move here writes a
fresh id into a marker attribute with its actions, so the caller can tell
its own landed move from another's: one consistent GetItem, only when the
condition failed. A move that must be followed by another step (sending a
job) is taken back with `undo` if that step fails, so a retry can start
afresh instead of finding the move done and the step never taken.
"""
from pynamodb.attributes import Attribute
from pynamodb.exceptions import UpdateError
from pynamodb.models import Model

from chalicelib.storage.ids import new_id


def update_if_exists(model: type[Model], key, actions, condition=None) -> bool:
    """An UpdateItem that never creates an item; False if the condition (or
    the item's existence) did not hold."""
    exists = model._hash_key_attribute().exists()
    condition = exists & condition if condition is not None else exists
    try:
        model(key).update(actions=actions, condition=condition)
        return True
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise


def move(model: type[Model], key, marker: Attribute, actions, condition) -> int | None:
    """Applies `actions` if `condition` holds, marking the item with a fresh
    id; returns that id if this move is in place (now, or earlier behind an
    error), None if the condition failed for someone else's reason."""
    mark = new_id()
    if update_if_exists(model, key, [*actions, marker.set(mark)], condition):
        return mark
    try:
        item = model.get(key, consistent_read=True, attributes_to_get=[marker.attr_name])
    except model.DoesNotExist:
        return None
    found = getattr(item, marker.attr_name)
    return mark if found is not None and int(found) == mark else None


def undo(model: type[Model], key, marker: Attribute, mark: int, actions) -> None:
    """Takes back the move that wrote `mark`, unless another has replaced it."""
    update_if_exists(model, key, actions, marker == mark)
