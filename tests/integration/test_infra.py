"""The deployment files agree with the code, and deploy.

- The committed infra/ and .chalice/ policies are what devstack.infra
  generates now; the tables are the local stack's tables; config.json gives
  each stage what settings expects; the IAM policies grant only that stage's
  tables, and are enough for every DynamoDB call the app makes.
- `chalice package --merge-template infra/api.json` builds a template that
  cfn-lint passes and a zip with only runtime code in it.
- The gateway responses answer as the local gateway does, and can be put on
  an API that `chalice deploy` made.
"""
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from fnmatch import fnmatchcase
from pathlib import Path

import boto3
import pytest
from cfnlint.api import lint_file
from chalice.package import TemplateDeepMerger

from chalicelib import settings, tables
from chalicelib.tables import ALL_MODELS, TTL_ATTRIBUTES
from devstack import infra
from devstack.gateway import GATEWAY_ERRORS, gateway_response
from devstack.schema import create_table_params, short_name

STAGES = infra.stages()
PACKAGE_STAGE = "prod"
CHALICE = Path(sys.executable).with_name("chalice")

# Every response type API Gateway knows (GatewayResponse.responseType).
API_GATEWAY_RESPONSE_TYPES = {
    "DEFAULT_4XX", "DEFAULT_5XX", "RESOURCE_NOT_FOUND", "UNAUTHORIZED", "INVALID_API_KEY",
    "ACCESS_DENIED", "AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR", "INVALID_SIGNATURE",
    "EXPIRED_TOKEN", "MISSING_AUTHENTICATION_TOKEN", "INTEGRATION_FAILURE", "INTEGRATION_TIMEOUT",
    "API_CONFIGURATION_ERROR", "UNSUPPORTED_MEDIA_TYPE", "BAD_REQUEST_PARAMETERS", "BAD_REQUEST_BODY",
    "REQUEST_TOO_LARGE", "THROTTLED", "QUOTA_EXCEEDED", "WAF_FILTERED",
}


def _sub(value, stage: str) -> str:
    """A {"Fn::Sub": "...${Stage}..."} from the tables template, resolved."""
    assert set(value) == {"Fn::Sub"}, value
    return value["Fn::Sub"].replace("${Stage}", stage)


def _as_set(items) -> set[str]:
    return {json.dumps(item, sort_keys=True) for item in items}


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


# --- nothing drifts ------------------------------------------------------------

def test_committed_files_are_what_make_infra_generates():
    stale = [str(p.relative_to(infra.PROJECT)) for p in infra.stale_files()]
    assert stale == [], f"out of date, run `make infra`: {stale}"


def test_every_policy_file_in_chalice_dir_is_generated():
    on_disk = set(infra.CHALICE.glob("policy*.json"))
    assert on_disk == set(infra.policy_files())


def test_every_model_is_a_table_in_the_infra_stack():
    resources = infra.tables_template()["Resources"]
    assert set(resources) == {infra.logical_id(m) for m in ALL_MODELS}
    assert all(r["Type"] == "AWS::DynamoDB::Table" for r in resources.values())


