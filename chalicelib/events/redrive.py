"""Bringing back what ran out of retries (issue 10): automatically, on a
schedule, and by an operator's command.

A stream batch that runs out of retries is not on the `stream-failures`
queue itself: Lambda sends a description of it (DDBStreamBatchInfo: the
stream, the shard, the first and last sequence number), and the records stay
in the stream for 24 hours. `redrive_stream_failures` re-reads each
described batch from the stream and runs it, in order, through the handler
of the table it came from (`consumers.stream_batch`, as the mapping would),
and deletes the description only when every record succeeded; otherwise it
is left for the next redrive, visible again at once. Every handler is
idempotent, so records that succeeded before the failed one did are simply
applied again.

A redriven record is older than records of its shard that ran meanwhile:
the mapping moved on past it. So before it runs, it is checked against the
item as it is now (one consistent GetItem): an INSERT or MODIFY whose item
is gone, or a REMOVE whose item is back, has been superseded by a later
record that already ran, and is skipped (replaying a follow after the
unfollow ran would put the unfollowed author's tweets back in a timeline).
Skipping is right because the later record's handler did what the state
now calls for; if the later record is itself parked, it runs after this one.

Records the stream no longer has (older than its 24-hour retention, or their
stream or shard gone with the table) cannot come back by a redrive: the
description is logged in full at ERROR, counted as `expired`, and deleted,
since keeping it would only fail every later redrive the same way; what it
names has to be repaired some other way (a follower's home timeline, for
instance, by a rebuild). The records of it still there are run all the same.

`redrive_jobs` moves every message on `jobs-dlq` back to the jobs queue
(send, then delete; every job is idempotent), counting the moves in a
message attribute.

The automatic redrive (`redrive_all`, app.py's scheduled `redrive_failures`,
every REDRIVE_EVERY_MINUTES) gives up eventually, so a real poison record or
job does not cycle for ever: SQS parks a stream failure received
REDRIVE_MAX_RECEIVES times (the queue's redrive policy), and a job moved back
JOBS_MAX_REDRIVES times is parked instead. Parked work waits for an operator
(`make redrive`, devstack.redrive, which also runs `redrive_parked`).

Runtime code (no devstack, no deploy): the scheduled function runs it.
"""
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import settings
from chalicelib.events import consumers, streams
from chalicelib.storage import clients, jobs, tables

logger = logging.getLogger("chirp.redrive")

GONE = ("TrimmedDataAccessException", "ResourceNotFoundException")  # the records cannot be read now

STREAM_HANDLERS: dict[str, Callable[[dict], None]] = {
    settings.TABLE_NAMES["tweets"]: streams.on_tweet_record,
    settings.TABLE_NAMES["follows"]: streams.on_follow_record,
    settings.TABLE_NAMES["likes"]: streams.on_like_record,
}


REDRIVES = "chirp-redrives"  # message attribute: how often a job has been moved back from jobs-dlq


@dataclass
class Counts:
    """Messages found on the queue, processed (and deleted), left on it for
    the next redrive, parked (jobs moved to `parked`), and (streams only)
    expired: deleted although some of their records were no longer in the
    stream. `superseded`: redriven stream records skipped because a later
    record of their item had already run."""

    found: int = 0
    processed: int = 0
    left: int = 0
    expired: int = 0
    parked: int = 0
    superseded: int = 0

    @property
    def outstanding(self) -> int:
        """What an operator should look at: left, expired or parked."""
        return self.left + self.expired + self.parked


def redrive_all() -> dict[str, Counts]:
    """The automatic redrive: stream failures, then jobs. Never raises (a
    scheduled function that fails is simply run again at the next tick,
    but the counts are worth logging either way)."""
    counts = {}
    for queue, redrive in (("stream-failures", redrive_stream_failures), ("jobs-dlq", redrive_jobs)):
        try:
            counts[queue] = redrive()
        except Exception:  # the queue could not be read: the next run tries again
            logger.exception("the redrive of %s failed", queue)
            counts[queue] = Counts(left=1)
    # Every few minutes: a line only when there was something to redrive.
    found = any(any(vars(c).values()) for c in counts.values())
    logger.log(logging.INFO if found else logging.DEBUG, "redrive: %s",
               {queue: vars(c) for queue, c in counts.items()})
    return counts


