"""Lambda event-source mappings as plain data, shared by the two places that
run or declare them: devstack.pump (which runs the mappings locally) and
deploy.event_sources (which writes them for AWS).

Imports nothing from chalicelib: the pump, and tests of it with small apps,
import this without the environment chalicelib.settings reads on import.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class MappingPolicy:
    """What a mapping needs beyond what Chalice's decorators can carry.

    The fields are the CloudFormation `AWS::Lambda::EventSourceMapping`
    properties in snake case, so that infra/ and the pump can be fed the same
    values. For SQS mappings only `report_batch_item_failures` applies: there
    the queue's redrive policy decides when a message has failed for good.
    """

    maximum_retry_attempts: int = 5  # -1: retry until the record is too old
    bisect_batch_on_function_error: bool = True
    maximum_record_age_in_seconds: int = 3600  # -1: no limit
    report_batch_item_failures: bool = True  # FunctionResponseTypes: [ReportBatchItemFailures]
    on_failure_queue: str | None = None  # DestinationConfig.OnFailure: an SQS queue name, URL or ARN


DEFAULT_POLICY = MappingPolicy()


def table_name_from_stream_arn(stream_arn: str) -> str:
    """`arn:aws:dynamodb:region:account:table/<name>/stream/<label>` -> name."""
    parts = stream_arn.split(":", 5)
    resource = parts[5].split("/") if len(parts) == 6 else []
    if len(resource) < 2 or resource[0] != "table":
        raise ValueError(f"not a DynamoDB stream ARN: {stream_arn!r}")
    return resource[1]
