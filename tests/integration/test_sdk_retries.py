"""AWS SDK retries: one configuration for every client, and what a transient
fault costs (a retry of one call), faults injected at the wire."""
import pytest

from chalicelib import settings
from chaos.faults import WireFaults, chalicelib_clients


def test_every_client_retries_in_standard_mode_with_the_configured_attempts():
    clients = chalicelib_clients()
    assert len(clients) >= 3  # PynamoDB's, the transactions connection's, the jobs queue's
    for client in clients:
        assert client.meta.config.retries == {"mode": "standard",
                                              "total_max_attempts": settings.AWS_CALL_ATTEMPTS}


@pytest.mark.parametrize("kind", ["500", "throttle"])
def test_a_transient_fault_costs_a_retry_of_the_call(api, make_user, kind, no_backoff):
    _, token = make_user("ada")
    with WireFaults() as faults:
        faults.fail("TransactWriteItems", times=settings.AWS_CALL_ATTEMPTS - 1, kind=kind)
        reply = api.post("/tweets", {"text": "through the storm"}, token=token)
    assert reply.status == 201, reply.json
    assert faults.attempts["TransactWriteItems"] == settings.AWS_CALL_ATTEMPTS
    assert [t["text"] for t in api.get("/users/ada/tweets").json["data"]] == ["through the storm"]


def test_when_the_sdk_gives_up_the_client_sees_a_contract_500(api, make_user, no_backoff):
    _, token = make_user("ada")
    with WireFaults() as faults:
        faults.fail("TransactWriteItems", times=settings.AWS_CALL_ATTEMPTS)
        reply = api.post("/tweets", {"text": "lost"}, token=token)
    assert reply.status == 500
    assert reply.json == {"error": {"code": "internal_error", "message": "An internal error occurred."}}
    assert api.get("/users/ada/tweets").json["data"] == []
