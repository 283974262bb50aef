"""Revoking tokens: log out everywhere, change the password. Every token
issued before either is refused at once, on every route, while the new
ones (a log-in after, the password change's own answer) work."""
import pytest
from support import assert_error, user_item

from chalicelib import errors
from chalicelib.accounts import users
from chalicelib.web import auth
from chaos.faults import WireFaults


def revoked(reply, what=""):
    error = assert_error(reply, 401, "unauthorized", what)
    assert error["message"] == auth.REVOKED, what


def login(api, handle, password):
    return api.post("/auth/login", {"handle": handle, "password": password})


def test_logout_all_revokes_every_earlier_token(api, make_user, make_tweet):
    user, first = make_user("ada")
    second = login(api, "ada", "correct horse").json["token"]
    tweet = make_tweet(first)
    assert api.post("/auth/logout-all", token=second).status == 204
    for token in (first, second):
        revoked(api.get("/me", token=token), "a protected route")
        revoked(api.get(f"/tweets/{tweet['id']}", token=token), "a public read")
        revoked(api.post("/auth/logout-all", token=token), "logging out again")
    assert api.get(f"/tweets/{tweet['id']}").status == 200  # anonymous reads go on
    fresh = login(api, "ada", "correct horse").json["token"]
    assert api.get("/me", token=fresh).json["id"] == user["id"]
    assert user_item(user["id"]).token_version == 1


def test_logout_all_touches_no_one_else(api, make_user):
    _, ada = make_user("ada")
    _, bob = make_user("bob")
    assert api.post("/auth/logout-all", token=ada).status == 204
    assert api.get("/me", token=bob).status == 200


def test_a_password_change_revokes_the_old_tokens_and_answers_a_new_one(api, make_user):
    user, old = make_user("ada")
    other_device = login(api, "ada", "correct horse").json["token"]
    reply = api.post("/auth/password", {"password": "correct horse", "new_password": "battery staple"},
                     token=old)
    assert reply.status == 200, reply.json
    new = reply.json["token"]
    assert api.get("/me", token=new).json["id"] == user["id"]
    revoked(api.get("/me", token=old))
    revoked(api.get("/me", token=other_device))
    assert_error(login(api, "ada", "correct horse"), 401, "unauthorized")
    assert login(api, "ada", "battery staple").status == 200


def test_a_wrong_current_password_changes_nothing(api, make_user):
    _, token = make_user("ada")
    for wrong in ("incorrect horse", "x" * 10_000):  # the too-long one is not even hashed
        assert_error(api.post("/auth/password", {"password": wrong, "new_password": "battery staple"},
                              token=token), 403, "wrong_password")
    assert api.get("/me", token=token).status == 200
    assert login(api, "ada", "correct horse").status == 200


@pytest.mark.parametrize("body", [
    {"password": "correct horse"}, {"new_password": "battery staple"}, {},
    {"password": "correct horse", "new_password": "short"},
    {"password": "correct horse", "new_password": "x" * 257},
    {"password": 12345678, "new_password": "battery staple"},
    {"password": "correct horse", "new_password": ["battery staple"]},
    {"password": "correct horse", "new_password": "battery staple", "admin": True},
])
def test_a_bad_password_change_is_400(api, make_user, body):
    _, token = make_user("ada")
    assert_error(api.post("/auth/password", body, token=token), 400)
    assert login(api, "ada", "correct horse").status == 200


def test_a_password_change_needs_a_live_token(api, make_user):
    _, token = make_user("ada")
    api.post("/auth/logout-all", token=token)
    revoked(api.post("/auth/password", {"password": "correct horse", "new_password": "battery staple"},
                     token=token))
    assert login(api, "ada", "correct horse").status == 200


def test_a_logout_all_landing_first_stops_a_password_change(api, make_user):
    """The race: the request's token was checked, then a log-out-everywhere
    landed before the password update. The update is conditional on the
    version checked, so the revoked token changes nothing."""
    user, _ = make_user("ada")
    checked = user_item(user["id"])  # what the request's token check read
    users.revoke_tokens(int(user["id"]))
    with pytest.raises(errors.Unauthenticated):
        users.change_password(checked, "correct horse", "battery staple")
    assert login(api, "ada", "correct horse").status == 200
    assert user_item(user["id"]).token_version == 1


def test_a_password_change_that_landed_behind_a_500_succeeds(api, make_user, no_backoff):
    """DynamoDB applied the update but its answer was lost: the SDK's retry
    finds the condition false; the new password stored says it was ours."""
    user, _ = make_user("ada")
    with WireFaults() as faults:
        faults.fail("UpdateItem", times=1, kind="write-then-500")
        version = users.change_password(user_item(user["id"]), "correct horse", "battery staple")
    assert faults.injected == {"write-then-500": 1}
    assert version == 1 == user_item(user["id"]).token_version
    assert login(api, "ada", "battery staple").status == 200


def test_a_token_issued_after_a_revocation_carries_the_new_version(api, make_user):
    _, token = make_user("ada")
    for round_ in range(1, 4):
        api.post("/auth/logout-all", token=token)
        token = login(api, "ada", "correct horse").json["token"]
        assert api.get("/me", token=token).status == 200, round_
