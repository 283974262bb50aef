"""Integration tests: the real app, in process, against moto, through the
same gateway the local server uses (so authorizer and gateway errors behave
as over HTTP)."""
import itertools
import json
from dataclasses import dataclass

import boto3
import pytest
import requests


@pytest.fixture(autouse=True)
def fresh_tables(moto_endpoint):
    """Every test starts from empty tables."""
    from devstack.schema import ensure_tables

    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    ensure_tables(boto3.client("dynamodb"))


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
    from chalicelib import tables

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
