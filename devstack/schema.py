"""Table definitions derived from the PynamoDB models in chalicelib.tables,
so the local stack, infra/ and the code cannot drift apart."""
from chalicelib import settings
from chalicelib.storage.tables import ALL_MODELS, TTL_ATTRIBUTES


def short_name(model) -> str:
    """The table's name within a stage ("users"), from settings.TABLE_NAMES."""
    for short, full in settings.TABLE_NAMES.items():
        if full == model.Meta.table_name:
            return short
    raise LookupError(model.Meta.table_name)


def _key_schema(keys: list[dict]) -> list[dict]:
    return sorted(keys, key=lambda k: k["KeyType"] != "HASH")  # HASH must come first


def _index(index: dict) -> dict:
    return {"IndexName": index["index_name"], "KeySchema": _key_schema(index["key_schema"]),
            "Projection": index["projection"]}


def table_properties(model) -> dict:
    """The table in CreateTable / CloudFormation property names (the two
    agree on everything used here except the stream and TTL settings)."""
    schema = model._get_schema()
    props = {
        "AttributeDefinitions": sorted(schema["attribute_definitions"], key=lambda a: a["AttributeName"]),
        "KeySchema": _key_schema(schema["key_schema"]),
        "BillingMode": model.Meta.billing_mode,
    }
    if schema.get("global_secondary_indexes"):
        props["GlobalSecondaryIndexes"] = [_index(i) for i in schema["global_secondary_indexes"]]
    if schema.get("local_secondary_indexes"):
        props["LocalSecondaryIndexes"] = [_index(i) for i in schema["local_secondary_indexes"]]
    return props


def stream_view_type(model) -> str | None:
    return getattr(model.Meta, "stream_view_type", None)


def create_table_params(model) -> dict:
    params = {"TableName": model.Meta.table_name, **table_properties(model)}
    if stream_view_type(model):
        params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream_view_type(model)}
    return params


def ensure_tables(client) -> list[str]:
    """Creates every table that is missing (with its stream and TTL) and
    waits for it; returns the names created."""
    existing = set()
    for page in client.get_paginator("list_tables").paginate():
        existing.update(page["TableNames"])
    created = []
    for model in ALL_MODELS:
        name = model.Meta.table_name
        if name in existing:
            continue
        client.create_table(**create_table_params(model))
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
        if model in TTL_ATTRIBUTES:
            client.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "Enabled": True, "AttributeName": TTL_ATTRIBUTES[model]})
        created.append(name)
    return created


# --- queues and event-source mappings ---------------------------------------
# What Chalice's decorators cannot say about the event sources, in one place
# for the local stack (devstack.stack, devstack.pump) and infra/.


def queue_definitions(visibility_timeout: int) -> dict[str, dict]:
    """Queue name -> CreateQueue attributes (the DLQ's ARN is filled in by
    the caller, which knows it). Lambda wants a queue's visibility timeout
    at least six times the function's timeout; the local stack uses 0 so a
    failed job is retried at once."""
    q = settings.QUEUE_NAMES
    return {
        q["jobs-dlq"]: {"MessageRetentionPeriod": str(14 * 86400)},
        q["stream-failures"]: {"MessageRetentionPeriod": str(14 * 86400)},
        q["jobs"]: {"VisibilityTimeout": str(visibility_timeout),
                    "RedrivePolicy": {"deadLetterTargetArn": q["jobs-dlq"],
                                      "maxReceiveCount": str(settings.JOBS_MAX_RECEIVES)}},
    }


def mapping_policies():
    """Per stream handler: retries, bisect, record age and where exhausted
    batches go (the pump's MappingPolicy field names are CloudFormation's)."""
    from devstack.pump import MappingPolicy

    policy = MappingPolicy(maximum_retry_attempts=10, bisect_batch_on_function_error=True,
                           maximum_record_age_in_seconds=6 * 3600, report_batch_item_failures=True,
                           on_failure_queue=settings.QUEUE_NAMES["stream-failures"])
    return {"on_tweet_change": policy, "on_follow_change": policy, "on_like_change": policy}


def ensure_queues(sqs, visibility_timeout: int = 0) -> None:
    """Creates the queues that are missing (dead-letter queues first)."""
    import json

    for name, attributes in queue_definitions(visibility_timeout).items():
        attributes = dict(attributes)
        if "RedrivePolicy" in attributes:
            redrive = dict(attributes["RedrivePolicy"])
            dlq_url = sqs.get_queue_url(QueueName=redrive["deadLetterTargetArn"])["QueueUrl"]
            redrive["deadLetterTargetArn"] = sqs.get_queue_attributes(
                QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            attributes["RedrivePolicy"] = json.dumps(redrive)
        sqs.create_queue(QueueName=name, Attributes=attributes)
