"""Test setup shared by every level.

Each pytest process (each xdist worker) gets its own moto server on a free
loopback port, and the environment points every AWS client at it *before*
any test imports chalicelib (which reads its settings on import).

It also loads the Hypothesis profile HYPOTHESIS_PROFILE names (tests/profiles.py),
marks slow the tests that use a fixture in SLOW_FIXTURES, and puts the
per-user write limits out of reach: a test writes faster than any person
(fifty follows to build a world, a page of tweets in a loop).
tests/integration/test_write_limits.py and tests/e2e/test_abuse_limits.py
set the limits they test.
"""
import pytest

from devstack import stack
from tests import profiles

_moto = None
_profile = profiles.load()  # before any test module is imported: examples(n) reads it

# Fixtures that put every test using them in the slow lane (`make test-fast` leaves them out).
# Measured on 2 cores: the tests that drive the event pump or race threads take one to several
# seconds each, and are three fifths of the integration tests' time; the rest take a fraction of one.
SLOW_FIXTURES = {
    "pump": "drives the event pump (streams and the jobs queue through the handlers)",
    "pump_factory": "drives the event pump",
    "function_calls": "drives every route and the event pump, recording calls (test_infra)",
    "concurrent_api": "races many threads through the API",
    "packaged": "runs `chalice package` for a stage (test_infra)",
}


@pytest.fixture(autouse=True)
def no_write_limits(monkeypatch):
    """Every per-user write limit out of reach (chalicelib.accounts.limits)."""
    from chalicelib import settings

    for action in settings.WRITE_LIMITS:
        monkeypatch.setitem(settings.WRITE_LIMITS, action, {"minute": 10**9, "day": 10**9})


def pytest_configure(config):
    global _moto
    _moto, endpoint = stack.start_moto()
    stack.configure_environment(endpoint)


def pytest_report_header(config):
    return f"hypothesis profile: {_profile} (HYPOTHESIS_PROFILE)"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def pytest_unconfigure(config):
    if _moto is not None:
        _moto.stop()


@pytest.fixture(scope="session")
def moto_endpoint():
    import os

    return os.environ["AWS_ENDPOINT_URL"]
