"""The local event-source pump: Lambda's event-source mappings, for the local stack.

On AWS, Lambda polls the DynamoDB streams and SQS queues that Chalice's
`@app.on_dynamodb_record` and `@app.on_sqs_message` handlers are mapped to,
and invokes the handlers with batches. moto cannot run those mappings (it
would need Docker), so locally this module polls and invokes, with the
semantics the handlers meet on AWS, so that what passes here holds there:

- streams: batches of at most `batch_size` records, in order within a shard;
  a failed invocation (an exception, or `batchItemFailures` when
  ReportBatchItemFailures is on) is retried from the first failed record;
  with bisect on error a failing batch is split in halves (which does not use
  up retries) until the poison record is alone; a batch is given up on after
  `maximum_retry_attempts` retries or once its records are older than
  `maximum_record_age_in_seconds`, and then described on the on-failure
  queue, and the shard moves on.
- queues: batches of at most `batch_size` messages; successes are deleted,
  failures are left to become visible again, and the queue's own redrive
  policy moves a message that keeps failing to its dead-letter queue. A
  FIFO queue's batch is what ReceiveMessage hands out, in order within each
  message group, with SequenceNumber and MessageGroupId among the
  attributes; a group's failed messages come first in its next batch (the
  embedded moto is made to keep FIFO order: devstack.stack).
- schedules (`@app.schedule` with a Rate): the handler is invoked with a
  scheduled event once per rate, by the background thread only (`start`);
  tests run them when they choose (`run_schedules`), so `drain` stays
  deterministic.

Two liberties, both for a single-process dev tool: retries come on the next
poll instead of after Lambda's backoff, and a stream mapping follows its
table's *current* stream (found by the table name in the decorator's ARN),
because the ARN in the decorator is read at import and the local tables are
created, dropped and recreated under it.

Dev-only: never shipped to Lambda.
"""
from __future__ import annotations

import base64
import copy
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from chalice.app import Chalice, DynamoDBEventConfig, Rate, ScheduledEventConfig, SQSEventConfig
from chalice.local import LambdaContext

from deploy.mappings import DEFAULT_POLICY, MappingPolicy, table_name_from_stream_arn

log = logging.getLogger("chirp.pump")

Record = dict[str, Any]
Handler = Callable[[dict[str, Any], Any], Any]
Clock = Callable[[], float]

LAMBDA_MEMORY_MB = 128
LAMBDA_TIMEOUT_MS = 60_000
SQS_RECEIVE_MAX = 10  # ReceiveMessage's own limit per call
AWS_ERRORS = (ClientError, BotoCoreError)


def _retries_exhausted(policy: MappingPolicy, retries: int) -> bool:
    return 0 <= policy.maximum_retry_attempts < retries


def _too_old(policy: MappingPolicy, age_seconds: float) -> bool:
    return 0 <= policy.maximum_record_age_in_seconds < age_seconds


# --- Lambda's event shapes -------------------------------------------------------------------------------

def _base64(value: bytes | str) -> str:
    return base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value


def _json_value(value: Mapping[str, Any]) -> dict[str, Any]:
    """One attribute value as Lambda's JSON spells it: boto3 hands binary
    values over as bytes, Lambda's event carries them as base64 text."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": _base64(inner)}
    if kind == "BS":
        return {"BS": [_base64(item) for item in inner]}
    if kind == "M":
        return {"M": _json_image(inner)}
    if kind == "L":
        return {"L": [_json_value(item) for item in inner]}
    return {kind: inner}


def _json_image(image: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _json_value(value) for name, value in image.items()}


def _epoch_seconds(value: datetime | float) -> int:
    """DynamoDB Streams rounds creation times down to the second; boto3 parses
    them into datetimes, Lambda's event has epoch seconds."""
    return int(value.timestamp()) if isinstance(value, datetime) else int(value)


