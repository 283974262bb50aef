"""The deployment files, generated from the code that defines what they describe.

- `infra/tables.json`: the data stack, deployed first. One DynamoDB table per
  PynamoDB model in chalicelib.tables (keys, indexes, stream, TTL as in the
  local stack's CreateTable calls), the SQS queues of
  devstack.schema.queue_definitions (with the visibility timeout Lambda wants
  for the function that reads each), and alarms on the queues nothing reads
  (dead-letter and on-failure queues). Names, ARNs and URLs are exported.
- `infra/api-<stage>.json`: merged into `chalice package --stage <stage>`
  output. The GatewayResponses that give API Gateway's own errors the
  contract's shape, and the event-source mapping settings Chalice cannot
  express (devstack.schema.mapping_policies, as the local pump uses them),
  with the stream and queue ARNs imported from that stage's data stack.
- `.chalice/policy-*.json`: one IAM policy per function and stage, least
  privilege: the tables, indexes, streams and queues that function uses.

`.chalice/config.json` itself is written by hand (memory, timeouts and the
stages are tuned there); it is an input here, and tests hold it to settings.

    python -m devstack.infra                  # write the files (`make infra`)
    python -m devstack.infra --check          # exit 1 if a committed file is stale
    python -m devstack.infra after-deploy --stage dev
                                              # after `chalice deploy`, see infra/README.md
"""
import argparse
import dataclasses
import json
import re
import sys
from pathlib import Path

from chalice.app import DynamoDBEventConfig, SQSEventConfig
from chalice.config import Config
from chalice.utils import to_cfn_resource_name

from chalicelib import settings
from chalicelib.storage.tables import ALL_MODELS, TTL_ATTRIBUTES
from devstack.gateway import GATEWAY_ERRORS, gateway_response
from devstack.schema import (
    mapping_policies,
    queue_definitions,
    short_name,
    stream_view_type,
    table_properties,
)

PROJECT = Path(__file__).resolve().parent.parent
INFRA = PROJECT / "infra"
CHALICE = PROJECT / ".chalice"
STAGE_REF = "${Stage}"  # the data stack's parameter, inside Fn::Sub strings
PROTECTED_STAGE = "prod"  # its tables also refuse a DeleteTable
# Lambda's guidance: a queue's visibility timeout is at least six times the
# timeout of the function reading it (plus its batching window), so a batch
# that was throttled and retried is not handed to a second invocation.
VISIBILITY_TIMEOUT_FACTOR = 6


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


# --- names -------------------------------------------------------------------
# Tables and queues are named settings.NAME_PATTERN, "chirp-<stage>-<name>";
# `short` below is the <name> part ("tweets", "jobs-dlq").

def resource_name(short: str, stage: str) -> str:
    return settings.NAME_PATTERN.format(stage=stage, name=short)


_NAME_RE = re.compile(re.escape(settings.NAME_PATTERN.format(stage="STAGE", name="NAME"))
                      .replace("STAGE", "(?P<stage>[A-Za-z0-9_]+)").replace("NAME", "(?P<name>.+)"))


def short_of(name: str) -> str:
    """A table's or queue's name within a stage: "chirp-local-jobs" -> "jobs"."""
    match = _NAME_RE.fullmatch(name)
    if not match:
        raise ValueError(f"{name!r} does not follow {settings.NAME_PATTERN!r}")
    return match["name"]


def export(short: str, what: str, stage: str = STAGE_REF) -> str:
    """The data stack's export of one fact about a table or queue, e.g.
    `chirp-prod-tweets-stream-arn`: what other stacks import."""
    return f"{resource_name(short, stage)}-{what}"


def export_name(model, what: str, stage: str = STAGE_REF) -> str:
    return export(short_name(model), what, stage)


def table_name(model, stage: str) -> str:
    """The table's name in `stage`, as settings.TABLE_NAMES computes it there."""
    return resource_name(short_name(model), stage)


