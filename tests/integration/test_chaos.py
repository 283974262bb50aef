"""Faults at the wire during a random workload, then silence: once the stack
has healed by itself (the pump drained, the redrive run), every home
timeline, user timeline, count, list and celebrity state equals the model,
and no failure queue holds anything (chaos.run; `make chaos` runs every kind
longer, with several seeds and higher fault rates).

The first tests pin the injector itself: each kind answers as AWS does, so
botocore's retries treat it as they would treat AWS's."""
import random

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib import settings
from chaos import run
from chaos.faults import KINDS, WireFaults

RATES = {"500": 0.25, "throttle": 0.25, "write-then-500": 0.25, "unprocessed": 0.5, "stream": 0.3,
         "queue": 0.3, "mix": 0.25}
OPERATIONS = 30


def client(service):
    return boto3.client(service, config=Config(retries={"mode": "standard", "total_max_attempts": 3}))


@pytest.mark.parametrize(("service", "kind", "code"), [
    ("sqs", "500", "InternalFailure"),
    ("sqs", "throttle", "RequestThrottled"),
    ("dynamodbstreams", "500", "InternalServerError"),
    ("dynamodbstreams", "throttle", "LimitExceededException"),
    ("dynamodb", "500", "InternalServerError"),
    ("dynamodb", "throttle", "ProvisionedThroughputExceededException"),
])
def test_each_fault_is_an_error_the_sdk_retries(service, kind, code, no_backoff):
    aws = client(service)
    call = {"sqs": lambda: aws.list_queues(), "dynamodbstreams": lambda: aws.list_streams(),
            "dynamodb": lambda: aws.list_tables()}[service]
    with WireFaults(clients=[aws]) as faults:
        faults.storm(kind, 1.0, random.Random(0))
        with pytest.raises(ClientError) as raised:
            call()
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == 2  # 3 tries in all
    assert faults.total == 3


def test_unprocessed_writes_part_of_a_batch_and_answers_the_rest_back():
    aws = client("dynamodb")
    table = settings.TABLE_NAMES["users"]
    puts = [{"PutRequest": {"Item": {"id": {"N": str(n)}}}} for n in range(1, 9)]
    with WireFaults(clients=[aws]) as faults:
        faults.storm("unprocessed", 1.0, random.Random(3))
        left = aws.batch_write_item(RequestItems={table: puts})["UnprocessedItems"][table]
        keys = [{"id": {"N": str(n)}} for n in range(1, 9)]
        read = aws.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": True}})
    assert 0 < len(left) < len(puts)
    written = {int(i["id"]["N"]) for i in aws.scan(TableName=table)["Items"]}
    assert written == set(range(1, 9)) - {int(p["PutRequest"]["Item"]["id"]["N"]) for p in left}
    got = {int(i["id"]["N"]) for i in read["Responses"].get(table, [])}
    back = {int(k["id"]["N"]) for k in read["UnprocessedKeys"][table]["Keys"]}
    assert back and not got & back and got | back <= written | back
    assert read["UnprocessedKeys"][table]["ConsistentRead"] is True


def test_write_then_500_lands_and_answers_500(no_backoff):
    aws = client("dynamodb")
    table = settings.TABLE_NAMES["users"]
    with WireFaults(clients=[aws]) as faults:
        faults.fail("PutItem", times=3, kind="write-then-500")
        with pytest.raises(ClientError):
            aws.put_item(TableName=table, Item={"id": {"N": "7"}})
    assert faults.injected == {"write-then-500": 3}
    assert aws.get_item(TableName=table, Key={"id": {"N": "7"}}, ConsistentRead=True)["Item"]


@pytest.mark.slow  # each kind: 30 operations and their events under faults, healing, then every read
@pytest.mark.parametrize("kind", KINDS)
def test_after_a_storm_everything_equals_the_model(kind):
    result = run.run(kind, seed=1, operations=OPERATIONS, rate=RATES[kind])
    assert result.faults > 0
    assert result.queues_empty, result.details
    assert result.clean, "\n".join(result.details)
    assert result.unexpected == 0
