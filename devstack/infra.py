"""The deployment files, generated from the code that defines what they describe.

- `infra/tables.json`: the infra stack, deployed first. One DynamoDB table per
  PynamoDB model in chalicelib.tables (keys, indexes, stream, TTL as in the
  local stack's CreateTable calls), with names and stream ARNs exported.
- `infra/api.json`: merged into `chalice package` output. For now the
  GatewayResponses that give API Gateway's own errors the contract's shape,
  built from the table the local gateway answers with.
- `.chalice/policy-*.json`: one IAM policy per file that `.chalice/config.json`
  names, least privilege, on this stage's exact tables.

`.chalice/config.json` itself is written by hand (memory, timeouts and the
stages are tuned there); it is an input here, and tests hold it to settings.

    python -m devstack.infra                  # write the files (`make infra`)
    python -m devstack.infra --check          # exit 1 if a committed file is stale
    python -m devstack.infra gateway-responses --stage dev
                                              # after `chalice deploy`, see infra/README.md
"""
import argparse
import json
import re
import sys
from pathlib import Path

from chalice.config import Config

from chalicelib import settings
from chalicelib.tables import ALL_MODELS, TTL_ATTRIBUTES
from devstack.gateway import GATEWAY_ERRORS, gateway_response
from devstack.schema import short_name, stream_view_type, table_properties

PROJECT = Path(__file__).resolve().parent.parent
INFRA = PROJECT / "infra"
CHALICE = PROJECT / ".chalice"
STAGE_REF = "${Stage}"  # the infra stack's parameter, inside Fn::Sub strings
PROTECTED_STAGE = "prod"  # its tables also refuse a DeleteTable


# --- .chalice/config.json (the hand-written input) ---------------------------

def chalice_config() -> dict:
    return json.loads((CHALICE / "config.json").read_text())


def stages() -> list[str]:
    return sorted(chalice_config()["stages"])


def stage_config(stage: str, function: str = "api_handler") -> Config:
    """The settings chalice itself resolves for one function of a stage."""
    return Config(chalice_stage=stage, function_name=function, config_from_disk=chalice_config())


def policy_file(stage: str, function: str | None = None) -> str:
    """The policy file chalice gives `function`, or the stage's own (which
    every function without one of its own uses); chalice's default if unset."""
    if function is None:
        config = chalice_config()
        named = config["stages"][stage].get("iam_policy_file") or config.get("iam_policy_file")
    else:
        named = stage_config(stage, function).iam_policy_file
    return named or f"policy-{stage}.json"


# --- tables ------------------------------------------------------------------

def table_name(model, stage: str) -> str:
    """The table's name in `stage`, as settings.TABLE_NAMES computes it there."""
    return settings.NAME_PATTERN.format(stage=stage, name=short_name(model))


def export_name(model, what: str, stage: str = STAGE_REF) -> str:
    """The infra stack's export of one fact about a table, e.g.
    `chirp-prod-tweets-stream-arn`: what other stacks import."""
    return f"{table_name(model, stage)}-{what}"


def logical_id(model) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", short_name(model))) + "Table"


def _key(key: dict) -> dict:
    return {"AttributeName": key["AttributeName"], "KeyType": key["KeyType"]}


def _index(index: dict) -> dict:
    return {**index, "KeySchema": [_key(k) for k in index["KeySchema"]]}


def table_resource(model) -> dict:
    props = dict(table_properties(model))
    props["KeySchema"] = [_key(k) for k in props["KeySchema"]]
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if kind in props:
            props[kind] = [_index(i) for i in props[kind]]
    if stream_view_type(model):
        props["StreamSpecification"] = {"StreamViewType": stream_view_type(model)}
    if model in TTL_ATTRIBUTES:
        props["TimeToLiveSpecification"] = {"AttributeName": TTL_ATTRIBUTES[model], "Enabled": True}
    props.update({
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True},
        "DeletionProtectionEnabled": {"Fn::If": ["IsProtected", True, False]},
        "Tags": [{"Key": "app", "Value": "chirp"}, {"Key": "stage", "Value": {"Ref": "Stage"}}],
    })
    return {
        "Type": "AWS::DynamoDB::Table",
        # Data outlives stacks: deleting or replacing the stack keeps the table.
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {"TableName": {"Fn::Sub": table_name(model, STAGE_REF)}, **props},
    }


def table_outputs(model) -> dict:
    name = logical_id(model)
    outputs = {f"{name}Name": {
        "Description": f"The {short_name(model)} table's name",
        "Value": {"Ref": name},
        "Export": {"Name": {"Fn::Sub": export_name(model, "name")}},
    }}
    if stream_view_type(model):
        outputs[f"{name}StreamArn"] = {
            "Description": f"The {short_name(model)} table's stream",
            "Value": {"Fn::GetAtt": [name, "StreamArn"]},
            "Export": {"Name": {"Fn::Sub": export_name(model, "stream-arn")}},
        }
    return outputs


