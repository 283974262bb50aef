"""Makes the embedded moto answer a Query without scanning the whole table.

moto finds a Query's items by walking every item of the table, for the
base table and for indexes alike, so on a graph of a few hundred thousand
follows each fan-out page's Query costs a second of Python. DynamoDB reads
one partition. This hands moto's own Query code only the items of the
partition asked for (by key for the base table, and from a per-index map
rebuilt after any write for indexes), so it returns exactly what it did,
in the same order, only sooner.

(A cancelled transaction's rollback is made cheap for every embedded moto,
the tests' included: devstack.stack.)

Benchmark only: calls and capacity units do not depend on it; wall-clock
times (the fan-out lag, handler seconds) do.
"""
import inspect
from collections import defaultdict

from moto.dynamodb.models.table import Table

# id(table) -> (table, {index name: {hash value: [items]}}), kept outside the
# table; a table moto replaces (a restored backup) is told apart by identity.
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
    _installed = True


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
