"""DynamoDB calls and capacity units, metered at the client.

moto does not report consumed capacity, so units are computed by
DynamoDB's rules from item sizes:
- an item's size is the sum of its attribute names' and values' sizes
  (strings in UTF-8 bytes, numbers about one byte per two digits plus one);
- a read costs ceil(size / 4 KB) units, half that when eventually
  consistent; a Query sums the sizes of the items it reads before rounding;
- a write costs ceil(size / 1 KB) units, plus one unit per secondary index
  the item is in (the indexes' projected items are small here); a delete
  costs what the deleted item weighed;
- transactional reads and writes cost twice as much.

A Query or BatchGetItem that asks for only some attributes still pays for
whole items, so sizes are looked up from the items this meter has seen
written (falling back to what came back).
"""
import math
import threading
import time
from collections import Counter
from decimal import Decimal

from chalicelib.storage import tables

READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024


def value_size(value: dict) -> int:
    """The size DynamoDB charges for one attribute value (DynamoDB JSON)."""
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        digits = Decimal(inner).normalize().as_tuple().digits
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(value_size({"N": n}) for n in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return units if consistent else units / 2


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


class _Schema:
    """Key and index attributes per table, from the PynamoDB models."""

    def __init__(self):
        self.keys: dict[str, tuple[str, ...]] = {}
        self.indexes: dict[str, list[tuple[str, ...]]] = {}
        for model in tables.ALL_MODELS:
            schema = model._get_schema()
            name = model.Meta.table_name
            self.keys[name] = tuple(k["AttributeName"] for k in schema["key_schema"])
            self.indexes[name] = [tuple(k["AttributeName"] for k in index["key_schema"])
                                  for index in [*schema["global_secondary_indexes"],
                                                *schema["local_secondary_indexes"]]]

    def key_of(self, table: str, item: dict) -> tuple:
        return tuple(str(item[k]) for k in self.keys[table] if k in item)

    def index_count(self, table: str, item: dict) -> int:
        return sum(all(k in item for k in index) for index in self.indexes.get(table, []))


class CapacityMeter:
    """Counts calls, read units and write units of every DynamoDB call
    chalicelib makes while installed (`with CapacityMeter() as meter`), and
    when each table was last written (`last_write`, monotonic seconds)."""

    def __init__(self):
        self.schema = _Schema()
        self.sizes: dict[tuple, int] = {}  # (table, key) -> full item size, from writes seen
        self.indexed: dict[tuple, int] = {}  # (table, key) -> how many indexes hold the item
        self.calls: Counter[str] = Counter()
        self.read_units = 0.0
        self.write_units = 0.0
        self.last_write: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clients = []
        self._params = threading.local()

    # --- windows ------------------------------------------------------------

    def snapshot(self) -> tuple[int, float, float]:
        with self._lock:
            return sum(self.calls.values()), self.read_units, self.write_units

    def mean_item_bytes(self, table: str) -> float:
        """The mean size of the items seen written to `table` (and not deleted)."""
        sizes = [size for (name, _), size in self.sizes.items() if name == table]
        return sum(sizes) / len(sizes) if sizes else 0.0

    # --- hooks --------------------------------------------------------------

    def __enter__(self) -> "CapacityMeter":
        from devstack.metering import dynamodb_clients

        self._clients = dynamodb_clients()
        for client in self._clients:
            client.meta.events.register("before-parameter-build.dynamodb", self._before)
            client.meta.events.register("after-call.dynamodb", self._after)
        return self

    def __exit__(self, *exc) -> None:
        for client in self._clients:
            client.meta.events.unregister("before-parameter-build.dynamodb", self._before)
            client.meta.events.unregister("after-call.dynamodb", self._after)

    def _before(self, model, params, **_):
        self._params.value = (model.name, params)

    def _after(self, model, parsed, **_):
        name, params = self._params.value
        reads, writes, written = self._units(name, params, parsed)
        with self._lock:
            self.calls[name] += 1
            self.read_units += reads
            self.write_units += writes
            now = time.monotonic()
            for table in written:
                self.last_write[table] = now

    # --- the rules ------------------------------------------------------------

    def _full_size(self, table: str, item: dict) -> int:
        return self.sizes.get((table, self.schema.key_of(table, item)), item_size(item))

    def _put(self, table: str, item: dict) -> int:
        """Units of one put, remembering the item's size."""
        ref = (table, self.schema.key_of(table, item))
        self.sizes[ref], self.indexed[ref] = item_size(item), self.schema.index_count(table, item)
        return write_units(self.sizes[ref]) + self.indexed[ref]

    def _delete(self, table: str, key: dict) -> int:
        """Units of one delete, forgetting the item's size."""
        ref = (table, self.schema.key_of(table, key))
        # the item's index entries are deleted with it
        return write_units(self.sizes.pop(ref, item_size(key))) + self.indexed.pop(ref, 0)

    def _units(self, name: str, params: dict, parsed: dict) -> tuple[float, float, set[str]]:
        body = params
        if name == "GetItem":
            item = parsed.get("Item")
            size = self._full_size(body["TableName"], item) if item else 1
            return read_units(size, bool(body.get("ConsistentRead"))), 0, set()
        if name == "BatchGetItem":
            total = 0.0
            for table, items in parsed.get("Responses", {}).items():
                consistent = bool(body["RequestItems"][table].get("ConsistentRead"))
                total += sum(read_units(self._full_size(table, i), consistent) for i in items)
            return total, 0, set()
        if name in ("Query", "Scan"):
            table = body["TableName"]
            size = sum(self._full_size(table, i) for i in parsed.get("Items", []))
            return read_units(size, bool(body.get("ConsistentRead"))), 0, set()
        if name == "PutItem":
            table = body["TableName"]
            return 0, self._put(table, body["Item"]), {table}
        if name == "DeleteItem":
            table = body["TableName"]
            return 0, self._delete(table, body["Key"]), {table}
        if name == "UpdateItem":
            table = body["TableName"]
            size = self.sizes.get((table, self.schema.key_of(table, body["Key"])), item_size(body["Key"]))
            return 0, write_units(size), {table}
        if name == "BatchWriteItem":
            units = 0
            for table, requests in body["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        item = request["PutRequest"]["Item"]
                        units += self._put(table, item)
                    else:
                        units += self._delete(table, request["DeleteRequest"]["Key"])
            return 0, units, set(body["RequestItems"])
        if name == "TransactWriteItems":
            units, written = 0, set()
            for entry in body["TransactItems"]:
                kind, op = next(iter(entry.items()))
                table = op["TableName"]
                written.add(table)
                if kind == "Put":
                    units += 2 * self._put(table, op["Item"])
                elif kind == "Delete":
                    units += 2 * self._delete(table, op["Key"])
                else:  # Update, ConditionCheck
                    size = self.sizes.get((table, self.schema.key_of(table, op["Key"])), item_size(op["Key"]))
                    units += 2 * write_units(size)
            return 0, units, written
        return 0, 0, set()
