"""The security scan of the deployment: which checkov checks are not fixed, and why.

checkov (tests/integration/test_checkov.py) scans the packaged app
(`chalice package` with infra/api-<stage>.json), the data stack and the
monitoring stacks, and fails on any finding not skipped here. A skip is
resource Metadata, `{"checkov": {"skip": [{"id": ..., "comment": ...}]}}`,
that the templates get from SKIPS below: never hand-written JSON. The merge
template deep-merges it into chalice's resources (deploy.cloudformation).

Fixed rather than skipped (issue 14): access logging on the API stage
(CKV_AWS_76, deploy.api_stage), a retention on its log group (CKV_AWS_66),
reserved concurrency on the background functions (CKV_AWS_115,
`reserved_concurrency` in .chalice/config.json). Already passing: X-Ray
tracing on the stage (CKV_AWS_73), point-in-time recovery (CKV_AWS_28), the
IAM checks on the generated policies.

CHECKOV_VERSION is the one pin: the scan installs exactly it, in a venv of
its own (checkov pins boto3 and others to versions the app's constraints.txt
cannot share).
"""
import json
import subprocess
import sys
from pathlib import Path

from chalice.app import DynamoDBEventConfig, ScheduledEventConfig, SQSEventConfig

from deploy.api_stage import ACCESS_LOG_GROUP_ID
from deploy.project import ROOT

CHECKOV_VERSION = "3.3.30"
CHECKOV_VENV = ROOT / ".venv-checkov"

# Kinds of resource a skip applies to (app_kinds below says which resource is which).
API_FUNCTION = "a function API Gateway invokes (the API handler, the authorizer)"
STREAM_FUNCTION = "a function a DynamoDB stream mapping invokes"
QUEUE_FUNCTION = "a function an SQS mapping invokes"
SCHEDULED_FUNCTION = "a function an EventBridge schedule invokes"
FUNCTIONS = (API_FUNCTION, STREAM_FUNCTION, QUEUE_FUNCTION, SCHEDULED_FUNCTION)
REST_API = "the REST API"
ACCESS_LOG_GROUP = "the API's access log group"
TABLE = "a DynamoDB table of the data stack"
QUEUE = "an SQS queue of the data stack"

_NO_VPC = ("Talks only to AWS APIs (DynamoDB, SQS, SSM, X-Ray), over TLS and signed with its own role; "
           "there is nothing in a VPC to reach, and a VPC would add NAT gateways or interface endpoints "
           "(cost, another thing to fail) and cold-start latency, and take nothing away from an attacker.")
_NO_ENV_KEY = ("The environment holds no secret (the stage's name, the name of the signing key's SSM "
               "parameter, a retry count: test_infra holds config.json to that); the signing key is an SSM "
               "SecureString read at run time. Lambda encrypts the environment at rest with its own key "
               "already; a customer managed key would add a key and its grants and protect nothing more.")

# (check id, the kinds of resource it is skipped on, why). One row per reason.
SKIPS: list[tuple[str, tuple[str, ...], str]] = [
    ("CKV_AWS_117", FUNCTIONS, _NO_VPC),
    ("CKV_AWS_173", FUNCTIONS, _NO_ENV_KEY),
    ("CKV_AWS_116", (API_FUNCTION,),
     "Invoked synchronously by API Gateway: the caller gets the error; a dead-letter queue applies only to "
     "asynchronous invocations and would never receive anything."),
    ("CKV_AWS_116", (STREAM_FUNCTION,),
     "Invoked synchronously by its stream mapping, whose on-failure destination (DestinationConfig."
     "OnFailure: the stream-failures queue, redriven every few minutes) is its dead-letter queue; checkov "
     "looks only at the function's own DeadLetterQueue, which applies to asynchronous invocations."),
    ("CKV_AWS_116", (QUEUE_FUNCTION,),
     "Invoked synchronously by its SQS mapping: a message that keeps failing goes to the queue's own "
     "dead-letter queue (its RedrivePolicy: jobs-dlq, views-dlq.fifo), which is alarmed; the function's "
     "DeadLetterQueue applies to asynchronous invocations only."),
    ("CKV_AWS_116", (SCHEDULED_FUNCTION,),
     "Its asynchronous event is a timer tick that carries nothing: a run that fails for good loses no work, "
     "the next run (minutes later) re-reads the same queues, and the errors alarm reports the failure. A "
     "dead-letter queue would collect empty ticks nobody can act on."),
    ("CKV_AWS_115", (API_FUNCTION,),
     "Deliberately unreserved: the API draws on the pool the background functions' reservations cannot "
     "take from, and its load is capped by the stage's throttling (deploy.api_stage); a reservation would "
     "be a second, lower cap that turns a burst into 5xx instead of the gateway's 429."),
    ("CKV_AWS_120", (REST_API,),
     "No stage cache: most answers depend on the bearer token (home timelines, notifications, views), and a "
     "cache keyed without it would serve one user's answer to another; the public reads are a DynamoDB query "
     "each, and a cache cluster is billed by the hour."),
    ("CKV_AWS_158", (ACCESS_LOG_GROUP,),
     "CloudWatch Logs encrypts every log group at rest with its own key; a customer managed key would need a "
     "key policy for the logs service and protect nothing more for logs that hold no secret."),
    ("CKV_AWS_119", (TABLE,),
     "Encrypted at rest with the AWS managed key (SSESpecification.SSEEnabled); a customer managed key costs "
     "a key and its requests, must be granted to every function's role and to the operator's redrive, and "
     "adds a way to lose the data (a disabled or deleted key) for no threat the managed key leaves open."),
    ("CKV_AWS_27", (QUEUE,),
     "Encrypted at rest with SQS-managed keys (SqsManagedSseEnabled: true); checkov recognises only a KMS "
     "key (KmsMasterKeyId), which every sender, reader and Lambda's on-failure delivery would have to be "
     "granted, for no protection SSE-SQS lacks."),
]


