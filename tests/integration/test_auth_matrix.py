"""The authorisation matrix: every protected route (read from app.routes, so
a new one is covered by itself) against every kind of bad credential, and
the owner / another user against each protected route.

Rejected credentials never reach a view or the tables, so the bad-token
cases run without a table reset (see `fresh_tables` below); the owner and
other-user cases build real data.
"""
import base64
import json
import re
import time

import jwt
import pytest
from support import assert_error

from app import app
from chalicelib import settings
from chalicelib.accounts import tokens
from chalicelib.storage.tables import UserModel
from chalicelib.web import auth

USER_ID = 911887782780350464
OTHER_ID = 911887782780350465


def protected_routes():
    return sorted((path, method) for path, methods in app.routes.items()
                  for method, entry in methods.items() if entry.authorizer is not None)


PROTECTED = protected_routes()


def concrete(path, handle="someone", tweet_id="911887782780350466"):
    """A request path for a route pattern: handles and ids filled in."""
    def fill(match):
        name = match.group(1)
        if "handle" in name:
            return handle
        if name.endswith("id"):
            return tweet_id
        return "x"
    return re.sub(r"\{([^}]+)\}", fill, path)


def body_for(path, method):
    return {"text": "hello"} if (path, method) == ("/tweets", "POST") else None


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(sub=USER_ID, **overrides):
    now = int(time.time())
    return {"sub": str(sub), "iss": settings.JWT_ISSUER, "iat": now,
            "exp": now + settings.TOKEN_TTL_SECONDS, **overrides}


def swap_subject(token, sub):
    """The token with its payload rewritten to `sub`, signature kept."""
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    decoded["sub"] = str(sub)
    return f"{header}.{b64(json.dumps(decoded).encode())}.{signature}"


def bad_authorization_headers():
    """Authorization header values that must be refused (None: no header)."""
    valid = tokens.issue_token(USER_ID)
    none_header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    unsigned = f"{none_header}.{b64(json.dumps(claims()).encode())}."
    return {
        "no header": None,
        "empty header": "",
        "empty bearer": "Bearer ",
        "bearer only": "Bearer",
        "basic": "Basic dXNlcjpwYXNzd29yZA==",
        "token without scheme": valid,
        "garbage": "Bearer garbage",
        "garbage jwt": "Bearer aaa.bbb.ccc",
        "expired": "Bearer " + tokens.issue_token(USER_ID, now=time.time() - settings.TOKEN_TTL_SECONDS - 5),
        "forged with another key": "Bearer " + jwt.encode(claims(), "x" * 48, algorithm="HS256"),
        "tampered subject": "Bearer " + swap_subject(valid, OTHER_ID),
        "alg none": "Bearer " + unsigned,
        "alg none unsigned, no dot": "Bearer " + unsigned[:-1],
        "hs512 with the real key": "Bearer " + jwt.encode(claims(), tokens.signing_key(), algorithm="HS512"),
        "wrong issuer": "Bearer " + jwt.encode(claims(iss="someone-else"), tokens.signing_key(),
                                               algorithm="HS256"),
        "no expiry": "Bearer " + jwt.encode({k: v for k, v in claims().items() if k != "exp"},
                                            tokens.signing_key(), algorithm="HS256"),
        "two tokens": f"Bearer {valid} {valid}",
    }


BAD = bad_authorization_headers()


def test_the_protected_routes_are_the_ones_the_contract_names():
    # Guards the enumeration itself: if it found nothing, the matrix would pass vacuously.
    assert {("/tweets", "POST"), ("/tweets/{tweet_id}", "DELETE"), ("/users/{handle}/follow", "POST"),
            ("/users/{handle}/follow", "DELETE"), ("/me", "GET")} <= set(PROTECTED)


def test_every_write_is_protected():
    """The contract: every write needs a token (sign-up and log-in are how you get one)."""
    unprotected_writes = [(path, method) for path, methods in app.routes.items()
                          for method, entry in methods.items()
                          if method not in ("GET", "HEAD", "OPTIONS") and entry.authorizer is None
                          and not path.startswith("/auth/")]
    assert unprotected_writes == []


class TestBadCredentials:
    """Every protected route x every bad credential -> 401 in the contract shape."""

    @pytest.fixture(autouse=True)
    def fresh_tables(self):
        """Overrides the table reset: a refused request touches no table."""

    @pytest.mark.parametrize("route", PROTECTED, ids=lambda r: f"{r[1]} {r[0]}")
    @pytest.mark.parametrize("case", sorted(BAD))
    def test_refused(self, api, route, case):
        path, method = route
        header = BAD[case]
        headers = {} if header is None else {"authorization": header}
        reply = api.request(method, concrete(path), body_for(path, method), headers=headers)
        error = assert_error(reply, 401, "unauthorized", f"{case}: {method} {path}")
        assert error["message"] == "A valid bearer token is required."
        assert reply.headers.get("www-authenticate") == "Bearer"


# Public routes: no token is an anonymous request, but a bearer token sent must be good.
PUBLIC = sorted((path, method) for path, methods in app.routes.items()
                for method, entry in methods.items()
                if entry.authorizer is None and path not in auth.TOKENLESS)
NOT_BEARER = {"no header", "empty header", "basic", "token without scheme"}  # no bearer token at all


