"""`make run`: the whole stack on 127.0.0.1 until Ctrl-C.

Settings: PORT (default 8000; 0 picks a free port), DEMO (1 seeds a demo
world, the default; 0 starts empty), and AWS_ENDPOINT_URL or
AWS_ENDPOINT_URL_DYNAMODB to use a running DynamoDB-compatible endpoint
instead of the embedded moto server (missing tables are created there).
"""
import logging
import os
import signal
import sys
import threading

from devstack.stack import LocalStack


def main() -> int:
    # Chirp's own logs (the pump, the app) at INFO; the libraries' chatter
    # (botocore, pynamodb, moto's per-request lines) only when it matters.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("chirp").setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto sets it to INFO
    port = int(os.environ.get("PORT", "8000"))
    demo = os.environ.get("DEMO", "1") != "0"

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    try:
        stack = LocalStack(port=port).start()
    except OSError as exc:
        print(f"Could not start the local stack: {exc}", file=sys.stderr)
        return 1
    try:
        where = "embedded moto server" if stack.moto else "existing endpoint"
        print(f"AWS endpoint ({where}): {stack.endpoint}", flush=True)
        if demo:
            from devstack import demo as demo_world

            tokens = demo_world.seed(stack.url)
            print(demo_world.curl_examples(stack.url, tokens["alice"]), flush=True)
        print(f"Chirp API listening on {stack.url}  (Ctrl-C to stop)", flush=True)
        stop.wait()
    finally:
        print("Stopping...", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
