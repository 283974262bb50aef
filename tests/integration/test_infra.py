"""The deployment files agree with the code, and deploy.

- The committed infra/ and .chalice/ policies are what deploy (`make infra`)
  generates now; the tables and queues are the local stack's; config.json
  gives each stage what settings expects; the stream mappings carry the
  local pump's settings; the IAM policies grant only that stage's
  resources.
- Every function, run for real (routes through the gateway, event handlers
  through the local pump), makes only calls its policy allows, and uses
  every DynamoDB and SQS grant its policy has.
- `chalice package --merge-template infra/api-<stage>.json` builds, for each
  stage, a template that cfn-lint passes and a zip with only runtime code.
- The gateway responses and mapping settings can be put on what `chalice
  deploy` made.
"""
import json
import os
import subprocess
import sys
import zipfile
from collections import defaultdict
from contextlib import contextmanager
from fnmatch import fnmatchcase
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from cfnlint.api import lint_file
from chalice.app import DynamoDBEventConfig, SQSEventConfig
from chalice.local import RouteMatcher
from chalice.package import TemplateDeepMerger

from chalicelib import settings
from chalicelib.events import redrive
from chalicelib.storage import tables
from chalicelib.storage.tables import ALL_MODELS, TTL_ATTRIBUTES
from deploy import after_deploy, cloudformation, files, iam, monitoring, naming, project
from deploy.event_sources import chalice_event_id, event_sources, mapping_policies, source_queue, source_table
from deploy.gateway_responses import GATEWAY_ERRORS, gateway_response, gateway_responses
from deploy.naming import short_name
from deploy.queues import READ_QUEUES, queue_definitions, visibility_timeout, visibility_timeouts
from deploy.tables import create_table_params

STAGES = project.stages()
API_FUNCTIONS = ("api_handler", "bearer_auth")  # behind API Gateway, which gives up at 29 s
EVENT_FUNCTIONS = ("on_tweet_change", "on_follow_change", "on_like_change", "on_job", "on_views",
                   "redrive_failures")
ACCOUNT_ARN = "arn:aws:{service}:eu-west-1:123456789012:{resource}"  # any real region and account

# Every response type API Gateway knows (GatewayResponse.responseType).
API_GATEWAY_RESPONSE_TYPES = {
    "DEFAULT_4XX", "DEFAULT_5XX", "RESOURCE_NOT_FOUND", "UNAUTHORIZED", "INVALID_API_KEY",
    "ACCESS_DENIED", "AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR", "INVALID_SIGNATURE",
    "EXPIRED_TOKEN", "MISSING_AUTHENTICATION_TOKEN", "INTEGRATION_FAILURE", "INTEGRATION_TIMEOUT",
    "API_CONFIGURATION_ERROR", "UNSUPPORTED_MEDIA_TYPE", "BAD_REQUEST_PARAMETERS", "BAD_REQUEST_BODY",
    "REQUEST_TOO_LARGE", "THROTTLED", "QUOTA_EXCEEDED", "WAF_FILTERED",
}


def _sub(value, stage: str) -> str:
    """A {"Fn::Sub": "...${Stage}..."} from the data stack template, resolved."""
    assert set(value) == {"Fn::Sub"}, value
    return value["Fn::Sub"].replace("${Stage}", stage)


def _as_set(items) -> set[str]:
    return {json.dumps(item, sort_keys=True) for item in items}


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


def _imports(document) -> list[str]:
    """Every Fn::ImportValue name in a template fragment."""
    if isinstance(document, dict):
        found = [document["Fn::ImportValue"]] if "Fn::ImportValue" in document else []
        return found + [name for value in document.values() for name in _imports(value)]
    if isinstance(document, list):
        return [name for value in document for name in _imports(value)]
    return []


def _exports(stage: str) -> set[str]:
    """What the data stack exports when deployed for `stage`."""
    outputs = cloudformation.tables_template()["Outputs"]
    return {_sub(output["Export"]["Name"], stage) for output in outputs.values()}


# --- nothing drifts ------------------------------------------------------------

def test_committed_files_are_what_make_infra_generates():
    stale = [str(p.relative_to(project.ROOT)) for p in files.stale_files()]
    assert stale == [], f"out of date, run `make infra`: {stale}"


def test_every_policy_file_in_chalice_dir_is_generated():
    on_disk = set(project.CHALICE.glob("policy*.json"))
    assert on_disk == set(iam.policy_files())


def test_every_template_in_infra_dir_is_generated():
    generated = {p for p in files.generated_files() if p.parent == project.INFRA}
    assert set(project.INFRA.glob("*.json")) == generated


