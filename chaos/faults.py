"""Faults at the wire: AWS calls answered with the errors AWS returns.

Registered on botocore's `before-send` of the clients named (by default every
client chalicelib uses: each PynamoDB model's, the transactions connection's,
SQS and DynamoDB Streams), so botocore's own retry logic sees each fault
exactly as it would see AWS's, and what reaches Chirp is whatever is left
once the SDK gives up. Two modes, which can be combined:

    with WireFaults() as faults:                                     # scripted
        faults.fail("TransactWriteItems", times=2)                   # two 500s, then through
        faults.fail("PutItem", times=1, kind="write-then-500")       # applied, but the caller sees 500

    with WireFaults(extra_clients=pump_clients(pump)) as faults:     # random
        faults.storm("mix", rate=0.3, rng=random.Random(7))          # about 30% of eligible calls fail
        ...
        faults.calm()                                                # silence

Kinds, and the calls each applies to:

- `500`: every DynamoDB, Streams and SQS call; 500 InternalServerError
  (SQS: InternalFailure).
- `throttle`: the same calls; 400 ProvisionedThroughputExceededException
  (Streams: LimitExceededException, SQS: RequestThrottled).
- `write-then-500`: DynamoDB writes, SQS sends, receives and deletes; the
  request is really sent and applied, the caller sees a 500.
- `unprocessed`: BatchWriteItem and BatchGetItem; some items or keys are held
  back and answered as UnprocessedItems / UnprocessedKeys, the rest really
  is written or read (moto itself never leaves anything unprocessed).
- `stream`: DynamoDB Streams calls (the pump's and the redrive's); a 500 or
  a throttle.
- `queue`: SQS SendMessage(Batch), ReceiveMessage, DeleteMessage(Batch),
  ChangeMessageVisibility; a 500 or a throttle.
- `mix`: all of the above; per call, one of the kinds that applies to it.

SQS is spoken in its JSON protocol (X-Amz-Target `AmazonSQS.<Action>`) by
botocore >= 1.34; the query protocol (`Action=` in the body) is understood too.
"""
from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.httpsession import URLLib3Session

KINDS = ("throttle", "500", "unprocessed", "write-then-500", "stream", "queue", "mix")

DYNAMODB, STREAMS, SQS = "dynamodb", "dynamodbstreams", "sqs"
TARGET_PREFIXES = {"DynamoDB_20120810": DYNAMODB, "DynamoDBStreams_20120810": STREAMS, "AmazonSQS": SQS}

DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
SQS_QUEUE_CALLS = frozenset({"SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage",
                             "DeleteMessageBatch", "ChangeMessageVisibility"})
BATCHES = frozenset({"BatchWriteItem", "BatchGetItem"})

_DDB = "com.amazonaws.dynamodb.v20120810#"
# (service, error) -> (status, __type, the query-compatible code SQS also sends)
ERRORS: dict[tuple[str, str], tuple[int, str, str | None]] = {
    (DYNAMODB, "500"): (500, _DDB + "InternalServerError", None),
    (DYNAMODB, "throttle"): (400, _DDB + "ProvisionedThroughputExceededException", None),
    (STREAMS, "500"): (500, _DDB + "InternalServerError", None),
    (STREAMS, "throttle"): (400, _DDB + "LimitExceededException", None),
    (SQS, "500"): (500, "com.amazonaws.sqs#InternalFailure", "InternalFailure;Receiver"),
    (SQS, "throttle"): (400, "com.amazonaws.sqs#RequestThrottled", "RequestThrottled;Sender"),
}


def applies(kind: str, service: str, operation: str) -> bool:
    """Whether a fault of `kind` can answer this call (mix: any that can)."""
    if kind in ("500", "throttle"):
        return True
    if kind == "write-then-500":
        return operation in DYNAMODB_WRITES if service == DYNAMODB else (
            service == SQS and operation in SQS_QUEUE_CALLS)
    if kind == "unprocessed":
        return service == DYNAMODB and operation in BATCHES
    if kind == "stream":
        return service == STREAMS
    if kind == "queue":
        return service == SQS and operation in SQS_QUEUE_CALLS
    if kind == "mix":
        return True
    raise ValueError(f"unknown fault kind {kind!r}")