def tables_template() -> dict:
    resources, outputs = {}, {}
    for model in ALL_MODELS:
        resources[logical_id(model)] = table_resource(model)
        outputs.update(table_outputs(model))
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Chirp's data: the DynamoDB tables and their streams. Generated by "
                       "`make infra` from chalicelib/tables.py; deploy before the app.",
        "Parameters": {"Stage": {"Type": "String", "AllowedValues": stages(),
                                 "Description": "The chalice stage these tables serve"}},
        "Conditions": {"IsProtected": {"Fn::Equals": [{"Ref": "Stage"}, PROTECTED_STAGE]}},
        "Resources": resources,
        "Outputs": outputs,
    }


# --- the merge template for `chalice package` ----------------------------------

def gateway_responses() -> dict[str, dict]:
    """API Gateway's own error answers in API Gateway's terms (what
    put_gateway_response takes), from the very responses the local gateway
    sends: same status, body and headers."""
    responses = {}
    for response_type in GATEWAY_ERRORS:
        local = gateway_response(response_type)
        headers = dict(local["headers"])
        media_type = headers.pop("Content-Type")  # API Gateway sets it from the template
        responses[response_type] = {
            "statusCode": str(local["statusCode"]),
            "responseParameters": {f"gatewayresponse.header.{name}": f"'{value}'"
                                   for name, value in headers.items()},
            "responseTemplates": {media_type: local["body"]},
        }
    return responses


def gateway_responses_fragment() -> dict:
    """SAM's GatewayResponses on chalice's RestAPI. SAM writes them into the
    API definition, so the stage's deployment includes them (separate
    AWS::ApiGateway::GatewayResponse resources would miss the first
    deployment and any later change to them)."""
    sam = {}
    for response_type, response in gateway_responses().items():
        headers = {name.removeprefix("gatewayresponse.header."): value
                   for name, value in response["responseParameters"].items()}
        sam[response_type] = {"StatusCode": response["statusCode"],
                              "ResponseTemplates": response["responseTemplates"]}
        if headers:
            sam[response_type]["ResponseParameters"] = {"Headers": headers}
    return {"Resources": {"RestAPI": {"Properties": {"GatewayResponses": sam}}}}


# Each returns a partial template; api_template() deep-merges them, and
# `chalice package --merge-template` deep-merges the result into its own
# output (dicts merge, anything else replaces). Event-source mapping
# settings chalice cannot express belong here as one more fragment.
API_FRAGMENTS = (gateway_responses_fragment,)


