"""Bad input of every kind gets the right 4xx in the contract's error shape,
never a 500; and random bodies, paths and query strings thrown at every
route never produce a 500 either."""
import json
import re
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import assert_error

from app import app
from chalicelib import settings as chirp_settings
from chalicelib.storage.ids import MAX_ID

BODY_ROUTES = [("/auth/signup", False), ("/auth/login", False), ("/tweets", True)]


@pytest.fixture
def alice(api, make_user):
    """alice's token, and one tweet of hers."""
    _, token = make_user("alice")
    tweet = api.post("/tweets", {"text": "hi"}, token=token).json
    return token, tweet["id"]


def tweets_count(api):
    return api.get("/users/alice").json["tweets_count"]


def post(api, path, token, body=None, raw=None, headers=None):
    return api.post(path, body, raw=raw, token=token if path == "/tweets" else None, headers=headers)


@pytest.mark.parametrize("path", [p for p, _ in BODY_ROUTES])
def test_malformed_bodies(api, alice, path):
    token, _ = alice
    cases = {
        "empty": b"",
        "truncated": b'{"handle": "a", ',
        "single quotes": b"{'text': 'hi'}",
        "trailing comma": b'{"text": "hi",}',
        "not utf-8": b'{"text": "\xff\xfe"}',
        "lone surrogate": b'{"text": "\\ud800", "handle": "\\udc00", "password": "\\ud800\\ud800\\ud800"}',
        "deep nesting": b"[" * 8_000 + b"]" * 8_000,
        "nested field": b'{"text": ' + b"[" * 4_000 + b"]" * 4_000 + b"}",
        "two documents": b"{}{}",
        "bare word": b"hello",
        "nul": b"\x00",
    }
    for name, raw in cases.items():
        assert len(raw) <= chirp_settings.MAX_BODY_BYTES
        assert_error(post(api, path, token, raw=raw), 400, "invalid_json", f"{path}: {name}")
    for name, raw in {"array": b"[]", "array of object": b'[{"text": "hi"}]', "string": b'"hi"',
                      "number": b"42", "null": b"null", "true": b"true"}.items():
        error = assert_error(post(api, path, token, raw=raw), 400, "invalid_json", f"{path}: {name}")
        assert "object" in error["message"]
    assert tweets_count(api) == 1


def test_wrong_types_for_each_field(api, alice):
    token, _ = alice
    wrong = [0, 1.5, True, [], ["x"], {}, {"a": 1}]
    fields = {
        "/auth/signup": {"handle": "newbie", "password": "correct horse", "display_name": "New"},
        "/auth/login": {"handle": "alice", "password": "correct horse"},
        "/tweets": {"text": "hi", "reply_to_id": None, "quote_of_id": None},
    }
    for path, valid in fields.items():
        for field in valid:
            for value in wrong:
                body = {**valid, field: value}
                error = assert_error(post(api, path, token, body), 400, "invalid_request",
                                     f"{path}: {field}={value!r}")
                assert field in error["message"] or path == "/auth/login", error
    assert tweets_count(api) == 1
    assert_error(api.get("/users/newbie"), 404, "not_found")


def test_missing_fields(api, alice):
    token, _ = alice
    cases = [("/auth/signup", {"handle": "newbie"}, "password"),
             ("/auth/signup", {"password": "x" * 8}, "handle"), ("/auth/signup", {}, "handle, password"),
             ("/auth/login", {"handle": "alice"}, "password"), ("/auth/login", {}, "handle, password"),
             ("/tweets", {}, "text"),
             ("/tweets", {"reply_to_id": None}, "text"), ("/tweets", {"text": None}, "text")]
    for path, body, missing in cases:
        error = assert_error(post(api, path, token, body), 400, "invalid_request", f"{path} {body}")
        assert error["message"] == f"Missing required field(s): {missing}."


def test_unknown_fields(api, alice):
    token, _ = alice
    for path, body in [("/auth/signup", {"handle": "newbie", "password": "x" * 8, "admin": True}),
                       ("/auth/login", {"handle": "alice", "password": "correct horse", "otp": "1"}),
                       ("/tweets", {"text": "hi", "author": {"id": "1"}}),
                       ("/tweets", {"text": "hi", "counts": {"likes": 9}}),
                       ("/tweets", {"text": "hi", "created_at": "2020-01-01T00:00:00.000Z"}),
                       ("/tweets", {"text": "hi", "id": "1"})]:
        extra = (set(body) - {"handle", "password", "text"}).pop()
        error = assert_error(post(api, path, token, body), 400, "invalid_request", path)
        assert extra in error["message"]
    assert tweets_count(api) == 1


