"""A page of a list stored newest first: how many items, and the exclusive
id bounds it lies between. The HTTP edge (chalicelib.web.pages) parses one
from query parameters; the domain turns it into a sort-key condition here."""
from dataclasses import dataclass
from typing import Any


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


def query_page(source: Any, hash_key: Any, sort_key: Any, page: PageRequest) -> tuple[list, bool]:
    """One page of `source` (a model or an index) under `hash_key`, newest
    first within the page's bounds on `sort_key`, and whether more follow:
    one Query for limit + 1 items, none when the bounds leave no room."""
    condition = range_condition(sort_key, page)
    if condition is EMPTY:
        return [], False
    items = list(source.query(hash_key, range_key_condition=condition, scan_index_forward=False,
                              limit=page.limit + 1, page_size=page.limit + 1))
    return items[: page.limit], len(items) > page.limit
