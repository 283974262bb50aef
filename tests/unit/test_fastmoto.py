"""bench.fastmoto answers a Query from one partition, as moto would from the
whole table, including after a transaction the stack's moto cancelled and
undid (devstack.stack) and after one it applied."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json
import boto3
from bench import fastmoto
from devstack import stack

fastmoto.install()
server, endpoint = stack.start_moto()
db = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint,
                  aws_access_key_id="x", aws_secret_access_key="x")
db.create_table(TableName="t", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"},
                                      {"AttributeName": "g", "AttributeType": "S"}],
                GlobalSecondaryIndexes=[{"IndexName": "by-g",
                                         "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                         "Projection": {"ProjectionType": "ALL"}}],
                BillingMode="PAY_PER_REQUEST")
for i in range(3):
    db.put_item(TableName="t", Item={"id": {"S": f"u{i}"}, "g": {"S": "old"}})

def in_group(value):
    found = db.query(TableName="t", IndexName="by-g", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": value}})["Items"]
    return sorted(item["id"]["S"] for item in found)

seen = {"before": in_group("old")}  # fills fastmoto's partitions
move = {"Update": {"TableName": "t", "Key": {"id": {"S": "u0"}}, "UpdateExpression": "SET g = :new",
                   "ExpressionAttributeValues": {":new": {"S": "new"}}}}
new = {"Put": {"TableName": "t", "Item": {"id": {"S": "u9"}, "g": {"S": "old"}}}}
fail = {"ConditionCheck": {"TableName": "t", "Key": {"id": {"S": "u1"}},
                           "ConditionExpression": "attribute_not_exists(id)"}}
try:
    db.transact_write_items(TransactItems=[move, new, fail])
    seen["cancelled"] = False
except db.exceptions.TransactionCanceledException:
    seen["cancelled"] = True
seen["after_cancel"] = {"old": in_group("old"), "new": in_group("new")}
db.transact_write_items(TransactItems=[move, new])
seen["after_commit"] = {"old": in_group("old"), "new": in_group("new")}
server.stop()
print(json.dumps(seen))
"""


def test_queries_see_what_a_cancelled_transaction_left_and_a_committed_one_wrote():
    """In a fresh interpreter: install() patches moto for the whole process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] == ["u0", "u1", "u2"]
    assert seen["cancelled"]
    assert seen["after_cancel"] == {"old": ["u0", "u1", "u2"], "new": []}
    assert seen["after_commit"] == {"old": ["u1", "u2", "u9"], "new": ["u0"]}