def _camel(short: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", short))


# --- the app's event sources ---------------------------------------------------

def event_sources() -> list:
    """The app's stream and queue handlers (chalice's DynamoDBEventConfig and
    SQSEventConfig), as app.py declares them."""
    from app import app

    return [s for s in app.event_sources if isinstance(s, DynamoDBEventConfig | SQSEventConfig)]


def source_table(source: DynamoDBEventConfig):
    """The model whose stream a handler reads, from the table in its ARN."""
    from devstack.pump import table_name_from_stream_arn

    short = short_of(table_name_from_stream_arn(source.stream_arn))
    [model] = [m for m in ALL_MODELS if short_name(m) == short]
    return model


def source_queue(source: SQSEventConfig) -> str:
    """The short name of the queue a handler reads."""
    return short_of(source.queue or source.queue_arn.rsplit(":", 1)[-1])


def chalice_event_id(source) -> tuple[str, str]:
    """(function logical id, event name) of a handler's mapping in `chalice
    package` output: chalice's own naming (chalice.deploy.appgraph names the
    event `<handler>-dynamodb-event-source` or `-sqs-event-source`)."""
    kind = "dynamodb" if isinstance(source, DynamoDBEventConfig) else "sqs"
    return to_cfn_resource_name(source.name), to_cfn_resource_name(f"{source.name}-{kind}-event-source")


# --- tables ------------------------------------------------------------------

def logical_id(model) -> str:
    return _camel(short_name(model)) + "Table"


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

def queue_shorts() -> list[str]:
    return [short_of(name) for name in queue_definitions(0)]


def queue_logical_id(short: str) -> str:
    return _camel(short) + "Queue"


def visibility_timeout(stage: str) -> int:
    """For the jobs queue (the one queue_definitions gives a visibility
    timeout): six times the timeout its reader has in `stage`."""
    readers = [s for s in event_sources()
               if isinstance(s, SQSEventConfig) and source_queue(s) == "jobs"]
    if not readers:
        raise LookupError("no handler in app.py reads the jobs queue")
    return max(VISIBILITY_TIMEOUT_FACTOR * stage_config(stage, s.name).lambda_timeout
               + s.maximum_batching_window_in_seconds for s in readers)


# CreateQueue attributes are strings; CloudFormation wants these as integers.
_INTEGER_QUEUE_ATTRIBUTES = {"DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod",
                             "ReceiveMessageWaitTimeSeconds", "VisibilityTimeout"}


def _queue_properties(attributes: dict) -> dict:
    """CreateQueue attributes (devstack.schema) as AWS::SQS::Queue properties."""
    props = {}
    for name, value in attributes.items():
        if name == "RedrivePolicy":  # names its DLQ; the stack knows the ARN
            props[name] = {"deadLetterTargetArn": {"Fn::GetAtt": [
                               queue_logical_id(short_of(value["deadLetterTargetArn"])), "Arn"]},
                           "maxReceiveCount": int(value["maxReceiveCount"])}
        elif name in _INTEGER_QUEUE_ATTRIBUTES:
            props[name] = int(value)
        else:
            raise LookupError(f"queue attribute {name} has no CloudFormation translation here ({__name__})")
    return props


def queue_resources() -> tuple[dict, dict]:
    """The queues, and the Mappings for any property whose value differs
    between stages (e.g. a visibility timeout that follows a per-stage
    function timeout): one template serves every stage."""
    per_stage = {stage: {short_of(name): _queue_properties(attributes)
                         for name, attributes in queue_definitions(visibility_timeout(stage)).items()}
                 for stage in stages()}
    resources, mappings = {}, {}
    for short in queue_shorts():
        logical = queue_logical_id(short)
        props = {"QueueName": {"Fn::Sub": resource_name(short, STAGE_REF)}}
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
        resources[logical] = {"Type": "AWS::SQS::Queue", "Properties": props}
    return resources, ({"StageSettings": mappings} if mappings else {})


def dead_end_queues() -> list[str]:
    """Queues nothing reads: dead-letter queues and on-failure destinations.
    A message there is work that failed for good; someone should look."""
    ends = {short_of(a["RedrivePolicy"]["deadLetterTargetArn"])
            for a in queue_definitions(0).values() if "RedrivePolicy" in a}
    ends |= {short_of(p.on_failure_queue) for p in mapping_policies().values() if p.on_failure_queue}
    return [q for q in queue_shorts() if q in ends]


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
        resources[_camel(short) + "NotEmptyAlarm"] = queue_alarm(short)
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Chirp's data stack: the DynamoDB tables and their streams, the SQS queues and "
                       "their alarms. Generated by `make infra` from chalicelib/tables.py and "
                       "devstack/schema.py; deploy before the app.",
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


def mapping_settings(source, queue_arn) -> dict:
    """What a handler's event-source mapping needs beyond chalice's decorator,
    in the property names CloudFormation and Lambda's API share; `queue_arn`
    turns a queue's short name into its ARN (an import, or a real ARN).

    Stream handlers must have a policy in devstack.schema.mapping_policies
    with an on-failure queue: Lambda's defaults retry a poison record for a
    day and then drop it. Queue handlers take the pump's default, where
    only partial batch failures apply (the queue's redrive policy does the
    rest)."""
    from devstack.pump import DEFAULT_POLICY

    policies = mapping_policies()
    if isinstance(source, SQSEventConfig):
        policy = policies.get(source.name, DEFAULT_POLICY)
        return {"FunctionResponseTypes": ["ReportBatchItemFailures"] if policy.report_batch_item_failures
                else []}
    policy = policies.get(source.name)
    if policy is None or not policy.on_failure_queue:
        raise LookupError(f"{source.name} reads a stream: give it a mapping policy with an on-failure "
                          "queue in devstack.schema.mapping_policies")
    settings_ = {}
    for field in dataclasses.fields(policy):
        value = getattr(policy, field.name)
        if field.name == "report_batch_item_failures":
            settings_["FunctionResponseTypes"] = ["ReportBatchItemFailures"] if value else []
        elif field.name == "on_failure_queue":
            settings_["DestinationConfig"] = {"OnFailure": {"Destination": queue_arn(short_of(value))}}
        else:  # the rest are CloudFormation's names in snake case
            settings_[_camel(field.name)] = value
    return settings_


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
        properties = mapping_settings(source, lambda short: imported(short, "arn"))
        if isinstance(source, DynamoDBEventConfig):
            properties["Stream"] = imported(short_name(source_table(source)), "stream-arn")
        function, event = chalice_event_id(source)
        resources[function] = {"Properties": {"Events": {event: {"Properties": properties}}}}
    return {"Resources": resources}


# Each returns a partial template for one stage; api_template() deep-merges
# them, and `chalice package --merge-template` deep-merges the result into
# its own output (dicts merge, anything else replaces).
API_FRAGMENTS = (gateway_responses_fragment, event_sources_fragment)


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


# --- IAM policies ------------------------------------------------------------

# What each function does to each table or index ("table/index"), as IAM
# actions, read from the chalicelib code paths it runs. TransactWriteItems is
# authorised per item (Put/Update/Delete/ConditionCheckItem), and PynamoDB 6
# takes the key schema from the models, so it never calls DescribeTable.
# tests/integration/test_infra.py runs every function and checks both ways:
# each call made is allowed, and each grant here is used.
TABLE_ACCESS = {
    "api_handler": {
        "users": ("BatchGetItem", "GetItem", "PutItem", "UpdateItem"),
        "handles": ("BatchGetItem", "GetItem", "PutItem"),  # BatchGetItem: mentions' user ids
        "tweets": ("BatchGetItem", "ConditionCheckItem", "DeleteItem", "GetItem", "PutItem", "UpdateItem"),
        "tweets/by-author": ("Query",),  # user timelines; celebrities' tweets pulled into home pages
        "tweets/replies": ("Query",),
        "follows": ("BatchGetItem", "DeleteItem", "PutItem"),
        "follows/followers-by-time": ("Query",),
        "follows/following-by-time": ("Query",),
        "idempotency": ("GetItem", "PutItem"),
        "timelines": ("BatchGetItem", "BatchWriteItem", "Query"),  # home pages; dropping stale entries
        "timelines/by-original": ("Query",),  # which retweet of an original a home page shows
        "retweets": ("DeleteItem", "GetItem", "PutItem"),
        "likes": ("DeleteItem", "PutItem"),
        "hashtags": ("Query",),
        "trends": ("GetItem", "PutItem", "Query"),  # the top list, recomputed from the counters
        "notifications": ("Query",),
    },
    "on_tweet_change": {  # fan-out, hashtags, notifications; a deletion's retractions and cascade
        "users": ("BatchGetItem", "GetItem", "UpdateItem"),  # the author's path; who is active; counts
        "tweets": ("DeleteItem", "GetItem"),  # still there?; a deleted original's retweets
        "follows/followers-by-time": ("Query",),
        "timelines": ("BatchWriteItem", "Query"),  # entries; trimming
        "retweets": ("DeleteItem", "Query"),
        "likes": ("BatchWriteItem", "Query"),
        "hashtags": ("DeleteItem", "PutItem"),
        "trends": ("UpdateItem",),
        "notifications": ("BatchWriteItem",),
    },
    "on_follow_change": {  # backfill, removal, the celebrity set and threshold, notifications
        "users": ("GetItem", "UpdateItem"),
        "tweets/by-author": ("Query",),
        "follows": ("GetItem",),  # still following?
        "timelines": ("BatchWriteItem", "Query"),
        "timelines/by-author": ("Query",),  # an unfollowed author's entries
        "notifications": ("BatchWriteItem",),
    },
    "on_like_change": {  # notifications
        "notifications": ("BatchWriteItem",),
    },
    "on_job": {  # later fan-out pages, celebrity transitions, rebuilds, deletion cascades
        "users": ("BatchGetItem", "GetItem", "UpdateItem"),
        "tweets": ("DeleteItem", "GetItem"),
        "tweets/by-author": ("Query",),
        "follows/followers-by-time": ("Query",),
        "follows/following-by-time": ("Query",),
        "timelines": ("BatchWriteItem", "Query"),
        "retweets": ("DeleteItem", "Query"),
        "likes": ("BatchWriteItem", "Query"),
    },
}
TABLE_ACTIONS = ("dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
                 "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
                 "dynamodb:UpdateItem")
INDEX_ACTIONS = ("dynamodb:Query",)
# What Lambda does with the function's role to read a stream for it.
STREAM_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                  "dynamodb:ListStreams")
# What Lambda does with the function's role to read a queue for it (as in
# AWS's AWSLambdaSQSQueueExecutionRole). Lambda leaves a failed message to
# its visibility timeout, so no ChangeMessageVisibility.
QUEUE_READ_ACTIONS = ("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")
# chalicelib.jobs finds the queue by name, then sends.
QUEUE_SEND_ACTIONS = ("sqs:GetQueueUrl", "sqs:SendMessage")
# Lambda sends a stream's on-failure record to a queue by its ARN.
ON_FAILURE_ACTIONS = ("sqs:SendMessage",)