class _Body:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **_):
        yield self.data


@dataclass
class _Rule:
    operation: str
    times: int
    kind: str


def chalicelib_clients() -> list[Any]:
    """Every botocore client chalicelib talks to AWS through."""
    from chalicelib.storage import clients
    from devstack.metering import dynamodb_clients

    return [*dynamodb_clients(), clients.client("sqs"), clients.client("dynamodbstreams")]


def pump_clients(pump: Any) -> list[Any]:
    """The clients a devstack.pump.EventPump polls with (its own: DynamoDB
    for the tables' streams, DynamoDB Streams, SQS)."""
    seen: dict[int, Any] = {}
    for mapping in pump._mappings:  # the pump has no public view of its clients (yet)
        for client in (mapping.clients.dynamodb, mapping.clients.streams, mapping.clients.sqs):
            seen[id(client)] = client
    return list(seen.values())


def _call(request: Any) -> tuple[str, str]:
    """(service, operation) of a request about to be sent."""
    target = request.headers.get("X-Amz-Target", b"")
    target = target.decode() if isinstance(target, bytes) else target
    if target:
        prefix, _, operation = target.rpartition(".")
        return TARGET_PREFIXES.get(prefix, prefix), operation
    return SQS, _query_action(request)


class WireFaults:
    def __init__(self, clients: Sequence[Any] | None = None, extra_clients: Sequence[Any] = ()):
        self.rules: list[_Rule] = []
        self.attempts: Counter[str] = Counter()  # operation -> requests sent (faulted or not)
        self.injected: Counter[str] = Counter()  # kind -> faults answered
        self.by_operation: Counter[tuple[str, str]] = Counter()  # (kind, operation) -> faults answered
        self.storm_kind: str | None = None
        self.rate = 0.0
        self.rng = random.Random(0)
        self._lock = threading.Lock()
        self._http = URLLib3Session()
        self._given = clients
        self._extra = list(extra_clients)
        self._clients: list[Any] = []

    # --- the two modes --------------------------------------------------------------------------------

    def fail(self, operation: str, times: int, kind: str = "500") -> None:
        """Answers the next `times` calls of `operation` with `kind`."""
        assert kind in ("500", "throttle", "write-then-500"), kind
        self.rules.append(_Rule(operation, times, kind))

    def storm(self, kind: str, rate: float, rng: random.Random) -> None:
        """From now on, answers each call that `kind` applies to with its
        fault, with probability `rate`."""
        assert kind in KINDS, kind
        with self._lock:
            self.storm_kind, self.rate, self.rng = kind, rate, rng

    def calm(self) -> None:
        """No more random faults (scripted ones still apply)."""
        with self._lock:
            self.storm_kind, self.rate = None, 0.0

    @property
    def total(self) -> int:
        return sum(self.injected.values())

    # --- answering ------------------------------------------------------------------------------------

    def _choose(self, service: str, operation: str) -> str | None:
        """The fault to answer this call with, if any (under the lock)."""
        rule = next((r for r in self.rules if r.operation == operation and r.times > 0), None)
        if rule is not None:
            rule.times -= 1
            return rule.kind
        kind = self.storm_kind
        if kind is None or not applies(kind, service, operation) or self.rng.random() >= self.rate:
            return None
        if kind == "mix":
            kind = self.rng.choice([k for k in ("500", "throttle", "write-then-500", "unprocessed")
                                    if applies(k, service, operation)])
        elif kind in ("stream", "queue"):
            kind = self.rng.choice(["500", "throttle"])
        return kind

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        service, operation = _call(request)
        with self._lock:
            self.attempts[operation] += 1
            kind = self._choose(service, operation)
            if kind is None:
                return None
            self.injected[kind] += 1
            self.by_operation[kind, operation] += 1
            held = self.rng.random  # for `unprocessed`, under the same seed
        if kind == "unprocessed":
            return self._unprocessed(request, operation, held)
        if kind == "write-then-500":
            self._http.send(request)  # it lands; the answer is lost
            kind = "500"
        status, error_type, query_error = ERRORS[service, kind]
        body = json.dumps({"__type": error_type, "message": f"injected {kind}"}).encode()
        headers = _json_headers()
        if query_error:
            headers["x-amzn-query-error"] = query_error
        return AWSResponse(request.url, status, headers, _Body(body))

    def _unprocessed(self, request: Any, operation: str, draw: Any) -> AWSResponse:
        """Holds back about half of a batch (at least one item), sends the
        rest for real and answers as DynamoDB does when it processed only part."""
        body = json.loads(request.body)
        items = body["RequestItems"]
        listed = [(table, n) for table, entry in items.items()
                  for n in range(len(entry if operation == "BatchWriteItem" else entry["Keys"]))]
        held = {pick for pick in listed if draw() < 0.5} or {listed[int(draw() * len(listed))]}
        sent: dict[str, Any] = {}
        unprocessed: dict[str, Any] = {}
        for table, entry in items.items():
            if operation == "BatchWriteItem":
                keep = [r for n, r in enumerate(entry) if (table, n) not in held]
                back = [r for n, r in enumerate(entry) if (table, n) in held]
                if keep:
                    sent[table] = keep
                if back:
                    unprocessed[table] = back
            else:
                keys = entry["Keys"]
                keep = [k for n, k in enumerate(keys) if (table, n) not in held]
                back = [k for n, k in enumerate(keys) if (table, n) in held]
                if keep:
                    sent[table] = {**entry, "Keys": keep}
                if back:
                    unprocessed[table] = {**entry, "Keys": back}
        answer: dict[str, Any] = {"Responses": {}} if operation == "BatchGetItem" else {}
        if sent:
            data = json.dumps({**body, "RequestItems": sent}).encode()
            request.body = data
            request.headers["Content-Length"] = str(len(data))
            response = self._http.send(request)
            if response.status_code != 200:
                return response  # moto's own error, as it came
            answer = json.loads(response.content)
        own = "UnprocessedItems" if operation == "BatchWriteItem" else "UnprocessedKeys"
        for table, entry in (answer.get(own) or {}).items():  # moto never leaves any, but merge if it did
            if operation == "BatchWriteItem":
                unprocessed.setdefault(table, []).extend(entry)
            else:
                unprocessed.setdefault(table, {**entry, "Keys": []})["Keys"].extend(entry["Keys"])
        answer[own] = unprocessed
        out = json.dumps(answer).encode()
        return AWSResponse(request.url, 200, _json_headers(), _Body(out))

    # --- attaching ------------------------------------------------------------------------------------

    def __enter__(self) -> WireFaults:
        clients = self._given if self._given is not None else chalicelib_clients()
        seen = {id(c): c for c in [*clients, *self._extra]}
        self._clients = list(seen.values())
        for client in self._clients:
            client.meta.events.register_first("before-send", self._before_send)
        return self

    def __exit__(self, *exc: object) -> None:
        for client in self._clients:
            client.meta.events.unregister("before-send", self._before_send)
        self._clients = []


def _json_headers() -> HTTPHeaders:
    return HTTPHeaders.from_dict({"Content-Type": "application/x-amz-json-1.0"})


def _query_action(request: Any) -> str:
    """The action of a query-protocol request (SQS before its JSON protocol)."""
    body = request.body if isinstance(request.body, bytes | str) else b""
    body = body.decode() if isinstance(body, bytes) else body
    for part in body.split("&"):
        if part.startswith("Action="):
            return part[len("Action="):]
    return ""
