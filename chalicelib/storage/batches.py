"""BatchWriteItem and BatchGetItem at DynamoDB's limits, retrying what
DynamoDB leaves unprocessed with jittered exponential backoff.

PynamoDB's own batch helpers hide the call count and their retry policy;
fan-out is where Chirp's bill is, so here each call is explicit.
"""
import random
import time
from collections.abc import Iterable, Set
from typing import NamedTuple

from chalicelib import settings
from chalicelib.storage.tables import client as _client


class UnprocessedItems(Exception):
    """DynamoDB kept refusing part of a batch; the caller's retry (the
    stream or queue redelivering the record) takes it from here."""


def put_request(item) -> dict:
    return {"PutRequest": {"Item": item.serialize()}}


def delete_request(model_class, hash_key, range_key=None) -> dict:
    key = {model_class._hash_key_attribute().attr_name: {"N": str(hash_key)}}
    if range_key is not None:
        key[model_class._range_key_attribute().attr_name] = {"N": str(range_key)}
    return {"DeleteRequest": {"Key": key}}


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, settings.BATCH_BACKOFF_SECONDS * 2 ** attempt))  # noqa: S311


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Written(NamedTuple):
    calls: int  # BatchWriteItem calls, retries of unprocessed items included
    retries: int  # of those, the calls that re-sent unprocessed items


def write(table_name: str, requests: list[dict]) -> Written:
    """Writes `requests` (put_request / delete_request) in BatchWriteItem
    calls of at most 25, each retried until DynamoDB has processed it all."""
    client = _client()
    calls = retries = 0
    for chunk in _chunks(requests, settings.BATCH_WRITE_MAX):
        pending = {table_name: chunk}
        for attempt in range(settings.BATCH_WRITE_ATTEMPTS):
            calls, retries = calls + 1, retries + (attempt > 0)
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                break
            _backoff(attempt)
        else:
            raise UnprocessedItems(f"{sum(len(v) for v in pending.values())} items left in {table_name}")
    return Written(calls, retries)


def get(keys_by_table: dict[str, list[dict]], projections: dict[str, str] | None = None,
        consistent: Set[str] = frozenset()) -> dict[str, list[dict]]:
    """Raw items for `keys_by_table` ({table: [key, ...]}), in BatchGetItem
    calls of at most 100 keys across tables; missing items are just absent.
    Tables named in `consistent` are read with strong consistency."""
    client = _client()
    wanted = [(table, key) for table, keys in keys_by_table.items() for key in keys]
    found: dict[str, list[dict]] = {table: [] for table in keys_by_table}
    for chunk in _chunks(wanted, settings.BATCH_GET_MAX):
        pending: dict = {}
        for table, key in chunk:
            request = pending.setdefault(table, {"Keys": []})
            request["Keys"].append(key)
            if projections and table in projections:
                request["ProjectionExpression"] = projections[table]
            if table in consistent:
                request["ConsistentRead"] = True
        for attempt in range(settings.BATCH_WRITE_ATTEMPTS):
            response = client.batch_get_item(RequestItems=pending)
            for table, items in response.get("Responses", {}).items():
                found[table].extend(items)
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
            _backoff(attempt)
        else:
            raise UnprocessedItems("BatchGetItem kept leaving keys unprocessed")
    return found


def number_key(name: str, value: int) -> dict:
    return {name: {"N": str(value)}}