def _arn(service: str, resource: str) -> str:
    # Region and account are the deploying account's; identity policies
    # cannot reach another account's tables without its resource policy.
    return f"arn:aws:{service}:*:*:{resource}"


def _table_arn(resource: str, stage: str) -> str:
    """"tweets" or "tweets/by-author" -> the stage's table or index ARN."""
    table, _, index = resource.partition("/")
    indexes = {i["IndexName"] for m in ALL_MODELS if short_name(m) == table
               for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
               for i in table_properties(m).get(kind, [])}
    if table not in settings.TABLE_NAMES or (index and index not in indexes):
        raise LookupError(f"TABLE_ACCESS names {resource!r}: no such table or index")
    arn = _arn("dynamodb", f"table/{resource_name(table, stage)}")
    return f"{arn}/index/{index}" if index else arn


def table_arns(stage: str) -> list[str]:
    return [_arn("dynamodb", f"table/{table_name(m, stage)}") for m in ALL_MODELS]


def index_arns(stage: str) -> list[str]:
    arns = []
    for model in ALL_MODELS:
        for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            for index in table_properties(model).get(kind, []):
                arns.append(_arn("dynamodb", f"table/{table_name(model, stage)}/index/{index['IndexName']}"))
    return arns


def stream_arn_pattern(model, stage: str) -> str:
    """Every stream the table has had: a table's stream ARN ends in a label
    that changes whenever the stream is re-enabled."""
    return _arn("dynamodb", f"table/{table_name(model, stage)}/stream/*")


