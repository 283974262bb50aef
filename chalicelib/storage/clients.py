"""The AWS SDK clients chalicelib makes itself (SQS, DynamoDB Streams), one
per service and process, with the retries every DynamoDB client has too:
botocore's standard mode with settings.AWS_CALL_ATTEMPTS tries (PynamoDB's
clients get the same through the models' Meta, chalicelib.storage.tables).

boto3 is imported by the first client, not at import: PynamoDB needs only
botocore, and a container that never sends to a queue or reads a stream
(most HTTP routes) does not pay boto3's import (README, "Cold start")."""
from functools import cache
from typing import Any

from chalicelib import settings


@cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "total_max_attempts": settings.AWS_CALL_ATTEMPTS})
    # The stubs type each service by its literal name; this one function serves them all.
    return boto3.client(service, region_name=settings.REGION, config=config)  # type: ignore[call-overload]
