"""The app's stream and queue handlers (as app.py declares them), the
mapping policy each runs with, and what its event-source mapping is set to
on AWS.

mapping_policies is the one place for what Chalice's decorators cannot say
about a mapping: the local stack's pump (devstack.stack) runs with it, the
API merge templates (deploy.cloudformation) and `after-deploy`
(deploy.after_deploy) put it on AWS.
"""
import dataclasses

from chalice.app import DynamoDBEventConfig, SQSEventConfig
from chalice.utils import to_cfn_resource_name

from chalicelib import settings
from chalicelib.storage.tables import ALL_MODELS
from deploy.mappings import DEFAULT_POLICY, MappingPolicy, table_name_from_stream_arn
from deploy.naming import camel, short_name, short_of
from deploy.project import stage_config


def event_sources() -> list:
    """The app's stream and queue handlers (chalice's DynamoDBEventConfig and
    SQSEventConfig), as app.py declares them."""
    from app import app

    return [s for s in app.event_sources if isinstance(s, DynamoDBEventConfig | SQSEventConfig)]


def source_table(source: DynamoDBEventConfig):
    """The model whose stream a handler reads, from the table in its ARN."""
    short = short_of(table_name_from_stream_arn(source.stream_arn))
    [model] = [m for m in ALL_MODELS if short_name(m) == short]
    return model


def source_queue(source: SQSEventConfig) -> str:
    """The short name of the queue a handler reads."""
    if source.queue:
        return short_of(source.queue)
    assert source.queue_arn, source.name  # chalice has one or the other
    return short_of(source.queue_arn.rsplit(":", 1)[-1])


def chalice_event_id(source) -> tuple[str, str]:
    """(function logical id, event name) of a handler's mapping in `chalice
    package` output: chalice's own naming (chalice.deploy.appgraph names the
    event `<handler>-dynamodb-event-source` or `-sqs-event-source`)."""
    kind = "dynamodb" if isinstance(source, DynamoDBEventConfig) else "sqs"
    return to_cfn_resource_name(source.name), to_cfn_resource_name(f"{source.name}-{kind}-event-source")


def mapping_policies() -> dict[str, MappingPolicy]:
    """Per stream handler: retries, bisect, record age and where exhausted
    batches go (MappingPolicy's field names are CloudFormation's)."""
    policy = MappingPolicy(maximum_retry_attempts=settings.STREAM_RETRY_ATTEMPTS,
                           bisect_batch_on_function_error=True,
                           maximum_record_age_in_seconds=settings.STREAM_RECORD_MAX_AGE_SECONDS,
                           report_batch_item_failures=True,
                           on_failure_queue=settings.QUEUE_NAMES["stream-failures"])
    return {"on_tweet_change": policy, "on_follow_change": policy, "on_like_change": policy}


def mapping_settings(source, queue_arn, stage: str) -> dict:
    """What a handler's event-source mapping needs beyond chalice's decorator,
    in the property names CloudFormation and Lambda's API share; `queue_arn`
    turns a queue's short name into its ARN (an import, or a real ARN).

    Stream handlers must have a policy in mapping_policies with an
    on-failure queue: Lambda's defaults retry a poison record for a day and
    then drop it. Queue handlers take the pump's default, where only partial
    batch failures apply (the queue's redrive policy does the rest), and a
    maximum concurrency equal to the function's reserved concurrency in
    `stage` (config.json's `reserved_concurrency`): SQS's poller then never
    invokes more than the reservation allows. Without it the poller scales
    past the reservation, Lambda throttles the batches, and each throttled
    message counts a receive: jobs would reach their DLQ without failing."""
    policies = mapping_policies()
    if isinstance(source, SQSEventConfig):
        queue_policy = policies.get(source.name, DEFAULT_POLICY)
        queue_settings: dict[str, object] = {"FunctionResponseTypes": ["ReportBatchItemFailures"]
                                             if queue_policy.report_batch_item_failures else []}
        reserved = stage_config(stage, source.name).reserved_concurrency
        if reserved is not None:
            queue_settings["ScalingConfig"] = {"MaximumConcurrency": reserved}
        return queue_settings
    policy = policies.get(source.name)
    if policy is None or not policy.on_failure_queue:
        raise LookupError(f"{source.name} reads a stream: give it a mapping policy with an on-failure "
                          f"queue in {__name__}.mapping_policies")
    settings_: dict[str, object] = {}
    for field in dataclasses.fields(policy):
        value = getattr(policy, field.name)
        if field.name == "report_batch_item_failures":
            settings_["FunctionResponseTypes"] = ["ReportBatchItemFailures"] if value else []
        elif field.name == "on_failure_queue":
            settings_["DestinationConfig"] = {"OnFailure": {"Destination": queue_arn(short_of(value))}}
        else:  # the rest are CloudFormation's names in snake case
            settings_[camel(field.name)] = value
    return settings_
