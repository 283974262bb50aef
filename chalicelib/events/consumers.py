"""Running stream and queue handlers over a Lambda batch, reporting partial
batch failures (ReportBatchItemFailures) so one bad record neither blocks
nor drops the rest of its batch (and, on the views FIFO queue, so each
message group stays in order).

Powertools' batch utility is imported by the first queue batch, not at
import: app.py's HTTP routes share this module's import but never run a
batch (README, "Cold start")."""
from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

from chalicelib.observe import logs, metrics, traces

logger = logging.getLogger("chirp.consumers")


def stream_batch(event: dict, handle: Callable[[dict], Any]) -> PartialItemFailureResponse:
    """Handles stream records in order and stops at the first failure,
    reporting it and everything after it as failed.

    Lambda checkpoints a shard at the lowest failed record and redelivers
    from there, so the later records come again anyway; handling them now,
    before the failed one, would apply a delete before its insert. (This is
    why streams do not use Powertools' BatchProcessor, which goes on past a
    failure; queues below do.)
    """
    records = event.get("Records", [])
    metrics.count("StreamBatchRecords", len(records))
    for index, record in enumerate(records):
        logs.bind(sequence_number=record["dynamodb"].get("SequenceNumber"),
                  event_name=record.get("eventName"))
        try:
            with traces.span("stream record", event_name=record.get("eventName")):
                handle(record)
        except Exception:
            logger.exception("stream record %s failed", record["dynamodb"].get("SequenceNumber"))
            metrics.count("StreamRecordFailures")
            return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
                                          for r in records[index:]]}
    return {"batchItemFailures": []}


@cache
def _queue_processor() -> BatchProcessor:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    return BatchProcessor(event_type=EventType.SQS)


def queue_batch(event: dict, handle: Callable[[str], Any], context=None) -> PartialItemFailureResponse:
    """Handles SQS messages independently: failures go back to the queue
    (and, after maxReceiveCount, to its dead-letter queue)."""
    from aws_lambda_powertools.utilities.batch import process_partial_response

    def record_handler(record):  # Powertools passes it by this name
        logs.bind(message_id=record.message_id)
        try:
            handle(record.body)
        except Exception:
            logger.exception("queue message %s failed", record.message_id)
            metrics.count("QueueMessageFailures")
            raise

    metrics.count("QueueBatchMessages", len(event.get("Records", [])))

    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=_queue_processor(), context=context)


def fifo_views_batch(event: dict, count: Callable[[list], set[str]], parse: Callable[..., Any]
                     ) -> PartialItemFailureResponse:
    """Handles a batch from the views FIFO queue as a whole (`count` makes
    one update per distinct tweet, not one per message) and reports as
    failed what `count` names: in each message group, a suffix, so the group
    is redelivered in order from its first message not fully counted. This
    is what Powertools' SqsFifoPartialProcessor with skip_group_on_error
    does, for a handler that takes the batch rather than one message at a
    time. A message that is not a views message cannot be counted however
    often it comes back, so it is logged in full and dropped."""
    messages = []
    for record in event.get("Records", []):
        attributes = record.get("attributes", {})
        try:
            messages.append(parse(record["messageId"], record["body"], attributes["MessageGroupId"],
                                  attributes["SequenceNumber"]))
        except (KeyError, ValueError, TypeError):
            logger.exception("dropping views message %s: not a views message: %s", record.get("messageId"),
                             record)
    failed = count(messages)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in sorted(failed)]}
