"""Traces: AWS X-Ray, through Powertools Tracer, loaded only where traced.

The deployment turns on active tracing for every function and the API
stage (.chalice/config.json `xray`, infra/api-<stage>.json), so X-Ray shows
each request's path: API Gateway, the function, and within it a subsegment
per `span` (a home read, a fan-out page, a job) holding a subsegment per
DynamoDB and SQS call (Tracer patches botocore when it loads).

Tracer imports the X-Ray SDK, about 0.27 s even when tracing is off, and
every function imports app.py whole: so nothing is loaded at import, and
outside Lambda (settings.TRACING false: tests, the local stack) nothing is
loaded at all. In Lambda the first invocation of a container loads it
(README, "Cold start", has the cost).
"""
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from chalicelib import settings


@cache
def tracer() -> Any:
    from aws_lambda_powertools import Tracer

    # auto_patch: every botocore call becomes a subsegment of the span it is in.
    return Tracer(service="chirp", disabled=not settings.TRACING)


def begin() -> None:
    """An invocation begins: in a traced container, Tracer is loaded (by the
    first one) so every AWS call of every invocation is a subsegment, in a
    span or not."""
    if settings.TRACING:
        tracer()


@contextmanager
def span(name: str, **annotations: str | int | bool | None) -> Iterator[None]:
    """A subsegment named `name` around the block, annotated (searchable in
    X-Ray: `annotation.tweet_id = 123`) with the keys given that are not None."""
    if not settings.TRACING:
        yield
        return
    with tracer().provider.in_subsegment(name) as subsegment:
        for key, value in annotations.items():
            if value is not None:
                subsegment.put_annotation(key, value)
        yield
