"""The CloudFormation templates in infra/.

- `infra/tables.json`: the data stack, deployed first. One DynamoDB table per
  PynamoDB model (keys, indexes, stream, TTL as in the local stack's
  CreateTable calls, deploy.tables), the SQS queues of deploy.queues (with
  the visibility timeout Lambda wants for the function that reads each), and
  alarms on the queues nothing reads (dead-letter and on-failure queues).
  Names, ARNs and URLs are exported (deploy.naming).
- `infra/api-<stage>.json`: merged into `chalice package --stage <stage>`
  output. The GatewayResponses that give API Gateway's own errors the
  contract's shape (deploy.gateway_responses), and the event-source mapping
  settings Chalice cannot express (deploy.event_sources, as the local pump
  uses them), with the stream and queue ARNs imported from that stage's
  data stack; the alarms, dashboard and names (deploy.monitoring); the
  stage's throttling and access logging (deploy.api_stage).

Both carry, as resource Metadata, the checkov checks they do not pass and
why (deploy.security).
"""
import json
from pathlib import Path

from chalice.app import DynamoDBEventConfig

from chalicelib.storage.tables import ALL_MODELS, TTL_ATTRIBUTES
from deploy.api_stage import api_stage_fragment
from deploy.event_sources import chalice_event_id, event_sources, mapping_settings, source_table
from deploy.gateway_responses import gateway_responses
from deploy.monitoring import monitoring_fragment
from deploy.naming import (
    STAGE_REF,
    camel,
    export,
    export_name,
    resource_name,
    short_name,
    short_of,
    table_name,
)
from deploy.project import INFRA, stages
from deploy.queues import dead_end_queues, queue_definitions, queue_shorts, visibility_timeouts
from deploy.security import QUEUE, TABLE, metadata, skips_fragment
from deploy.tables import stream_view_type, table_properties

PROTECTED_STAGE = "prod"  # its tables also refuse a DeleteTable


# --- tables ------------------------------------------------------------------

def logical_id(model) -> str:
    return camel(short_name(model)) + "Table"


def _key(key: dict) -> dict:
    return {"AttributeName": key["AttributeName"], "KeyType": key["KeyType"]}


def _index(index: dict) -> dict:
    return {**index, "KeySchema": [_key(k) for k in index["KeySchema"]]}


def _tags() -> list[dict]:
    return [{"Key": "app", "Value": "chirp"}, {"Key": "stage", "Value": {"Ref": "Stage"}}]


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
        "Tags": _tags(),
    })
    return {
        "Type": "AWS::DynamoDB::Table",
        # Data outlives stacks: deleting or replacing the stack keeps the table.
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {"TableName": {"Fn::Sub": table_name(model, STAGE_REF)}, **props},
        **metadata(TABLE),  # the checkov checks not fixed, and why (deploy.security)
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


# --- queues ------------------------------------------------------------------

def queue_logical_id(short: str) -> str:
    return camel(short) + "Queue"


# CreateQueue attributes are strings; CloudFormation wants these as integers.
_INTEGER_QUEUE_ATTRIBUTES = {"DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod",
                             "ReceiveMessageWaitTimeSeconds", "VisibilityTimeout"}


def _queue_properties(attributes: dict) -> dict:
    """CreateQueue attributes (deploy.queues) as AWS::SQS::Queue properties."""
    props: dict[str, object] = {}
    for name, value in attributes.items():
        if name == "RedrivePolicy":  # names its DLQ; the stack knows the ARN
            props[name] = {"deadLetterTargetArn": {"Fn::GetAtt": [
                               queue_logical_id(short_of(value["deadLetterTargetArn"])), "Arn"]},
                           "maxReceiveCount": int(value["maxReceiveCount"])}
        elif name in _INTEGER_QUEUE_ATTRIBUTES:
            props[name] = int(value)
        elif name == "FifoQueue":
            props[name] = value == "true"
        else:
            raise LookupError(f"queue attribute {name} has no CloudFormation translation here ({__name__})")
    return props


def queue_resources() -> tuple[dict, dict]:
    """The queues, and the Mappings for any property whose value differs
    between stages (e.g. a visibility timeout that follows a per-stage
    function timeout): one template serves every stage."""
    per_stage = {stage: {short_of(name): _queue_properties(attributes)
                         for name, attributes in queue_definitions(visibility_timeouts(stage)).items()}
                 for stage in stages()}
    resources: dict[str, dict] = {}
    mappings: dict[str, dict] = {}
    for short in queue_shorts():
        logical = queue_logical_id(short)
        props: dict[str, object] = {"QueueName": {"Fn::Sub": resource_name(short, STAGE_REF)}}
        for prop in per_stage[stages()[0]][short]:
            values = {stage: per_stage[stage][short][prop] for stage in stages()}
            if len({json.dumps(v, sort_keys=True) for v in values.values()}) == 1:
                props[prop] = values[stages()[0]]
            else:
                for stage, value in values.items():
                    mappings.setdefault(stage, {})[logical + prop] = value
                props[prop] = {"Fn::FindInMap": ["StageSettings", {"Ref": "Stage"}, logical + prop]}
        # SSE-SQS: encrypted at rest with no KMS key to manage or grant.
        props.update({"SqsManagedSseEnabled": True, "Tags": _tags()})
        resources[logical] = {"Type": "AWS::SQS::Queue", "Properties": props, **metadata(QUEUE)}
    return resources, ({"StageSettings": mappings} if mappings else {})


def queue_alarm(short: str) -> dict:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": {"Fn::Sub": f"{resource_name(short, STAGE_REF)}-not-empty"},
        "AlarmDescription": f"Messages in {short}: work that failed for good (see infra/README.md)",
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName",
                        "Value": {"Fn::GetAtt": [queue_logical_id(short), "QueueName"]}}],
        "Statistic": "Maximum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]},
    }}