def stream_event_record(raw: Mapping[str, Any], stream_arn: str) -> Record:
    """A GetRecords record in the shape Lambda invokes with. moto's records
    lack `eventSourceARN`, say eventVersion 1.0 and us-east-1 whatever the
    region, and boto3 decodes times and binary values; Lambda's do not."""
    change = raw["dynamodb"]
    created = _epoch_seconds(change["ApproximateCreationDateTime"])
    dynamodb: dict[str, Any] = {"ApproximateCreationDateTime": created}
    for image in ("Keys", "NewImage", "OldImage"):
        if image in change:
            dynamodb[image] = _json_image(change[image])
    dynamodb.update(SequenceNumber=change["SequenceNumber"], SizeBytes=change["SizeBytes"],
                    StreamViewType=change["StreamViewType"])
    record: Record = {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": _arn_part(stream_arn, 3),
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in raw:  # deletions by TTL say so
        record["userIdentity"] = raw["userIdentity"]
    return record


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """A message attribute as Lambda spells it: camelCase, binary as base64."""
    attribute: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [_base64(item) for item in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = _base64(value["BinaryValue"])
    return attribute


def sqs_event_record(message: Mapping[str, Any], queue_arn: str) -> Record:
    """A received SQS message in the shape Lambda invokes with."""
    record: Record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {name: _message_attribute(value)
                              for name, value in message.get("MessageAttributes", {}).items()},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": _arn_part(queue_arn, 3),
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _arn_part(arn: str, index: int) -> str:
    return arn.split(":", 5)[index]


def _iso(epoch_seconds: float) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error_code(error: Exception) -> str:
    return error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""


# --- invoking a handler ----------------------------------------------------------------------------------

def failed_item_ids(response: Any, item_ids: list[str]) -> set[str]:
    """The items a function's response names as failed, by Lambda's rules for
    ReportBatchItemFailures: no list, or an empty one, is a complete success;
    an identifier that is missing, empty or not in the batch fails it all."""
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not failures:
        return set()
    batch = set(item_ids)
    if not isinstance(failures, list):
        return batch
    named = {failure.get("itemIdentifier") if isinstance(failure, dict) else None for failure in failures}
    return {name for name in named if isinstance(name, str)} if named <= batch else batch


@dataclass(frozen=True)
class _Function:
    """A Chalice event handler, run the way Lambda runs it."""

    name: str  # the handler's name in the app
    function_name: str  # what Chalice would deploy it as
    handler: Handler
    policy: MappingPolicy

    def arn(self, region: str, account: str) -> str:
        return f"arn:aws:lambda:{region}:{account}:function:{self.function_name}"

    def invoke(self, records: list[Record], item_ids: list[str]) -> tuple[set[str], str | None]:
        """Calls the handler with a batch; returns the ids of the items that
        failed and Lambda's `functionError` if it raised. The handler gets its
        own copy of the records, so whatever it does to them, a retry sends the
        records as they were."""
        context = LambdaContext(self.function_name, LAMBDA_MEMORY_MB, LAMBDA_TIMEOUT_MS)
        try:
            response = self.handler({"Records": copy.deepcopy(records)}, context)
        except Exception:  # a failed invocation, as on Lambda; the records get another go
            log.warning("%s raised on a batch of %d", self.function_name, len(records), exc_info=True)
            return set(item_ids), "Unhandled"
        finally:
            from chalicelib.observe import logs  # here: chalicelib reads its settings when imported

            logs.begin()  # the pump's own lines are not the invocation's (one thread runs both here)
        if not self.policy.report_batch_item_failures:
            return set(), None
        return failed_item_ids(response, item_ids), None


# --- DynamoDB streams ------------------------------------------------------------------------------------

@dataclass
class _Batch:
    """Consecutive records of a shard that are not settled yet. Only retries
    count against MaximumRetryAttempts; bisecting does not (as on Lambda)."""

    records: list[Record]
    retries: int = 0
    invocations: int = 0
    function_error: str | None = None
    given_up: str | None = None  # why, once given up on and its description not sent yet

    @property
    def sequence_numbers(self) -> list[str]:
        return [record["dynamodb"]["SequenceNumber"] for record in self.records]

    def halves(self) -> tuple[_Batch, _Batch]:
        middle = len(self.records) // 2
        return replace(self, records=self.records[:middle]), replace(self, records=self.records[middle:])


READ_LOG = 1000  # the records a shard remembers reading, by event id (see _Shard._resync)


class _Shard:
    """One shard, read as Lambda reads it: a batch at a time, and the next
    batch only once every record before it is settled (delivered, or given up
    on and sent to the on-failure queue), which keeps the shard in order.

    Where it has read to is a record, not just a sequence number: moto can put
    a copy of a shard in place where a sequence number already read names
    another record (see `_resync`). So a fresh iterator starts *at* the last
    record read, and the read checks by its event id that it is still there."""

    def __init__(self, stream: _StreamMapping, shard_id: str, parent_id: str | None, start: str):
        self.stream = stream
        self.shard_id = shard_id
        self.parent_id = parent_id
        self.start = start  # LATEST or TRIM_HORIZON, until a record has been read
        self.read_log: deque[tuple[str, str]] = deque(maxlen=READ_LOG)  # (sequence number, event id)
        self.resume_at: str | None = None  # read from this record on (none read since a resync)
        self.iterator: str | None = None
        self.checking = False  # the iterator starts at the last record read, which must come first
        self.closed = False
        self.pending: deque[_Batch] = deque()

    @property
    def finished(self) -> bool:
        return self.closed and not self.pending

    @property
    def last_read(self) -> str | None:
        return self.read_log[-1][0] if self.read_log else None

    def open(self) -> None:
        """Takes a shard iterator now: for LATEST, that is what pins the start."""
        self.checking = False
        if self.resume_at is not None:
            kwargs: dict[str, Any] = {"ShardIteratorType": "AT_SEQUENCE_NUMBER",
                                      "SequenceNumber": self.resume_at}
        elif self.read_log:
            kwargs = {"ShardIteratorType": "AT_SEQUENCE_NUMBER", "SequenceNumber": self.last_read}
            self.checking = True
        else:
            kwargs = {"ShardIteratorType": self.start}
        self.iterator = self._iterator(**kwargs)

    def _iterator(self, **kwargs: Any) -> str:
        return self.stream.clients.streams.get_shard_iterator(
            StreamArn=self.stream.stream_arn, ShardId=self.shard_id, **kwargs)["ShardIterator"]

    def step(self) -> bool:
        """Reads a batch if none is pending, then makes one attempt at the
        oldest pending batch. False when there was nothing to do."""
        if not self.pending and not self._read():
            return False
        if self.pending:
            batch = self.pending.popleft()
            if batch.given_up:
                self._give_up(batch, batch.given_up)
            else:
                self._attempt(batch)
        return True

    def _read(self) -> bool:
        if self.closed:
            return False
        held = self.iterator is not None
        page = self._get_records()
        if page is None:
            return True  # a fresh iterator next round
        raw = page["Records"]
        if self.checking:
            self.checking = False
            if not raw or not self._is(raw[0], *self.read_log[-1]):
                self._resync()
                return True
            raw = raw[1:]
        self.iterator = page.get("NextShardIterator")
        self.closed = self.iterator is None
        records = [stream_event_record(record, self.stream.followed_arn()) for record in raw]
        if records:
            self.pending.append(_Batch(records))
            self.read_log.extend((record["dynamodb"]["SequenceNumber"], record["eventID"])
                                 for record in records)
            self.resume_at = None
        elif not self.closed:
            # moto's own rollback of a failed transaction puts deep copies of
            # the tables in place, stream shards included (the stack's moto
            # keeps the live shard: devstack.stack): an iterator taken before
            # then reads the old shard and never sees another record. So only
            # a fresh iterator can tell that a shard is idle, and an idle shard
            # takes one on every read.
            self.iterator = None
            if held:
                return self._read()
        return bool(records) or self.closed

    def _get_records(self) -> dict[str, Any] | None:
        """GetRecords, or None when the iterator has to be replaced: iterators
        expire (after 15 minutes on AWS), and records can expire from the
        stream before they are delivered (then that is logged, not hidden)."""
        try:
            if self.iterator is None:
                self.open()
            again = 1 if self.checking else 0  # the last record read, then a batch
            return self.stream.clients.streams.get_records(
                ShardIterator=self.iterator, Limit=self.stream.config.batch_size + again)
        except ClientError as error:
            self.iterator = None
            if _error_code(error) == "TrimmedDataAccessException":
                log.error("%s: records of %s after %s expired from the stream before delivery; reading on "
                          "from the oldest one left", self.stream.function.function_name, self.shard_id,
                          self.resume_at or self.last_read)
                self.read_log.clear()
                self.resume_at, self.start = None, "TRIM_HORIZON"
            elif _error_code(error) != "ExpiredIteratorException":
                raise
            return None

    @staticmethod
    def _is(raw: Mapping[str, Any], sequence_number: str, event_id: str) -> bool:
        return raw["dynamodb"]["SequenceNumber"] == sequence_number and raw["eventID"] == event_id

    def _resync(self) -> None:
        """The last record read is not in the shard now. moto's own rollback of
        a cancelled transaction puts in place a copy of the table taken before
        the transaction wrote to it, and an iterator taken before then read
        on in the old shard: the stream records of the cancelled writes, which
        the copy does not have. The copy numbers records by their count, so
        its next ones reuse those sequence numbers, and reading on "after the
        last record read" would skip them. What was read is records the shard
        still has, then records it never will: the newest one still there is
        found by halving, and reading goes on after it. (Those read from the
        orphan were delivered already; that is logged.)"""
        read = list(self.read_log)
        kept, gone = -1, len(read)  # read[:kept + 1] are in the shard, read[gone:] are not
        while gone - kept > 1:
            middle = (kept + gone) // 2
            if self._still_there(*read[middle]):
                kept = middle
            else:
                gone = middle
        self.iterator = None
        if gone == len(read):
            return  # it is there after all: read on after it
        log.warning("%s: %d records read from %s (%s..%s) are not in the stream now (moto rolled a cancelled "
                    "transaction back by putting a copy of the shard in place); reading on %s",
                    self.stream.function.function_name, len(read) - gone, self.shard_id, read[gone][0],
                    read[-1][0], f"after {read[kept][0]}" if kept >= 0 else f"from {read[gone][0]}")
        self.read_log = deque(read[:gone], maxlen=READ_LOG)
        self.resume_at = None if self.read_log else read[gone][0]

    def _still_there(self, sequence_number: str, event_id: str) -> bool:
        iterator = self._iterator(ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=sequence_number)
        records = self.stream.clients.streams.get_records(ShardIterator=iterator, Limit=1)["Records"]
        return bool(records) and self._is(records[0], sequence_number, event_id)

    def _attempt(self, batch: _Batch) -> None:
        expired, batch.records = self._split_expired(batch.records)
        if expired:
            self._give_up(replace(batch, records=expired), "RecordAgeExceeded")
        if not batch.records:
            return
        sequence_numbers = batch.sequence_numbers
        failed, function_error = self.stream.function.invoke(batch.records, sequence_numbers)
        if not failed:
            self._log_delivered(sequence_numbers)
            return
        first_failed = min(sequence_numbers.index(number) for number in failed)
        if first_failed:
            self._log_delivered(sequence_numbers[:first_failed])
        rest = batch.records[first_failed:]
        self._retry(_Batch(rest, batch.retries, batch.invocations + 1, function_error))

    def _split_expired(self, records: list[Record]) -> tuple[list[Record], list[Record]]:
        """The records too old to deliver, and the rest. A shard is in time
        order, so the old ones are the first ones."""
        now, policy = self.stream.clock(), self.stream.function.policy
        young = next((i for i, record in enumerate(records)
                      if not _too_old(policy, now - record["dynamodb"]["ApproximateCreationDateTime"])),
                     len(records))
        return records[:young], records[young:]

    def _retry(self, batch: _Batch) -> None:
        policy = self.stream.function.policy
        if policy.bisect_batch_on_function_error and len(batch.records) > 1:
            self.pending.extendleft(reversed(batch.halves()))
            log.warning("%s failed on %d records from %s; bisecting", self.stream.function.function_name,
                        len(batch.records), batch.sequence_numbers[0])
            return
        batch.retries += 1
        if _retries_exhausted(policy, batch.retries):
            self._give_up(batch, "RetryAttemptsExhausted")
            return
        self.pending.appendleft(batch)
        log.warning("%s failed on %d records from %s; retry %d of %s", self.stream.function.function_name,
                    len(batch.records), batch.sequence_numbers[0], batch.retries,
                    policy.maximum_retry_attempts if policy.maximum_retry_attempts >= 0 else "unlimited")

    def _give_up(self, batch: _Batch, condition: str) -> None:
        """Describes the batch on the on-failure queue and moves on; until
        the description is sent, the batch stays first in line (Lambda, too,
        does not move a shard on past records it could not park)."""
        numbers = batch.sequence_numbers
        if not batch.given_up:
            log.error("%s gave up on %d records %s..%s of %s (%s)", self.stream.function.function_name,
                      len(numbers), numbers[0], numbers[-1], self.shard_id, condition)
        if not self.stream.send_on_failure(self._failure_record(batch, condition)):
            batch.given_up = condition
            self.pending.appendleft(batch)

    def _failure_record(self, batch: _Batch, condition: str) -> dict[str, Any]:
        """What Lambda sends an on-failure destination for a stream: a
        description of the batch, not the records; read them from the stream."""
        first, last = batch.records[0]["dynamodb"], batch.records[-1]["dynamodb"]
        stream_arn = self.stream.followed_arn()
        response = {"statusCode": 200, "executedVersion": "$LATEST", "functionError": batch.function_error}
        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.stream.function.arn(_arn_part(stream_arn, 3), _arn_part(stream_arn, 4)),
                "condition": condition,
                "approximateInvokeCount": batch.invocations,
            },
            "responseContext": response if batch.invocations else {},
            "version": "1.0",
            "timestamp": _iso(self.stream.clock()),
            "DDBStreamBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(first["ApproximateCreationDateTime"]),
                "approximateArrivalOfLastRecord": _iso(last["ApproximateCreationDateTime"]),
                "batchSize": len(batch.records),
                "streamArn": stream_arn,
            },
        }

    def _log_delivered(self, sequence_numbers: list[str]) -> None:
        log.info("%s: delivered %d records %s..%s of %s", self.stream.function.function_name,
                 len(sequence_numbers), sequence_numbers[0], sequence_numbers[-1], self.shard_id)


