"""The local stack's tables and queues: created on the local endpoint (the
embedded moto server, or one you name) from the definitions deploy/ also
turns into the data stack (deploy.tables, deploy.queues), so the two cannot
drift apart.
"""
import json

from chalicelib.storage.tables import ALL_MODELS, TTL_ATTRIBUTES
from deploy.queues import queue_definitions
from deploy.tables import create_table_params


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


def ensure_queues(sqs, visibility_timeout: int = 0) -> None:
    """Creates the queues that are missing (dead-letter queues first). The
    visibility timeout is 0 by default, so a failed job is retried at once."""
    for name, attributes in queue_definitions(visibility_timeout).items():
        attributes = dict(attributes)
        if "RedrivePolicy" in attributes:
            redrive = dict(attributes["RedrivePolicy"])
            dlq_url = sqs.get_queue_url(QueueName=redrive["deadLetterTargetArn"])["QueueUrl"]
            redrive["deadLetterTargetArn"] = sqs.get_queue_attributes(
                QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            attributes["RedrivePolicy"] = json.dumps(redrive)
        sqs.create_queue(QueueName=name, Attributes=attributes)
