"""Integration tests: the real app, in process, against moto, through the
same gateway the local server uses (so authorizer and gateway errors behave
as over HTTP)."""
import fcntl
import itertools
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests

from deploy import project  # not chalicelib, nor what imports it: the environment comes first


@pytest.fixture(autouse=True)
def fresh_tables(moto_endpoint):
    """Every test starts from empty tables and queues (with no pump, what is
    sent to a queue stays there: a signed-in read's views message, say)."""
    from devstack.resources import ensure_queues, ensure_tables

    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    ensure_tables(boto3.client("dynamodb"))
    ensure_queues(boto3.client("sqs"))


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body) if self.body else None


class ApiClient:
    """Calls the app like an HTTP client would, without sockets."""

    def __init__(self, gateway):
        self.gateway = gateway

    def request(self, method, path, json_body=None, token=None, headers=None, raw=None):
        sent = {"content-type": "application/json"}
        if token:
            sent["authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        body = raw if raw is not None else (json.dumps(json_body).encode() if json_body is not None else None)
        response = self.gateway.handle_request(method, path, sent, body)
        out = response.get("body") or b""
        if isinstance(out, str):
            out = out.encode()
        return Reply(response["statusCode"], {k.lower(): v for k, v in response["headers"].items()}, out)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json_body=None, **kw):
        return self.request("POST", path, json_body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


class Answered(logging.Handler):
    """(method, route, status) of every answer the app gave, from its access lines."""

    def __init__(self):
        super().__init__()
        self.seen: set[tuple[str, str, int]] = set()

    def emit(self, record):
        status = getattr(record, "status", None)
        if isinstance(status, int):
            self.seen.add((record.method, record.route, status))


@pytest.fixture(scope="session", autouse=True)
def answers_are_documented():
    """Every status any integration test saw a route answer (5xx aside: the
    fault tests cause those on purpose) is one the OpenAPI document lists for
    that route (chalicelib.web.openapi), checked when the session ends."""
    from app import app
    from chalicelib.web import openapi

    answered = Answered()
    access = logging.getLogger("chirp.access")
    access.addHandler(answered)
    yield
    access.removeHandler(answered)
    paths = openapi.document(app)["paths"]
    undocumented = sorted((method, route, status) for method, route, status in answered.seen
                          if status < 500 and str(status) not in paths[route][method.lower()]["responses"])
    assert undocumented == [], f"answered but not in the OpenAPI document: {undocumented}"


@pytest.fixture(scope="session")
def api():
    from app import app
    from devstack.gateway import make_gateway

    return ApiClient(make_gateway(app))


_handles = itertools.count()


@pytest.fixture
def make_user(api):
    """Signs up a user; returns (user json, token)."""

    def make(handle=None, password="correct horse", display_name=None):
        handle = handle or f"user{next(_handles)}"
        body = {"handle": handle, "password": password}
        if display_name:
            body["display_name"] = display_name
        reply = api.post("/auth/signup", body)
        assert reply.status == 201, reply.json
        return reply.json["user"], reply.json["token"]

    return make


@pytest.fixture
def concurrent_api(api):
    """`api`, for calling from many threads at once. The gateway makes the
    app's `current_request` thread-local and the embedded moto applies one
    request at a time (devstack.stack.start_moto), so what remains is to
    build PynamoDB's botocore clients up front: it creates each on first use,
    without a lock, and N threads would each build one at once (slowly)."""
    from chalicelib.storage import tables

    for model in tables.ALL_MODELS:
        model.exists()
    assert tables.connection().client is not None
    return api


@pytest.fixture
def make_tweet(api):
    """Posts a tweet; returns its json."""

    def make(token, text="hello", **fields):
        reply = api.post("/tweets", {"text": text, **fields}, token=token)
        assert reply.status == 201, reply.json
        return reply.json

    return make


# --- home timelines: the event pump and its settings ------------------------

@pytest.fixture
def cheap_passwords(monkeypatch):
    """For tests that need many accounts: a cheap scrypt cost keeps sign-up
    fast (the stored form still records the cost, so log-in still works)."""
    from chalicelib.accounts import passwords

    monkeypatch.setattr(passwords, "LOG2_N", 4)


@pytest.fixture
def pump_factory(fresh_tables, monkeypatch):
    """Builds event pumps for the real app's handlers (streams and the
    fan-out queue, with the stack's retry, bisect and on-failure settings).

    `pump_factory()` pumps every handler; `pump_factory(["on_follow_change"])`
    only those named, so a test can run one stream ahead of another (AWS
    orders nothing between them); `wrap(name, handler)` may return a handler
    that stands in for it (to duplicate deliveries or inject failures).

    Transitions in and out of the celebrity path are not delayed here: a
    delayed SQS message is invisible to `drain()`. The celebrity cache starts
    empty, so no test sees another's pulled tweets. Stream retries are cut
    from STREAM_RETRY_ATTEMPTS' 100 to 10: a record that runs out of them
    takes the same path, ten times faster."""
    from chalice import Chalice

    from app import app
    from chalicelib import settings
    from chalicelib.home import reading
    from deploy.event_sources import mapping_policies
    from devstack.pump import EventPump
    from devstack.resources import ensure_queues

    monkeypatch.setattr(settings, "TRANSITION_DELAY_SECONDS", 0)
    monkeypatch.setattr(settings, "STREAM_RETRY_ATTEMPTS", 10)
    monkeypatch.setattr(reading, "_celebrity_cache", {})
    ensure_queues(boto3.client("sqs"))

    def build(names=None, wrap=None) -> EventPump:
        if names is None and wrap is None:
            return EventPump.for_app(app, mapping_policies())
        view = Chalice(app_name=app.app_name)  # the same handlers, some of them, maybe wrapped
        view.event_sources = [s for s in app.event_sources if names is None or s.name in names]
        view.handler_map = {s.name: wrap(s.name, app.handler_map[s.name]) if wrap else app.handler_map[s.name]
                            for s in view.event_sources}
        return EventPump.for_app(view, {name: policy for name, policy in mapping_policies().items()
                                        if name in view.handler_map})

    return build


@pytest.fixture
def pump(pump_factory):
    """Every handler of the real app behind one pump. Tests act through
    `api`, then call `pump.drain()`."""
    return pump_factory()


@pytest.fixture
def queue_messages():
    """Reads (and removes) what is waiting on one of the stack's queues,
    by its short name ("stream-failures", "jobs-dlq", "jobs")."""
    from chalicelib import settings

    sqs = boto3.client("sqs")

    def read(short_name: str) -> list[dict]:
        url = sqs.get_queue_url(QueueName=settings.QUEUE_NAMES[short_name])["QueueUrl"]
        bodies = []
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           VisibilityTimeout=30).get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    return read