@pytest.mark.parametrize("path", [p for p, _ in BODY_ROUTES])
def test_body_too_large(api, alice, path):
    token, _ = alice
    limit = chirp_settings.MAX_BODY_BYTES
    huge = json.dumps({"text": "x" * limit}).encode()
    assert_error(post(api, path, token, raw=huge), 413, "payload_too_large", path)
    # Over the gateway's own limit the request never reaches the function.
    enormous = b" " * (10 * 1024 * 1024 + 1)
    assert_error(post(api, path, token, raw=enormous), 413, "payload_too_large", path)
    # Just under the limit is fine (padding is whitespace).
    valid = {"/tweets": {"text": "hi"}, "/auth/login": {"handle": "alice", "password": "correct horse"},
             "/auth/signup": {"handle": "newbie", "password": "correct horse"}}[path]
    raw = json.dumps(valid).encode()
    raw += b" " * (limit - len(raw))
    assert post(api, path, token, raw=raw).status in (200, 201)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml", "garbage"])
def test_wrong_content_type_is_415(api, alice, content_type):
    token, _ = alice
    for path, _ in BODY_ROUTES:
        reply = post(api, path, token, {"text": "hi", "handle": "x", "password": "y" * 8},
                     headers={"content-type": content_type})
        error = assert_error(reply, 415, "unsupported_media_type", f"{path} {content_type}")
        assert content_type in error["message"]
    assert tweets_count(api) == 1


def test_json_content_type_variants_are_accepted(api, alice):
    token, _ = alice
    for content_type in ("application/json", "application/json; charset=utf-8", "APPLICATION/JSON"):
        reply = api.post("/tweets", {"text": content_type}, token=token,
                         headers={"content-type": content_type})
        assert reply.status == 201, content_type
    assert tweets_count(api) == 4


def test_unknown_routes_are_404(api, alice):
    token, tweet_id = alice
    for path in ("/", "/nope", "/users", "/users/alice/nope", "/users/alice/tweets/extra", "/tweets/1/nope",
                 "/auth", "/auth/logout", "/v2/tweets", f"/tweets/{tweet_id}/likes/extra"):
        for method in ("GET", "POST", "DELETE"):
            reply = api.request(method, path, token=token)
            assert_error(reply, 404, "not_found", f"{method} {path}")


def test_wrong_methods_never_reach_a_view(api, alice):
    """A method a route does not define is refused before any view runs,
    with 404 in the contract's shape: API Gateway answers it like an unknown
    route ("Missing Authentication Token"), and the local gateway matches it
    so clients see one behaviour everywhere. Nothing happens."""
    token, tweet_id = alice
    cases = [("PUT", "/tweets"), ("GET", "/tweets"), ("PATCH", f"/tweets/{tweet_id}"),
             ("PUT", f"/tweets/{tweet_id}"), ("POST", "/health"), ("DELETE", "/me"), ("POST", "/me"),
             ("GET", "/auth/signup"), ("DELETE", "/auth/login"), ("POST", "/users/alice"),
             ("GET", "/users/alice/follow"), ("PUT", "/users/alice/follow"), ("POST", "/users/alice/tweets"),
             ("DELETE", "/users/alice/tweets"), ("TRACE", "/health"), ("HEAD", "/health")]
    for method, path in cases:
        reply = api.request(method, path, {"text": "sneaky"}, token=token)
        assert_error(reply, 404, "not_found", f"{method} {path}")
    assert tweets_count(api) == 1
    assert api.get(f"/tweets/{tweet_id}").status == 200
    assert api.get("/users/alice").json["following_count"] == 0


def test_bad_query_parameters(api, alice):
    _, tweet_id = alice
    bad = ["limit=0", "limit=101", "limit=abc", "limit=", "limit=-5", "limit=2.0", "max_id=-1",
           "max_id=abc", f"max_id={MAX_ID + 1}", "max_id=" + "9" * 40, "since_id=abc", "since_id=0",
           "cursor=garbage", "cursor=", f"cursor=x&max_id={tweet_id}"]
    for path in ("/users/alice/tweets", "/users/alice/followers", "/users/alice/following"):
        for query in bad:
            reply = api.get(f"{path}?{query}")
            assert reply.status == 400, (path, query, reply.body)
            assert_error(reply, 400, None, f"{path}?{query}")
    for path in ("/users/alice/followers", "/users/alice/following"):
        assert_error(api.get(f"{path}?max_id={tweet_id}"), 400, "invalid_request", path)
        assert_error(api.get(f"{path}?since_id={tweet_id}"), 400, "invalid_request", path)


