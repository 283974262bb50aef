"""Abuse limits over real HTTP against `make run`'s stack: a user's write
limit answers 429 with Retry-After in the contract's shape, and logging out
everywhere turns every earlier token into a 401, public reads included."""
import pytest
import requests

from tests.e2e.conftest import start_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def base():
    running = start_stack({"DEMO": "0", "TWEETS_PER_MINUTE": "2"})  # the setting, as an operator sets it
    yield running.url
    running.stop()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_a_write_limit_is_429_with_retry_after(base):
    token = requests.post(f"{base}/auth/signup", json={"handle": "limited", "password": "password1"},
                          timeout=30).json()["token"]
    for n in range(2):
        assert requests.post(f"{base}/tweets", json={"text": f"n{n}"}, headers=bearer(token),
                             timeout=30).status_code == 201
    refused = requests.post(f"{base}/tweets", json={"text": "n2"}, headers=bearer(token), timeout=30)
    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == "application/json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert "At most 2 tweets" in refused.json()["error"]["message"]


def test_logout_all_revokes_the_old_tokens_everywhere(base):
    signup = requests.post(f"{base}/auth/signup", json={"handle": "leaver", "password": "password1"},
                           timeout=30).json()
    old = signup["token"]
    tweet = requests.post(f"{base}/tweets", json={"text": "still here"}, headers=bearer(old),
                          timeout=30).json()
    assert requests.post(f"{base}/auth/logout-all", headers=bearer(old), timeout=30).status_code == 204
    for method, path in (("GET", "/me"), ("GET", f"/tweets/{tweet['id']}"), ("GET", "/users/leaver")):
        reply = requests.request(method, base + path, headers=bearer(old), timeout=30)
        assert reply.status_code == 401, (path, reply.text)
        assert reply.headers["WWW-Authenticate"] == "Bearer"
        assert reply.json()["error"]["code"] == "unauthorized"
    assert requests.get(f"{base}/tweets/{tweet['id']}", timeout=30).status_code == 200  # anonymous
    fresh = requests.post(f"{base}/auth/login", json={"handle": "leaver", "password": "password1"},
                          headers=bearer(old), timeout=30)  # a dead token sent along does not stop a log-in
    assert fresh.status_code == 200
    me = requests.get(f"{base}/me", headers=bearer(fresh.json()["token"]), timeout=30)
    assert me.json()["handle"] == "leaver"