@pytest.fixture
def home(api):
    """Reads a whole home timeline through the API, every page; returns the
    tweet ids newest first (and checks each page's contract on the way)."""

    def read(token: str, limit: int = 100) -> list[str]:
        ids, cursor = [], None
        for _ in range(1000):
            path = f"/timelines/home?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            reply = api.get(path, token=token)
            assert reply.status == 200, reply.json
            ids += [t["id"] for t in reply.json["data"]]
            cursor = reply.json["meta"]["next_cursor"]
            if cursor is None:
                return ids
        raise AssertionError("the home timeline never ended")

    return read


class DynamoDBHooks:
    """botocore event hooks on every DynamoDB client chalicelib calls through
    (each PynamoDB model's and the one batches and transactions use), for
    injecting failures: `on("BatchWriteItem", hook)` calls
    `hook(request, operation)` before each such call, with the request's
    parameters; the hook may raise, or return a parsed response to stand in
    for DynamoDB's (see `respond`)."""

    def __init__(self):
        self._registered = []

    @staticmethod
    def clients():
        from devstack.metering import dynamodb_clients

        return dynamodb_clients()

    def on(self, operation: str, hook) -> None:
        def before_call(params, model, **_):
            return hook(json.loads(params["body"]), model.name)

        for client in self.clients():
            client.meta.events.register(f"before-call.dynamodb.{operation}", before_call)
            self._registered.append((client, f"before-call.dynamodb.{operation}", before_call))

    def clear(self) -> None:
        for client, event, hook in self._registered:
            client.meta.events.unregister(event, hook)
        self._registered.clear()

    @staticmethod
    def respond(parsed: dict):
        """What a hook returns to answer a call itself: (HTTP response, parsed body)."""
        from botocore.awsrequest import AWSResponse

        return AWSResponse("http://moto.invalid", 200, {}, None), {**parsed, "ResponseMetadata": {}}

    @staticmethod
    def error(code: str, operation: str):
        from botocore.exceptions import ClientError

        return ClientError({"Error": {"Code": code, "Message": f"injected {code}"}}, operation)