@dataclass(frozen=True)
class _Clients:
    dynamodb: Any
    streams: Any
    sqs: Any

    @classmethod
    def from_environment(cls) -> _Clients:
        """Clients for wherever AWS_ENDPOINT_URL points. Few retries: the next
        poll is the retry."""
        session = boto3.session.Session()
        config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30)
        return cls(session.client("dynamodb", config=config),
                   session.client("dynamodbstreams", config=config),
                   session.client("sqs", config=config))


class _StreamMapping:
    """An `@app.on_dynamodb_record` handler and the stream it reads: the
    current stream of the table named in the decorator's ARN."""

    def __init__(self, config: DynamoDBEventConfig, function: _Function, clients: _Clients, clock: Clock):
        self.config = config
        self.function = function
        self.clients = clients
        self.clock = clock
        self.table_name = table_name_from_stream_arn(config.stream_arn)
        self.stream_arn: str | None = None
        self.shards: dict[str, _Shard] = {}
        self.finished_shards: set[str] = set()
        self.shards_stale = False
        try:
            # The mapping starts now: LATEST means records written after this.
            self._refresh(start=config.starting_position)
        except AWS_ERRORS as error:
            log.warning("%s: cannot read the stream of %s yet (%s)", function.function_name,
                        self.table_name, error)

    def poll(self) -> bool:
        try:
            self._refresh(start="TRIM_HORIZON")  # a stream or shard that appears later is all new
        except AWS_ERRORS as error:
            log.warning("%s: cannot read the stream of %s (%s)", self.function.function_name,
                        self.table_name, error)
            return False
        busy = False
        for shard in list(self.shards.values()):
            if shard.parent_id in self.shards:
                continue  # Lambda finishes a parent shard before reading its children
            busy |= self._step(shard)
            if shard.finished:
                del self.shards[shard.shard_id]
                self.finished_shards.add(shard.shard_id)
                self.shards_stale = True
        return busy

    def _step(self, shard: _Shard) -> bool:
        try:
            return shard.step()
        except AWS_ERRORS as error:
            shard.iterator = None  # start again from the last record read
            log.warning("%s: cannot read %s (%s)", self.function.function_name, shard.shard_id, error)
            return False

    def _refresh(self, start: str) -> None:
        stream_arn = self._current_stream_arn()
        if stream_arn != self.stream_arn:
            self._follow(stream_arn)
        if self.stream_arn and self.shards_stale:
            self._add_new_shards(start)

    def followed_arn(self) -> str:
        """The stream being read; shards exist only while there is one."""
        if self.stream_arn is None:
            raise RuntimeError(f"{self.function.function_name} follows no stream")
        return self.stream_arn

    def _current_stream_arn(self) -> str | None:
        try:
            table = self.clients.dynamodb.describe_table(TableName=self.table_name)["Table"]
        except ClientError as error:
            if _error_code(error) == "ResourceNotFoundException":
                return None
            raise
        if not table.get("StreamSpecification", {}).get("StreamEnabled"):
            return None
        return table.get("LatestStreamArn")

    def _follow(self, stream_arn: str | None) -> None:
        undelivered = sum(len(batch.records) for shard in self.shards.values() for batch in shard.pending)
        if undelivered:
            log.warning("%s: dropping %d undelivered records: their stream %s is gone",
                        self.function.function_name, undelivered, self.stream_arn)
        if stream_arn:
            log.info("%s: reading %s", self.function.function_name, stream_arn)
        else:
            log.info("%s: table %s has no stream now; waiting for one", self.function.function_name,
                     self.table_name)
        self.stream_arn = stream_arn
        self.shards, self.finished_shards = {}, set()
        self.shards_stale = stream_arn is not None

    def _add_new_shards(self, start: str) -> None:
        for description in self._describe_shards():
            shard_id = description["ShardId"]
            if shard_id in self.shards or shard_id in self.finished_shards:
                continue
            shard = _Shard(self, shard_id, description.get("ParentShardId"), start)
            self.shards[shard_id] = shard
            shard.open()
        self.shards_stale = False

    def _describe_shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            description = self.clients.streams.describe_stream(**kwargs)["StreamDescription"]
            shards.extend(description.get("Shards", []))
            if not description.get("LastEvaluatedShardId"):
                return shards
            kwargs["ExclusiveStartShardId"] = description["LastEvaluatedShardId"]

    def send_on_failure(self, failure: dict[str, Any]) -> bool:
        """Sends a failure record to the on-failure queue; False if that
        failed (the caller tries again). Without a queue the record is logged
        in full, never dropped silently."""
        body = json.dumps(failure)
        destination = self.function.policy.on_failure_queue
        if destination is None:
            log.error("%s has no on-failure queue; skipping the records: %s", self.function.function_name,
                      body)
            return True
        try:
            queue_url = _queue_url(self.clients.sqs, destination)
            self.clients.sqs.send_message(QueueUrl=queue_url, MessageBody=body)
        except AWS_ERRORS as error:
            log.warning("%s could not send to its on-failure queue %s (%s); trying again: %s",
                        self.function.function_name, destination, error, body)
            return False
        return True


