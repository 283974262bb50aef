"""`make redrive`: brings back what ran out of retries (chalicelib.events.redrive).

What the scheduled `redrive_failures` does every REDRIVE_EVERY_MINUTES (re-read
and handle every stream batch described on `stream-failures`, move every job
on `jobs-dlq` back to the jobs queue), now, and then what only an operator
brings back: everything on `parked`. Prints the counts; exits 1 if anything
was left on a queue, parked, or had expired from its stream.

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
    from chalicelib.events import redrive

    counts = {**redrive.redrive_all(), **redrive.redrive_parked()}
    for queue, c in counts.items():
        print(f"{queue}: {c.found} found, {c.processed} processed, {c.superseded} records superseded, "
              f"{c.expired} with records gone from the stream, {c.parked} parked, {c.left} left", flush=True)
    return 1 if any(c.outstanding for c in counts.values()) else 0

if __name__ == "__main__":
    sys.exit(main())