def test_every_model_is_a_table_in_the_data_stack():
    resources = cloudformation.tables_template()["Resources"]
    made = {name for name, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"}
    assert made == {cloudformation.logical_id(m) for m in ALL_MODELS}
    assert "TimelinesTable" in made


@pytest.mark.parametrize("model", ALL_MODELS, ids=short_name)
def test_table_matches_the_local_stacks_create_table(model):
    local = create_table_params(model)
    props = cloudformation.tables_template()["Resources"][cloudformation.logical_id(model)]["Properties"]

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


def test_table_names_streams_and_queues_are_exported():
    outputs = cloudformation.tables_template()["Outputs"]
    streams = {short_name(m) for m in ALL_MODELS if create_table_params(m).get("StreamSpecification")}
    assert {"tweets", "follows"} <= streams
    for model in ALL_MODELS:
        name = cloudformation.logical_id(model)
        assert outputs[f"{name}Name"]["Value"] == {"Ref": name}
        exported = _sub(outputs[f"{name}Name"]["Export"]["Name"], "prod")
        assert exported == f"chirp-prod-{short_name(model)}-name"
        if short_name(model) in streams:
            stream = outputs[f"{name}StreamArn"]
            assert stream["Value"] == {"Fn::GetAtt": [name, "StreamArn"]}
            assert _sub(stream["Export"]["Name"], "prod") == naming.export_name(model, "stream-arn", "prod")
        else:
            assert f"{name}StreamArn" not in outputs
    for short in settings.QUEUE_NAMES:
        for fact in ("name", "arn", "url"):
            assert f"chirp-prod-{short}-{fact}" in _exports("prod")
    names = [o["Export"]["Name"]["Fn::Sub"] for o in outputs.values()]
    assert len(names) == len(set(names))  # export names are unique in a region


def test_tables_are_kept_backed_up_and_encrypted():
    template = cloudformation.tables_template()
    assert template["Parameters"]["Stage"]["AllowedValues"] == STAGES == ["dev", "prod"]
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
        props = resource["Properties"]
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"] == {"SSEEnabled": True}


# --- queues ----------------------------------------------------------------------

def _queues() -> dict[str, dict]:
    """Short name -> AWS::SQS::Queue properties in the data stack."""
    resources = cloudformation.tables_template()["Resources"]
    return {naming.short_of(_sub(r["Properties"]["QueueName"], "local")): r["Properties"]
            for r in resources.values() if r["Type"] == "AWS::SQS::Queue"}


@pytest.mark.parametrize("stage", STAGES)
def test_queues_are_the_local_stacks_queues_with_the_stages_visibility_timeout(stage):
    """Same queues and attributes as devstack.resources.ensure_queues creates,
    only with the visibility timeout of the function reading each."""
    queues = _queues()
    wanted = queue_definitions(visibility_timeouts(stage))
    assert set(queues) == set(settings.QUEUE_NAMES) == {naming.short_of(n) for n in wanted}
    mappings = cloudformation.tables_template().get("Mappings", {}).get("StageSettings", {}).get(stage, {})
    for name, attributes in wanted.items():
        props = queues[naming.short_of(name)]
        assert props["SqsManagedSseEnabled"] is True
        for attribute, value in attributes.items():
            got = props[attribute]
            if isinstance(got, dict) and "Fn::FindInMap" in got:
                got = mappings[got["Fn::FindInMap"][2]]
            if attribute == "RedrivePolicy":
                dlq = cloudformation.queue_logical_id(naming.short_of(value["deadLetterTargetArn"]))
                assert got == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
                               "maxReceiveCount": int(value["maxReceiveCount"])}
            elif attribute == "FifoQueue":
                assert got is (value == "true")
            else:
                assert got == int(value), attribute


@pytest.mark.parametrize("stage", STAGES)
def test_each_read_queues_visibility_timeout_is_six_times_its_workers_timeout(stage):
    workers = {source_queue(s): s for s in event_sources() if isinstance(s, SQSEventConfig)}
    assert {q: w.name for q, w in workers.items()} == {"jobs": "on_job", "views": "on_views"}
    assert set(workers) == set(READ_QUEUES)
    queues = _queues()
    for queue, worker in workers.items():
        timeout = project.stage_config(stage, worker.name).lambda_timeout
        assert timeout >= 60  # a page of fan-out jobs, or a batch's updates, with backoff on throttling
        assert visibility_timeout(stage, queue) >= 6 * timeout + worker.maximum_batching_window_in_seconds
        assert visibility_timeout(stage, queue) <= 12 * 3600  # SQS's maximum
        # A message outlives its retries: the DLQ keeps it longer than the queue would.
        retention = queues[queue].get("MessageRetentionPeriod", 4 * 86400)
        assert queues[f"{queue}-dlq"]["MessageRetentionPeriod"] >= retention
    # Views go in order per group: a FIFO queue, whose dead-letter queue must be FIFO too, and
    # whose mapping takes at most 10 messages and no batching window (Lambda's limits for FIFO).
    assert workers["views"].batch_size <= 10 and workers["views"].maximum_batching_window_in_seconds == 0
    assert queues["views"]["FifoQueue"] is queues["views-dlq"]["FifoQueue"] is True
    assert settings.QUEUE_NAMES["views"].endswith(".fifo")
    assert not settings.QUEUE_NAMES["jobs"].endswith(".fifo")


