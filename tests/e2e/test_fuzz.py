"""schemathesis against the local stack, from the OpenAPI document it
serves: every check (tests/e2e/schemathesis.toml says which are left out and
why), all four phases, stateful included (the document's links: signup,
tweet, like, retweet, delete ...). A bounded run here; `make fuzz` runs a
long one (FUZZ_MAX_EXAMPLES, FUZZ_SEED).

0 failures, and the number of requests the run made is printed (from the
stack's own count of answers, printed at Ctrl-C)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import start_stack

HERE = Path(__file__).resolve().parent
MAX_EXAMPLES = os.environ.get("FUZZ_MAX_EXAMPLES", "10")
SEED = os.environ.get("FUZZ_SEED", "1")  # fixed, so a CI failure can be replayed


@pytest.mark.slow
def test_the_api_holds_to_its_openapi_document():
    # start_stack puts the write limits out of reach: else most of a long run's
    # writes would be 429s, and the write paths behind them untested.
    stack = start_stack({"DEMO": "0"})
    try:
        signup = requests.post(f"{stack.url}/auth/signup", timeout=30,
                               json={"handle": "fuzzer", "password": "fuzzing-password"})
        token = signup.json()["token"]
        st = Path(sys.executable).with_name("st")
        run = subprocess.run(
            [str(st), "--config-file", str(HERE / "schemathesis.toml"), "run", f"{stack.url}/openapi.json",
             "-H", f"Authorization: Bearer {token}", "--max-examples", MAX_EXAMPLES, "--seed", SEED,
             "--workers", "1",  # CPython 3.11's ast is not thread-safe, and hypothesis parses lambdas with it
             "--no-color"],
            cwd=HERE, env={**os.environ, "SCHEMATHESIS_HOOKS": "fuzz_hooks",  # which import chalicelib
                           "PYTHONPATH": f"{HERE}:{HERE.parents[1]}"},
            capture_output=True, text=True, timeout=900)
    finally:
        stack.stop()
    answered = re.search(r"requests: (\d+)", stack.output())
    cases = re.search(r"(\d+) generated", run.stdout)
    print(f"schemathesis: {cases and cases.group(1)} test cases, "
          f"{answered and answered.group(1)} requests answered by the stack")
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    assert answered and int(answered.group(1)) > 500  # it really ran
