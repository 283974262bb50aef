"""Counting DynamoDB calls made by chalicelib, through botocore event hooks.

Calls are deterministic and they are the bill, so tests assert on them and
benchmarks report them (wall-clock time on moto says little about AWS).
"""
import threading
from collections import Counter

from chalicelib.storage import calls, tables


def dynamodb_clients():
    """Every botocore client chalicelib talks to DynamoDB through: one per
    PynamoDB model, and the one batches and transactions run on."""
    return calls.clients(tables.ALL_MODELS)


class DynamoDBCalls:
    """Context manager: `calls.counts` maps operation name -> calls made."""

    def __init__(self):
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._clients = []

    def _count(self, model, **_):
        with self._lock:
            self.counts[model.name] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __enter__(self) -> "DynamoDBCalls":
        self._clients = dynamodb_clients()
        for client in self._clients:
            client.meta.events.register("before-call.dynamodb", self._count)
        return self

    def __exit__(self, *exc) -> None:
        for client in self._clients:
            client.meta.events.unregister("before-call.dynamodb", self._count)
