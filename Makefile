# The README's two commands, `make run` and `make test`, set themselves up:
# they create .venv and install the pinned dependencies on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
READY := $(VENV)/.ready

.PHONY: run test test-fast bench chaos fuzz scan lint infra redrive clean

$(READY): requirements.txt requirements-dev.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "pip<26.3"
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $(READY)

run: $(READY)  ## the local stack on 127.0.0.1:$${PORT:-8000}; LOG=json for what Lambda would log
	$(PY) -m devstack

test: $(READY)  ## the whole test suite (what CI runs)
	$(PY) -m pytest

test-fast: $(READY)  ## the edit loop: unit + integration, not slow, not e2e, fewer hypothesis examples
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-dev} $(PY) -m pytest -m "not slow and not e2e"

bench: $(READY)  ## pull vs push vs hybrid on power-law graphs; BENCH_QUICK=1 for one small graph
	$(PY) -m bench

chaos: $(READY)  ## faults at the wire, a random workload, then silence: equal to the model? CHAOS_SEEDS, CHAOS_KINDS
	$(PY) -m chaos

fuzz: $(READY)  ## schemathesis against the local stack, long: FUZZ_MAX_EXAMPLES (default 200), FUZZ_SEED
	FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-200} $(PY) -m pytest -n0 -s --timeout 1500 tests/e2e/test_fuzz.py

scan: $(READY)  ## checkov over the packaged app, the data stack and the monitoring stacks (pinned, in .venv-checkov)
	$(PY) -m pytest -n0 -q tests/integration/test_checkov.py

lint: $(READY)  ## ruff, then mypy (configured in pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy app.py chalicelib devstack bench deploy chaos

infra: $(READY)  ## regenerate infra/ and .chalice/ policies from the table models
	$(PY) -m deploy

redrive: $(READY)  ## rerun what ran out of retries (stream-failures, jobs-dlq); AWS_ENDPOINT_URL: the stack's
	$(PY) -m devstack.redrive

clean:
	rm -rf $(VENV) .venv-checkov .pytest_cache .ruff_cache .mypy_cache .hypothesis
