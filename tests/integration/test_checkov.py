"""The security scan of the deployment (issue 14), and what it made us fix.

- checkov, over the packaged app of each stage (`chalice package
  --merge-template infra/api-<stage>.json`), the data stack and the
  stage's monitoring stack, finds nothing that deploy.security does not
  skip with a reason, and every skip there is one checkov makes.
- The background functions reserve their concurrency (config.json), the SQS
  mappings stay inside it, and the API functions draw on what is left.
- The API stage is throttled and access-logged, in the packaged template
  and by `after-deploy`; a throttled request is answered in the contract.

checkov runs from its own venv (.venv-checkov, deploy.security pins the
version), made on first use: checkov pins boto3 and others to versions the
app's constraints cannot share.
"""
import json
import re
import subprocess
import time
from pathlib import Path

import boto3
import pytest
from chalice.app import SQSEventConfig

from chalicelib.web.errors import CHALICE_CODES
from deploy import after_deploy, api_stage, cloudformation, monitoring, project, security
from deploy.event_sources import chalice_event_id, event_sources
from deploy.gateway_responses import GATEWAY_ERRORS, gateway_response

STAGES = project.stages()
API_FUNCTIONS = ("api_handler", "bearer_auth")
EVENT_FUNCTIONS = ("on_tweet_change", "on_follow_change", "on_like_change", "on_job", "on_views",
                   "redrive_failures")


# --- the scan --------------------------------------------------------------------

@pytest.fixture(scope="module")
def checkov():
    """Fails, not skips, when checkov cannot be had: the scan is part of the suite."""
    started = time.monotonic()
    try:
        executable = security.checkov_executable()
    except (OSError, subprocess.SubprocessError) as exc:
        output = getattr(exc, "stderr", "") or ""
        pytest.fail(f"could not install checkov=={security.CHECKOV_VERSION} into "
                    f"{security.CHECKOV_VENV} (it needs the package index): {exc}\n{output}")
    print(f"checkov {security.CHECKOV_VERSION} ready in {time.monotonic() - started:.1f} s: {executable}")
    return security.run_checkov


def _resource_id(check: dict) -> str:
    return check["resource"].rsplit(".", 1)[-1]  # "AWS::Serverless::Function.OnJob" -> "OnJob"


def _declared_skips(template: dict) -> set[tuple[str, str, str]]:
    """(logical id, check id, reason) of every skip in a template's Metadata."""
    return {(logical, skip["id"], skip["comment"])
            for logical, resource in template["Resources"].items()
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])}


def test_checkov_finds_nothing_unskipped(packaged, checkov):
    """Fails on any finding not skipped in deploy.security, listing each; and
    on any skip checkov did not make (a check that no longer applies there,
    or a mistyped id), so the table stays what the scan needs."""
    stage, out = packaged
    sam = out / "sam.json"
    templates = {"app": sam, "data": project.INFRA / "tables.json",
                 "monitoring": project.INFRA / f"monitoring-{stage}.json"}
    started = time.monotonic()
    report = checkov(list(templates.values()))
    print(f"checkov over {len(templates)} templates took {time.monotonic() - started:.1f} s")

    failed = [f"{c['check_id']} {c['resource']} in {Path(c['file_path']).name}: {c['check_name']}"
              for c in report["failed_checks"]]
    assert failed == [], ("checkov findings: fix them in deploy/, or skip them in deploy.security.SKIPS "
                          "with the reason:\n" + "\n".join(failed))
    for name, path in templates.items():
        declared = _declared_skips(json.loads(path.read_text()))
        made = {(_resource_id(c), c["check_id"], c["check_result"].get("suppress_comment"))
                for c in report["skipped_checks"] if Path(c["file_path"]).name == path.name}
        assert made == declared, f"{name}: skips checkov did not make: {sorted(declared - made)}"
    passed = {(Path(c["file_path"]).name, _resource_id(c), c["check_id"]) for c in report["passed_checks"]}
    # What issue 14 fixed, and what already held, stays fixed.
    assert {("sam.json", "RestAPI", "CKV_AWS_76"), ("sam.json", "RestAPI", "CKV_AWS_73"),
            ("sam.json", api_stage.ACCESS_LOG_GROUP_ID, "CKV_AWS_66")} <= passed
    for function in EVENT_FUNCTIONS:
        assert ("sam.json", monitoring.function_logical_id(function), "CKV_AWS_115") in passed
    assert ("tables.json", "TweetsTable", "CKV_AWS_28") in passed


def test_the_skips_are_generated_one_reason_each():
    """Skips come from deploy.security.SKIPS (never hand-written), each with
    a reason, on resources of the kinds it names."""
    seen = set()
    for check, kinds, reason in security.SKIPS:
        assert re.fullmatch(r"CKV2?_AWS_\d+", check), check
        assert len(reason) > 40 and reason.endswith("."), (check, reason)
        assert kinds, check
        for kind in kinds:
            assert (check, kind) not in seen, f"{check} skipped twice on {kind}"
            seen.add((check, kind))
    kinds = security.app_kinds()
    for function in API_FUNCTIONS + EVENT_FUNCTIONS:
        [kind] = kinds[monitoring.function_logical_id(function)]
        assert kind in security.FUNCTIONS, function
    merged = cloudformation.api_template("prod")["Resources"]
    for logical, resource_kinds in kinds.items():
        assert merged[logical]["Metadata"]["checkov"]["skip"] == security.skips(*resource_kinds), logical
    data_kinds = {"AWS::DynamoDB::Table": security.TABLE, "AWS::SQS::Queue": security.QUEUE}
    for resource in cloudformation.tables_template()["Resources"].values():
        kind = data_kinds.get(resource["Type"])
        if kind:
            assert resource["Metadata"]["checkov"]["skip"] == security.skips(kind)
    # A function is asked about a dead-letter queue by how it is invoked: each kind has its own reason.
    assert {k for c, ks, _ in security.SKIPS if c == "CKV_AWS_116" for k in ks} == set(security.FUNCTIONS)