def queue_arn(short: str, stage: str) -> str:
    return _arn("sqs", resource_name(short, stage))


def _tables_grant(stage: str, function: str) -> list[dict]:
    statements = []
    for resource, actions in TABLE_ACCESS[function].items():
        if "/" in resource and set(actions) - {a.removeprefix("dynamodb:") for a in INDEX_ACTIONS}:
            raise LookupError(f"{function}: an index ({resource}) only takes {INDEX_ACTIONS}")
        sid = _camel(resource.replace("/", "-")) + ("Index" if "/" in resource else "Table")
        statements.append({"Sid": sid, "Effect": "Allow",
                           "Action": [f"dynamodb:{a}" for a in sorted(actions)],
                           "Resource": [_table_arn(resource, stage)]})
    return statements


def _read_stream_grant(stage: str, function: str) -> list[dict]:
    [source] = [s for s in event_sources() if s.name == function and isinstance(s, DynamoDBEventConfig)]
    return [{"Sid": "ReadStream", "Effect": "Allow", "Action": list(STREAM_ACTIONS),
             "Resource": [stream_arn_pattern(source_table(source), stage)]}]


def _on_failure_grant(stage: str, function: str) -> list[dict]:
    destination = mapping_policies()[function].on_failure_queue
    return [{"Sid": "OnFailureQueue", "Effect": "Allow", "Action": list(ON_FAILURE_ACTIONS),
             "Resource": [queue_arn(short_of(destination), stage)]}]