class TestBadCredentialsOnPublicRoutes:
    @pytest.fixture(autouse=True)
    def fresh_tables(self):
        """Overrides the table reset: a refused token is refused before any table."""

    def test_the_public_routes_include_the_reads(self):
        assert {("/tweets/{tweet_id}", "GET"), ("/users/{handle}", "GET"), ("/trends", "GET")} <= set(PUBLIC)

    @pytest.mark.parametrize("route", PUBLIC, ids=lambda r: f"{r[1]} {r[0]}")
    @pytest.mark.parametrize("case", sorted(set(BAD) - NOT_BEARER))
    def test_refused(self, api, route, case):
        path, method = route
        reply = api.request(method, concrete(path), headers={"authorization": BAD[case]})
        assert_error(reply, 401, "unauthorized", f"{case}: {method} {path}")
        assert reply.headers.get("www-authenticate") == "Bearer"

    @pytest.mark.parametrize("case", sorted(NOT_BEARER))
    def test_without_a_bearer_token_a_read_is_anonymous(self, api, case):
        header = BAD[case]
        reply = api.get("/trends", headers={} if header is None else {"authorization": header})
        assert reply.status == 200, (case, reply.body)


def test_a_signed_token_of_no_user_is_refused_everywhere(api):
    """A token with a good signature whose user never existed (or no longer
    does): past the authorizer, but 401 from every route, reads included,
    before the view; signing up and logging in ignore it."""
    token = tokens.issue_token(USER_ID)
    for path, method in PROTECTED + PUBLIC:
        reply = api.request(method, concrete(path), body_for(path, method), token=token)
        error = assert_error(reply, 401, "unauthorized", f"{method} {path}")
        assert error["message"] == auth.NO_USER
    reply = api.post("/auth/signup", {"handle": "newcomer", "password": "password1"}, token=token)
    assert reply.status == 201


def test_a_deleted_users_token_is_refused(api, make_user):
    user, token = make_user("gone")
    assert api.get("/me", token=token).status == 200
    UserModel(id=int(user["id"])).delete()
    assert_error(api.get("/me", token=token), 401, "unauthorized")
    assert_error(api.get("/users/alice", token=token), 401, "unauthorized")
    assert api.get("/users/gone").status == 404  # anonymous: the handle's user is gone too


# --- owner and another user ----------------------------------------------------------------

@pytest.fixture
def world(api, make_user):
    """alice with a tweet; bob, another user."""
    alice, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    tweet = api.post("/tweets", {"text": "alice's tweet"}, token=alice_token).json
    return {"alice": alice, "alice_token": alice_token, "bob": bob, "bob_token": bob_token, "tweet": tweet}


def test_post_tweet(api, world):
    for who in ("alice", "bob"):
        reply = api.post("/tweets", {"text": f"by {who}"}, token=world[f"{who}_token"])
        assert reply.status == 201
        assert reply.json["author"]["id"] == world[who]["id"]  # the token decides the author


def test_delete_tweet(api, world):
    tweet_id = world["tweet"]["id"]
    assert_error(api.delete(f"/tweets/{tweet_id}", token=world["bob_token"]), 403, "forbidden")
    assert api.get(f"/tweets/{tweet_id}").status == 200
    assert api.delete(f"/tweets/{tweet_id}", token=world["alice_token"]).status == 204
    assert api.get(f"/tweets/{tweet_id}").status == 404


def test_follow(api, world):
    assert api.post("/users/alice/follow", token=world["bob_token"]).json == {"following": True}
    assert_error(api.post("/users/alice/follow", token=world["alice_token"]), 403, "cannot_follow_self")
    assert api.get("/users/bob").json["following_count"] == 1


def test_unfollow(api, world):
    api.post("/users/alice/follow", token=world["bob_token"])
    assert api.delete("/users/alice/follow", token=world["bob_token"]).json == {"following": False}
    assert_error(api.delete("/users/alice/follow", token=world["alice_token"]), 403, "cannot_follow_self")
    assert api.get("/users/alice").json["followers_count"] == 0


def test_me(api, world):
    assert api.get("/me", token=world["alice_token"]).json["id"] == world["alice"]["id"]
    assert api.get("/me", token=world["bob_token"]).json["id"] == world["bob"]["id"]


def test_a_tampered_token_cannot_act_as_someone_else(api, world):
    as_alice = swap_subject(world["bob_token"], world["alice"]["id"])
    assert_error(api.delete(f"/tweets/{world['tweet']['id']}", token=as_alice), 401, "unauthorized")
    assert api.get(f"/tweets/{world['tweet']['id']}").status == 200


def test_every_protected_route_with_real_data(api, world):
    """Each protected route, found in app.routes, called by the owner of
    the data and by another user, on real resources: never a 401 with a
    valid token, never a 500. (Not the two that revoke the tokens used
    here: tests/integration/test_token_revocation.py has them.)"""
    for path, method in PROTECTED:
        if path in ("/auth/logout-all", "/auth/password"):
            continue
        for who in ("alice", "bob"):
            tweet = api.post("/tweets", {"text": "fresh"}, token=world["alice_token"]).json
            url = concrete(path, handle="alice", tweet_id=tweet["id"])
            reply = api.request(method, url, body_for(path, method), token=world[f"{who}_token"])
            assert reply.status not in (401, 404) and reply.status < 500, (who, method, path, reply.body)
