"""Counting the DynamoDB calls one piece of work makes, for its metric (a
home page's calls: chalicelib.home.feed).

Calls are counted by a botocore hook on the clients the work goes through:
each PynamoDB model has its own client, and batches and transactions share
one more (chalicelib.storage.tables.client). The hook is registered once
per client and counts only for the thread inside `counting`: the local
stack serves requests and pumps events in threads of one process.

Only the models named are hooked: making a client costs ~75 ms, so hooking
all thirteen would add a second to a cold container's first read.
"""
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.storage import tables

_local = threading.local()
_HOOK = "chirp-call-counter"


def clients(models: Iterable[Any]) -> list[Any]:
    """The botocore clients behind `models` and the shared one, each once
    (made now if they were not)."""
    found = {}
    for client in [m._get_connection().connection.client for m in models] + [tables.client()]:
        found[id(client)] = client
    return list(found.values())


def _count(model, **_) -> None:
    counts: Counter[str] | None = getattr(_local, "counts", None)
    if counts is not None:
        counts[model.name] += 1


@contextmanager
def counting(models: Iterable[Any]) -> Iterator[Counter[str]]:
    """Operation name -> calls this thread made through `models` (and the
    shared client) inside the block."""
    for client in clients(models):
        client.meta.events.register("before-call.dynamodb", _count, unique_id=_HOOK)  # once per client
    outer: Counter[str] | None = getattr(_local, "counts", None)
    counts: Counter[str] = Counter()
    _local.counts = counts
    try:
        yield counts
    finally:
        _local.counts = outer
        if outer is not None:
            outer.update(counts)
