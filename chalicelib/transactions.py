"""Running a DynamoDB transaction and telling which of its conditions failed."""
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.tables import connection


class ConditionsFailed(Exception):
    """Some of a transaction's conditions failed: `failed` holds the indexes
    (in the order the items were added) of the ones that did."""

    def __init__(self, failed: set[int]):
        super().__init__(f"transaction conditions failed at {sorted(failed)}")
        self.failed = failed


def transact_write(build) -> None:
    """Calls `build(transaction)` to add items, then commits all or nothing."""
    try:
        with TransactWrite(connection=connection()) as transaction:
            build(transaction)
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        failed = {i for i, reason in enumerate(reasons)
                  if reason is not None and reason.code == "ConditionalCheckFailed"}
        if exc.cause_response_code == "TransactionCanceledException" and failed:
            raise ConditionsFailed(failed) from None
        raise
