"""Work too big for one invocation, as SQS messages on the fan-out queue.

A job is a small JSON object, `{"kind": ..., ...}`, that does one page of
work (about FANOUT_PAGE_SIZE followers) and sends the next page as a new
job, so no invocation grows with follower count. Handlers are idempotent:
SQS delivers at least once.
"""
import json
from functools import cache

import boto3

from chalicelib import settings


@cache
def _sqs():
    return boto3.client("sqs", region_name=settings.REGION)


@cache
def _queue_url(name: str) -> str:
    return _sqs().get_queue_url(QueueName=name)["QueueUrl"]


def send(kind: str, delay_seconds: int = 0, **fields) -> None:
    body = json.dumps({"kind": kind, **fields}, separators=(",", ":"))
    _sqs().send_message(QueueUrl=_queue_url(settings.QUEUE_NAMES["fanout"]), MessageBody=body,
                        DelaySeconds=max(0, min(900, delay_seconds)))


def parse(body: str) -> tuple[str, dict]:
    job = json.loads(body)
    return job.pop("kind"), job
