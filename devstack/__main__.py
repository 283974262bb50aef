"""`make run`: the whole stack on 127.0.0.1 until Ctrl-C.

Settings: PORT (default 8000; 0 picks a free port), DEMO (1 seeds a demo
world, the default; 0 starts empty), LOG (text, the default, or json: what
Lambda would write), LOG_LEVEL (INFO), and AWS_ENDPOINT_URL or
AWS_ENDPOINT_URL_DYNAMODB to use a running DynamoDB-compatible endpoint
instead of the embedded moto server (missing tables are created there).
"""
import logging
import os
import signal
import sys
import time

from devstack.stack import LocalStack

STOP_POLL_SECONDS = 0.2  # how soon Ctrl-C is noticed


def main() -> int:
    # Chirp's own logs (the pump, the app) at INFO; the libraries' chatter
    # (botocore, pynamodb, moto's per-request lines) only when it matters.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("chirp").setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto sets it to INFO
    # Chirp's log lines as a person reads them; `make run LOG=json` for what Lambda writes,
    # metrics' EMF lines included (text leaves them out: they are JSON for CloudWatch).
    os.environ.setdefault("LOG_FORMAT", os.environ.get("LOG", "text"))
    if os.environ["LOG_FORMAT"] == "text":
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    port = int(os.environ.get("PORT", "8000"))
    demo = os.environ.get("DEMO", "1") != "0"

    if demo:  # a demo-sized celebrity threshold, so @nasa shows the pull path
        from devstack.demo import DEMO_CELEBRITY_THRESHOLD

        os.environ.setdefault("CELEBRITY_THRESHOLD", str(DEMO_CELEBRITY_THRESHOLD))

    # A plain flag, polled: the signal may be delivered to any thread, and the
    # main thread runs Python's handler only when it next wakes (a wait on a
    # lock or Event would not wake for it, and a handler that sets an Event
    # while the main thread is inside that Event's wait can deadlock on it).
    stopping: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))

    try:
        stack = LocalStack(port=port).start()
    except OSError as exc:
        print(f"Could not start the local stack: {exc}", file=sys.stderr)
        return 1
    # Importing app.py (in start) made Chalice set its logger, "chirp", to ERROR: ours again.
    logging.getLogger("chirp").setLevel(logging.INFO)
    try:
        where = "embedded moto server" if stack.moto else "existing endpoint"
        print(f"AWS endpoint ({where}): {stack.endpoint}", flush=True)
        from chalicelib import settings

        print(f"Celebrity threshold: {settings.CELEBRITY_THRESHOLD} followers; timelines keep "
              f"{settings.TIMELINE_MAX} entries; fan-out skips users idle {settings.ACTIVE_DAYS} days",
              flush=True)
        if demo:
            from devstack import demo as demo_world

            # The demo world's hundred-odd requests are not worth a line each.
            access = logging.getLogger("chirp.access")
            access.setLevel(logging.WARNING)
            tokens = demo_world.seed(stack.url, is_celebrity=_is_celebrity)
            access.setLevel(logging.NOTSET)
            print(demo_world.curl_examples(stack.url, tokens["alice"]), flush=True)
        print(f"Chirp API listening on {stack.url}  (Ctrl-C to stop)", flush=True)
        while not stopping:
            time.sleep(STOP_POLL_SECONDS)
    finally:
        print("Stopping...", flush=True)
        stack.stop()
    return 0


def _is_celebrity(handle: str) -> bool:
    from chalicelib.accounts import users
    from chalicelib.home import celebrities

    user = users.find_by_handle(handle)
    return user is not None and user.celebrity_state == celebrities.CELEBRITY


if __name__ == "__main__":
    sys.exit(main())
