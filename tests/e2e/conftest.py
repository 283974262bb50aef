"""End-to-end: `python -m devstack` (what `make run` runs) in a subprocess,
talked to over real HTTP on loopback."""
import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"Chirp API listening on (http://127\.0\.0\.1:\d+)")


@dataclass
class RunningStack:
    process: subprocess.Popen
    url: str = ""
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self, timeout: float = 60) -> int:
        """Ctrl-C, then the exit status. A stack that has not stopped after
        `timeout` is sent SIGABRT, so faulthandler prints every thread's stack
        into its output, and the failure shows where it hung."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGABRT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.reader:
                self.reader.join(5)
            raise AssertionError(f"the local stack did not stop within {timeout} s of Ctrl-C:\n"
                                 f"{self.output()[-8000:]}") from None


UNLIMITED = {f"{action}_PER_{span}": "1000000000" for action in ("TWEETS", "FOLLOWS", "LIKES")
             for span in ("MINUTE", "DAY")}


def start_stack(extra_env: dict | None = None, timeout: float = 120) -> RunningStack:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_ENDPOINT_URL", "JWT_", "CHIRP_", "PYTEST_"))}
    env.update({"PORT": "0", "DEMO": "1", "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"})
    env.update(UNLIMITED)  # tests write faster than people (tests/conftest.py); extra_env may set limits
    env.update(extra_env or {})
    process = subprocess.Popen([sys.executable, "-m", "devstack"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stack = RunningStack(process)
    ready = threading.Event()

    def read():
        for line in process.stdout:
            stack.lines.append(line)
            match = READY.search(line)
            if match:
                stack.url = match.group(1)
                ready.set()
        ready.set()

    stack.reader = threading.Thread(target=read, daemon=True)
    stack.reader.start()
    if not ready.wait(timeout) or not stack.url:
        stack.stop()
        raise AssertionError(f"the local stack did not start:\n{stack.output()}")
    return stack


@pytest.fixture(scope="module")
def running_stack():
    stack = start_stack()
    yield stack
    stack.stop()