def _queue_url(sqs: Any, queue: str) -> str:
    """A queue's URL from its name, URL or ARN."""
    if queue.startswith(("http://", "https://")):
        return queue
    name = queue.rsplit(":", 1)[-1] if queue.startswith("arn:") else queue
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]


# --- SQS -------------------------------------------------------------------------------------------------

class _QueueMapping:
    """An `@app.on_sqs_message` handler and its queue. Failed messages are
    left alone: they become visible again after the queue's visibility
    timeout, and its redrive policy sends repeat failures to its DLQ."""

    def __init__(self, config: SQSEventConfig, function: _Function, clients: _Clients):
        self.function = function
        self.clients = clients
        self.queue = config.queue or config.queue_arn or ""
        self.batch_size = config.batch_size
        self.url: str | None = None
        self.arn = ""
        try:  # found now if it exists, so its "reading" line comes with the streams'
            self._find_queue()
        except AWS_ERRORS as error:
            log.warning("%s: cannot read %s yet (%s)", function.function_name, self.queue, error)

    def poll(self) -> bool:
        try:
            if self.url is None and not self._find_queue():
                return False
            messages = self._receive()
            if messages:
                self._deliver(messages)
            return bool(messages)
        except AWS_ERRORS as error:
            if _error_code(error) not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
                log.warning("%s: cannot read %s (%s)", self.function.function_name, self.queue, error)
            self.url = None  # look it up again next time: queues come and go locally
            return False

    def held(self) -> int:
        """The messages the queue holds: waiting, in flight or delayed
        (SQS's approximate counts, exact on moto). 0 for a queue that does
        not exist."""
        if self.url is None and not self._find_queue():
            return 0
        attributes = self.clients.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"])["Attributes"]
        return sum(int(count) for count in attributes.values())

    def _find_queue(self) -> bool:
        try:
            url = _queue_url(self.clients.sqs, self.queue)
        except ClientError as error:
            if _error_code(error) in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
                return False
            raise
        attributes = self.clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        self.url, self.arn = url, attributes["Attributes"]["QueueArn"]
        log.info("%s: reading %s", self.function.function_name, self.arn)
        return True

    def _receive(self) -> list[dict[str, Any]]:
        """Up to batch_size messages. ReceiveMessage gives at most 10 a call;
        a call that brings fewer than asked for ends the batch, or a queue
        with a short visibility timeout would hand the same messages back
        (and count the receive against its redrive policy)."""
        messages: dict[str, dict[str, Any]] = {}
        while len(messages) < self.batch_size:
            wanted = min(SQS_RECEIVE_MAX, self.batch_size - len(messages))
            page = self.clients.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=wanted, WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"])
            received = page.get("Messages", [])
            messages.update((message["MessageId"], message) for message in received)
            if len(received) < wanted:
                break
        return list(messages.values())

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        records = [sqs_event_record(message, self.arn) for message in messages]
        message_ids = [record["messageId"] for record in records]
        failed, _ = self.function.invoke(records, message_ids)
        done = [message for message in messages if message["MessageId"] not in failed]
        self._delete(done)
        if done:
            log.info("%s: delivered %d messages from %s", self.function.function_name, len(done), self.queue)
        if failed:
            log.warning("%s failed on %d messages from %s; leaving them to the queue's visibility timeout "
                        "and redrive policy", self.function.function_name, len(failed), self.queue)

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), SQS_RECEIVE_MAX):
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                       for i, m in enumerate(messages[start:start + SQS_RECEIVE_MAX])]
            result = self.clients.sqs.delete_message_batch(QueueUrl=self.url, Entries=entries)
            if result.get("Failed"):
                log.warning("%s: could not delete %d delivered messages; they will come again",
                            self.function.function_name, len(result["Failed"]))


