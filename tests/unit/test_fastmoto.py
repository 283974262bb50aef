"""bench.fastmoto's transaction backups: only the named items are copied,
and a cancelled transaction still leaves every item as it was."""
import json
import os
import subprocess
import sys
from pathlib import Path

from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

from bench import fastmoto

ROOT = Path(__file__).resolve().parents[2]


def _table(range_key: bool) -> Table:
    schema = [{"AttributeName": "id", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "id", "AttributeType": "S"}]
    if range_key:
        schema.append({"AttributeName": "at", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "at", "AttributeType": "N"})
    table = Table("t", account_id="123456789012", region="us-east-1", schema=schema, attr=attributes)
    for i in range(5):
        attrs = {"id": {"S": f"u{i}"}, "n": {"N": str(i)}, **({"at": {"N": "1"}} if range_key else {})}
        table.put_item(attrs)
    return table


def _item(table: Table, hash_value: str) -> Item:
    held = table.items[DynamoType({"S": hash_value})]
    return held[DynamoType({"N": "1"})] if table.range_key_attr else held


def test_a_backup_copies_the_named_items_and_shares_the_rest():
    for range_key in (False, True):
        table = _table(range_key)
        key = {"id": {"S": "u2"}, **({"at": {"N": "1"}} if range_key else {})}
        absent, malformed = {"id": {"S": "nobody"}, "at": {"N": "1"}}, {"other": {"S": "x"}}
        clone = fastmoto.backup(table, [key, absent, malformed])
        assert clone is not table and clone.items is not table.items
        assert _item(clone, "u1") is _item(table, "u1")
        assert _item(clone, "u2") is not _item(table, "u2")
        assert _item(clone, "u2").to_json() == _item(table, "u2").to_json()
        assert sorted(clone.items) == sorted(table.items)
        table.delete_item(DynamoType({"S": "u3"}), DynamoType({"N": "1"}) if range_key else None)
        assert DynamoType({"S": "u3"}) in clone.items  # the backup's maps are its own


SCRIPT = """
import json
import boto3
from moto import mock_aws
from bench import fastmoto

fastmoto.install()
with mock_aws():
    db = boto3.client("dynamodb", region_name="us-east-1")
    db.create_table(TableName="t", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST")
    for i in range(3):
        db.put_item(TableName="t", Item={"id": {"S": f"u{i}"}, "n": {"N": "1"}})
    bump = {"Update": {"TableName": "t", "Key": {"id": {"S": "u0"}}, "UpdateExpression": "ADD n :one",
                       "ExpressionAttributeValues": {":one": {"N": "1"}}}}
    fail = {"ConditionCheck": {"TableName": "t", "Key": {"id": {"S": "u1"}},
                               "ConditionExpression": "attribute_not_exists(id)"}}
    new = {"Put": {"TableName": "t", "Item": {"id": {"S": "u9"}}}}
    try:
        db.transact_write_items(TransactItems=[bump, new, fail])
        cancelled = False
    except db.exceptions.TransactionCanceledException:
        cancelled = True
    after_cancel = {i["id"]["S"]: i.get("n", {}).get("N") for i in db.scan(TableName="t")["Items"]}
    db.transact_write_items(TransactItems=[bump, new])
    after_commit = {i["id"]["S"]: i.get("n", {}).get("N") for i in db.scan(TableName="t")["Items"]}
print(json.dumps({"cancelled": cancelled, "after_cancel": after_cancel, "after_commit": after_commit}))
"""


def test_a_cancelled_transaction_leaves_every_item_as_it_was_and_a_committed_one_applies():
    """In a fresh interpreter: install() patches moto for the whole process."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "PYTHONPATH": str(ROOT)}
    env.pop("AWS_ENDPOINT_URL", None)
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["cancelled"]
    assert result["after_cancel"] == {"u0": "1", "u1": "1", "u2": "1"}
    assert result["after_commit"] == {"u0": "2", "u1": "1", "u2": "1", "u9": None}
