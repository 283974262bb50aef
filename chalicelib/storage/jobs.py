"""Background jobs: work too big for one invocation, as SQS messages on the
jobs queue, and the registry of what each kind of job runs.

A job is a small JSON object, `{"kind": ..., ...}`, that does one page of
work (about FANOUT_PAGE_SIZE followers) and sends the next page as a new
job, so no invocation grows with follower count. Handlers are idempotent:
SQS delivers at least once.

Each kind is registered next to the code that runs it:

    @jobs.handler("deliver")
    def deliver_page(tweet_id, ...): ...

and `run` calls the handler with the job's fields as keyword arguments.
"""
import json
from collections.abc import Callable
from functools import cache
from typing import Any

from chalicelib import settings
from chalicelib.observe import logs, metrics, traces
from chalicelib.storage import clients

HANDLERS: dict[str, Callable[..., None]] = {}


def handler(kind: str):
    """Registers the decorated function as what jobs of `kind` run."""
    def register(function: Callable[..., None]) -> Callable[..., None]:
        if HANDLERS.setdefault(kind, function) is not function:
            raise ValueError(f"job kind {kind!r} is registered twice")
        return function
    return register


def sqs() -> Any:
    return clients.client("sqs")


@cache
def queue_url(name: str) -> str:
    return sqs().get_queue_url(QueueName=name)["QueueUrl"]


def send(kind: str, delay_seconds: int = 0, **fields) -> None:
    body = json.dumps({"kind": kind, **fields}, separators=(",", ":"))
    sqs().send_message(QueueUrl=queue_url(settings.QUEUE_NAMES["jobs"]), MessageBody=body,
                        DelaySeconds=max(0, min(settings.SQS_MAX_DELAY_SECONDS, delay_seconds)))


def parse(body: str) -> tuple[str, dict]:
    job = json.loads(body)
    return job.pop("kind"), job


def run(body: str) -> None:
    """Runs one job message with the handler registered for its kind."""
    kind, fields = parse(body)
    logs.bind(job_kind=kind)
    metrics.count_by("Jobs", "job_kind", kind)
    if kind not in HANDLERS:
        raise ValueError(f"unknown job kind {kind!r}")
    with traces.span(f"job {kind}"):
        HANDLERS[kind](**fields)
