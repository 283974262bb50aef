"""All-or-nothing writes across items and tables, with named steps so a
caller can tell which condition failed.

    transact_write({
        "tweet": save(tweet, condition=TweetModel.id.does_not_exist()),
        "author": update(UserModel(id=1), [UserModel.tweets_count.add(1)]),
    })
"""
import random
import time
import uuid

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import settings
from chalicelib.storage.tables import connection


class ConditionsFailed(Exception):
    """The transaction was cancelled; `failed` names the steps whose
    conditions did not hold."""

    def __init__(self, failed: set[str]):
        super().__init__(f"transaction conditions failed: {sorted(failed)}")
        self.failed = failed


def save(model, condition=None):
    return "save", (model,), {"condition": condition}


def update(model, actions, condition=None):
    return "update", (model,), {"actions": actions, "condition": condition}


def delete(model, condition=None):
    return "delete", (model,), {"condition": condition}


def check(model_class, hash_key, condition, range_key=None):
    return "condition_check", (model_class, hash_key), {"range_key": range_key, "condition": condition}


# PynamoDB's TransactWrite sends condition checks first, then deletes, puts
# and updates; DynamoDB's cancellation reasons come in that order, not in the
# order of `steps`.
SEND_ORDER = ("condition_check", "delete", "save", "update")

# DynamoDB cancels a transaction that races another one on the same item
# (reason "TransactionConflict") and botocore does not retry it; a cancelled
# transaction wrote nothing, so it is retried here with jittered backoff
# (settings.CONFLICT_RETRIES, CONFLICT_BACKOFF_SECONDS).


def transact_write(steps: dict) -> None:
    names = sorted(steps, key=lambda name: SEND_ORDER.index(steps[name][0]))
    for attempt in range(settings.CONFLICT_RETRIES + 1):
        try:
            # The token makes the SDK's own retries of this attempt idempotent:
            # DynamoDB answers a repeat of an applied transaction with success.
            token = str(uuid.uuid4())
            with TransactWrite(connection=connection(), client_request_token=token) as transaction:
                for method, args, kwargs in steps.values():
                    getattr(transaction, method)(*args, **kwargs)
            return
        except TransactWriteError as exc:
            reasons = exc.cancellation_reasons or []
            failed = {names[i] for i, reason in enumerate(reasons)
                      if reason is not None and reason.code == "ConditionalCheckFailed"}
            if exc.cause_response_code == "TransactionCanceledException" and failed:
                raise ConditionsFailed(failed) from None
            conflict = any(reason is not None and reason.code == "TransactionConflict" for reason in reasons)
            if not conflict or attempt == settings.CONFLICT_RETRIES:
                raise
        time.sleep(random.uniform(0, settings.CONFLICT_BACKOFF_SECONDS * 2 ** attempt))  # noqa: S311
