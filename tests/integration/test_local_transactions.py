"""The local stack's moto answers transactions as DynamoDB does: the same
ClientRequestToken within ten minutes is the same transaction, applied once
(devstack.stack._transactions_are_idempotent), and a cancelled one leaves
no trace, in the tables or their streams, at the cost of the items it names
(devstack.stack._cancelled_transactions_undo_only_their_writes)."""
import itertools
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from chalicelib import settings
from chaos.faults import WireFaults
from tests import profiles


def _put(token: str, text: str) -> dict:
    return {"TransactItems": [{"Put": {"TableName": settings.TABLE_NAMES["tweets"],
                                       "Item": {"id": {"N": "7"}, "text": {"S": text}},
                                       "ConditionExpression": "attribute_not_exists(id)"}}],
            "ClientRequestToken": token}


def test_a_repeated_token_succeeds_without_applying_again_and_other_items_are_refused():
    client, token = boto3.client("dynamodb"), str(uuid.uuid4())
    client.transact_write_items(**_put(token, "first"))
    client.transact_write_items(**_put(token, "first"))  # its condition is false now; the token answers
    with pytest.raises(ClientError) as refused:
        client.transact_write_items(**_put(token, "other"))
    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(**_put(str(uuid.uuid4()), "first"))  # a new transaction
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    item = client.get_item(TableName=settings.TABLE_NAMES["tweets"], Key={"id": {"N": "7"}})["Item"]
    assert item["text"] == {"S": "first"}


def test_a_delete_that_landed_behind_a_500_answers_as_done(api, make_user, make_tweet, no_backoff):
    """The SDK's retry repeats the transaction with its token: 204, as on
    AWS, not the 404 a retry that found its own condition false would give."""
    _, token = make_user("ada")
    tweet = make_tweet(token, "short-lived")["id"]
    with WireFaults() as faults:
        faults.fail("TransactWriteItems", times=1, kind="write-then-500")
        reply = api.delete(f"/tweets/{tweet}", token=token)
    assert faults.injected == {"write-then-500": 1}
    assert reply.status == 204, reply.json
    assert api.get(f"/tweets/{tweet}").status == 404
    assert api.get("/users/ada").json["tweets_count"] == 0


# --- a cancelled transaction (devstack.stack._cancelled_transactions_undo_only_their_writes) ---

TWEETS, FOLLOWS = settings.TABLE_NAMES["tweets"], settings.TABLE_NAMES["follows"]
_examples = itertools.count()


def _key(table: str, base: int, k: int) -> dict:
    if table == TWEETS:
        return {"id": {"N": str(base + k)}}
    return {"follower_id": {"N": str(base + k)}, "followee_id": {"N": "1"}}


def _op(table: str, base: int, step: tuple) -> dict:
    kind, k, passes = step
    key = _key(table, base, k)
    exists = {"ConditionExpression": f"attribute_exists({next(iter(key))})" if passes
              else "attribute_exists(nothing_has_this)"}
    if kind == "put":
        return {"Put": {"TableName": table, "Item": {**key, "n": {"N": "100"}},
                        **({} if passes else exists)}}
    if kind == "add":
        return {"Update": {"TableName": table, "Key": key, "UpdateExpression": "ADD n :one",
                           "ExpressionAttributeValues": {":one": {"N": "1"}},
                           **({} if passes else exists)}}
    if kind == "delete":
        return {"Delete": {"TableName": table, "Key": key, **({} if passes else exists)}}
    return {"ConditionCheck": {"TableName": table, "Key": key,
                               "ConditionExpression": "attribute_not_exists(nothing_has_this)" if passes
                               else "attribute_exists(nothing_has_this)"}}


def _apply(model: dict, table: str, step: tuple) -> None:
    kind, k, _ = step
    if kind == "put":
        model[(table, k)] = 100
    elif kind == "add":
        model[(table, k)] = model.get((table, k), 0) + 1
    elif kind == "delete":
        model.pop((table, k), None)


_step = st.tuples(st.sampled_from(["put", "add", "delete", "check"]), st.integers(0, 3),
                  st.booleans())
_transaction = st.lists(st.tuples(st.sampled_from([TWEETS, FOLLOWS]), _step), min_size=1, max_size=5,
                        unique_by=lambda op: (op[0], op[1][1]))


@settings_(max_examples=profiles.examples(20), deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_transaction, min_size=1, max_size=6))
def test_a_cancelled_transaction_leaves_every_item_and_stream_as_they_were(transactions):
    """Against a model: a transaction with a false condition anywhere changes
    no item and adds no stream record, wherever in it the false condition
    is and whatever it wrote first; one with none applies every write. The
    tables are never swapped for copies (what made a transaction cost as
    much as the data written so far)."""
    from moto.dynamodb.models import dynamodb_backends

    client = boto3.client("dynamodb")
    base = 1000 * next(_examples)  # each example its own keys: the tables outlive an example
    backend = dynamodb_backends[next(iter(dynamodb_backends))][settings.REGION]
    tables = {name: backend.tables[name] for name in (TWEETS, FOLLOWS)}
    model: dict = {}

    def stream_lengths() -> dict:  # the records each table's stream holds (moto's, read in process)
        return {name: len(table.stream_shard.items) for name, table in tables.items()}

    for transaction in transactions:
        lengths = stream_lengths()
        request = [_op(table, base, step) for table, step in transaction]
        if all(passes for _, (_, _, passes) in transaction):
            client.transact_write_items(TransactItems=request)
            for table, step in transaction:
                _apply(model, table, step)
        else:
            with pytest.raises(client.exceptions.TransactionCanceledException):
                client.transact_write_items(TransactItems=request)
            assert stream_lengths() == lengths
        found = {}
        for table in tables:
            for k in range(4):
                item = client.get_item(TableName=table, Key=_key(table, base, k), ConsistentRead=True)
                if "Item" in item:
                    found[(table, k)] = int(item["Item"].get("n", {"N": "0"})["N"])
        assert found == model
    assert all(backend.tables[name] is table for name, table in tables.items())
