"""The DynamoDB tables, derived from the PynamoDB models in
chalicelib.storage.tables, so that the local stack's CreateTable calls
(devstack.resources), the data stack (deploy.cloudformation), the IAM
policies (deploy.iam) and the code cannot drift apart.
"""


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


def index_names(model) -> list[str]:
    """The table's global and local secondary indexes."""
    props = table_properties(model)
    return [i["IndexName"] for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
            for i in props.get(kind, [])]


def stream_view_type(model) -> str | None:
    return getattr(model.Meta, "stream_view_type", None)


def create_table_params(model) -> dict:
    """CreateTable's parameters (TTL is a separate call, UpdateTimeToLive)."""
    params = {"TableName": model.Meta.table_name, **table_properties(model)}
    if stream_view_type(model):
        params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream_view_type(model)}
    return params
