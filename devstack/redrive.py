"""`make redrive`: brings back what ran out of retries (chalicelib.events.redrive).

Re-reads and handles every stream batch described on `stream-failures`, then
moves every job on `jobs-dlq` back to the jobs queue. Prints the counts;
exits 1 if anything was left on a queue or had expired from its stream.

Locally, point it at the stack's AWS endpoint (the one `make run` prints):
`AWS_ENDPOINT_URL=http://127.0.0.1:<port> make redrive`. On AWS, run it
with the stage's name and credentials and no endpoint:
`CHIRP_STAGE=prod AWS_REGION=<region> python -m devstack.redrive`
(infra/README.md).
"""
import logging
import os
import sys

from devstack.stack import configure_environment, existing_endpoint


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("chirp").setLevel(logging.INFO)
    endpoint = existing_endpoint()
    if endpoint:
        configure_environment(endpoint)
    elif os.environ.get("CHIRP_STAGE", "local") == "local":
        print("Set AWS_ENDPOINT_URL to the local stack's AWS endpoint (`make run` prints it), or "
              "CHIRP_STAGE to a deployed stage.", file=sys.stderr)
        return 2
    from chalicelib import settings
    from chalicelib.events import redrive

    streams = redrive.redrive_stream_failures()
    print(f"{settings.QUEUE_NAMES['stream-failures']}: {streams.found} found, {streams.processed} "
          f"processed ({streams.expired} with records gone from the stream), {streams.left} left", flush=True)
    jobs = redrive.redrive_jobs()
    print(f"{settings.QUEUE_NAMES['jobs-dlq']}: {jobs.found} found, {jobs.processed} moved back to "
          f"{settings.QUEUE_NAMES['jobs']}, {jobs.left} left", flush=True)
    return 1 if streams.left or streams.expired or jobs.left else 0


if __name__ == "__main__":
    sys.exit(main())
