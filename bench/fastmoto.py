"""Makes the embedded moto answer a Query without scanning the whole table,
and back up only what a transaction touches.

moto finds a Query's items by walking every item of the table, for the
base table and for indexes alike, so on a graph of a few hundred thousand
follows each fan-out page's Query costs a second of Python. DynamoDB reads
one partition. This hands moto's own Query code only the items of the
partition asked for (by key for the base table, and from a per-index map
rebuilt after any write for indexes), so it returns exactly what it did,
in the same order, only sooner.

moto also backs up every table a transaction names with a deep copy before
it starts, to put back if the transaction is cancelled: a post, which counts
itself on its author, copied the whole users table (half a second on 10,000
users, and handler times that grow with the table). Here the backup is a
shallow copy of the table with deep copies of just the items the
transaction names, which is all a cancelled transaction can have changed.

Benchmark only: calls and capacity units do not depend on it; wall-clock
times (the fan-out lag, handler seconds) do.
"""
import copy
import inspect
import threading
from collections import defaultdict

from moto.dynamodb import models as backends
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

# id(table) -> (table, {index name: {hash value: [items]}}). Kept outside the
# table so the copies moto makes of tables around transactions stay cheap.
_partitions: dict[int, tuple[Table, dict]] = {}
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    query, put_item, delete_item = Table.query, Table.put_item, Table.delete_item
    signature = inspect.signature(query)

    def fast_query(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        subset = _partition(self, bound.arguments)
        if subset is None:
            return query(self, *args, **kwargs)
        self.all_items = lambda: subset  # shadows the method for this one call
        try:
            return query(self, *args, **kwargs)
        finally:
            del self.all_items

    def forgetting(write):
        def wrapper(self, *args, **kwargs):
            _partitions.pop(id(self), None)
            return write(self, *args, **kwargs)
        return wrapper

    patches = {"query": fast_query, "put_item": forgetting(put_item), "delete_item": forgetting(delete_item)}
    for name, patched in patches.items():
        setattr(Table, name, patched)
    _back_up_only_what_transactions_touch()
    _installed = True


_touched = threading.local()  # the keys, by table name, of the transaction being applied


class _Copies:
    """moto's `copy` module, except for a transaction's backup of a table."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        keys = getattr(_touched, "keys", None)
        if isinstance(value, Table) and keys is not None:
            return backup(value, keys.get(value.name, []))
        return copy.deepcopy(value, memo)


def backup(table: Table, keys: list[dict]) -> Table:
    """What a cancelled transaction needs to restore `table`: the table with
    its own item maps, sharing every item but those named by `keys`, which
    are deep copies (an update changes an item in place)."""
    clone = copy.copy(table)
    clone.items = defaultdict(dict)
    for hash_value, held in table.items.items():
        clone.items[hash_value] = dict(held) if table.range_key_attr else held
    for key in keys:
        if table.hash_key_attr not in key or (table.range_key_attr and table.range_key_attr not in key):
            continue  # moto will refuse the request itself
        hash_value = DynamoType(key[table.hash_key_attr])
        if hash_value not in table.items:
            continue
        if table.range_key_attr:
            range_value = DynamoType(key[table.range_key_attr])
            if range_value in table.items[hash_value]:
                clone.items[hash_value][range_value] = copy.deepcopy(table.items[hash_value][range_value])
        else:
            clone.items[hash_value] = copy.deepcopy(table.items[hash_value])
    return clone


def _back_up_only_what_transactions_touch() -> None:
    write = DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        keys: dict[str, list[dict]] = defaultdict(list)
        for entry in transact_items:
            op = next(iter(entry.values()))
            if isinstance(op, dict) and op.get("TableName"):
                keys[op["TableName"]].append(op.get("Key") or op.get("Item") or {})
        _touched.keys = keys
        try:
            return write(self, transact_items)
        finally:
            _touched.keys = None

    backends.copy = _Copies()  # type: ignore[assignment]  # the module moto's transaction copies with
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _partition(table: Table, arguments: dict) -> list | None:
    """The items a Query can match, or None to let moto look at them all."""
    index_name = arguments.get("index_name")
    hash_key = arguments.get("hash_key")
    conditions = dict(arguments.get("hash_key_conditions") or [])
    if not index_name:
        value = conditions.get(table.hash_key_attr, hash_key)
        if value is None:
            return None
        if value not in table.items:  # a defaultdict: do not create the partition
            return []
        found = table.items[value]
        return list(found.values()) if table.range_key_attr else [found]
    indexes = {index.name: index for index in table.all_indexes()}
    hash_attrs = [k["AttributeName"] for k in indexes[index_name].schema if k["KeyType"] == "HASH"]
    if len(hash_attrs) != 1:
        return None
    value = conditions.get(hash_attrs[0], hash_key)
    if value is None:
        return None
    entry = _partitions.get(id(table))
    if entry is None or entry[0] is not table:
        entry = _partitions[id(table)] = (table, {})
    cache = entry[1]
    if index_name not in cache:
        groups = defaultdict(list)
        for item in Table.all_items(table):
            key = item.attrs.get(hash_attrs[0])
            if key is not None:
                groups[key].append(item)
        cache[index_name] = dict(groups)
    return cache[index_name].get(value, [])
