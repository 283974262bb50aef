"""The SQS queues: names and CreateQueue attributes, for the local stack
(devstack.resources creates them) and the data stack (deploy.cloudformation
declares them), and which of them nothing reads.
"""
from chalice.app import SQSEventConfig

from chalicelib import settings
from deploy.event_sources import event_sources, mapping_policies, source_queue
from deploy.naming import short_of
from deploy.project import stage_config

# Lambda's guidance: a queue's visibility timeout is at least six times the
# timeout of the function reading it (plus its batching window), so a batch
# that was throttled and retried is not handed to a second invocation.
VISIBILITY_TIMEOUT_FACTOR = 6


def queue_definitions(visibility_timeout: int) -> dict[str, dict]:
    """Queue name -> CreateQueue attributes (the DLQ's ARN is filled in by
    the caller, which knows it). Lambda wants a queue's visibility timeout
    at least six times the function's timeout (visibility_timeout below);
    the local stack uses 0 so a failed job is retried at once."""
    q = settings.QUEUE_NAMES
    return {
        q["jobs-dlq"]: {"MessageRetentionPeriod": str(14 * 86400)},
        q["parked"]: {"MessageRetentionPeriod": str(14 * 86400)},
        # The redrive receives a failure once per run; one that keeps failing
        # is parked by SQS itself after REDRIVE_MAX_RECEIVES runs.
        q["stream-failures"]: {"MessageRetentionPeriod": str(14 * 86400),
                               "VisibilityTimeout": str(settings.REDRIVE_VISIBILITY_SECONDS),
                               "RedrivePolicy": {"deadLetterTargetArn": q["parked"],
                                                 "maxReceiveCount": str(settings.REDRIVE_MAX_RECEIVES)}},
        q["jobs"]: {"VisibilityTimeout": str(visibility_timeout),
                    "RedrivePolicy": {"deadLetterTargetArn": q["jobs-dlq"],
                                      "maxReceiveCount": str(settings.JOBS_MAX_RECEIVES)}},
    }


def queue_shorts() -> list[str]:
    return [short_of(name) for name in queue_definitions(0)]


def visibility_timeout(stage: str) -> int:
    """For the jobs queue (the one queue_definitions gives a visibility
    timeout): six times the timeout its reader has in `stage`."""
    readers = [s for s in event_sources()
               if isinstance(s, SQSEventConfig) and source_queue(s) == "jobs"]
    if not readers:
        raise LookupError("no handler in app.py reads the jobs queue")
    return max(VISIBILITY_TIMEOUT_FACTOR * stage_config(stage, s.name).lambda_timeout
               + s.maximum_batching_window_in_seconds for s in readers)


def dead_end_queues() -> list[str]:
    """Queues nothing reads: dead-letter queues and on-failure destinations.
    A message there is work that failed for good; someone should look."""
    ends = {short_of(a["RedrivePolicy"]["deadLetterTargetArn"])
            for a in queue_definitions(0).values() if "RedrivePolicy" in a}
    ends |= {short_of(p.on_failure_queue) for p in mapping_policies().values() if p.on_failure_queue}
    return [q for q in queue_shorts() if q in ends]
