"""The local stack's moto answers a repeated transaction as DynamoDB does
(devstack.stack._transactions_are_idempotent): the same ClientRequestToken
within ten minutes is the same transaction, applied once."""
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib import settings
from chaos.faults import WireFaults


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