def _received(queue: str) -> Iterator[dict]:
    """Every message on a queue, each received once: a received message stays
    invisible for REDRIVE_VISIBILITY_SECONDS, so the run ends when the queue
    has nothing visible left, or after REDRIVE_MAX_PER_RUN messages (a
    backlog is worked off over several runs, each well inside the
    function's timeout, so nothing received waits out its visibility)."""
    url = jobs.queue_url(queue)
    received = 0
    while received < settings.REDRIVE_MAX_PER_RUN:
        messages = jobs.sqs().receive_message(
            QueueUrl=url, MaxNumberOfMessages=settings.SQS_RECEIVE_MAX, WaitTimeSeconds=0,
            VisibilityTimeout=settings.REDRIVE_VISIBILITY_SECONDS,
            MessageAttributeNames=[REDRIVES]).get("Messages", [])
        if not messages:
            return
        received += len(messages)
        yield from messages


def _delete(queue: str, message: dict) -> None:
    jobs.sqs().delete_message(QueueUrl=jobs.queue_url(queue), ReceiptHandle=message["ReceiptHandle"])


def _leave(queue: str, message: dict) -> None:
    """Makes a message visible again now, for the next redrive."""
    try:
        jobs.sqs().change_message_visibility(QueueUrl=jobs.queue_url(queue),
                                              ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    except (ClientError, BotoCoreError):  # it comes back after its visibility timeout anyway
        logger.warning("could not make message %s visible again", message["MessageId"], exc_info=True)


def redrive_stream_failures() -> Counts:
    """Re-reads and handles every stream batch described on `stream-failures`."""
    messages = list(_received(settings.QUEUE_NAMES["stream-failures"]))
    return _redrive_stream_messages("stream-failures", messages)


def _redrive_stream_messages(queue_short: str, messages: list[dict]) -> Counts:
    queue = settings.QUEUE_NAMES[queue_short]
    counts = Counts()
    counts.found = len(messages)
    messages.sort(key=_order)  # a shard's batches oldest first
    for message in messages:
        try:
            done, expired = _redrive_batch(json.loads(message["Body"]), counts)
        except Exception:
            logger.exception("could not redrive stream failure %s: %s", message["MessageId"], message["Body"])
            done, expired = False, False
        if done:
            _delete(queue, message)
            counts.processed += 1
            counts.expired += expired
        else:
            _leave(queue, message)
            counts.left += 1
    return counts


def _is_stream_failure(message: dict) -> bool:
    try:
        return "DDBStreamBatchInfo" in json.loads(message["Body"])
    except (ValueError, TypeError):
        return False


def _order(message: dict) -> tuple:
    try:
        info = json.loads(message["Body"])["DDBStreamBatchInfo"]
        return info["streamArn"], info["shardId"], int(info["startSequenceNumber"])
    except (ValueError, KeyError, TypeError):
        return "", "", 0


def _redrive_batch(failure: dict, counts: Counts) -> tuple[bool, bool]:
    """Handles the batch a failure record describes: (every record that is
    still in the stream succeeded, some records were gone)."""
    info = failure["DDBStreamBatchInfo"]
    stream_arn, shard, start, end = (info["streamArn"], info["shardId"], info["startSequenceNumber"],
                                     int(info["endSequenceNumber"]))
    handle = STREAM_HANDLERS[_table_name(stream_arn)]
    try:
        records, complete = _read(stream_arn, shard, start, end)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in GONE:
            raise
        logger.error("the records of stream failure %s are gone from the stream (%s); dropping it",
                     json.dumps(failure), error)
        return True, True
    if not complete:
        logger.warning("read %d records of stream failure %s, not up to its last; leaving it", len(records),
                       json.dumps(failure))
        return False, False
    gone = not records or records[0]["dynamodb"]["SequenceNumber"] != start
    if gone:
        logger.error("some records of stream failure %s are gone from the stream; running the %d left",
                     json.dumps(failure), len(records))
    def handle_current(record: dict) -> None:
        if _superseded(stream_arn, record):
            counts.superseded += 1
            logger.info("skipped redriven record %s (%s): a later record of its item has run",
                        record["dynamodb"]["SequenceNumber"], record["eventName"])
            return
        handle(record)

    failed = consumers.stream_batch({"Records": records}, handle_current)["batchItemFailures"]
    if failed:
        logger.warning("%d of %d redriven records of %s failed again; leaving the failure for the next "
                       "redrive", len(failed), len(records), shard)
        return False, False
    logger.info("redrove %d records %s..%s of %s", len(records), start, end, shard)
    return True, gone


def _read(stream_arn: str, shard: str, start: str, end: int) -> tuple[list[dict], bool]:
    """The shard's records from `start` through `end`, as GetRecords returns
    them (the handlers read only eventName and the dynamodb images and
    sequence number, which are the same there as in a Lambda event), and
    whether `end` was reached. A trimmed start reads from the oldest record."""
    client = clients.client("dynamodbstreams")
    try:
        iterator = client.get_shard_iterator(StreamArn=stream_arn, ShardId=shard,
                                             ShardIteratorType="AT_SEQUENCE_NUMBER",
                                             SequenceNumber=start)["ShardIterator"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "TrimmedDataAccessException":
            raise
        iterator = client.get_shard_iterator(StreamArn=stream_arn, ShardId=shard,
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records: list[dict] = []
    while iterator:
        page = client.get_records(ShardIterator=iterator, Limit=settings.REDRIVE_RECORDS_PER_READ)
        for record in page["Records"]:
            number = int(record["dynamodb"]["SequenceNumber"])
            if number > end:
                return records, True
            if number >= int(start):
                records.append(record)
            if number == end:
                return records, True
        if not page["Records"]:
            return records, False  # the end of an open shard: `end` is not there
        iterator = page.get("NextShardIterator")
    return records, False


def _table_name(stream_arn: str) -> str:
    """`arn:aws:dynamodb:region:account:table/<name>/stream/<label>` -> name."""
    return stream_arn.split(":", 5)[5].split("/")[1]


def _superseded(stream_arn: str, record: dict) -> bool:
    """Whether a later record of the same item has run: the item is gone
    although this record wrote it, or back although this one removed it."""
    table = _table_name(stream_arn)
    keys = record["dynamodb"]["Keys"]
    names = {f"#k{i}": name for i, name in enumerate(keys)}
    found = "Item" in tables.client().get_item(
        TableName=table, Key=keys, ConsistentRead=True,
        ProjectionExpression=", ".join(names), ExpressionAttributeNames=names)
    return found if record["eventName"] == "REMOVE" else not found


def redrive_jobs() -> Counts:
    """Moves every job on `jobs-dlq` back to the jobs queue, or to `parked`
    once it has been moved back JOBS_MAX_REDRIVES times."""
    return _move_jobs("jobs-dlq", list(_received(settings.QUEUE_NAMES["jobs-dlq"])))


def _move_jobs(source: str, messages: list[dict]) -> Counts:
    """From `parked` (an operator's redrive_parked) every job goes back to
    the jobs queue, its count of redrives started afresh."""
    dlq = settings.QUEUE_NAMES[source]
    counts = Counts()
    for message in messages:
        counts.found += 1
        redrives = 0 if source == "parked" else _redrives(message)
        park = redrives >= settings.JOBS_MAX_REDRIVES
        target = settings.QUEUE_NAMES["parked" if park else "jobs"]
        try:
            jobs.sqs().send_message(QueueUrl=jobs.queue_url(target), MessageBody=message["Body"],
                                    MessageAttributes={REDRIVES: {"DataType": "Number",
                                                                  "StringValue": str(redrives + 1)}})
        except (ClientError, BotoCoreError):  # it is visible again after REDRIVE_VISIBILITY_SECONDS
            logger.exception("could not move job %s to %s", message["MessageId"], target)
            counts.left += 1
            continue
        _delete(dlq, message)
        if park:
            logger.error("parked job %s after %d redrives: %s", message["MessageId"], redrives,
                         message["Body"])
            counts.parked += 1
        else:
            counts.processed += 1
    return counts


def _redrives(message: dict) -> int:
    try:
        return int(message.get("MessageAttributes", {})[REDRIVES]["StringValue"])
    except (KeyError, ValueError):
        return 0


def redrive_parked() -> dict[str, Counts]:
    """The operator's part: what the automatic redrive gave up on, once
    more (stream failures re-read and run; jobs back on the jobs queue)."""
    messages = list(_received(settings.QUEUE_NAMES["parked"]))
    failures = [m for m in messages if _is_stream_failure(m)]
    return {"parked stream failures": _redrive_stream_messages("parked", failures),
            "parked jobs": _move_jobs("parked", [m for m in messages if not _is_stream_failure(m)])}