def skips(*kinds: str) -> list[dict]:
    """checkov's skip entries for a resource of these kinds."""
    return [{"id": check, "comment": reason} for check, on, reason in SKIPS if set(on) & set(kinds)]


def metadata(*kinds: str) -> dict:
    """The resource Metadata that skips them (empty if none applies)."""
    entries = skips(*kinds)
    return {"Metadata": {"checkov": {"skip": entries}}} if entries else {}


def app_kinds() -> dict[str, tuple[str, ...]]:
    """Logical id in `chalice package` output -> its kinds, for every
    resource of the app a skip may apply to."""
    from app import app
    from deploy.monitoring import function_logical_id, functions

    kinds: dict[str, tuple[str, ...]] = {function_logical_id("api_handler"): (API_FUNCTION,)}
    kinds.update({function_logical_id(a.name): (API_FUNCTION,) for a in app.builtin_auth_handlers})
    by_type = ((DynamoDBEventConfig, STREAM_FUNCTION), (SQSEventConfig, QUEUE_FUNCTION),
               (ScheduledEventConfig, SCHEDULED_FUNCTION))
    for source in app.event_sources:
        found = [kind for source_type, kind in by_type if isinstance(source, source_type)]
        if not found:
            raise LookupError(f"{source.name} is invoked by a {type(source).__name__}: say in {__name__} "
                              "which kind of function it is (what becomes of a failed invocation)")
        kinds[function_logical_id(source.name)] = (found[0],)
    missing = {function_logical_id(f) for f in functions()} - set(kinds)
    if missing:
        raise LookupError(f"functions of no known kind in {__name__}: {sorted(missing)}")
    return {**kinds, "RestAPI": (REST_API,), ACCESS_LOG_GROUP_ID: (ACCESS_LOG_GROUP,)}


def skips_fragment(stage: str) -> dict:
    """For the merge template: each resource's skips, as its Metadata."""
    return {"Resources": {logical: metadata(*kinds) for logical, kinds in app_kinds().items()
                          if metadata(*kinds)}}


# --- running checkov -----------------------------------------------------------

def checkov_executable() -> Path:
    """checkov CHECKOV_VERSION in its own venv (.venv-checkov), installed on
    first use from the package index (about 40 s), again when the pin
    changes."""
    executable = CHECKOV_VENV / "bin" / "checkov"
    marker = CHECKOV_VENV / f".checkov-{CHECKOV_VERSION}"
    if executable.exists() and marker.exists():
        return executable
    python = CHECKOV_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(CHECKOV_VENV)], check=True)  # noqa: S603
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",  # noqa: S603
                    f"checkov=={CHECKOV_VERSION}"], check=True, capture_output=True, text=True, timeout=900)
    for old in CHECKOV_VENV.glob(".checkov-*"):
        old.unlink()
    marker.touch()
    return executable


def run_checkov(paths: list[Path]) -> dict[str, list[dict]]:
    """checkov's findings on CloudFormation templates, by outcome
    ("failed_checks", "skipped_checks"; passed ones are left out), each with
    its check_id, resource and file_path. --skip-download: no call to
    checkov's vendor (for guidelines, or policies of an account)."""
    command = [str(checkov_executable()), "--framework", "cloudformation", "--skip-download",
               "--output", "json", "--compact"]
    for path in paths:
        command += ["--file", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)  # noqa: S603
    if done.returncode not in (0, 1):  # 1: some check failed
        raise RuntimeError(f"checkov exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]  # a list when several frameworks ran
    return {outcome: [check for r in reports for check in r.get("results", {}).get(outcome, [])]
            for outcome in ("failed_checks", "skipped_checks", "passed_checks")}
