"""`make run`: the whole stack on 127.0.0.1 until Ctrl-C.

With the demo world (DEMO=1), it seeds it through the API, waits for the
event pump to settle it (fan-out and jobs done: devstack.pump's
wait_settled) and says so in one line, then prints the try-it block, whole.
At Ctrl-C it prints what the run measured (devstack.run_metrics).

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
import threading
import time

from devstack import run_metrics
from devstack.stack import LocalStack

STOP_POLL_SECONDS = 0.2  # how soon Ctrl-C is noticed
SETTLE_SECONDS = 30  # how long the try-it block waits for the demo world to settle (then a line says so)


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
            _seed_demo_world(stack, stopping)
        print(f"Chirp API listening on {stack.url}  (Ctrl-C to stop)", flush=True)
        while not stopping:
            time.sleep(STOP_POLL_SECONDS)
    finally:
        print("Stopping...", flush=True)
        stack.stop()
        _print_whole(run_metrics.summary(stack.metrics))
    return 0


def _seed_demo_world(stack: LocalStack, stopping: list[int]) -> None:
    """Seeds the demo world, waits for the event pump to settle it (fan-out
    and jobs included), says so in one line, then prints the try-it block."""
    from devstack import demo

    print(f"Seeding the demo world ({demo.WORLD}) through the API...", flush=True)
    started = time.monotonic()
    # Its hundred-odd requests and the events they make are not worth a line each (warnings still
    # show): the settled line sums them up.
    chirp = logging.getLogger("chirp")
    level = chirp.level  # LOG_LEVEL's
    chirp.setLevel(max(level, logging.WARNING))
    try:
        tokens = demo.seed(stack.url, settle=lambda: _settle(stack, stopping), is_celebrity=_is_celebrity)
        since = stack.pump.next_round()
        settled = _settle(stack, stopping, since)
    finally:
        chirp.setLevel(level)
    if stopping:
        return
    if settled:
        print(_settled_line(stack, started), flush=True)
    else:
        print(f"The demo world is still settling after {SETTLE_SECONDS} s; a line will say when it has.",
              flush=True)
        threading.Thread(target=_announce_settled, args=(stack, stopping, since, started), daemon=True,
                         name="chirp-settled").start()
    _print_whole(demo.curl_examples(stack.url, tokens["alice"]).splitlines())


def _settle(stack: LocalStack, stopping: list[int], since: int | None = None) -> bool:
    """Waits, up to SETTLE_SECONDS, for the pump to have handled everything
    written before now (or before its round `since`); False on Ctrl-C or time out."""
    since = stack.pump.next_round() if since is None else since
    deadline = time.monotonic() + SETTLE_SECONDS
    while not stopping and time.monotonic() < deadline:
        if stack.pump.wait_settled(since, STOP_POLL_SECONDS):
            return True
    return False


def _announce_settled(stack: LocalStack, stopping: list[int], since: int, started: float) -> None:
    while not stopping:
        if stack.pump.wait_settled(since, 1.0):
            print(_settled_line(stack, started), flush=True)
            return


def _settled_line(stack: LocalStack, started: float) -> str:
    from devstack import demo

    run = stack.metrics
    pushed, pulled, jobs = len(run.get("FanoutLag")), len(run.get("FanoutPulled")), len(run.get("Jobs"))
    return (f"Demo world settled in {time.monotonic() - started:.1f} s: {demo.WORLD}; fan-out done "
            f"({pushed} pushed to followers' timelines, {pulled} left to merge on read, "
            f"{jobs} {'job' if jobs == 1 else 'jobs'})")


def _print_whole(lines: list[str]) -> None:
    """Prints `lines` with no log line in between: every handler that could
    write one (the chirp logger's, the root's) is held meanwhile. A thread
    logging waits; none holds two handlers at once, so none can deadlock
    with this."""
    handlers = list(dict.fromkeys(logging.getLogger("chirp").handlers + logging.getLogger().handlers))
    for handler in handlers:
        handler.acquire()
    try:
        sys.stdout.write("".join(f"{line}\n" for line in lines))
        sys.stdout.flush()
    finally:
        for handler in reversed(handlers):
            handler.release()


def _is_celebrity(handle: str) -> bool:
    from chalicelib.accounts import users
    from chalicelib.home import celebrities

    user = users.find_by_handle(handle)
    return user is not None and user.celebrity_state == celebrities.CELEBRITY


if __name__ == "__main__":
    sys.exit(main())
