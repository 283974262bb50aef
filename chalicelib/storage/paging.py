"""A page of a list stored newest first: how many items, and the exclusive
id bounds it lies between. The HTTP edge (chalicelib.web.pages) parses one
from query parameters; the domain turns it into a sort-key condition here."""
from dataclasses import dataclass


@dataclass(frozen=True)
class PageRequest:
    limit: int
    max_id: int | None = None  # exclusive upper bound
    since_id: int | None = None  # exclusive lower bound


EMPTY = object()  # a range that holds nothing: skip the query


def range_condition(attribute, request: PageRequest):
    """The sort-key condition for a page's exclusive bounds: None for no
    bounds, EMPTY when the bounds leave no room."""
    low, high = request.since_id, request.max_id
    if low is not None and high is not None:
        return EMPTY if low + 1 > high - 1 else attribute.between(low + 1, high - 1)
    if high is not None:
        return attribute < high
    if low is not None:
        return attribute > low
    return None
