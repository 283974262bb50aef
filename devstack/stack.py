"""The local stack: an embedded moto server (DynamoDB, DynamoDB Streams, SQS)
or an endpoint you name, the tables, the event-source pump and the Chalice
HTTP server, all on 127.0.0.1.

Environment first, imports later: chalicelib reads its settings when
imported, so `configure_environment` must run before `app` is imported.
"""
import functools
import itertools
import json
import os
import secrets
import threading
import time
from typing import Any

import boto3

LOCAL_REGION = "us-east-1"


def configure_environment(endpoint: str) -> None:
    """Points every AWS client at `endpoint` with throwaway credentials."""
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", LOCAL_REGION)
    os.environ.setdefault("AWS_REGION", os.environ["AWS_DEFAULT_REGION"])
    # botocore >= 1.44.4 otherwise builds account-based endpoints that moto
    # does not answer for DynamoDB Streams.
    os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    os.environ.setdefault("CHIRP_STAGE", "local")
    # A fresh random key per run: tokens die with the (in-memory) data.
    os.environ.setdefault("JWT_SECRET", secrets.token_urlsafe(48))
    # moto's indexes have no replication lag to wait out.
    os.environ.setdefault("TRANSITION_DELAY_SECONDS", "0")


def existing_endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")


def start_moto():
    """An embedded moto server on a free loopback port."""
    from moto.server import ThreadedMotoServer

    _one_request_at_a_time()
    _cancelled_transactions_undo_only_their_writes()
    _transactions_are_idempotent()
    _fifo_queues_keep_order()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def _one_request_at_a_time() -> None:
    """Makes the embedded moto apply one request at a time.

    moto checks and writes a transaction's items without a lock, and undoes
    a cancelled one after the fact (`_cancelled_transactions_undo_only_their_writes`),
    so concurrent requests could see or lose each other's writes there,
    which DynamoDB never does (and a reader of the tables' streams could see
    the cancelled writes).
    Serialising moto's request handler restores the guarantee the app relies
    on (each request is atomic and isolated); the app's own requests still
    interleave freely.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    handle = DomainDispatcherApplication.__call__
    if handle in _SERIALISED:
        return
    lock = threading.Lock()

    def serialised(self, environ, start_response):
        with lock:
            return handle(self, environ, start_response)

    _SERIALISED.add(serialised)
    setattr(DomainDispatcherApplication, "__call__", serialised)  # noqa: B010 (patching a method)


_SERIALISED: set = set()  # the request handlers already wrapped (one per process)


def _cancelled_transactions_undo_only_their_writes() -> None:
    """Makes a cancelled transaction undo exactly its own writes, stream
    records included, and nothing else.

    moto applies a transaction's writes one by one (a repeated like: the
    tweet's count goes up before the like's failed condition is found) and
    rolls a cancelled one back by putting deep copies of the tables, taken
    beforehand, in their place. Two things go wrong with that:

    - The copies include the stream shards. The shard the writes went to is
      left an orphan, holding stream records of writes that never happened,
      and every shard iterator taken before then reads it; the copy numbers
      its records by their count, so the next real write reuses the first
      orphaned record's sequence number, and a reader that goes on "after the
      last record read" skips it (issue 10: a tweet's fan-out lost). DynamoDB
      writes no stream record for a cancelled transaction.
    - Copying whole tables makes every transaction cost as much as the data
      written so far: a test's hundredth like copies every tweet, like and
      timeline entry. It was a third of the moto server's time in the suite,
      and half a second per post in the benchmark (a post counts itself on
      its author: the whole users table, copied).

    So the tables stay in place (moto's copy is made the table itself), and a
    cancelled transaction puts back the items it named as they were before,
    and cuts the stream back to the records it had: iterators already taken
    read on, and no record anyone could read is dropped or has its sequence
    number reused (requests are serialised, so the cut records were never
    visible and nothing else ran in between). A transaction can only write
    the items it names, so those are all there is to restore.
    devstack.pump copes with moto's own rollback too, for an endpoint that is
    not this one.
    """
    import copy

    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend, DynamoType
    from moto.dynamodb.models.table import Table

    write = DynamoDBBackend.transact_write_items
    if getattr(write, "undoes_only_its_writes", False):
        return

    undoing = threading.local()  # set while this wrapper, which does the undoing, runs

    class _TablesStayInPlace:
        """moto's `copy`, except that a table's "backup" is the table while
        this wrapper runs (moto's own method, called alone, copies as ever)."""
        def __getattr__(self, name):
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value, memo=None):
            if isinstance(value, Table) and getattr(undoing, "active", False):
                return value
            return copy.deepcopy(value, memo)

    def named_items(backend, transact_items):
        """(table, hash key, range key) of each item the transaction names."""
        for entry in transact_items:
            for op in entry.values():
                table = backend.tables.get(op.get("TableName"))
                if table is None:
                    continue  # moto answers ResourceNotFound before writing anything
                key = op.get("Key") or op.get("Item") or {}
                try:
                    hash_key = DynamoType(key[table.hash_key_attr])
                    range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
                except (KeyError, TypeError, AttributeError, IndexError):  # moto refuses it, writing nothing
                    continue
                yield table, hash_key, range_key

    def restore(table, hash_key, range_key, had_hash, item) -> None:
        """Puts one item back as it was, through the table's own writes (so
        whatever watches them, such as bench.fastmoto's partitions, hears)."""
        if item is not None:
            table.put_item(item.to_json()["Attributes"], overwrite=True)
            return
        table.delete_item(hash_key, range_key)
        if range_key is not None and not had_hash and not table.items.get(hash_key, True):
            del table.items[hash_key]  # the empty partition map the write left

    @functools.wraps(write)
    def transact_write_items(self, transact_items):
        before = [(table, hash_key, range_key, hash_key in table.items,
                   copy.deepcopy(table.get_item(hash_key, range_key)))
                  for table, hash_key, range_key in named_items(self, transact_items)]
        streams = [(shard, len(shard.items)) for shard in
                   (table.stream_shard for table in self.tables.values()) if shard is not None]
        undoing.active = True
        try:
            return write(self, transact_items)
        except Exception:
            for table, hash_key, range_key, had_hash, item in reversed(before):
                restore(table, hash_key, range_key, had_hash, item)
            for shard, length in streams:
                del shard.items[length:]  # what the cancelled transaction and its undoing wrote
            raise
        finally:
            undoing.active = False

    models.copy = _TablesStayInPlace()  # type: ignore[assignment]  # the module moto copies tables with
    transact_write_items.undoes_only_its_writes = True  # type: ignore[attr-defined]
    setattr(DynamoDBBackend, "transact_write_items", transact_write_items)  # noqa: B010 (patching a method)


IDEMPOTENCY_WINDOW_SECONDS = 600  # DynamoDB honours a ClientRequestToken for ten minutes


def _transactions_are_idempotent() -> None:
    """Makes TransactWriteItems honour ClientRequestToken, as DynamoDB does.

    Within ten minutes, a transaction repeated with the same token and the
    same items succeeds without being applied again; with the same token and
    other items it fails with IdempotentParameterMismatchException. moto
    ignores the token, so an SDK retry of a transaction that landed although
    its answer was lost finds its own conditions false: a DELETE /tweets/{id}
    that worked would answer 404 locally and not on AWS (found by `make
    chaos`, write-then-500). Requests are serialised, so no lock is needed.
    """
    from moto.core.responses import ActionResult
    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    write = DynamoHandler.transact_write_items
    if getattr(write, "honours_tokens", False):
        return
    applied: dict[tuple[int, str], tuple[str, float]] = {}  # (backend, token) -> (items, when)

    mismatch = "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException"

    @functools.wraps(write)
    def transact_write_items(self):
        token = self.body.get("ClientRequestToken")
        if not token:
            return write(self)
        now = time.monotonic()
        for key in [k for k, (_, when) in applied.items() if now - when > IDEMPOTENCY_WINDOW_SECONDS]:
            del applied[key]
        key = (id(self.dynamodb_backend), token)
        items = json.dumps(self.body["TransactItems"], sort_keys=True)
        if key in applied:
            if applied[key][0] != items:
                raise DynamodbException(mismatch, "Request with the same client token was made with "
                                                  "different parameters")
            return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
        result = write(self)
        applied[key] = (items, now)
        return result

    transact_write_items.honours_tokens = True  # type: ignore[attr-defined]
    setattr(DynamoHandler, "transact_write_items", transact_write_items)  # noqa: B010 (patching a method)


def _fifo_queues_keep_order() -> None:
    """Makes FIFO queues number and hand out each group's messages in order,
    as SQS does. chalicelib.tweets.views relies on both: SQS's
    SequenceNumber "continues to increase for a particular MessageGroupId",
    and a group's next messages are not delivered before the earlier ones
    are deleted.

    moto draws each SequenceNumber at random (20 random digits), so here
    they come from one increasing counter (20 digits, like AWS's), which
    increases within every group. And moto's ReceiveMessage takes a message
    that is visible again (its visibility timeout over, or 0 as in the local
    stack) out of the in-flight set only when it meets it, checking the
    group against that set each time: with two failed messages of a group
    waiting, the first is skipped as "in flight" while the second clears the
    group and goes out ahead of it. So every visible message leaves the
    in-flight set before the receive begins, and the group's messages then
    go out in the order they were sent. Requests are serialised, so no lock
    is needed.
    """
    from moto.sqs.models import SQSBackend

    send, receive = SQSBackend.send_message, SQSBackend.receive_message
    if getattr(send, "numbers_in_order", False):
        return
    numbers = itertools.count(10 ** 19)

    @functools.wraps(send)
    def send_message(self, queue_name, *args, **kwargs):
        message = send(self, queue_name, *args, **kwargs)
        if self.get_queue(queue_name).fifo_queue:
            message.sequence_number = f"{next(numbers):020d}"
        return message

    @functools.wraps(receive)
    def receive_message(self, queue_name, *args, **kwargs):
        queue = self.get_queue(queue_name)
        if queue.fifo_queue:
            for message in [m for m in queue.pending_messages if m.visible]:
                queue.pending_messages.remove(message)
        return receive(self, queue_name, *args, **kwargs)

    send_message.numbers_in_order = True  # type: ignore[attr-defined]
    setattr(SQSBackend, "send_message", send_message)  # noqa: B010 (patching a method)
    setattr(SQSBackend, "receive_message", receive_message)  # noqa: B010 (patching a method)


def dynamodb_client():
    return boto3.client("dynamodb")


class LocalStack:
    """Starts and stops the pieces in order. `port=0` picks a free port."""

    def __init__(self, port: int = 8000, host: str = "127.0.0.1"):
        self.host, self.port = host, port
        self.moto: Any = None  # moto's ThreadedMotoServer, when embedded
        self.endpoint: str | None = None
        self.http: Any = None  # chalice's LocalDevServer
        self.pump: Any = None  # devstack.pump.EventPump
        self.metrics: Any = None  # devstack.run_metrics.RunMetrics: what the run measured, from start on
        self._threads: list[threading.Thread] = []

    def start(self) -> "LocalStack":
        endpoint = existing_endpoint()
        if endpoint is None:
            self.moto, endpoint = start_moto()
        self.endpoint = endpoint
        configure_environment(endpoint)
        from deploy.event_sources import mapping_policies
        from devstack import run_metrics
        from devstack.resources import ensure_queues, ensure_tables

        self.metrics = run_metrics.RunMetrics()
        run_metrics.observe(self.metrics)
        ensure_tables(dynamodb_client())
        ensure_queues(boto3.client("sqs"))
        from app import app
        from devstack.gateway import make_server
        from devstack.pump import EventPump

        self.app = app
        self.pump = EventPump.for_app(app, mapping_policies())
        self.pump.start()
        self.http = make_server(app, self.host, self.port, on_response=self.metrics.response)
        self.port = self.http.server.server_address[1]
        thread = threading.Thread(target=self.http.server.serve_forever, name="chirp-http", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self.http:
            self.http.server.shutdown()
            self.http.server.server_close()
        if self.pump:
            self.pump.stop()
        if self.moto:
            self.moto.stop()
        if self.metrics:
            from devstack import run_metrics

            run_metrics.observe(None)
