"""Traces (chalicelib.observe.traces): in a Lambda container with active
tracing, a home read and a fan-out are subsegments holding one subsegment
per DynamoDB and SQS call; outside Lambda the X-Ray SDK is never loaded.

Tracer patches botocore for the whole process, so the traced part runs in a
fresh interpreter, as Lambda would run it: LAMBDA_TASK_ROOT and a trace
header in the environment (the X-Ray SDK then builds the function's
segment from it, as in Lambda), against the same moto server and tables.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

TRACED = r"""
import json, sys
from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.core.emitters.udp_emitter import UDPEmitter

from chalicelib import settings
from chalicelib.observe import traces


class Unsent(UDPEmitter):  # no X-Ray daemon here
    def send_entity(self, entity):
        raise AssertionError("streamed out: raise streaming_threshold")


assert settings.TRACING
traces.tracer()  # what a traced container's first span does: load Tracer, patch botocore
xray_recorder.configure(emitter=Unsent(), streaming_threshold=10_000)

from chalicelib.events import consumers, streams
from chalicelib.home import feed
from chalicelib.storage.paging import PageRequest

record = json.loads(sys.argv[1])
consumers.stream_batch({"Records": [record]}, streams.on_tweet_record)
feed.read(int(sys.argv[2]), PageRequest(20, None, None))


def tree(entity):
    return {"name": entity["name"], "annotations": entity.get("annotations", {}),
            "operation": entity.get("aws", {}).get("operation"),
            "children": [tree(s) for s in entity.get("subsegments", [])]}


# What the function's segment holds (Lambda's, made from the trace header).
facade = xray_recorder.current_segment()
print(json.dumps([tree(json.loads(s.serialize())) for s in facade.subsegments]))
"""


# A sampled request's trace header, as Lambda sets it for the function.
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def names(node: dict) -> list[str]:
    return [node["name"]] + [n for child in node["children"] for n in names(child)]


def operations(node: dict) -> list[str]:
    own = [node["operation"]] if node["operation"] else []
    return own + [op for child in node["children"] for op in operations(child)]


@pytest.fixture
def traced_run(moto_endpoint):
    def run(record: dict, reader_id: int) -> list[dict]:
        env = {**os.environ, "LAMBDA_TASK_ROOT": str(ROOT), "AWS_LAMBDA_FUNCTION_NAME": "on_tweet_change",
               "_X_AMZN_TRACE_ID": TRACE_HEADER}
        env.pop("POWERTOOLS_TRACE_DISABLED", None)
        done = subprocess.run([sys.executable, "-c", TRACED, json.dumps(record), str(reader_id)], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.splitlines()[-1])

    return run


def test_a_fan_out_and_a_home_read_are_traced_down_to_each_call(api, make_user, make_tweet, traced_run):
    from chalicelib.storage.tables import TweetModel

    author, token = make_user("author")
    _, follower_token = make_user("follower")
    assert api.post("/users/author/follow", token=follower_token).status == 200
    tweet = make_tweet(token, "traced")
    image = TweetModel.get(int(tweet["id"])).serialize()
    record = {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "1", "NewImage": image}}

    sent = traced_run(record, int(author["id"]))
    by_name = {root["name"]: root for root in sent}
    assert set(by_name) == {"stream record", "home read"}, [names(r) for r in sent]
    fan_out = by_name["stream record"]
    assert fan_out["annotations"] == {"event_name": "INSERT"}
    page, = [c for c in fan_out["children"] if c["name"] == "fan-out page"]
    assert page["annotations"] == {"tweet_id": int(tweet["id"]), "first_page": True}
    assert "BatchWriteItem" in operations(page)  # the delivery, a subsegment of its page
    read = by_name["home read"]
    assert read["annotations"] == {"reader_id": int(author["id"])}
    assert {"GetItem", "Query", "BatchGetItem"} <= set(operations(read))


def test_outside_lambda_nothing_is_traced_and_the_sdk_is_not_loaded():
    code = ("import sys, app\nfrom chalicelib.observe import traces\n"
            "with traces.span('x', a=1):\n    pass\n"
            "assert not any(m.startswith('aws_xray_sdk') for m in sys.modules), 'loaded'")
    env = {k: v for k, v in os.environ.items() if k != "LAMBDA_TASK_ROOT"}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=120)