def test_unknown_query_parameters_are_refused(api, alice):
    """Like unknown body fields: a misspelt parameter is an error, not an
    ignored filter (the documented ones: chalicelib.web.openapi)."""
    _, tweet_id = alice
    error = assert_error(api.get("/users/alice/tweets?foo=bar&limit=5&LIMIT=abc"), 400, "invalid_request")
    assert error["message"] == "Unknown query parameter(s): LIMIT, foo."
    assert assert_error(api.get("/health?x=1"), 400)
    assert [t["id"] for t in api.get("/users/alice/tweets?limit=5").json["data"]] == [tweet_id]


# --- random input at every route ---------------------------------------------------------------

def all_routes():
    return sorted((path, method) for path, methods in app.routes.items() for method in methods)


# Text that may hold lone surrogates: JSON can spell them ("\\ud800"), text cannot.
any_text = st.lists(st.characters() | st.integers(0xD800, 0xDFFF).map(chr), max_size=30).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)
FIELD_NAMES = ["text", "handle", "password", "display_name", "reply_to_id", "quote_of_id", "id", "bio"]
json_bodies = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=4),
    st.fixed_dictionaries({"text": st.text(max_size=300) | any_text},
                          optional={"reply_to_id": st.text(alphabet="0123456789", max_size=20) | json_values,
                                    "quote_of_id": st.text(alphabet="0123456789", max_size=20)}),
    st.fixed_dictionaries({"handle": st.text(max_size=20), "password": st.text(max_size=20)},
                          optional={"display_name": any_text | json_values}),
)
raw_bodies = st.binary(max_size=200) | json_bodies.map(lambda v: json.dumps(v).encode())
path_values = st.one_of(st.sampled_from(["alice", "ALICE", "nobody", "0", "-1", str(MAX_ID), "1" * 30]),
                        st.text(min_size=1, max_size=25))
query_values = st.one_of(st.text(max_size=30), st.integers(-10, 10**20).map(str),
                         st.sampled_from(["", "0", "1", "100", "101", str(MAX_ID), "garbage.cursor"]))
queries = st.dictionaries(st.sampled_from(["limit", "max_id", "since_id", "cursor", "q", "ranked"]),
                          query_values, max_size=4)


def fill(path, values):
    names = re.findall(r"\{([^}]+)\}", path)
    for name, value in zip(names, values, strict=False):
        path = path.replace("{" + name + "}", quote(value, safe=""), 1)
    return path


def assert_never_500(reply, what):
    assert reply.status < 500, (what, reply.status, reply.body[:300])
    assert b"Traceback" not in reply.body
    if reply.status >= 400:
        assert_error(reply, reply.status, None, what)
    elif reply.body:
        media = reply.headers.get("content-type", "application/json").split(";")[0]
        if media == "application/json":
            json.loads(reply.body)
        else:  # the docs page and its assets (chalicelib.web.docs)
            assert media in ("text/html", "text/css", "application/javascript"), what


@pytest.mark.slow  # fuzzes every route; its coverage checks need all 120 examples
def test_random_bodies_at_every_route(api, alice):
    token, tweet_id = alice
    routes = all_routes()

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(route=st.sampled_from(routes), body=raw_bodies, authed=st.booleans(),
           use_real_ids=st.booleans(), values=st.lists(path_values, min_size=2, max_size=2))
    def check(route, body, authed, use_real_ids, values):
        path, method = route
        if use_real_ids:
            values = ["alice" if "handle" in name else tweet_id for name in re.findall(r"\{([^}]+)\}", path)]
        url = fill(path, values)
        reply = api.request(method, url, raw=body, token=token if authed else None)
        assert_never_500(reply, f"{method} {url} {body[:80]!r}")
        seen.add((route, reply.status // 100))

    seen = set()
    check()
    # Not vacuous: the requests reached views and got both answers.
    assert {status for _, status in seen} >= {2, 4}
    assert len({route for route, _ in seen}) >= len(routes) // 2


@pytest.mark.slow  # fuzzes every route; its coverage checks need all 120 examples
def test_random_query_strings_at_every_route(api, alice):
    token, tweet_id = alice
    routes = [(p, m) for p, m in all_routes() if m == "GET"]

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(route=st.sampled_from(routes), params=queries, raw_query=st.text(max_size=40),
           use_raw=st.booleans(), values=st.lists(path_values, min_size=2, max_size=2),
           use_real_ids=st.booleans())
    def check(route, params, raw_query, use_raw, values, use_real_ids):
        path, method = route
        if use_real_ids:
            values = ["alice" if "handle" in name else tweet_id for name in re.findall(r"\{([^}]+)\}", path)]
        query = quote(raw_query, safe="=&") if use_raw else urlencode(params)
        url = f"{fill(path, values)}?{query}"
        reply = api.request(method, url, token=token)
        assert_never_500(reply, f"{method} {url}")
        seen.add((route, reply.status // 100))

    seen = set()
    check()
    assert {status for _, status in seen} >= {2, 4}
    assert len({route for route, _ in seen}) >= len(routes) // 2