# --- concurrency -------------------------------------------------------------------

@pytest.mark.parametrize("stage", STAGES)
def test_background_functions_reserve_their_concurrency_and_the_api_does_not(stage):
    """A burst of fan-out (a celebrity's tweet, a backlog of jobs) is capped by
    the event functions' reservations, so it cannot take the concurrency the
    API needs; the API itself is capped by the stage's throttling."""
    reserved = {f: project.stage_config(stage, f).reserved_concurrency
                for f in API_FUNCTIONS + EVENT_FUNCTIONS}
    assert {f: reserved[f] for f in API_FUNCTIONS} == dict.fromkeys(API_FUNCTIONS)
    for function in EVENT_FUNCTIONS:
        assert isinstance(reserved[function], int) and reserved[function] >= 1, function
    assert reserved["redrive_failures"] == 1  # one run at a time: two would only contend for the same queues
    # Lambda keeps 100 of an account's concurrency unreserved (of 1000 by default): both stages in
    # one account must fit with most of it left to the API.
    total = sum(reserved[f] for f in EVENT_FUNCTIONS)
    assert total * len(STAGES) <= 200, total


@pytest.mark.parametrize("stage", STAGES)
def test_queue_mappings_stay_inside_their_functions_reservation(stage):
    """SQS's poller, left alone, scales past a reservation; Lambda then
    throttles its batches and every throttled message counts a receive, so
    jobs would reach their DLQ without ever failing. MaximumConcurrency keeps
    the poller inside (Lambda's minimum is 2)."""
    template = cloudformation.api_template(stage)["Resources"]
    for source in event_sources():
        function, event = chalice_event_id(source)
        props = template[function]["Properties"]["Events"][event]["Properties"]
        reserved = project.stage_config(stage, source.name).reserved_concurrency
        if isinstance(source, SQSEventConfig):
            assert props["ScalingConfig"] == {"MaximumConcurrency": reserved}, source.name
            assert 2 <= reserved <= 1000, source.name
        else:
            assert "ScalingConfig" not in props, source.name


# --- the API stage -------------------------------------------------------------------

@pytest.mark.parametrize("stage", STAGES)
def test_the_api_stage_is_throttled_and_access_logged(stage):
    resources = cloudformation.api_template(stage)["Resources"]
    api = resources["RestAPI"]["Properties"]
    assert api["MethodSettings"] == [{"ResourcePath": "/*", "HttpMethod": "*",
                                      "ThrottlingRateLimit": api_stage.THROTTLING_RATE_LIMIT,
                                      "ThrottlingBurstLimit": api_stage.THROTTLING_BURST_LIMIT}]
    assert 1 <= api_stage.THROTTLING_RATE_LIMIT <= api_stage.THROTTLING_BURST_LIMIT <= 5000
    log_group = resources[api_stage.ACCESS_LOG_GROUP_ID]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"] == {"LogGroupName": f"/aws/apigateway/chirp-{stage}/access",
                                       "RetentionInDays": api_stage.ACCESS_LOG_RETENTION_DAYS}
    assert api["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": [api_stage.ACCESS_LOG_GROUP_ID, "Arn"]}
    fields = json.loads(api["AccessLogSetting"]["Format"])  # JSON, one line, every value a $context variable
    assert "\n" not in api["AccessLogSetting"]["Format"]
    assert fields["requestId"] == "$context.requestId" and fields["status"] == "$context.status"
    assert all(re.fullmatch(r"\$context\.[A-Za-z.]+", v) for v in fields.values()), fields
    assert not [v for v in fields.values() if "header" in v.lower() or "userAgent" in v or "body" in v]


def test_a_throttled_request_is_answered_in_the_contract():
    """Without its own gateway response, API Gateway's 429 would be a
    DEFAULT_4XX, whose 400 replaces the status."""
    assert GATEWAY_ERRORS["THROTTLED"][0] == 429
    local = gateway_response("THROTTLED")
    assert local["statusCode"] == 429
    assert json.loads(local["body"])["error"]["code"] == "too_many_requests" in CHALICE_CODES.values()
    sam = cloudformation.api_template("dev")["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    assert sam["THROTTLED"]["StatusCode"] == "429"


def test_stage_settings_can_be_applied_after_chalice_deploy():
    """Throttling and access logging on the stage `chalice deploy` made, with
    the log group created and its retention set; running it again changes
    nothing."""
    client = boto3.client("apigateway")
    logs = boto3.client("logs")
    api_id = client.create_rest_api(name="chirp")["id"]
    root = client.get_resources(restApiId=api_id)["items"][0]["id"]
    client.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    client.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    client.create_deployment(restApiId=api_id, stageName="api")

    for _ in range(2):
        arn = after_deploy.apply_stage_settings(client, logs, api_id, "dev")

    [group] = logs.describe_log_groups(logGroupNamePrefix="/aws/apigateway/chirp-dev/access")["logGroups"]
    assert group["retentionInDays"] == api_stage.ACCESS_LOG_RETENTION_DAYS
    assert arn == group["arn"].removesuffix(":*") and not arn.endswith(":*")
    got = client.get_stage(restApiId=api_id, stageName="api")
    assert got["accessLogSettings"] == {"destinationArn": arn, "format": api_stage.ACCESS_LOG_FORMAT}
    throttling = got["methodSettings"]["*/*"]
    assert throttling["throttlingRateLimit"] == api_stage.THROTTLING_RATE_LIMIT
    assert throttling["throttlingBurstLimit"] == api_stage.THROTTLING_BURST_LIMIT