def queue_outputs(short: str) -> dict:
    logical = queue_logical_id(short)
    facts = {"Name": {"Fn::GetAtt": [logical, "QueueName"]}, "Arn": {"Fn::GetAtt": [logical, "Arn"]},
             "Url": {"Ref": logical}}
    return {f"{logical}{fact}": {"Description": f"The {short} queue's {fact.lower()}", "Value": value,
                                 "Export": {"Name": {"Fn::Sub": export(short, fact.lower())}}}
            for fact, value in facts.items()}


# --- the data stack ------------------------------------------------------------

def tables_template() -> dict:
    resources, outputs = {}, {}
    for model in ALL_MODELS:
        resources[logical_id(model)] = table_resource(model)
        outputs.update(table_outputs(model))
    queues, mappings = queue_resources()
    resources.update(queues)
    for short in queue_shorts():
        outputs.update(queue_outputs(short))
    for short in dead_end_queues():
        resources[camel(short) + "NotEmptyAlarm"] = queue_alarm(short)
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Chirp's data stack: the DynamoDB tables and their streams, the SQS queues and "
                       "their alarms. Generated by `make infra` from chalicelib/storage/tables.py and "
                       "deploy/; deploy before the app.",
        "Parameters": {
            "Stage": {"Type": "String", "AllowedValues": stages(),
                      "Description": "The chalice stage these tables and queues serve"},
            "AlarmTopicArn": {"Type": "String", "Default": "",
                              "Description": "An SNS topic the queue alarms notify (optional)"},
        },
        "Conditions": {"IsProtected": {"Fn::Equals": [{"Ref": "Stage"}, PROTECTED_STAGE]},
                       "HasAlarmTopic": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}},
        "Resources": resources,
        "Outputs": outputs,
    }
    if mappings:
        template["Mappings"] = mappings
    return template


# --- the merge templates for `chalice package` ---------------------------------

def gateway_responses_fragment(stage: str) -> dict:
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


def event_sources_fragment(stage: str) -> dict:
    """Per handler, deep-merged into the mapping chalice generates (a SAM
    event on the function): the settings chalice cannot set, and the stream
    ARN imported from this stage's data stack (chalice's own is whatever
    TWEETS_STREAM_ARN said at package time, a local placeholder by default).
    The queue ARN stays chalice's, an Fn::Sub of the stage's queue name:
    deep-merging an import into that dict would make one dict of two
    functions. The imports also keep the data stack from dropping an export
    the app still uses."""
    def imported(short: str, what: str) -> dict:
        return {"Fn::ImportValue": export(short, what, stage)}

    resources = {}
    for source in event_sources():
        properties = mapping_settings(source, lambda short: imported(short, "arn"), stage)
        if isinstance(source, DynamoDBEventConfig):
            properties["Stream"] = imported(short_name(source_table(source)), "stream-arn")
        function, event = chalice_event_id(source)
        resources[function] = {"Properties": {"Events": {event: {"Properties": properties}}}}
    return {"Resources": resources}


# Each returns a partial template for one stage; api_template() deep-merges
# them, and `chalice package --merge-template` deep-merges the result into
# its own output (dicts merge, anything else replaces).
API_FRAGMENTS = (gateway_responses_fragment, event_sources_fragment, monitoring_fragment, api_stage_fragment,
                 skips_fragment)


def deep_merge(base: dict, extra: dict) -> dict:
    """Merges like chalice's TemplateDeepMerger: dicts merge, values replace."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def api_template(stage: str) -> dict:
    template = {"AWSTemplateFormatVersion": "2010-09-09"}
    for fragment in API_FRAGMENTS:
        template = deep_merge(template, fragment(stage))
    return template


def api_template_path(stage: str) -> Path:
    """One merge template per stage: the stage is chosen once, by which file
    `chalice package --stage` is given, and the file imports only that
    stage's exports."""
    return INFRA / f"api-{stage}.json"
