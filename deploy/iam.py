"""The IAM policies in .chalice/: one per function and stage, least
privilege. Each function gets the tables, indexes, streams and queues it
uses (TABLE_ACCESS, FUNCTION_GRANTS), on its own stage's resources only,
and its own logs. `.chalice/config.json` says which function gets which
policy file (deploy.project.policy_file).
"""
from collections.abc import Mapping
from pathlib import Path

from chalice.app import DynamoDBEventConfig, SQSEventConfig

from chalicelib import settings
from chalicelib.storage.tables import ALL_MODELS
from deploy.event_sources import event_sources, mapping_policies, source_queue, source_table
from deploy.naming import camel, resource_name, short_name, short_of, table_name
from deploy.project import CHALICE, chalice_config, policy_file, stage_config, stages
from deploy.tables import index_names

# What each function does to each table or index ("table/index"), as IAM
# actions, read from the chalicelib code paths it runs. TransactWriteItems is
# authorised per item (Put/Update/Delete/ConditionCheckItem), and PynamoDB 6
# takes the key schema from the models, so it never calls DescribeTable.
# tests/integration/test_infra.py runs every function and checks both ways:
# each call made is allowed, and each grant here is used.
TABLE_ACCESS: dict[str, dict[str, tuple[str, ...]]] = {
    "api_handler": {
        "users": ("BatchGetItem", "GetItem", "PutItem", "UpdateItem"),
        "handles": ("BatchGetItem", "GetItem", "PutItem"),  # BatchGetItem: mentions' user ids
        "tweets": ("BatchGetItem", "DeleteItem", "GetItem", "PutItem", "UpdateItem"),
        "tweets/by-author": ("Query",),  # user timelines; celebrities' tweets pulled into home pages
        "tweets/replies": ("Query",),
        "follows": ("BatchGetItem", "DeleteItem", "PutItem"),
        "follows/followers-by-time": ("Query",),
        "follows/following-by-time": ("Query",),
        "idempotency": ("GetItem", "PutItem"),
        "timelines": ("BatchGetItem", "BatchWriteItem", "Query"),  # home pages; dropping stale entries
        "timelines/by-original": ("Query",),  # which retweet of an original a home page shows
        "retweets": ("BatchGetItem", "DeleteItem", "GetItem", "PutItem"),  # BatchGetItem: home pages' markers
        "likes": ("DeleteItem", "PutItem"),
        "hashtags": ("Query",),
        "trends": ("GetItem", "PutItem", "Query"),  # the top list, recomputed from the counters
        "notifications": ("Query",),
        "affinity": ("BatchGetItem",),  # ranked home pages: the reader's engagement with the authors
        "snapshots": ("GetItem", "PutItem"),  # a ranked home timeline's order, for its later pages
        "limits": ("UpdateItem",),  # per-user write limits: one conditional ADD per window
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
        "affinity": ("UpdateItem",),  # replies, retweets and quotes engage with an author
    },
    "on_follow_change": {  # backfill, removal, the celebrity set and threshold, notifications
        "users": ("GetItem", "UpdateItem"),
        "tweets/by-author": ("Query",),
        "follows": ("GetItem",),  # still following?
        "timelines": ("BatchGetItem", "BatchWriteItem", "Query"),  # BatchGetItem: the unfollowed's entries
        "notifications": ("BatchWriteItem",),
    },
    "on_like_change": {  # notifications, affinity
        "notifications": ("BatchWriteItem",),
        "affinity": ("UpdateItem",),
    },
    "on_views": {  # one conditional counter update per tweet; a failed condition returns the item
        "tweets": ("UpdateItem",),
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
STREAM_FUNCTIONS = ("on_tweet_change", "on_follow_change", "on_like_change")


def _merged(*accesses: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    merged: dict[str, set[str]] = {}
    for access in accesses:
        for resource, actions in access.items():
            merged.setdefault(resource, set()).update(actions)
    return {resource: tuple(sorted(actions)) for resource, actions in sorted(merged.items())}


# The redrive runs the stream handlers' code on re-read records, so it may do
# what they do; and it reads each record's item as it is now (superseded?).
REDRIVE_OWN_ACCESS = {"tweets": ("GetItem",), "follows": ("GetItem",), "likes": ("GetItem",)}
TABLE_ACCESS["redrive_failures"] = _merged(REDRIVE_OWN_ACCESS, *(TABLE_ACCESS[f] for f in STREAM_FUNCTIONS))

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
# chalicelib.storage.jobs (and chalicelib.tweets.views) find the queue by name, then send.
QUEUE_SEND_ACTIONS = ("sqs:GetQueueUrl", "sqs:SendMessage")
# Lambda sends a stream's on-failure record to a queue by its ARN.
ON_FAILURE_ACTIONS = ("sqs:SendMessage",)
# The redrive re-reads parked stream records itself, by shard and sequence
# number, from the stream ARN in each failure record.
REDRIVE_STREAM_ACTIONS = ("dynamodb:GetRecords", "dynamodb:GetShardIterator")
# ...and takes messages off stream-failures and jobs-dlq, moving jobs back
# to the jobs queue or parking them; a stream failure that fails again is
# made visible again at once, for the next run.
REDRIVE_READ_ACTIONS = ("sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage")


def _arn(service: str, resource: str) -> str:
    # Region and account are the deploying account's; identity policies
    # cannot reach another account's tables without its resource policy.
    return f"arn:aws:{service}:*:*:{resource}"


def _table_arn(resource: str, stage: str) -> str:
    """"tweets" or "tweets/by-author" -> the stage's table or index ARN."""
    table, _, index = resource.partition("/")
    indexes = {i for m in ALL_MODELS if short_name(m) == table for i in index_names(m)}
    if table not in settings.TABLE_NAMES or (index and index not in indexes):
        raise LookupError(f"TABLE_ACCESS names {resource!r}: no such table or index")
    arn = _arn("dynamodb", f"table/{resource_name(table, stage)}")
    return f"{arn}/index/{index}" if index else arn


def table_arns(stage: str) -> list[str]:
    return [_arn("dynamodb", f"table/{table_name(m, stage)}") for m in ALL_MODELS]


def index_arns(stage: str) -> list[str]:
    return [_arn("dynamodb", f"table/{table_name(model, stage)}/index/{index}")
            for model in ALL_MODELS for index in index_names(model)]


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
        sid = camel(resource.replace("/", "-")) + ("Index" if "/" in resource else "Table")
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
    assert destination, f"{function} has no on-failure queue"
    return [{"Sid": "OnFailureQueue", "Effect": "Allow", "Action": list(ON_FAILURE_ACTIONS),
             "Resource": [queue_arn(short_of(destination), stage)]}]


def _read_queue_grant(stage: str, function: str) -> list[dict]:
    [source] = [s for s in event_sources() if s.name == function and isinstance(s, SQSEventConfig)]
    return [{"Sid": "ReadQueue", "Effect": "Allow", "Action": list(QUEUE_READ_ACTIONS),
             "Resource": [queue_arn(source_queue(source), stage)]}]


def _send_jobs_grant(stage: str, function: str) -> list[dict]:
    return [{"Sid": "SendJobs", "Effect": "Allow", "Action": list(QUEUE_SEND_ACTIONS),
             "Resource": [queue_arn("jobs", stage)]}]


def _send_views_grant(stage: str, function: str) -> list[dict]:
    return [{"Sid": "SendViews", "Effect": "Allow", "Action": list(QUEUE_SEND_ACTIONS),
             "Resource": [queue_arn("views", stage)]}]


def _redrive_grant(stage: str, function: str) -> list[dict]:
    streams = [stream_arn_pattern(source_table(s), stage) for s in event_sources()
               if isinstance(s, DynamoDBEventConfig)]
    return [
        {"Sid": "RereadStreams", "Effect": "Allow", "Action": list(REDRIVE_STREAM_ACTIONS),
         "Resource": sorted(set(streams))},
        {"Sid": "RedriveQueues", "Effect": "Allow", "Action": list(REDRIVE_READ_ACTIONS),
         "Resource": [queue_arn("stream-failures", stage), queue_arn("jobs-dlq", stage)]},
        {"Sid": "LeaveStreamFailures", "Effect": "Allow", "Action": ["sqs:ChangeMessageVisibility"],
         "Resource": [queue_arn("stream-failures", stage)]},
        {"Sid": "ParkJobs", "Effect": "Allow", "Action": list(QUEUE_SEND_ACTIONS),
         "Resource": [queue_arn("parked", stage)]},
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
    # `chalice deploy` names functions <app>-<stage>[-<function>], and the merge
    # template names the packaged ones the same (deploy.monitoring).
    prefix = f"/aws/lambda/{stage_config(stage, function).app_name}-{stage}"
    return [{"Sid": "Logs", "Effect": "Allow",
             "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": [_arn("logs", f"log-group:{prefix}:*"), _arn("logs", f"log-group:{prefix}-*:*")]}]


def _traces_grant(stage: str, function: str) -> list[dict]:
    # Active tracing (config.json `xray`): the function's X-Ray segments. X-Ray
    # has no resource-level permissions, so this is the one grant on "*".
    return [{"Sid": "Traces", "Effect": "Allow", "Action": list(TRACE_ACTIONS), "Resource": "*"}]


TRACE_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
GRANTS = {
    "tables": _tables_grant,  # TABLE_ACCESS
    "jwt_secret": _jwt_secret_grant,  # verify or issue tokens
    "send_jobs": _send_jobs_grant,  # chalicelib.storage.jobs: work for the jobs worker
    "send_views": _send_views_grant,  # chalicelib.tweets.views: the views of each page read
    "read_stream": _read_stream_grant,  # Lambda reads the handler's stream
    "on_failure": _on_failure_grant,  # Lambda sends what exhausted its retries
    "read_queue": _read_queue_grant,  # Lambda reads the handler's queue
    "redrive": _redrive_grant,  # chalicelib.events.redrive: re-read streams, move failures
}

# What each function may do besides writing its logs and traces. A function gets its own
# policy file by naming it in config.json's lambda_functions; every other
# function (the API handler first) uses the stage's policy, the None entry.
FUNCTION_GRANTS = {
    None: ("tables", "jwt_secret", "send_jobs", "send_views"),  # send_jobs: a returning user's rebuild
    "bearer_auth": ("jwt_secret",),  # verifies tokens; never touches a table
    "on_tweet_change": ("read_stream", "on_failure", "tables", "send_jobs"),
    "on_follow_change": ("read_stream", "on_failure", "tables", "send_jobs"),
    "on_like_change": ("read_stream", "on_failure", "tables"),
    "on_job": ("read_queue", "tables", "send_jobs"),
    "on_views": ("read_queue", "tables"),
    "redrive_failures": ("redrive", "tables", "send_jobs"),
}


def policy(stage: str, function: str | None) -> dict:
    scope = function or "api_handler"
    statements = []
    for grant in FUNCTION_GRANTS[function]:
        statements += GRANTS[grant](stage, scope)
    statements += _logs_grant(stage, scope) + _traces_grant(stage, scope)
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