# --- schedules -------------------------------------------------------------------------------------------

RATE_SECONDS = {Rate.MINUTES: 60, Rate.HOURS: 3600, Rate.DAYS: 86400}


class _Schedule:
    """A scheduled handler (EventBridge's rate rule): due once per rate,
    first one rate after the pump starts."""

    def __init__(self, source: ScheduledEventConfig, function: _Function, clock: Clock):
        expression = source.schedule_expression
        if not isinstance(expression, Rate):
            raise ValueError(f"{source.name}: the pump runs rate schedules only, not {expression!r}")
        self.function, self.clock = function, clock
        self.every = expression.value * RATE_SECONDS[expression.unit]
        self.due = clock() + self.every

    def run(self) -> None:
        """Invokes the handler now, with the event EventBridge sends; a
        failure is logged (EventBridge would retry it; the next tick comes
        anyway)."""
        self.due = self.clock() + self.every
        event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                 "source": "aws.events", "account": "000000000000",
                 "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
                 "resources": [], "detail": {}}
        context = LambdaContext(self.function.function_name, LAMBDA_MEMORY_MB, LAMBDA_TIMEOUT_MS)
        try:
            self.function.handler(event, context)
        except Exception:
            log.exception("%s failed", self.function.function_name)

    def tick(self) -> bool:
        """Runs the handler if it is due; True if it ran."""
        if self.clock() < self.due:
            return False
        self.run()
        return True


