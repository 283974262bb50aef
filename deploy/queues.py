"""The SQS queues: names and CreateQueue attributes, for the local stack
(devstack.resources creates them) and the data stack (deploy.cloudformation
declares them), and which of them nothing reads.
"""
from collections.abc import Mapping

from chalice.app import SQSEventConfig

from chalicelib import settings
from deploy.event_sources import event_sources, mapping_policies, source_queue
from deploy.naming import short_of
from deploy.project import stage_config

# Lambda's guidance: a queue's visibility timeout is at least six times the
# timeout of the function reading it (plus its batching window), so a batch
# that was throttled and retried is not handed to a second invocation.
VISIBILITY_TIMEOUT_FACTOR = 6


READ_QUEUES = ("jobs", "views")  # the queues a handler reads, each with its visibility timeout


def queue_definitions(visibility: int | Mapping[str, int]) -> dict[str, dict]:
    """Queue name -> CreateQueue attributes (the DLQ's ARN is filled in by
    the caller, which knows it), dead-letter queues before the queues that
    use them. `visibility` is each read queue's visibility timeout, by short
    name (visibility_timeouts below: Lambda wants at least six times the
    timeout of the function reading it), or one number for all: the local
    stack uses 0 so a failed job or views batch is retried at once. The
    views queues are FIFO (a FIFO queue's dead-letter queue must be one)."""
    q = settings.QUEUE_NAMES
    timeouts = visibility if isinstance(visibility, Mapping) else dict.fromkeys(READ_QUEUES, visibility)
    fifo = {"FifoQueue": "true"}
    return {
        q["jobs-dlq"]: {"MessageRetentionPeriod": str(14 * 86400)},
        q["parked"]: {"MessageRetentionPeriod": str(14 * 86400)},
        # The redrive receives a failure once per run; one that keeps failing
        # is parked by SQS itself after REDRIVE_MAX_RECEIVES runs.
        q["stream-failures"]: {"MessageRetentionPeriod": str(14 * 86400),
                               "VisibilityTimeout": str(settings.REDRIVE_VISIBILITY_SECONDS),
                               "RedrivePolicy": {"deadLetterTargetArn": q["parked"],
                                                 "maxReceiveCount": str(settings.REDRIVE_MAX_RECEIVES)}},
        q["jobs"]: {"VisibilityTimeout": str(timeouts["jobs"]),
                    "RedrivePolicy": {"deadLetterTargetArn": q["jobs-dlq"],
                                      "maxReceiveCount": str(settings.JOBS_MAX_RECEIVES)}},
        q["views-dlq"]: {**fifo, "MessageRetentionPeriod": str(14 * 86400)},
        q["views"]: {**fifo, "VisibilityTimeout": str(timeouts["views"]),
                     "RedrivePolicy": {"deadLetterTargetArn": q["views-dlq"],
                                       "maxReceiveCount": str(settings.VIEWS_MAX_RECEIVES)}},
    }


def queue_shorts() -> list[str]:
    return [short_of(name) for name in queue_definitions(0)]


def visibility_timeout(stage: str, queue: str = "jobs") -> int:
    """For a queue a handler reads (READ_QUEUES): six times the timeout its
    reader has in `stage`, plus its batching window."""
    readers = [s for s in event_sources()
               if isinstance(s, SQSEventConfig) and source_queue(s) == queue]
    if not readers:
        raise LookupError(f"no handler in app.py reads the {queue} queue")
    return max(VISIBILITY_TIMEOUT_FACTOR * stage_config(stage, s.name).lambda_timeout
               + s.maximum_batching_window_in_seconds for s in readers)


def visibility_timeouts(stage: str) -> dict[str, int]:
    """Short name -> visibility timeout, for every queue a handler reads."""
    return {queue: visibility_timeout(stage, queue) for queue in READ_QUEUES}


def dead_end_queues() -> list[str]:
    """Queues nothing reads: dead-letter queues and on-failure destinations.
    A message there is work that failed for good; someone should look."""
    ends = {short_of(a["RedrivePolicy"]["deadLetterTargetArn"])
            for a in queue_definitions(0).values() if "RedrivePolicy" in a}
    ends |= {short_of(p.on_failure_queue) for p in mapping_policies().values() if p.on_failure_queue}
    return [q for q in queue_shorts() if q in ends]