def deep_merge(base: dict, extra: dict) -> dict:
    """Merges like chalice's TemplateDeepMerger: dicts merge, values replace."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def api_template() -> dict:
    template = {"AWSTemplateFormatVersion": "2010-09-09"}
    for fragment in API_FRAGMENTS:
        template = deep_merge(template, fragment())
    return template


# --- IAM policies ------------------------------------------------------------

# What chalicelib does to its tables, as IAM actions. TransactWriteItems is
# authorised per item (Put/Update/Delete/ConditionCheckItem); PynamoDB 6 takes
# the key schema from the models, so it never calls DescribeTable.
TABLE_ACTIONS = ("dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
                 "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
                 "dynamodb:UpdateItem")
INDEX_ACTIONS = ("dynamodb:Query",)


def _arn(service: str, resource: str) -> str:
    # Region and account are the deploying account's; identity policies
    # cannot reach another account's tables without its resource policy.
    return f"arn:aws:{service}:*:*:{resource}"


def table_arns(stage: str) -> list[str]:
    return [_arn("dynamodb", f"table/{table_name(m, stage)}") for m in ALL_MODELS]


def index_arns(stage: str) -> list[str]:
    arns = []
    for model in ALL_MODELS:
        for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            for index in table_properties(model).get(kind, []):
                arns.append(_arn("dynamodb", f"table/{table_name(model, stage)}/index/{index['IndexName']}"))
    return arns


def _tables_grant(stage: str, function: str) -> list[dict]:
    return [
        {"Sid": "Tables", "Effect": "Allow", "Action": list(TABLE_ACTIONS), "Resource": table_arns(stage)},
        {"Sid": "Indexes", "Effect": "Allow", "Action": list(INDEX_ACTIONS), "Resource": index_arns(stage)},
    ]


def _jwt_secret_grant(stage: str, function: str) -> list[dict]:
    name = stage_config(stage, function).environment_variables["JWT_SECRET_PARAMETER"]
    parameter = _arn("ssm", f"parameter{name}")
    return [
        {"Sid": "JwtSecret", "Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": [parameter]},
        # Only needed if the parameter uses a customer managed key (aws/ssm
        # already lets the account decrypt); scoped to this one parameter.
        {"Sid": "JwtSecretKey", "Effect": "Allow", "Action": ["kms:Decrypt"],
         "Resource": [_arn("kms", "key/*")],
         "Condition": {"StringLike": {"kms:ViaService": "ssm.*.amazonaws.com",
                                      "kms:EncryptionContext:PARAMETER_ARN": parameter}}},
    ]


def _logs_grant(stage: str, function: str) -> list[dict]:
    # `chalice deploy` names functions <app>-<stage>[-<function>]; CloudFormation
    # names them <stack>-<logical id>-<suffix>, so the app stack is called
    # chirp-<stage>-... (infra/README.md).
    prefix = f"/aws/lambda/{stage_config(stage, function).app_name}-{stage}"
    return [{"Sid": "Logs", "Effect": "Allow",
             "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": [_arn("logs", f"log-group:{prefix}:*"), _arn("logs", f"log-group:{prefix}-*:*")]}]


GRANTS = {"tables": _tables_grant, "jwt_secret": _jwt_secret_grant}

# What each function may do besides writing its logs. A function gets its own
# policy file by naming it in config.json's lambda_functions; every other
# function (the API handler first) uses the stage's policy, the None entry.
FUNCTION_GRANTS = {
    None: ("tables", "jwt_secret"),
    "bearer_auth": ("jwt_secret",),  # verifies tokens; never touches a table
}


def policy(stage: str, function: str | None) -> dict:
    scope = function or "api_handler"
    statements = []
    for grant in FUNCTION_GRANTS[function]:
        statements += GRANTS[grant](stage, scope)
    statements += _logs_grant(stage, scope)
    return {"Version": "2012-10-17", "Statement": statements}


def policy_files() -> dict[Path, dict]:
    """Every policy file config.json names, for every stage."""
    files = {}
    for stage in stages():
        files[CHALICE / policy_file(stage)] = policy(stage, None)
        functions = chalice_config()["stages"][stage].get("lambda_functions", {})
        for function, settings_ in sorted(functions.items()):
            if "iam_policy_file" not in settings_:
                continue
            if function not in FUNCTION_GRANTS:
                raise LookupError(f"config.json gives {function} its own policy file; "
                                  f"say what it may do in FUNCTION_GRANTS ({__name__})")
            files[CHALICE / policy_file(stage, function)] = policy(stage, function)
    return files


# --- the files -----------------------------------------------------------------

def generated_files() -> dict[Path, dict]:
    return {INFRA / "tables.json": tables_template(), INFRA / "api.json": api_template(), **policy_files()}


def render(document: dict) -> str:
    return json.dumps(document, indent=2) + "\n"


def stale_files() -> list[Path]:
    """Generated files whose committed copy is missing or different."""
    return [path for path, document in generated_files().items()
            if not path.exists() or path.read_text() != render(document)]


def write_files() -> list[Path]:
    written = []
    for path, document in generated_files().items():
        text = render(document)
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(path)
    return written


# --- after `chalice deploy` --------------------------------------------------

def deployed_rest_api_id(stage: str) -> str:
    """The REST API `chalice deploy` recorded for `stage`."""
    path = CHALICE / "deployed" / f"{stage}.json"
    if not path.exists():
        raise SystemExit(f"{path.relative_to(PROJECT)} is missing: run `chalice deploy --stage {stage}` "
                         "first, or pass --rest-api-id")
    deployed = json.loads(path.read_text())
    for resource in deployed["resources"]:
        if resource.get("resource_type") == "rest_api":
            return resource["rest_api_id"]
    raise LookupError(f"no REST API in .chalice/deployed/{stage}.json")


def apply_gateway_responses(client, rest_api_id: str, stage_name: str) -> None:
    """What infra/api.json does for `chalice package`, for an API that
    `chalice deploy` made: puts the responses and redeploys the stage. Every
    `chalice deploy` overwrites the API definition, so run this after each."""
    for response_type, response in gateway_responses().items():
        client.put_gateway_response(restApiId=rest_api_id, responseType=response_type, **response)
    client.create_deployment(restApiId=rest_api_id, stageName=stage_name,
                             description="chirp gateway responses")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.infra", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if a generated file is out of date")
    commands = parser.add_subparsers(dest="command")
    apply = commands.add_parser("gateway-responses", help="put the gateway responses after `chalice deploy`")
    apply.add_argument("--stage", required=True, choices=stages())
    apply.add_argument("--rest-api-id", help="default: from .chalice/deployed/<stage>.json")
    args = parser.parse_args(argv)

    if args.command == "gateway-responses":
        import boto3

        rest_api_id = args.rest_api_id or deployed_rest_api_id(args.stage)
        stage_name = stage_config(args.stage).api_gateway_stage or "api"
        apply_gateway_responses(boto3.client("apigateway"), rest_api_id, stage_name)
        print(f"gateway responses applied to {rest_api_id}, stage {stage_name} redeployed")
        return 0
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"out of date: {path.relative_to(PROJECT)} (run `make infra`)", file=sys.stderr)
        return 1 if stale else 0
    for path in write_files():
        print(f"wrote {path.relative_to(PROJECT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
