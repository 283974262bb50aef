"""Table definitions derived from the PynamoDB models in chalicelib.tables,
so the local stack, infra/ and the code cannot drift apart."""
from chalicelib import settings
from chalicelib.tables import ALL_MODELS, TTL_ATTRIBUTES


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