def _read_queue_grant(stage: str, function: str) -> list[dict]:
    [source] = [s for s in event_sources() if s.name == function and isinstance(s, SQSEventConfig)]
    return [{"Sid": "ReadQueue", "Effect": "Allow", "Action": list(QUEUE_READ_ACTIONS),
             "Resource": [queue_arn(source_queue(source), stage)]}]


def _send_jobs_grant(stage: str, function: str) -> list[dict]:
    return [{"Sid": "SendJobs", "Effect": "Allow", "Action": list(QUEUE_SEND_ACTIONS),
             "Resource": [queue_arn("jobs", stage)]}]


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


GRANTS = {
    "tables": _tables_grant,  # TABLE_ACCESS
    "jwt_secret": _jwt_secret_grant,  # verify or issue tokens
    "send_jobs": _send_jobs_grant,  # chalicelib.storage.jobs: work for the jobs worker
    "read_stream": _read_stream_grant,  # Lambda reads the handler's stream
    "on_failure": _on_failure_grant,  # Lambda sends what exhausted its retries
    "read_queue": _read_queue_grant,  # Lambda reads the handler's queue
}

# What each function may do besides writing its logs. A function gets its own
# policy file by naming it in config.json's lambda_functions; every other
# function (the API handler first) uses the stage's policy, the None entry.
FUNCTION_GRANTS = {
    None: ("tables", "jwt_secret", "send_jobs"),  # send_jobs: a returning user's rebuild
    "bearer_auth": ("jwt_secret",),  # verifies tokens; never touches a table
    "on_tweet_change": ("read_stream", "on_failure", "tables", "send_jobs"),
    "on_follow_change": ("read_stream", "on_failure", "tables", "send_jobs"),
    "on_like_change": ("read_stream", "on_failure", "tables"),
    "on_job": ("read_queue", "tables", "send_jobs"),
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
    return {INFRA / "tables.json": tables_template(),
            **{api_template_path(stage): api_template(stage) for stage in stages()},
            **policy_files()}


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
# `chalice deploy` can set neither API Gateway's own responses nor the
# mapping settings above; infra/api-<stage>.json does both for `chalice
# package`. These put them on what `chalice deploy` made.

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
    """Puts the responses and redeploys the stage. Every `chalice deploy`
    overwrites the API definition, so run this after each."""
    for response_type, response in gateway_responses().items():
        client.put_gateway_response(restApiId=rest_api_id, responseType=response_type, **response)
    client.create_deployment(restApiId=rest_api_id, stageName=stage_name,
                             description="chirp gateway responses")


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
                                                      **mapping_settings(source, real_arn))
            updated.append(f"{function} <- {mapping['EventSourceArn']}")
    return updated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.infra", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if a generated file is out of date")
    commands = parser.add_subparsers(dest="command")
    after = commands.add_parser("after-deploy", help="after `chalice deploy`: put the gateway responses "
                                                     "and the event-source mapping settings")
    after.add_argument("--stage", required=True, choices=stages())
    after.add_argument("--rest-api-id", help="default: from .chalice/deployed/<stage>.json")
    args = parser.parse_args(argv)

    if args.command == "after-deploy":
        import boto3

        rest_api_id = args.rest_api_id or deployed_rest_api_id(args.stage)
        stage_name = stage_config(args.stage).api_gateway_stage or "api"
        apply_gateway_responses(boto3.client("apigateway"), rest_api_id, stage_name)
        print(f"gateway responses applied to {rest_api_id}, stage {stage_name} redeployed")
        for mapping in apply_mapping_settings(boto3.client("lambda"), boto3.client("sqs"), args.stage):
            print(f"mapping settings applied: {mapping}")
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
