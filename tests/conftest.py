"""Test setup shared by every level.

Each pytest process (each xdist worker) gets its own moto server on a free
loopback port, and the environment points every AWS client at it *before*
any test imports chalicelib (which reads its settings on import).
"""
import pytest

from devstack import stack

_moto = None


def pytest_configure(config):
    global _moto
    _moto, endpoint = stack.start_moto()
    stack.configure_environment(endpoint)


def pytest_unconfigure(config):
    if _moto is not None:
        _moto.stop()


@pytest.fixture(scope="session")
def moto_endpoint():
    import os

    return os.environ["AWS_ENDPOINT_URL"]
