"""Sign-up, log-in and /me through the gateway."""
import re

from support import assert_error, run_concurrently

from chalicelib.accounts import tokens
from chalicelib.storage.ids import id_created_at

USER_KEYS = {"id", "handle", "display_name", "bio", "created_at", "followers_count",
             "following_count", "tweets_count"}
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def test_signup_returns_the_user_and_a_working_token(api):
    reply = api.post("/auth/signup", {"handle": "Alice_1", "password": "correct horse",
                                      "display_name": "Alice Liddell"})
    assert reply.status == 201
    assert set(reply.json) == {"user", "token"}
    user = reply.json["user"]
    assert set(user) == USER_KEYS
    assert user["id"].isdigit() and int(user["id"]) > 0
    assert user["handle"] == "Alice_1"
    assert user["display_name"] == "Alice Liddell"
    assert user["bio"] == ""
    assert ISO_UTC.fullmatch(user["created_at"])
    assert user["created_at"] == id_created_at(int(user["id"]))
    assert (user["followers_count"], user["following_count"], user["tweets_count"]) == (0, 0, 0)
    assert tokens.verify_token(reply.json["token"]).user_id == int(user["id"])

    me = api.get("/me", token=reply.json["token"])
    assert me.status == 200
    assert me.json == user
    assert api.get("/users/alice_1").json == user  # found ignoring case


def test_display_name_defaults_to_the_handle(api, make_user):
    user, _ = make_user("bob")
    assert user["display_name"] == "bob"


def test_display_name_is_trimmed(api):
    reply = api.post("/auth/signup", {"handle": "carol", "password": "correct horse",
                                      "display_name": "  Carol  "})
    assert reply.status == 201
    assert reply.json["user"]["display_name"] == "Carol"


def test_handle_clash_ignoring_case_is_409(api, make_user):
    make_user("alice")
    for handle in ("alice", "Alice", "ALICE", "aLiCe"):
        reply = api.post("/auth/signup", {"handle": handle, "password": "another password"})
        assert_error(reply, 409, "handle_taken")
    # The original account is untouched and still logs in with its own password.
    assert api.post("/auth/login", {"handle": "alice", "password": "correct horse"}).status == 200
    assert api.post("/auth/login", {"handle": "alice", "password": "another password"}).status == 401


def test_concurrent_signups_for_the_same_handle_ignoring_case(concurrent_api):
    api = concurrent_api
    handles = ["Alice", "alice", "ALICE", "aLICE"]
    replies = run_concurrently([
        lambda h=h: api.post("/auth/signup", {"handle": h, "password": f"password of {h}"}) for h in handles
    ])
    statuses = sorted(r.status for r in replies)
    assert statuses == [201, 409, 409, 409], [r.body for r in replies]
    winner_index = next(i for i, r in enumerate(replies) if r.status == 201)
    winner = replies[winner_index].json["user"]
    assert winner["handle"] == handles[winner_index]
    for reply in replies:
        if reply.status == 409:
            assert_error(reply, 409, "handle_taken")
    # Exactly one account exists, reachable under any case, with the winner's password.
    assert api.get("/users/alice").json["id"] == winner["id"]
    login = api.post("/auth/login", {"handle": "ALICE", "password": f"password of {handles[winner_index]}"})
    assert login.status == 200
    assert tokens.verify_token(login.json["token"]).user_id == int(winner["id"])


def test_login(api, make_user):
    user, _ = make_user("dave", password="s3cret password")
    reply = api.post("/auth/login", {"handle": "dave", "password": "s3cret password"})
    assert reply.status == 200
    assert set(reply.json) == {"token"}
    assert tokens.verify_token(reply.json["token"]).user_id == int(user["id"])
    assert api.get("/me", token=reply.json["token"]).json["id"] == user["id"]


def test_login_ignores_handle_case(api, make_user):
    user, _ = make_user("Erin")
    reply = api.post("/auth/login", {"handle": "eRIN", "password": "correct horse"})
    assert reply.status == 200
    assert tokens.verify_token(reply.json["token"]).user_id == int(user["id"])


def test_failed_login_does_not_say_whether_the_handle_exists(api, make_user):
    make_user("frank")
    wrong_password = api.post("/auth/login", {"handle": "frank", "password": "wrong password"})
    unknown_handle = api.post("/auth/login", {"handle": "nobody", "password": "wrong password"})
    implausible_handle = api.post("/auth/login", {"handle": "no such handle!", "password": "x"})
    empty_password = api.post("/auth/login", {"handle": "frank", "password": ""})
    for reply in (wrong_password, unknown_handle, implausible_handle, empty_password):
        assert_error(reply, 401, "unauthorized")
        assert reply.body == wrong_password.body
        assert reply.headers.get("www-authenticate") == wrong_password.headers.get("www-authenticate")


def test_password_is_checked_exactly(api, make_user):
    make_user("grace", password="Exact Password")
    for attempt in ("exact password", "Exact Password ", " Exact Password", "Exact Passwor"):
        assert_error(api.post("/auth/login", {"handle": "grace", "password": attempt}), 401, "unauthorized")


def test_signup_validation(api):
    cases = [
        ({"handle": "", "password": "correct horse"}, "invalid_request"),
        ({"handle": "a" * 16, "password": "correct horse"}, "invalid_request"),
        ({"handle": "bad handle", "password": "correct horse"}, "invalid_request"),
        ({"handle": "ok", "password": "short"}, "invalid_request"),
        ({"handle": "ok", "password": "p" * 257}, "invalid_request"),
        ({"handle": "ok", "password": "correct horse", "display_name": "   "}, "invalid_request"),
        ({"handle": "ok", "password": "correct horse", "display_name": "x" * 51}, "invalid_request"),
        ({"handle": "ok", "password": "correct horse", "bio": "hi"}, "invalid_request"),
        ({"handle": "ok", "password": "correct horse", "id": "1"}, "invalid_request"),
        ({"handle": "ok", "password": "correct horse", "followers_count": 10**6}, "invalid_request"),
        ({"handle": "ok"}, "invalid_request"),
        ({"password": "correct horse"}, "invalid_request"),
        ({"handle": 12, "password": "correct horse"}, "invalid_request"),
        ({"handle": "ok", "password": 12345678}, "invalid_request"),
    ]
    for body, code in cases:
        assert_error(api.post("/auth/signup", body), 400, code)
    # None of them created anything.
    assert_error(api.get("/users/ok"), 404, "not_found")


def test_password_never_appears_in_responses(api):
    reply = api.post("/auth/signup", {"handle": "heidi", "password": "hunter2 hunter2"})
    assert b"hunter2" not in reply.body
    assert b"password" not in reply.body
    assert b"scrypt" not in reply.body
    me = api.get("/me", token=reply.json["token"])
    assert b"hunter2" not in me.body and b"scrypt" not in me.body


def test_me_is_the_caller(api, make_user):
    alice, alice_token = make_user()
    bob, bob_token = make_user()
    assert api.get("/me", token=alice_token).json == alice
    assert api.get("/me", token=bob_token).json == bob


def test_get_user(api, make_user):
    user, _ = make_user("ivan")
    assert api.get("/users/ivan").json == user
    assert api.get("/users/IVAN").json == user
    assert_error(api.get("/users/nobody"), 404, "not_found")
    assert_error(api.get("/users/not%20a%20handle"), 404, "not_found")
    assert_error(api.get("/users/" + "a" * 16), 404, "not_found")
