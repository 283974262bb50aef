"""After `chalice deploy`: what it cannot set, put on what it made.

`chalice deploy` can set neither API Gateway's own responses, nor the
mapping settings Chalice's decorators cannot carry, nor the API's name per
stage, nor the stage's throttling and access logging; infra/api-<stage>.json
does all four for `chalice package` (deploy.cloudformation). These put the
same on what `chalice deploy` made; run them after each one
(`python -m deploy after-deploy --stage <stage>`, see infra/README.md).
"""
import json

from deploy.api_stage import ensure_access_log_group, stage_patch_operations
from deploy.event_sources import event_sources, mapping_settings
from deploy.gateway_responses import gateway_responses
from deploy.monitoring import api_name, api_stage
from deploy.naming import resource_name
from deploy.project import CHALICE, ROOT, chalice_config, stage_config


def deployed_rest_api_id(stage: str) -> str:
    """The REST API `chalice deploy` recorded for `stage`."""
    path = CHALICE / "deployed" / f"{stage}.json"
    if not path.exists():
        raise SystemExit(f"{path.relative_to(ROOT)} is missing: run `chalice deploy --stage {stage}` "
                         "first, or pass --rest-api-id")
    deployed = json.loads(path.read_text())
    for resource in deployed["resources"]:
        if resource.get("resource_type") == "rest_api":
            return resource["rest_api_id"]
    raise LookupError(f"no REST API in .chalice/deployed/{stage}.json")


def apply_gateway_responses(client, rest_api_id: str, stage_name: str) -> None:
    """Puts the responses and redeploys the stage. Every `chalice deploy`
    overwrites the API definition, so run this after each."""
    for response_type, response in gateway_responses().items():
        client.put_gateway_response(restApiId=rest_api_id, responseType=response_type, **response)
    client.create_deployment(restApiId=rest_api_id, stageName=stage_name,
                             description="chirp gateway responses")


def name_rest_api(client, rest_api_id: str, stage: str) -> None:
    """Names the REST API per stage, as the packaged template does: API
    Gateway's metrics, and so the alarms and dashboard (deploy.monitoring),
    find it by name, and `chalice deploy` names every stage's API "chirp"."""
    client.update_rest_api(restApiId=rest_api_id,
                           patchOperations=[{"op": "replace", "path": "/name", "value": api_name(stage)}])


def apply_stage_settings(apigateway_client, logs_client, rest_api_id: str, stage: str) -> str:
    """The stage's throttling and access logging (deploy.api_stage), with the
    access log group created if missing (and its retention set). API
    Gateway refuses access logging until the account has its CloudWatch
    role (infra/README.md, step 0). Returns the log group's ARN."""
    log_group_arn = ensure_access_log_group(logs_client, stage)
    apigateway_client.update_stage(restApiId=rest_api_id, stageName=api_stage(stage),
                                   patchOperations=stage_patch_operations(log_group_arn))
    return log_group_arn


def apply_mapping_settings(lambda_client, sqs_client, stage: str) -> list[str]:
    """Updates each handler's event-source mappings with mapping_settings.
    Without this, Lambda ignores the batchItemFailures the handlers return
    (so a failed record counts as done) and retries a poison stream record
    for a day. Returns the mappings updated."""
    def real_arn(short: str) -> str:
        url = sqs_client.get_queue_url(QueueName=resource_name(short, stage))["QueueUrl"]
        return sqs_client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]

    app_name = chalice_config()["app_name"]
    updated = []
    for source in event_sources():
        function = f"{app_name}-{stage}-{source.name}"  # chalice deploy's naming
        mappings = lambda_client.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
        if not mappings:
            raise LookupError(f"{function} has no event-source mapping: was `chalice deploy --stage {stage}` "
                              "run (with TWEETS_STREAM_ARN and FOLLOWS_STREAM_ARN set)?")
        for mapping in mappings:
            lambda_client.update_event_source_mapping(UUID=mapping["UUID"],
                                                      **mapping_settings(source, real_arn, stage))
            updated.append(f"{function} <- {mapping['EventSourceArn']}")
    return updated


def after_deploy(stage: str, rest_api_id: str | None = None) -> None:
    """All of them, on the deployed `stage`, with the AWS credentials at hand."""
    import boto3

    rest_api_id = rest_api_id or deployed_rest_api_id(stage)
    stage_name = stage_config(stage).api_gateway_stage or "api"
    apply_gateway_responses(boto3.client("apigateway"), rest_api_id, stage_name)
    print(f"gateway responses applied to {rest_api_id}, stage {stage_name} redeployed")
    name_rest_api(boto3.client("apigateway"), rest_api_id, stage)
    print(f"REST API {rest_api_id} named {api_name(stage)}")
    log_group = apply_stage_settings(boto3.client("apigateway"), boto3.client("logs"), rest_api_id, stage)
    print(f"stage {stage_name}: throttled, access logs to {log_group}")
    for mapping in apply_mapping_settings(boto3.client("lambda"), boto3.client("sqs"), stage):
        print(f"mapping settings applied: {mapping}")