# --- the pump --------------------------------------------------------------------------------------------

class EventPump:
    """Polls the streams and queues an app's event handlers are mapped to, and
    invokes the handlers: in a background thread (`start`/`stop`) for the local
    stack, or synchronously (`poll_once`/`drain`) for deterministic tests."""

    def __init__(self, mappings: list[_StreamMapping | _QueueMapping], poll_interval: float = 0.25,
                 schedules: list[_Schedule] | None = None):
        self._mappings = mappings
        self._schedules = schedules or []
        self._poll_interval = poll_interval
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # The background thread's rounds, numbered from 1, for `wait_settled`.
        self._rounds = threading.Condition()
        self._begun = 0  # rounds begun
        self._settled = 0  # the last of them that found the pump settled (0: none yet)
        self._waiters = 0  # callers in wait_settled: only for them does an idle round check the queues

    @classmethod
    def for_app(cls, app: Chalice, policies: Mapping[str, MappingPolicy] | None = None, *,
                stage: str = "local", clock: Clock = time.time, poll_interval: float = 0.25) -> EventPump:
        """A pump for every DynamoDB-stream and SQS handler of `app`. `policies`
        maps handler names to what Chalice's decorators cannot say (the rest
        get DEFAULT_POLICY); `clock` (epoch seconds) is what record ages are
        measured with. Stream positions are taken now, so LATEST means
        records written after this call."""
        policies = dict(policies or {})
        pumped = [s for s in app.event_sources if isinstance(s, DynamoDBEventConfig | SQSEventConfig)]
        unknown = set(policies) - {source.name for source in pumped}
        if unknown:
            raise ValueError(f"policies for handlers the app does not have: {sorted(unknown)}")
        schedules = [_Schedule(source, _Function(source.name, f"{app.app_name}-{stage}-{source.name}",
                                                 app.handler_map[source.name], DEFAULT_POLICY), clock)
                     for source in app.event_sources if isinstance(source, ScheduledEventConfig)]
        for source in app.event_sources:
            if source not in pumped and not isinstance(source, ScheduledEventConfig):
                log.info("%s: %s events are not pumped locally", source.name, type(source).__name__)
        if not pumped:
            return cls([], poll_interval, schedules)
        clients = _Clients.from_environment()
        mappings: list[_StreamMapping | _QueueMapping] = []
        for source in pumped:
            function = _Function(source.name, f"{app.app_name}-{stage}-{source.name}",
                                 app.handler_map[source.name], policies.get(source.name, DEFAULT_POLICY))
            if isinstance(source, DynamoDBEventConfig):
                mappings.append(_StreamMapping(source, function, clients, clock))
            else:
                mappings.append(_QueueMapping(source, function, clients))
        return cls(mappings, poll_interval, schedules)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def poll_once(self) -> bool:
        """One round over every mapping: at most one read and one invocation
        per shard and per queue. True if anything was read or delivered."""
        with self._lock:
            busy = False
            for mapping in self._mappings:
                busy |= mapping.poll()
            return busy

    def drain(self, timeout: float = 30.0) -> None:
        """Polls until a round finds nothing to deliver anywhere, including what
        the handlers themselves wrote meanwhile. Messages waiting out a
        visibility timeout are not deliverable yet, so they do not count."""
        deadline = time.monotonic() + timeout
        while self.poll_once():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the event pump still had work after {timeout} s")

    def settled_now(self) -> bool:
        """No queue holds a message (waiting, in flight or delayed: a job not
        run yet). With a round that found nothing to deliver, that is settled."""
        return not any(mapping.held() for mapping in self._mappings if isinstance(mapping, _QueueMapping))

    def next_round(self) -> int:
        """The number the background thread's next round will have: what
        `wait_settled` waits from."""
        with self._rounds:
            return self._begun + 1

    def wait_settled(self, since: int, timeout: float) -> bool:
        """Waits until a round of the background thread numbered `since` or
        later (`next_round`) found nothing to deliver on any stream or queue
        and no schedule due, and no queue holding a message: everything
        written before that round began has been handled, and everything the
        handlers wrote too, fan-out jobs included. False if `timeout` ran out
        first (call again with the same `since` to wait on). Without the
        background thread, drains (timing out with TimeoutError) instead."""
        if not self.running:
            self.drain(timeout)
            return self.settled_now()
        deadline = time.monotonic() + timeout
        with self._rounds:
            self._waiters += 1
            try:
                while self._settled < since:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self.running:
                        return False
                    self._rounds.wait(left)
                return True
            finally:
                self._waiters -= 1

    def run_schedules(self) -> None:
        """Invokes every scheduled handler once, now."""
        with self._lock:
            for schedule in self._schedules:
                schedule.run()

    def start(self) -> EventPump:
        """Polls in a daemon thread until `stop`; a no-op without handlers."""
        if not (self._mappings or self._schedules) or self.running:
            return self
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="chirp-pump", daemon=True)
        self._thread.start()
        log.info("pumping events to %d handlers", len(self._mappings))
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        self._stopping.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the event pump is still in a handler after %s s; leaving its daemon thread",
                        timeout)
        self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self._rounds:
                self._begun += 1
                number, waited_for = self._begun, self._waiters > 0
            settled = False
            try:
                busy = self.poll_once()
                with self._lock:
                    for schedule in self._schedules:
                        busy |= schedule.tick()
                settled = not busy and waited_for and self.settled_now()
            except Exception:  # the pump must outlive any one bad poll
                log.exception("event pump poll failed")
                busy = False
            with self._rounds:
                if settled:
                    self._settled = number
                self._rounds.notify_all()
            # On at once while there is work (a short pause bounds a retry loop);
            # otherwise Lambda's rate of 4 polls a second.
            self._stopping.wait(0.01 if busy else self._poll_interval)