def test_queues_that_nothing_reads_have_alarms():
    resources = cloudformation.tables_template()["Resources"]
    alarms = {r["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]: r["Properties"]
              for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert set(alarms) == {"JobsDlqQueue", "StreamFailuresQueue", "ParkedQueue", "ViewsDlqQueue"}
    for alarm in alarms.values():
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold" and alarm["Threshold"] == 0
        assert alarm["TreatMissingData"] == "notBreaching"  # SQS sends nothing for an idle queue


# --- config.json agrees with settings and infra --------------------------------

def _settings_in(stage: str) -> dict:
    """What chalicelib.settings computes inside a deployed function of
    `stage`: imported afresh with exactly that function's environment."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"CHIRP_STAGE", "JWT_SECRET", "JWT_SECRET_PARAMETER"}
           and not k.endswith(("_TABLE", "_QUEUE", "_STREAM_ARN"))}
    env.update(project.stage_config(stage).environment_variables)
    code = ("import json; from chalicelib import settings; print(json.dumps("
            "{'tables': settings.TABLE_NAMES, 'queues': settings.QUEUE_NAMES, 'stage': settings.STAGE, "
            "'jwt_secret': settings.JWT_SECRET, 'jwt_parameter': settings.JWT_SECRET_PARAMETER}))")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=project.ROOT, check=True,
                         capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout)


@pytest.mark.parametrize("stage", STAGES)
def test_config_gives_each_stage_the_tables_and_queues_the_data_stack_creates(stage):
    deployed = _settings_in(stage)
    assert deployed["stage"] == stage
    template = cloudformation.tables_template()["Resources"]
    created = {short_name(m): _sub(template[cloudformation.logical_id(m)]["Properties"]["TableName"], stage)
               for m in ALL_MODELS}
    assert deployed["tables"] == created
    queues = {r["Properties"]["QueueName"]["Fn::Sub"] for r in template.values()
              if r["Type"] == "AWS::SQS::Queue"}
    assert sorted(deployed["queues"].values()) == sorted(q.replace("${Stage}", stage) for q in queues)


@pytest.mark.parametrize("stage", STAGES)
def test_config_names_the_signing_key_parameter_and_holds_no_secret(stage):
    deployed = _settings_in(stage)
    assert deployed["jwt_secret"] is None
    assert deployed["jwt_parameter"] == f"/chirp/{stage}/jwt-secret"
    for function in API_FUNCTIONS + EVENT_FUNCTIONS:
        env = project.stage_config(stage, function).environment_variables
        assert env["JWT_SECRET_PARAMETER"] == deployed["jwt_parameter"]
        assert not [k for k in env if k == "JWT_SECRET" or "PASSWORD" in k], env


def _app_functions() -> list[str]:
    """Every Lambda function chalice makes for app.py."""
    from app import app

    functions = ["api_handler"] if app.routes else []
    functions += [auth.name for auth in app.builtin_auth_handlers]
    functions += [source.name for source in app.event_sources]
    functions += [function.name for function in app.pure_lambda_functions]
    return functions


def test_config_is_what_chalice_needs():
    config = project.chalice_config()
    assert config["app_name"] == "chirp"
    assert set(config["stages"]) == {"dev", "prod"}
    assert sorted(_app_functions()) == sorted(API_FUNCTIONS + EVENT_FUNCTIONS)
    for stage in STAGES:
        for function in API_FUNCTIONS + EVENT_FUNCTIONS:
            scoped = project.stage_config(stage, function)
            assert scoped.autogen_policy is False
            assert scoped.manage_iam_role in (None, True)
            assert scoped.api_gateway_stage
            assert 128 <= scoped.lambda_memory_size <= 10240
            assert 1 <= scoped.lambda_timeout <= (30 if function in API_FUNCTIONS else 900), function


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_of_the_app_has_its_own_generated_policy(stage):
    generated = {p.name for p in iam.policy_files()}
    named = [project.policy_file(stage, function) for function in _app_functions()]
    assert set(named) <= generated
    assert len(set(named)) == len(named), named


# --- the merge templates -------------------------------------------------------

def test_gateway_responses_answer_as_the_local_gateway_does():
    for stage in STAGES:
        sam = cloudformation.api_template(stage)["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
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
    sam = cloudformation.api_template("prod")["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    assert sam["UNAUTHORIZED"]["StatusCode"] == "401"
    assert sam["UNAUTHORIZED"]["ResponseParameters"] == {"Headers": {"WWW-Authenticate": "'Bearer'"}}
    assert sam["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    body = json.loads(sam["REQUEST_TOO_LARGE"]["ResponseTemplates"]["application/json"])
    assert body == {"error": {"code": "payload_too_large", "message": "The request is too large."}}


def _event(template: dict, function: str) -> dict:
    """The one event of a function in a (merge or packaged) template."""
    [source] = [s for s in event_sources() if s.name == function]
    logical, event = chalice_event_id(source)
    return template["Resources"][logical]["Properties"]["Events"][event]


@pytest.mark.parametrize("stage", STAGES)
def test_stream_mappings_carry_the_local_pumps_settings(stage):
    """The same MappingPolicy the pump runs with (deploy.event_sources), in
    CloudFormation's terms, on the stage's real streams."""
    template = cloudformation.api_template(stage)
    policies = mapping_policies()
    streams = {"on_tweet_change": "tweets", "on_follow_change": "follows", "on_like_change": "likes"}
    assert set(policies) == set(streams)
    for function, table in streams.items():
        policy = policies[function]
        props = _event(template, function)["Properties"]
        assert props == {
            "Stream": {"Fn::ImportValue": f"chirp-{stage}-{table}-stream-arn"},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BisectBatchOnFunctionError": policy.bisect_batch_on_function_error,
            "MaximumRetryAttempts": policy.maximum_retry_attempts,
            "MaximumRecordAgeInSeconds": policy.maximum_record_age_in_seconds,
            "DestinationConfig": {"OnFailure": {"Destination": {
                "Fn::ImportValue": f"chirp-{stage}-stream-failures-arn"}}},
        }
        assert policy.on_failure_queue == settings.QUEUE_NAMES["stream-failures"]
        assert 0 <= policy.maximum_retry_attempts <= 10000  # bounded: -1 would retry for a day
        assert 60 <= policy.maximum_record_age_in_seconds <= 604800
    for queue_handler in ("on_job", "on_views"):  # the poller kept inside the reservation (test_checkov)
        reserved = project.stage_config(stage, queue_handler).reserved_concurrency
        assert _event(template, queue_handler)["Properties"] == {
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": reserved}}


@pytest.mark.parametrize("stage", STAGES)
def test_merge_template_imports_only_its_own_stages_exports(stage):
    imported = _imports(cloudformation.api_template(stage))
    assert imported
    assert set(imported) <= _exports(stage)


def test_fragments_merge_as_chalice_merges_them():
    chalice_output = {"Resources": {
        "RestAPI": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "api", "DefinitionBody": {}}},
        "OnTweetChange": {"Type": "AWS::Serverless::Function", "Properties": {"Events": {
            "OnTweetChangeDynamodbEventSource": {"Type": "DynamoDB", "Properties": {
                "Stream": "arn:aws:dynamodb:us-east-1:000000000000:table/chirp-prod-tweets/stream/local",
                "BatchSize": 100}}}}}},
        "Outputs": {"EndpointURL": {"Value": "x"}}}
    ours = cloudformation.api_template("prod")
    assert TemplateDeepMerger().merge(ours, chalice_output) == cloudformation.deep_merge(chalice_output, ours)


# --- least privilege -----------------------------------------------------------

def _statements(path):
    return json.loads(path.read_text())["Statement"]


@pytest.mark.parametrize("path", sorted(iam.policy_files()), ids=lambda p: p.name)
def test_policy_is_least_privilege(path):
    stage = path.stem.split("-")[1]
    others = [s for s in STAGES if s != stage]
    tables = set(iam.table_arns(stage)) | set(iam.index_arns(stage))
    streams = {iam.stream_arn_pattern(m, stage) for m in ALL_MODELS}
    queues = {iam.queue_arn(short, stage) for short in settings.QUEUE_NAMES}
    document = json.loads(path.read_text())
    assert len(json.dumps(document, separators=(",", ":"))) < 10240  # IAM's inline limit per role
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        resources = _list(statement["Resource"])
        actions = _list(statement["Action"])
        if statement.get("Sid") == "Traces":  # X-Ray has no resource-level permissions
            assert (tuple(actions), resources) == (iam.TRACE_ACTIONS, ["*"]), statement
            continue
        assert "*" not in resources, statement
        assert not [a for a in actions if a.endswith("*")], statement
        for resource in resources:
            assert not [s for s in others if f"chirp-{s}-" in resource or f"/chirp/{s}/" in resource]
        if set(actions) & set(iam.STREAM_ACTIONS):
            assert set(actions) <= set(iam.STREAM_ACTIONS), statement
            assert set(resources) <= streams, statement
        elif any(a.startswith("dynamodb:") for a in actions):
            assert set(actions) <= set(iam.TABLE_ACTIONS), statement
            assert set(resources) <= tables, statement
            assert not [r for r in resources if "*" in r.split(":", 5)[5]], statement
        if any(a.startswith("sqs:") for a in actions):
            assert set(resources) <= queues, statement
        if "kms:Decrypt" in actions:  # only through SSM, only for the signing key
            condition = statement["Condition"]["StringLike"]
            assert condition["kms:ViaService"] == "ssm.*.amazonaws.com"
            parameter = condition["kms:EncryptionContext:PARAMETER_ARN"]
            assert parameter.endswith(f"parameter/chirp/{stage}/jwt-secret")


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_functions_that_need_them_get_tables_and_queues(stage):
    def actions(function):
        return {a for s in iam.policy(stage, function)["Statement"] for a in _list(s["Action"])}

    assert not {a for a in actions("bearer_auth") if a.startswith(("dynamodb:", "sqs:"))}
    assert not {a for a in actions(None) if a in iam.STREAM_ACTIONS or a == "sqs:ReceiveMessage"}
    for function in EVENT_FUNCTIONS:
        assert "ssm:GetParameter" not in actions(function)  # they never see a token


def test_index_arns_name_every_index_exactly():
    arns = iam.index_arns("dev")
    assert "arn:aws:dynamodb:*:*:table/chirp-dev-tweets/index/by-author" in arns
    assert "arn:aws:dynamodb:*:*:table/chirp-dev-timelines/index/by-original" in arns
    assert "arn:aws:dynamodb:*:*:table/chirp-dev-timelines/index/by-author" not in arns  # 1 unit an entry
    assert all(fnmatchcase(a, "arn:aws:dynamodb:*:*:table/chirp-dev-*/index/*") for a in arns)
    assert not [a for a in arns if a.endswith("/index/*")]


def _allows(policy: dict, action: str, resource: str) -> bool:
    for statement in policy["Statement"]:
        if statement["Effect"] != "Allow" or "Condition" in statement:
            continue
        if any(fnmatchcase(action, a) for a in _list(statement["Action"])) \
                and any(fnmatchcase(resource, r) for r in _list(statement["Resource"])):
            return True
    return False


@pytest.mark.parametrize("stage", STAGES)
def test_lambda_can_run_each_mapping_with_the_functions_role(stage):
    """Lambda reads a stream or queue, and sends to the on-failure queue,
    with the function's own role; CreateEventSourceMapping checks that."""
    for source in event_sources():
        policy = iam.policy(stage, source.name)
        if isinstance(source, DynamoDBEventConfig):
            table = short_name(source_table(source))
            stream = ACCOUNT_ARN.format(service="dynamodb",
                                        resource=f"table/chirp-{stage}-{table}/stream/2026-11-21T08:00:00.000")
            assert all(_allows(policy, a, stream) for a in iam.STREAM_ACTIONS), source.name
            other = stream.replace(f"-{table}/", "-users/")
            assert not any(_allows(policy, a, other) for a in iam.STREAM_ACTIONS), source.name
            failures = ACCOUNT_ARN.format(service="sqs", resource=f"chirp-{stage}-stream-failures")
            assert _allows(policy, "sqs:SendMessage", failures), source.name
        else:
            queue = ACCOUNT_ARN.format(service="sqs",
                                       resource=naming.resource_name(source_queue(source), stage))
            assert all(_allows(policy, a, queue) for a in iam.QUEUE_READ_ACTIONS), source.name


# --- chalice package -----------------------------------------------------------


def _lint(path: Path) -> list[str]:
    return [f"{m.rule.id} {m.message} ({m.linenumber}:{m.columnnumber})" for m in lint_file(path)]


def test_packaged_template_lints_clean(packaged):
    _, out = packaged
    assert _lint(out / "sam.json") == []


def test_data_stack_lints_clean():
    assert _lint(project.INFRA / "tables.json") == []


@pytest.mark.parametrize("stage", STAGES)
def test_monitoring_stack_lints_clean(stage):
    assert _lint(project.INFRA / f"monitoring-{stage}.json") == []


def _alarmed(resources: dict) -> dict[tuple[str, str], dict]:
    """(metric, the dimension that names what it watches) -> alarm properties."""
    found = {}
    for resource in resources.values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        if "Metrics" in props:  # metric math: a table's read and write throttles
            stats = [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]
            assert {s["MetricName"] for s in stats} == {"ReadThrottleEvents", "WriteThrottleEvents"}
            found[("Throttles", stats[0]["Dimensions"][0]["Value"])] = props
        else:
            found[(props["MetricName"], props["Dimensions"][0]["Value"])] = props
    return found


def test_packaged_template_has_the_alarms_dashboard_and_tracing(packaged):
    """Issue 13: iterator age per stream mapping, errors and throttles per
    function, the jobs queue's oldest message, API 5xx rate and p99, DynamoDB
    throttles per table; one dashboard; active tracing on every function and
    the API stage; every name what `chalice deploy` gives too."""
    stage, out = packaged
    resources = json.loads((out / "sam.json").read_text())["Resources"]
    functions = {r["Properties"]["FunctionName"]: r for r in resources.values()
                 if r["Type"] == "AWS::Serverless::Function"}
    assert sorted(functions) == sorted(monitoring.function_name(stage, f)
                                       for f in API_FUNCTIONS + EVENT_FUNCTIONS)
    assert all(f["Properties"]["Tracing"] == "Active" for f in functions.values())
    api = resources["RestAPI"]["Properties"]
    assert api["TracingEnabled"] is True and api["Name"] == f"chirp-{stage}"
    alarmed = _alarmed(resources)
    for name in functions:
        assert {("Errors", name), ("Throttles", name)} <= set(alarmed), name
    for function in iam.STREAM_FUNCTIONS:
        assert ("IteratorAge", monitoring.function_name(stage, function)) in alarmed
    assert ("ApproximateAgeOfOldestMessage", naming.resource_name("jobs", stage)) in alarmed
    assert {("5XXError", f"chirp-{stage}"), ("Latency", f"chirp-{stage}")} <= set(alarmed)
    assert alarmed[("Latency", f"chirp-{stage}")]["ExtendedStatistic"] == "p99"
    for model in ALL_MODELS:
        assert ("Throttles", naming.table_name(model, stage)) in alarmed
    [board] = [r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    assert board["Properties"]["DashboardName"] == f"chirp-{stage}"
    assert monitoring.monitoring_template(stage)["Resources"] == {
        k: v for k, v in resources.items() if v["Type"].startswith("AWS::CloudWatch::")}


def test_the_dashboard_shows_only_metrics_chirp_emits():
    """A metric renamed in chalicelib must not leave an empty graph behind."""
    import re

    emitted = set()
    for path in (project.ROOT / "chalicelib").rglob("*.py"):
        emitted |= set(re.findall(r'metrics\.(?:count|milliseconds|count_by)\("(\w+)"', path.read_text()))
    for stage in STAGES:
        [board] = monitoring.dashboard(stage).values()
        body = json.loads(board["Properties"]["DashboardBody"]["Fn::Sub"])
        shown = {m[1] for w in body["widgets"] for m in w["properties"]["metrics"]
                 if m[0] == settings.METRICS_NAMESPACE}
        assert shown and shown <= emitted, shown - emitted


def test_packaged_template_carries_the_merge_template_and_the_policies(packaged):
    stage, out = packaged
    template = json.loads((out / "sam.json").read_text())
    resources = template["Resources"]
    merged = cloudformation.api_template(stage)
    assert resources["RestAPI"]["Type"] == "AWS::Serverless::Api"
    assert resources["RestAPI"]["Properties"]["GatewayResponses"] == \
        merged["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    assert resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"]  # chalice's own, kept

    roles = {"ApiHandlerRole": None, "BearerAuthRole": "bearer_auth",
             **{chalice_event_id(s)[0] + "Role": s.name for s in event_sources()}}
    for role, function in roles.items():
        [inline] = resources[role]["Properties"]["Policies"]
        assert inline["PolicyDocument"] == iam.policy(stage, function)
    for function in ("APIHandler", "BearerAuth", "OnTweetChange", "OnFollowChange", "OnJob"):
        assert resources[function]["Type"] == "AWS::Serverless::Function"
        env = resources[function]["Properties"]["Environment"]["Variables"]
        # Event functions may wait longer inside one call (settings.AWS_CALL_ATTEMPTS).
        more = {"AWS_CALL_ATTEMPTS": "10"} if function.startswith("On") else {}
        assert env == {"CHIRP_STAGE": stage, "JWT_SECRET_PARAMETER": f"/chirp/{stage}/jwt-secret", **more}
    assert resources["OnJob"]["Properties"]["Timeout"] == \
        project.stage_config(stage, "on_job").lambda_timeout


def test_packaged_mappings_are_chalices_with_the_merged_settings(packaged):
    """The merge lands on the events chalice generated (same logical ids and
    event names), keeps what chalice set, and replaces its stream ARN."""
    stage, out = packaged
    template = json.loads((out / "sam.json").read_text())
    merged = cloudformation.api_template(stage)
    for source in event_sources():
        event = _event(template, source.name)
        props = event["Properties"]
        assert props["BatchSize"] == source.batch_size
        assert props["MaximumBatchingWindowInSeconds"] == source.maximum_batching_window_in_seconds
        for name, value in _event(merged, source.name)["Properties"].items():
            assert props[name] == value, name
        if isinstance(source, DynamoDBEventConfig):
            assert event["Type"] == "DynamoDB"
            assert props["StartingPosition"] == source.starting_position
        else:
            assert event["Type"] == "SQS"
            assert props["Queue"] == {"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:"
                                                 + naming.resource_name(source_queue(source), stage)}
    assert set(_imports(template)) <= _exports(stage)


def test_deployment_package_ships_only_runtime_code(packaged):
    _, out = packaged
    with zipfile.ZipFile(out / "deployment.zip") as zipped:
        names = zipped.namelist()
        unzipped = sum(info.file_size for info in zipped.infolist())
    tops = {name.split("/", 1)[0] for name in names}
    assert not tops & {"deploy", "devstack", "tests", "infra", "bench", ".chalice", ".venv"}, sorted(tops)
    assert not [n for n in names if n.endswith("conftest.py")]
    assert {"app.py", "chalicelib/settings.py", "chalicelib/storage/tables.py", "chalicelib/home/feed.py"} \
        <= set(names)
    assert {"pynamodb", "jwt", "aws_lambda_powertools"} <= tops  # requirements.txt, vendored
    assert (out / "deployment.zip").stat().st_size < 50 * 1024 * 1024  # Lambda's direct upload
    assert unzipped < 250 * 1024 * 1024  # Lambda's unzipped limit


# --- every function, run for real, against its policy ---------------------------

class FunctionCalls:
    """The AWS calls chalicelib makes, by the Lambda function making them.

    Routes run as the API handler unless the authorizer or an event handler
    is running (the gateway and the pump call them in process; `wrap` marks
    them). Each switch is a fresh container for chalicelib.jobs, which
    caches the queue's URL: otherwise GetQueueUrl would show up only in
    whichever function happened to send first."""

    def __init__(self):
        self.running: list[str | None] = ["api_handler"]
        self.calls: dict[str | None, list[tuple[str, str, dict]]] = defaultdict(list)
        self.invocations: dict[str, int] = defaultdict(int)

    def record(self, params, model, **_):
        self.calls[self.running[-1]].append((model.service_model.service_name, model.name, dict(params)))

    @contextmanager
    def running_as(self, function: str | None):
        """None: the test's own setup, not counted."""
        from chalicelib.storage import jobs

        jobs.queue_url.cache_clear()
        self.running.append(function)
        if function:
            self.invocations[function] += 1
        try:
            yield
        finally:
            self.running.pop()
            jobs.queue_url.cache_clear()

    def wrap(self, function: str, handler):
        def run(*args):
            with self.running_as(function):
                return handler(*args)
        return run


@pytest.fixture
def function_calls(fresh_tables, monkeypatch):
    """Records every DynamoDB and SQS call chalicelib makes, by function; the
    pump (for the real app's handlers, with the stack's mapping policies)
    and a request log come with it. Settings are shrunk so that every path
    runs with a handful of users: fan-out pages of one follower, a
    celebrity threshold of 4, a trim on every delivery, a pull cache of a
    celebrity's newest tweet (so a home page reads retweet markers)."""
    from app import app
    from chalicelib.home import reading
    from chalicelib.storage import jobs
    from devstack.pump import EventPump
    from devstack.resources import ensure_queues

    ensure_queues(boto3.client("sqs"))
    for name, value in {"FANOUT_PAGE_SIZE": 1, "CELEBRITY_THRESHOLD": 4, "TRANSITION_DELAY_SECONDS": 0,
                        "TRIM_EVERY": 1, "TIMELINE_MAX": 2, "CELEBRITY_CACHE_SECONDS": 0,
                        "CELEBRITY_PULL": 1}.items():
        monkeypatch.setattr(settings, name, value)
    monkeypatch.setattr(reading, "_celebrity_cache", {})

    recorder = FunctionCalls()
    import app as app_module

    authorizer = app_module.bearer_auth
    monkeypatch.setattr(authorizer, "func", recorder.wrap("bearer_auth", authorizer.func))
    for function in EVENT_FUNCTIONS:
        monkeypatch.setitem(app.handler_map, function, recorder.wrap(function, app.handler_map[function]))
    recorder.pump = EventPump.for_app(app, mapping_policies())

    clients = {id(c): c for c in [m._get_connection().connection.client for m in tables.ALL_MODELS]
               + [tables.connection().client, jobs.sqs()]}
    for client in clients.values():
        client.meta.events.register("before-parameter-build", recorder.record)
    yield recorder
    for client in clients.values():
        client.meta.events.unregister("before-parameter-build", recorder.record)


class LoggedApi:
    """`api`, remembering which route and method each request reached."""

    def __init__(self, api, app):
        self.api, self.matcher, self.requested = api, RouteMatcher(list(app.routes)), set()

    def __getattr__(self, method):
        def call(path, *args, **kwargs):
            self.requested.add((self.matcher.match_route(path.split("?")[0]).route, method.upper()))
            return getattr(self.api, method)(path, *args, **kwargs)
        return call


def _run_every_path(api, recorder) -> None:
    """Every route, and every event handler's paths: fan-out in pages,
    celebrity promotion and demotion, backfill, unfollow removal, tweet
    retraction, stale entries dropped on read, a returning user's rebuild,
    a home page reading a celebrity's retweet markers."""
    from chalicelib.accounts import activity
    from chalicelib.storage.tables import UserModel

    def signup(handle):
        reply = api.post("/auth/signup", {"handle": handle, "password": "correct horse"})
        assert reply.status == 201, reply.json
        return reply.json["user"]["id"], reply.json["token"]

    users = {handle: signup(handle) for handle in ("alice", "bob", "carol", "dave", "erin")}
    token = {handle: t for handle, (_, t) in users.items()}
    replies = [
        api.get("/health"),
        api.get("/openapi.json"),
        api.get("/docs"),
        api.get("/docs/swagger-ui.css"),
        api.post("/auth/signup", {"handle": "ALICE", "password": "password1"}),  # a clash
        api.post("/auth/login", {"handle": "alice", "password": "correct horse"}),
        api.get("/me", token=token["alice"]),
        api.get("/users/alice"),
        api.get("/users/nobody"),
    ]
    first = api.post("/tweets", {"text": "hello"}, token=token["alice"], headers={"Idempotency-Key": "k1"})
    replies += [
        first,
        api.post("/tweets", {"text": "hello"}, token=token["alice"], headers={"Idempotency-Key": "k1"}),
        api.post("/tweets", {"text": "a reply", "reply_to_id": first.json["id"]}, token=token["bob"]),
        api.post("/tweets", {"text": "a quote", "quote_of_id": first.json["id"]}, token=token["bob"]),
        api.get(f"/tweets/{first.json['id']}"),
        api.get("/users/alice/tweets?limit=1"),
        # Signed-in reads count views: one message each to the views queue, counted by on_views.
        api.get(f"/tweets/{first.json['id']}", token=token["bob"]),
        api.get("/users/alice/tweets?limit=1", token=token["carol"]),
    ]
    recorder.pump.drain()  # no followers yet: one page, written by the stream handler itself
    # Alice reaches the celebrity threshold (promotion, in pages); Bob
    # stays below it and is fanned out in pages; follows backfill.
    replies += [api.post("/users/alice/follow", token=token[h]) for h in ("bob", "carol", "dave", "erin")]
    replies += [api.post("/users/bob/follow", token=token[h]) for h in ("carol", "dave", "erin")]
    replies += [api.get("/users/alice/followers"), api.get("/users/erin/following")]
    recorder.pump.drain()
    # Alice retweets her first tweet, then tweets past it; Bob retweets it
    # too. Carol's page above Alice's retweet shows Bob's, of an original
    # older than Alice's pull window (CELEBRITY_PULL 1): it reads the
    # (original, Alice) marker in its hydration BatchGetItem, and Alice's
    # retweet, older, keeps Bob's off the page.
    stars = api.post(f"/tweets/{first.json['id']}/retweet", token=token["alice"])
    replies += [stars, api.post("/tweets", {"text": "pulled at read time"}, token=token["alice"]),
                api.post("/tweets", {"text": "fanned out"}, token=token["bob"]),
                api.post(f"/tweets/{first.json['id']}/retweet", token=token["bob"])]
    recorder.pump.drain()
    above = api.get(f"/timelines/home?since_id={stars.json['id']}", token=token["carol"])
    assert [t["text"] for t in above.json["data"]] == ["fanned out", "pulled at read time"], above.json
    replies.append(above)
    replies += [api.get("/timelines/home", token=token["carol"]),
                api.delete(f"/tweets/{first.json['id']}", token=token["alice"])]
    old = api.post("/tweets", {"text": "to be deleted"}, token=token["bob"])
    recorder.pump.drain()
    replies += [old, api.delete(f"/tweets/{old.json['id']}", token=token["bob"])]  # retracted in pages
    recorder.pump.drain()
    # Carol unfollows both and reads before the follows stream has caught up:
    # the read drops Bob's entries and forgets Alice; Alice falls below the
    # exit line (demotion, in pages).
    replies += [api.delete("/users/alice/follow", token=token["carol"]),
                api.delete("/users/bob/follow", token=token["carol"]),
                api.get("/timelines/home", token=token["carol"])]
    recorder.pump.drain()
    # Erin comes back after a long absence: her timeline is rebuilt in pages.
    with recorder.running_as(None):
        UserModel(id=int(users["erin"][0])).update(
            actions=[UserModel.last_active_day.set(activity.today() - settings.ACTIVE_DAYS - 10)])
        activity._marked_today.pop(int(users["erin"][0]), None)
    replies.append(api.get("/timelines/home", token=token["erin"]))
    recorder.pump.drain()
    assert replies[-1].json["meta"]["partial"] is True
    # Tweet content: mentions, hashtags, replies, likes, retweets (one shown
    # per original on a home page), notifications, trends, and a deleted
    # original taking its retweets and likes with it in pages.
    tagged = api.post("/tweets", {"text": "#Chirp is up, @carol and @nobody"}, token=token["dave"])
    replies += [tagged, api.post("/tweets", {"text": "yes", "reply_to_id": tagged.json["id"]},
                                 token=token["erin"])]
    recorder.pump.drain()
    replies += [api.get(f"/tweets/{tagged.json['id']}/replies"), api.get("/hashtags/chirp/tweets"),
                api.get("/trends"), api.post(f"/tweets/{tagged.json['id']}/like", token=token["bob"]),
                api.post(f"/tweets/{tagged.json['id']}/like", token=token["erin"]),
                api.delete(f"/tweets/{tagged.json['id']}/like", token=token["erin"])]
    replies += [api.post(f"/users/{h}/follow", token=token["carol"]) for h in ("bob", "erin")]
    replies += [api.post(f"/tweets/{tagged.json['id']}/retweet", token=token[h])
                for h in ("bob", "erin", "alice")]
    replies.append(api.post(f"/tweets/{tagged.json['id']}/like", token=token["alice"]))
    recorder.pump.drain()
    replies += [api.get("/timelines/home", token=token["carol"]),  # two retweets of one original
                api.get("/timelines/home", token=token["dave"]),
                api.get("/notifications", token=token["dave"]),
                api.delete(f"/tweets/{tagged.json['id']}/retweet", token=token["bob"])]
    # A ranked home of more than one item: its first page keeps the rest, a second reads it.
    busy = next(t for t in token.values() if len(api.get("/timelines/home", token=t).json["data"]) > 1)
    ranked = api.get("/timelines/home?ranked=1&limit=1", token=busy)
    replies += [ranked, api.get(f"/timelines/home?ranked=1&cursor={ranked.json['meta']['next_cursor']}",
                                token=busy)]
    # Dave unfollows Bob with a tweet of Bob's in his timeline: found by key and deleted.
    replies.append(api.post("/tweets", {"text": "before dave leaves"}, token=token["bob"]))
    recorder.pump.drain()
    replies.append(api.delete("/users/bob/follow", token=token["dave"]))
    recorder.pump.drain()
    with patched_setting("CASCADE_PAGE_SIZE", 1):
        replies.append(api.delete(f"/tweets/{tagged.json['id']}", token=token["dave"]))
        recorder.pump.drain()
    # The redrive: a record of each stream parked as Lambda parks it (the
    # first like's is superseded: the cascade deleted the like), a job on
    # jobs-dlq moved back, and one moved back too often parked.
    with recorder.running_as(None):
        for table, which in (("tweets", -1), ("follows", -1), ("likes", 0)):
            _park_record(table, which)
        unreadable = {"DDBStreamBatchInfo": {"shardId": "shardId-1", "startSequenceNumber": "1",
                                             "endSequenceNumber": "1", "batchSize": 1,
                                             "streamArn": "arn:aws:dynamodb:us-east-1:000000000000:table/"
                                                          "no-such-table/stream/2026"}}
        boto3.client("sqs").send_message(QueueUrl=_queue_url("stream-failures"),
                                         MessageBody=json.dumps(unreadable))
        dlq = _queue_url("jobs-dlq")
        job = json.dumps({"kind": "drop-likes", "tweet_id": int(tagged.json["id"]), "cursor": None})
        boto3.client("sqs").send_message(QueueUrl=dlq, MessageBody=job)
        boto3.client("sqs").send_message(QueueUrl=dlq, MessageBody=job, MessageAttributes={
            redrive.REDRIVES: {"DataType": "Number", "StringValue": str(settings.JOBS_MAX_REDRIVES)}})
    with recorder.running_as("redrive_failures"):
        counts = redrive.redrive_all()
    assert counts["stream-failures"] == redrive.Counts(found=4, processed=3, left=1, superseded=1), counts
    assert counts["jobs-dlq"] == redrive.Counts(found=2, processed=1, parked=1), counts
    recorder.pump.drain()
    with recorder.running_as(None):  # what is left is the test's, not a handler's failure
        sqs = boto3.client("sqs")
        for short in ("stream-failures", "parked"):
            url = _queue_url(short)
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    # Last, since they revoke: a password change, then logging out everywhere.
    changed = api.post("/auth/password", {"password": "correct horse", "new_password": "battery staple"},
                       token=token["erin"])
    replies += [changed, api.post("/auth/logout-all", token=changed.json["token"])]
    assert all(r.status < 500 for r in replies), [(r.status, r.body[:200]) for r in replies]


def _queue_url(short: str) -> str:
    return boto3.client("sqs").get_queue_url(QueueName=settings.QUEUE_NAMES[short])["QueueUrl"]


def _park_record(table: str, which: int) -> None:
    """Describes a record of a table's stream (records[which]) on
    stream-failures, as Lambda does when a batch runs out of retries."""
    streams = boto3.client("dynamodbstreams")
    table_name = settings.TABLE_NAMES[table]
    arn = boto3.client("dynamodb").describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][-1:]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    record = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"][which]
    number = record["dynamodb"]["SequenceNumber"]
    body = {"DDBStreamBatchInfo": {"shardId": shard["ShardId"], "startSequenceNumber": number,
                                   "endSequenceNumber": number, "batchSize": 1, "streamArn": arn}}
    boto3.client("sqs").send_message(QueueUrl=_queue_url("stream-failures"), MessageBody=json.dumps(body))


@contextmanager
def patched_setting(name, value):
    saved = getattr(settings, name)
    setattr(settings, name, value)
    try:
        yield
    finally:
        setattr(settings, name, saved)


def _request_targets(service: str, operation: str, params: dict) -> list[tuple[str, str]]:
    """(IAM action, local resource name) for one request, as IAM sees it:
    transactions and batches are authorised item by item, on each table."""
    if service == "sqs":
        queue = params.get("QueueName") or params["QueueUrl"].rsplit("/", 1)[-1]
        return [(f"sqs:{operation}", queue)]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                 "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
        return [(f"dynamodb:{kinds[kind]}", body["TableName"])
                for item in params["TransactItems"] for kind, body in item.items()]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", name) for name in params["RequestItems"]]
    index = params.get("IndexName")
    return [(f"dynamodb:{operation}", params["TableName"] + (f"/index/{index}" if index else ""))]


def _arn_in(stage: str, action: str, local_name: str) -> str:
    """The ARN a deployed `stage` would be asked about for a local resource."""
    name, _, index = local_name.partition("/index/")
    deployed = naming.resource_name(naming.short_of(name), stage)
    if action.startswith("sqs:"):
        return ACCOUNT_ARN.format(service="sqs", resource=deployed)
    return ACCOUNT_ARN.format(service="dynamodb", resource=f"table/{deployed}"
                              + (f"/index/{index}" if index else ""))


def _granted(policy: dict) -> set[tuple[str, str]]:
    """(action, resource) pairs a policy grants on tables, indexes and queues
    the function itself calls (not those Lambda uses for its mapping)."""
    lambdas = set(iam.STREAM_ACTIONS) | set(iam.QUEUE_READ_ACTIONS)
    return {(action, resource) for s in policy["Statement"] if s["Sid"] != "OnFailureQueue"
            for action in _list(s["Action"])
            if action.startswith(("dynamodb:", "sqs:")) and action not in lambdas
            for resource in _list(s["Resource"])}


def test_each_functions_policy_allows_exactly_what_it_does(api, function_calls):
    """Runs every route and event handler (see _run_every_path), then holds
    each function's policy, in every stage, to the calls that function made:
    all allowed, and no DynamoDB or SQS grant left unused."""
    from app import app

    logged = LoggedApi(api, app)
    _run_every_path(logged, function_calls)

    routes = {(path, method) for path, methods in app.routes.items() for method in methods}
    assert logged.requested == routes, f"not requested: {sorted(routes - logged.requested)}"
    for function in EVENT_FUNCTIONS + ("bearer_auth",):
        assert function_calls.invocations[function], f"{function} never ran"
    sqs = boto3.client("sqs")
    for short in ("stream-failures", "jobs-dlq", "jobs", "views-dlq", "views"):
        url = sqs.get_queue_url(QueueName=settings.QUEUE_NAMES[short])["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "0", f"{short}: a handler failed"

    for stage in STAGES:
        for function in API_FUNCTIONS + EVENT_FUNCTIONS:
            policy = iam.policy(stage, None if function == "api_handler" else function)
            used = {(action, _arn_in(stage, action, name))
                    for service, operation, params in function_calls.calls[function]
                    for action, name in _request_targets(service, operation, params)}
            denied = sorted((a, r) for a, r in used if not _allows(policy, a, r))
            assert denied == [], f"{function} in {stage} needs: {denied}"
            granted = _granted(policy)
            if function == "redrive_failures":  # may do all the stream handlers do; held to its own part
                granted -= {g for f in iam.STREAM_FUNCTIONS for g in _granted(iam.policy(stage, f))}
            unused = sorted((a, r) for a, r in granted
                            if not any(fnmatchcase(u_action, a) and fnmatchcase(u_arn, r)
                                       for u_action, u_arn in used))
            assert unused == [], f"{function} in {stage} is granted but never uses: {unused}"
    assert function_calls.calls["bearer_auth"] == []  # verifies tokens; no table, no queue


# --- after `chalice deploy` -------------------------------------------------------

def test_gateway_responses_can_be_applied_after_chalice_deploy():
    client = boto3.client("apigateway")
    api_id = client.create_rest_api(name="chirp")["id"]
    root = client.get_resources(restApiId=api_id)["items"][0]["id"]
    client.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    client.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")

    after_deploy.apply_gateway_responses(client, api_id, "api")

    for response_type, wanted in gateway_responses().items():
        got = client.get_gateway_response(restApiId=api_id, responseType=response_type)
        assert got["statusCode"] == wanted["statusCode"]
        assert got.get("responseParameters", {}) == wanted["responseParameters"]
        assert got["responseTemplates"] == wanted["responseTemplates"]
    assert [d["description"] for d in client.get_deployments(restApiId=api_id)["items"]] == [
        "chirp gateway responses"]


def test_the_rest_api_is_named_for_its_stage_after_chalice_deploy():
    """The alarms and dashboard find the API by name (deploy.monitoring)."""
    client = boto3.client("apigateway")
    api_id = client.create_rest_api(name="chirp")["id"]
    after_deploy.name_rest_api(client, api_id, "prod")
    assert client.get_rest_api(restApiId=api_id)["name"] == monitoring.api_name("prod") == "chirp-prod"


def test_mapping_settings_can_be_applied_after_chalice_deploy():
    """Updates the mappings `chalice deploy` made (found by chalice's function
    names) with what the merge template gives the packaged ones, resolving
    the on-failure queue's real ARN."""
    sqs = boto3.client("sqs")
    failures_url = sqs.create_queue(QueueName="chirp-dev-stream-failures")["QueueUrl"]
    failures_arn = sqs.get_queue_attributes(QueueUrl=failures_url,
                                            AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client = boto3.client("lambda")
    stubber = Stubber(client)
    merged = cloudformation.api_template("dev")
    for number, source in enumerate(event_sources()):
        uuid = f"00000000-0000-0000-0000-00000000000{number}"
        stubber.add_response("list_event_source_mappings",
                             {"EventSourceMappings": [{"UUID": uuid, "EventSourceArn": "arn:aws:x"}]},
                             {"FunctionName": f"chirp-dev-{source.name}"})
        wanted = {k: v for k, v in _event(merged, source.name)["Properties"].items() if k != "Stream"}
        if "DestinationConfig" in wanted:
            wanted["DestinationConfig"] = {"OnFailure": {"Destination": failures_arn}}
        stubber.add_response("update_event_source_mapping", {}, {"UUID": uuid, **wanted})
    with stubber:
        updated = after_deploy.apply_mapping_settings(client, sqs, "dev")
    stubber.assert_no_pending_responses()
    assert len(updated) == len(event_sources())