@pytest.fixture
def dynamodb_hooks():
    hooks = DynamoDBHooks()
    yield hooks
    hooks.clear()


@pytest.fixture
def follow(api):
    def do(token, handle):
        assert api.post(f"/users/{handle}/follow", token=token).json == {"following": True}
    return do


@pytest.fixture
def unfollow(api):
    def do(token, handle):
        assert api.delete(f"/users/{handle}/follow", token=token).json == {"following": False}
    return do


@pytest.fixture
def sent_jobs(monkeypatch):
    """Every fan-out job sent, as (kind, fields); the jobs still go out."""
    from chalicelib.storage import jobs

    sent, send = [], jobs.send

    def record(kind, delay_seconds=0, **fields):
        sent.append((kind, fields))
        send(kind, delay_seconds, **fields)

    monkeypatch.setattr(jobs, "send", record)
    return sent


@pytest.fixture
def no_backoff(monkeypatch):
    """botocore's retries without their waits (tests that inject faults at the wire)."""
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)


@pytest.fixture(scope="session", params=project.stages())
def packaged(request, tmp_path_factory):
    """`chalice package --stage <stage> --merge-template infra/api-<stage>.json`,
    run as an operator would, in the project: (stage, the output folder).

    Once per run and stage: test_infra and test_checkov both read it, and
    may run in different xdist workers, so the first to need it packages
    under a lock in the run's shared temporary folder and the other reads
    the result (packaging is about 15 s a stage). Chalice keeps one zip per
    version of the code in .chalice/deployments; the one made here is
    removed again so test runs do not pile them up."""
    from deploy import cloudformation

    stage = request.param
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the run's, not the worker's
    out = shared / f"packaged-{stage}"
    with open(shared / f"packaged-{stage}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "sam.json").exists():
            _package(stage, cloudformation.api_template_path(stage), project.ROOT, out)
    return stage, out


def _package(stage: str, merge_template: Path, root: Path, out: Path) -> None:
    chalice = Path(sys.executable).with_name("chalice")
    cache = root / ".chalice" / "deployments"
    before = set(cache.glob("*.zip")) if cache.exists() else set()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_STREAM_ARN")}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    building = out.with_name(out.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    started = time.monotonic()
    try:
        subprocess.run([str(chalice if chalice.exists() else shutil.which("chalice")), "package",
                        "--stage", stage, "--merge-template", str(merge_template), str(building)],
                       cwd=root, env=env, check=True, capture_output=True, text=True, timeout=300)
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"chalice package failed:\n{exc.stdout}\n{exc.stderr}")
    finally:
        for made in (set(cache.glob("*.zip")) if cache.exists() else set()) - before:
            made.unlink(missing_ok=True)
        if not before and cache.exists() and not any(cache.iterdir()):
            cache.rmdir()
    building.rename(out)  # whole, or not there: a reader waits on the lock, then finds sam.json
    print(f"chalice package --stage {stage} took {time.monotonic() - started:.1f} s")
