"""Faults at the wire: chosen AWS calls answered with the errors AWS returns.

Registered on botocore's `before-send` of every client chalicelib uses, so
botocore's own retry logic sees each fault exactly as it would see AWS's,
and what reaches Chirp is whatever is left once the SDK gives up.

    with WireFaults() as faults:
        faults.fail("TransactWriteItems", times=2)                   # two 500s, then through
        faults.fail("PutItem", times=1, kind="write-then-500")       # applied, but the caller sees 500
"""
import json
import threading
from dataclasses import dataclass

from botocore.awsrequest import AWSResponse
from botocore.httpsession import URLLib3Session

ERRORS = {  # kind -> (status, DynamoDB error type)
    "500": (500, "com.amazonaws.dynamodb.v20120810#InternalServerError"),
    "write-then-500": (500, "com.amazonaws.dynamodb.v20120810#InternalServerError"),
    "throttle": (400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"),
}


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


def chalicelib_clients():
    """Every botocore client chalicelib talks to AWS through."""
    from chalicelib.storage import jobs
    from devstack.metering import dynamodb_clients

    return [*dynamodb_clients(), jobs.sqs()]


class WireFaults:
    def __init__(self):
        self.rules: list[_Rule] = []
        self.attempts: dict[str, int] = {}  # operation -> requests sent (faulted or not)
        self.injected: dict[str, int] = {}  # kind -> faults answered
        self._lock = threading.Lock()
        self._http = URLLib3Session()

    def fail(self, operation: str, times: int, kind: str = "500") -> None:
        """Answers the next `times` calls of `operation` with `kind`."""
        assert kind in ERRORS, kind
        self.rules.append(_Rule(operation, times, kind))

    def _before_send(self, request, **_):
        operation = request.headers.get("X-Amz-Target", b"")
        operation = operation.decode() if isinstance(operation, bytes) else operation
        operation = operation.rpartition(".")[2] or _query_action(request)
        with self._lock:
            self.attempts[operation] = self.attempts.get(operation, 0) + 1
            rule = next((r for r in self.rules if r.operation == operation and r.times > 0), None)
            if rule is None:
                return None
            rule.times -= 1
            self.injected[rule.kind] = self.injected.get(rule.kind, 0) + 1
        if rule.kind == "write-then-500":
            self._http.send(request)  # it lands; the answer is lost
        status, error_type = ERRORS[rule.kind]
        body = json.dumps({"__type": error_type, "message": f"injected {rule.kind}"}).encode()
        return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.0"}, _Body(body))

    def __enter__(self) -> "WireFaults":
        self._clients = chalicelib_clients()
        for client in self._clients:
            client.meta.events.register_first("before-send", self._before_send)
        return self

    def __exit__(self, *exc) -> None:
        for client in self._clients:
            client.meta.events.unregister("before-send", self._before_send)


def _query_action(request) -> str:
    """The action of a query-protocol (SQS) request."""
    body = request.body if isinstance(request.body, (bytes, str)) else b""
    body = body.decode() if isinstance(body, bytes) else body
    for part in body.split("&"):
        if part.startswith("Action="):
            return part[len("Action="):]
    return ""