@pytest.mark.parametrize("model", ALL_MODELS, ids=short_name)
def test_table_matches_the_local_stacks_create_table(model):
    local = create_table_params(model)
    props = infra.tables_template()["Resources"][infra.logical_id(model)]["Properties"]

    assert _sub(props["TableName"], settings.STAGE) == local["TableName"]
    assert _as_set(props["AttributeDefinitions"]) == _as_set(local["AttributeDefinitions"])
    assert props["KeySchema"] == local["KeySchema"]  # order matters: HASH, then RANGE
    assert props["BillingMode"] == local["BillingMode"] == "PAY_PER_REQUEST"
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        assert props.get(kind, []) == local.get(kind, []), kind
    stream = local.get("StreamSpecification")
    if stream:
        assert props["StreamSpecification"] == {"StreamViewType": stream["StreamViewType"]}
    else:
        assert "StreamSpecification" not in props
    if model in TTL_ATTRIBUTES:
        assert props["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTES[model], "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in props


def test_streams_the_next_issue_consumes_are_exported():
    outputs = infra.tables_template()["Outputs"]
    streams = {short_name(m) for m in ALL_MODELS if create_table_params(m).get("StreamSpecification")}
    assert {"tweets", "follows"} <= streams
    for model in ALL_MODELS:
        name = infra.logical_id(model)
        assert outputs[f"{name}Name"]["Value"] == {"Ref": name}
        exported = _sub(outputs[f"{name}Name"]["Export"]["Name"], "prod")
        assert exported == f"chirp-prod-{short_name(model)}-name"
        if short_name(model) in streams:
            stream = outputs[f"{name}StreamArn"]
            assert stream["Value"] == {"Fn::GetAtt": [name, "StreamArn"]}
            assert _sub(stream["Export"]["Name"], "prod") == infra.export_name(model, "stream-arn", "prod")
        else:
            assert f"{name}StreamArn" not in outputs


def test_tables_are_kept_backed_up_and_encrypted():
    template = infra.tables_template()
    assert template["Parameters"]["Stage"]["AllowedValues"] == STAGES == ["dev", "prod"]
    for resource in template["Resources"].values():
        assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
        props = resource["Properties"]
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"] == {"SSEEnabled": True}


# --- config.json agrees with settings and infra --------------------------------

def _settings_in(stage: str) -> dict:
    """What chalicelib.settings computes inside a deployed function of
    `stage`: imported afresh with exactly that function's environment."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"CHIRP_STAGE", "JWT_SECRET", "JWT_SECRET_PARAMETER"} and not k.endswith("_TABLE")}
    env.update(infra.stage_config(stage).environment_variables)
    code = ("import json; from chalicelib import settings; print(json.dumps("
            "{'tables': settings.TABLE_NAMES, 'stage': settings.STAGE, "
            "'jwt_secret': settings.JWT_SECRET, 'jwt_parameter': settings.JWT_SECRET_PARAMETER}))")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=infra.PROJECT, check=True,
                         capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout)


@pytest.mark.parametrize("stage", STAGES)
def test_config_gives_each_stage_the_tables_the_infra_stack_creates(stage):
    deployed = _settings_in(stage)
    assert deployed["stage"] == stage
    template = infra.tables_template()["Resources"]
    created = {short_name(m): _sub(template[infra.logical_id(m)]["Properties"]["TableName"], stage)
               for m in ALL_MODELS}
    assert deployed["tables"] == created
    arns = infra.policy(stage, None)["Statement"][0]["Resource"]
    assert sorted(a.rsplit("/", 1)[1] for a in arns) == sorted(created.values())


@pytest.mark.parametrize("stage", STAGES)
def test_config_names_the_signing_key_parameter_and_holds_no_secret(stage):
    deployed = _settings_in(stage)
    assert deployed["jwt_secret"] is None
    assert deployed["jwt_parameter"] == f"/chirp/{stage}/jwt-secret"
    for function in ("api_handler", "bearer_auth"):
        env = infra.stage_config(stage, function).environment_variables
        assert env["JWT_SECRET_PARAMETER"] == deployed["jwt_parameter"]
        assert not [k for k in env if k == "JWT_SECRET" or "PASSWORD" in k], env


def test_config_is_what_chalice_needs():
    config = infra.chalice_config()
    assert config["app_name"] == "chirp"
    assert set(config["stages"]) == {"dev", "prod"}
    for stage in STAGES:
        for function in ("api_handler", "bearer_auth"):
            scoped = infra.stage_config(stage, function)
            assert scoped.autogen_policy is False
            assert scoped.manage_iam_role in (None, True)
            assert scoped.api_gateway_stage
            assert 128 <= scoped.lambda_memory_size <= 10240
            assert 1 <= scoped.lambda_timeout <= 30  # API Gateway gives up at 29 s


def _app_functions() -> list[str]:
    """Every Lambda function chalice makes for app.py."""
    from app import app

    functions = ["api_handler"] if app.routes else []
    functions += [auth.name for auth in app.builtin_auth_handlers]
    functions += [source.name for source in app.event_sources]
    functions += [function.name for function in app.pure_lambda_functions]
    return functions


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_of_the_app_has_a_generated_policy(stage):
    generated = {p.name for p in infra.policy_files()}
    for function in _app_functions():
        assert infra.policy_file(stage, function) in generated, function
    assert infra.policy_file(stage, "bearer_auth") != infra.policy_file(stage, "api_handler")


# --- least privilege -----------------------------------------------------------

def _statements(path):
    return json.loads(path.read_text())["Statement"]


@pytest.mark.parametrize("path", sorted(infra.policy_files()), ids=lambda p: p.name)
def test_policy_is_least_privilege(path):
    stage = path.stem.split("-")[1]
    others = [s for s in STAGES if s != stage]
    tables = set(infra.table_arns(stage)) | set(infra.index_arns(stage))
    for statement in _statements(path):
        assert statement["Effect"] == "Allow"
        resources = _list(statement["Resource"])
        actions = _list(statement["Action"])
        assert "*" not in resources, statement
        assert not [a for a in actions if a.endswith("*")], statement
        for resource in resources:
            assert not [s for s in others if f"chirp-{s}-" in resource or f"/chirp/{s}/" in resource]
        if any(a.startswith("dynamodb:") for a in actions):
            assert set(actions) <= set(infra.TABLE_ACTIONS), statement
            assert set(resources) <= tables, statement
            assert not [r for r in resources if "*" in r.split(":", 5)[5]], statement
        if "kms:Decrypt" in actions:  # only through SSM, only for the signing key
            condition = statement["Condition"]["StringLike"]
            assert condition["kms:ViaService"] == "ssm.*.amazonaws.com"
            parameter = condition["kms:EncryptionContext:PARAMETER_ARN"]
            assert parameter.endswith(f"parameter/chirp/{stage}/jwt-secret")


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_api_handler_touches_tables(stage):
    def dynamodb_actions(function):
        return [a for s in infra.policy(stage, function)["Statement"] for a in _list(s["Action"])
                if a.startswith("dynamodb:")]

    assert set(dynamodb_actions(None)) == set(infra.TABLE_ACTIONS)
    assert dynamodb_actions("bearer_auth") == []
    granted = {r for s in infra.policy(stage, None)["Statement"] for r in _list(s["Resource"])
               if r.startswith("arn:aws:dynamodb:")}
    assert granted == set(infra.table_arns(stage)) | set(infra.index_arns(stage))


def test_index_arns_name_every_index_exactly():
    arns = infra.index_arns("dev")
    assert "arn:aws:dynamodb:*:*:table/chirp-dev-tweets/index/by-author" in arns
    assert all(fnmatchcase(a, "arn:aws:dynamodb:*:*:table/chirp-dev-*/index/*") for a in arns)
    assert not [a for a in arns if a.endswith("/index/*")]


# --- gateway responses ---------------------------------------------------------

def test_gateway_responses_answer_as_the_local_gateway_does():
    sam = infra.api_template()["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    assert set(sam) == set(GATEWAY_ERRORS)
    assert set(sam) <= API_GATEWAY_RESPONSE_TYPES
    for response_type, response in sam.items():
        local = gateway_response(response_type)
        assert response["StatusCode"] == str(local["statusCode"])
        [(media_type, body)] = response["ResponseTemplates"].items()
        assert media_type == local["headers"]["Content-Type"]
        assert json.loads(body) == json.loads(local["body"])
        assert "$" not in body and "#" not in body  # nothing for API Gateway's template engine
        sent = response.get("ResponseParameters", {}).get("Headers", {})
        headers = {name: value.strip("'") for name, value in sent.items()}
        assert headers == {k: v for k, v in local["headers"].items() if k != "Content-Type"}


def test_unauthorized_and_unknown_route_keep_the_contract():
    sam = infra.api_template()["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    assert sam["UNAUTHORIZED"]["StatusCode"] == "401"
    assert sam["UNAUTHORIZED"]["ResponseParameters"] == {"Headers": {"WWW-Authenticate": "'Bearer'"}}
    assert sam["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    body = json.loads(sam["REQUEST_TOO_LARGE"]["ResponseTemplates"]["application/json"])
    assert body == {"error": {"code": "payload_too_large", "message": "The request is too large."}}


def test_fragments_merge_as_chalice_merges_them():
    chalice_output = {"Resources": {"RestAPI": {"Type": "AWS::Serverless::Api",
                                                "Properties": {"StageName": "api", "DefinitionBody": {}}}},
                      "Outputs": {"EndpointURL": {"Value": "x"}}}
    ours = infra.api_template()
    assert TemplateDeepMerger().merge(ours, chalice_output) == infra.deep_merge(chalice_output, ours)


# --- chalice package -----------------------------------------------------------


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    """`chalice package --merge-template infra/api.json`, run as an operator
    would, in the project. Chalice keeps one zip per version of the code in
    .chalice/deployments; the one made here is removed again so test runs
    do not pile them up."""
    out = tmp_path_factory.mktemp("packaged")
    cache = infra.CHALICE / "deployments"
    before = set(cache.glob("*.zip")) if cache.exists() else set()
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    started = time.monotonic()
    try:
        subprocess.run([str(CHALICE if CHALICE.exists() else shutil.which("chalice")), "package",
                        "--stage", PACKAGE_STAGE, "--merge-template", "infra/api.json", str(out)],
                       cwd=infra.PROJECT, env=env, check=True, capture_output=True, text=True, timeout=300)
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"chalice package failed:\n{exc.stdout}\n{exc.stderr}")
    finally:
        for made in (set(cache.glob("*.zip")) if cache.exists() else set()) - before:
            made.unlink(missing_ok=True)
        if not before and cache.exists() and not any(cache.iterdir()):
            cache.rmdir()
    print(f"chalice package took {time.monotonic() - started:.1f} s")
    return out


def _lint(path: Path) -> list[str]:
    return [f"{m.rule.id} {m.message} ({m.linenumber}:{m.columnnumber})" for m in lint_file(path)]


def test_packaged_template_lints_clean(packaged):
    assert _lint(packaged / "sam.json") == []


def test_infra_stack_lints_clean():
    assert _lint(infra.INFRA / "tables.json") == []


def test_packaged_template_carries_the_merge_template_and_the_policies(packaged):
    resources = json.loads((packaged / "sam.json").read_text())["Resources"]
    merged = infra.api_template()["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    assert resources["RestAPI"]["Type"] == "AWS::Serverless::Api"
    assert resources["RestAPI"]["Properties"]["GatewayResponses"] == merged
    assert resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"]  # chalice's own, kept

    roles = {"ApiHandlerRole": None, "BearerAuthRole": "bearer_auth"}
    for role, function in roles.items():
        [inline] = resources[role]["Properties"]["Policies"]
        assert inline["PolicyDocument"] == infra.policy(PACKAGE_STAGE, function)
    for function in ("APIHandler", "BearerAuth"):
        env = resources[function]["Properties"]["Environment"]["Variables"]
        assert env == {"CHIRP_STAGE": PACKAGE_STAGE,
                       "JWT_SECRET_PARAMETER": f"/chirp/{PACKAGE_STAGE}/jwt-secret"}


def test_deployment_package_ships_only_runtime_code(packaged):
    with zipfile.ZipFile(packaged / "deployment.zip") as zipped:
        names = zipped.namelist()
        unzipped = sum(info.file_size for info in zipped.infolist())
    tops = {name.split("/", 1)[0] for name in names}
    assert not tops & {"devstack", "tests", "infra", "bench", ".chalice", ".venv"}, sorted(tops)
    assert not [n for n in names if n.endswith("conftest.py")]
    assert {"app.py", "chalicelib/tables.py", "chalicelib/settings.py"} <= set(names)
    assert {"pynamodb", "jwt", "aws_lambda_powertools"} <= tops  # requirements.txt, vendored
    assert (packaged / "deployment.zip").stat().st_size < 50 * 1024 * 1024  # Lambda's direct upload
    assert unzipped < 250 * 1024 * 1024  # Lambda's unzipped limit


# --- the policy is enough for what the app really does ------------------------

def _actions(operation: str, params: dict) -> list[tuple[str, str, str | None]]:
    """(IAM action, table, index) for one DynamoDB request, as IAM sees it:
    transactions and batches are authorised item by item, on each table."""
    if operation == "TransactWriteItems":
        kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                 "ConditionCheck": "ConditionCheckItem"}
        return [(f"dynamodb:{kinds[kind]}", body["TableName"], None)
                for item in params["TransactItems"] for kind, body in item.items()]
    if operation == "TransactGetItems":
        return [("dynamodb:GetItem", item["Get"]["TableName"], None) for item in params["TransactItems"]]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", name, None) for name in params["RequestItems"]]
    return [(f"dynamodb:{operation}", params.get("TableName"), params.get("IndexName"))]


def _allows(policy: dict, action: str, resource: str) -> bool:
    for statement in policy["Statement"]:
        if statement["Effect"] != "Allow" or "Condition" in statement:
            continue
        if any(fnmatchcase(action, a) for a in _list(statement["Action"])) \
                and any(fnmatchcase(resource, r) for r in _list(statement["Resource"])):
            return True
    return False


@pytest.fixture
def dynamodb_requests():
    """Every DynamoDB request chalicelib makes while the fixture is active."""
    seen = []

    def record(params, model, **_):
        seen.append((model.name, dict(params)))

    clients = {id(c): c for c in [m._get_connection().connection.client for m in tables.ALL_MODELS]
               + [tables.connection().client]}
    for client in clients.values():
        client.meta.events.register("before-parameter-build.dynamodb", record)
    yield seen
    for client in clients.values():
        client.meta.events.unregister("before-parameter-build.dynamodb", record)


def test_api_handler_policy_allows_every_call_the_api_makes(api, make_user, dynamodb_requests):
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    replies = [
        api.post("/auth/signup", {"handle": "ALICE", "password": "password1"}),  # a clash
        api.post("/auth/login", {"handle": "alice", "password": "correct horse"}),
        api.get("/me", token=alice_token),
        api.get("/users/alice"),
        api.get("/users/nobody"),
        api.post("/users/alice/follow", token=bob_token),
        api.get("/users/alice/followers"),
        api.get("/users/bob/following"),
    ]
    tweet = api.post("/tweets", {"text": "hello"}, token=alice_token, headers={"Idempotency-Key": "k1"})
    replies += [
        tweet,
        api.post("/tweets", {"text": "hello"}, token=alice_token, headers={"Idempotency-Key": "k1"}),
        api.post("/tweets", {"text": "a reply", "reply_to_id": tweet.json["id"]}, token=bob_token),
        api.post("/tweets", {"text": "a quote", "quote_of_id": tweet.json["id"]}, token=bob_token),
        api.get(f"/tweets/{tweet.json['id']}"),
        api.get("/users/alice/tweets?limit=1"),
        api.delete(f"/tweets/{tweet.json['id']}", token=alice_token),
        api.delete("/users/alice/follow", token=bob_token),
    ]
    assert all(r.status < 500 for r in replies), [(r.status, r.body[:200]) for r in replies]

    local_to_short = {name: short for short, name in settings.TABLE_NAMES.items()}
    for stage in infra.stages():
        policy = infra.policy(stage, None)
        denied = []
        for operation, params in dynamodb_requests:
            for action, table, index in _actions(operation, params):
                arn = f"arn:aws:dynamodb:eu-west-1:123456789012:table/chirp-{stage}-{local_to_short[table]}"
                if index:
                    arn += f"/index/{index}"
                if not _allows(policy, action, arn):
                    denied.append((action, arn))
        assert denied == [], f"{infra.policy_file(stage)} must allow: {sorted(set(denied))}"
    operations = {operation for operation, _ in dynamodb_requests}
    assert {"GetItem", "Query", "BatchGetItem", "TransactWriteItems"} <= operations


# --- path (a): gateway responses after `chalice deploy` -----------------------

def test_gateway_responses_can_be_applied_after_chalice_deploy():
    client = boto3.client("apigateway")
    api_id = client.create_rest_api(name="chirp")["id"]
    root = client.get_resources(restApiId=api_id)["items"][0]["id"]
    client.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    client.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")

    infra.apply_gateway_responses(client, api_id, "api")

    for response_type, wanted in infra.gateway_responses().items():
        got = client.get_gateway_response(restApiId=api_id, responseType=response_type)
        assert got["statusCode"] == wanted["statusCode"]
        assert got.get("responseParameters", {}) == wanted["responseParameters"]
        assert got["responseTemplates"] == wanted["responseTemplates"]
    assert [d["description"] for d in client.get_deployments(restApiId=api_id)["items"]] == [
        "chirp gateway responses"]
