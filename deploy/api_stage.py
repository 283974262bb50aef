"""The API stage's own settings: throttling and access logging.

The same numbers reach both ways of deploying the app (infra/README.md): the
merge template gives them to chalice's RestAPI (SAM's MethodSettings and
AccessLogSetting, with the access log group a resource of the app stack),
and `after-deploy` patches them onto the stage `chalice deploy` made
(stage_patch_operations, after creating the log group).

API Gateway needs, once per account and region, a role to write logs with
(its account settings' CloudWatch role, see infra/README.md, step 0): a
stage with access logging cannot be created or updated without it.
"""
import contextlib
import json

from chalicelib.settings import THROTTLING_BURST_LIMIT, THROTTLING_RATE_LIMIT  # why these: settings
from deploy.monitoring import api_name

# Access logs name the caller's IP (personal data): kept long enough to look
# into what an alarm raised, not longer.
ACCESS_LOG_RETENTION_DAYS = 30

# One JSON object a request ($context variables, API Gateway's names): who
# asked what, what came back and how long it took, and the ids that find the
# request's trace and its function's log lines. The authorizer's principal
# is the user id. No header, token or body is logged, nor the user agent:
# free text of the client's choosing, which API Gateway writes unescaped.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "time": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "route": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integrationLatency",
    "integrationStatus": "$context.integration.status",
    "errorType": "$context.error.responseType",
    "error": "$context.error.message",
    "principal": "$context.authorizer.principalId",
    "xrayTraceId": "$context.xrayTraceId",
}
ACCESS_LOG_FORMAT = json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":"))  # one line, as API Gateway wants

ACCESS_LOG_GROUP_ID = "ApiAccessLogs"  # its logical id in the packaged template


def access_log_group_name(stage: str) -> str:
    return f"/aws/apigateway/{api_name(stage)}/access"


def method_settings() -> dict:
    """Every resource and method of the stage (SAM's and CloudFormation's names)."""
    return {"ResourcePath": "/*", "HttpMethod": "*",
            "ThrottlingRateLimit": THROTTLING_RATE_LIMIT, "ThrottlingBurstLimit": THROTTLING_BURST_LIMIT}


def api_stage_fragment(stage: str) -> dict:
    """For the merge template: the log group, and the stage's throttling and
    access logging on chalice's RestAPI."""
    return {"Resources": {
        ACCESS_LOG_GROUP_ID: {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": access_log_group_name(stage), "RetentionInDays": ACCESS_LOG_RETENTION_DAYS}},
        "RestAPI": {"Properties": {
            "MethodSettings": [method_settings()],
            "AccessLogSetting": {"DestinationArn": {"Fn::GetAtt": [ACCESS_LOG_GROUP_ID, "Arn"]},
                                 "Format": ACCESS_LOG_FORMAT}}},
    }}


def stage_patch_operations(log_group_arn: str) -> list[dict]:
    """The same settings as UpdateStage patch operations ("/*/*" is every
    resource and method), for the stage `chalice deploy` made."""
    return [
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(THROTTLING_RATE_LIMIT)},
        {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(THROTTLING_BURST_LIMIT)},
        {"op": "replace", "path": "/accessLogSettings/destinationArn", "value": log_group_arn},
        {"op": "replace", "path": "/accessLogSettings/format", "value": ACCESS_LOG_FORMAT},
    ]


def ensure_access_log_group(logs_client, stage: str) -> str:
    """Creates the stage's access log group if it is missing, sets its
    retention, and returns its ARN as API Gateway wants it (without the
    trailing ":*" CloudWatch Logs reports)."""
    name = access_log_group_name(stage)
    with contextlib.suppress(logs_client.exceptions.ResourceAlreadyExistsException):
        logs_client.create_log_group(logGroupName=name)
    logs_client.put_retention_policy(logGroupName=name, retentionInDays=ACCESS_LOG_RETENTION_DAYS)
    [group] = [g for g in logs_client.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
               if g["logGroupName"] == name]
    return group["arn"].removesuffix(":*")

