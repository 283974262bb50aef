"""The local server's HTTP edge (devstack.gateway) behaves like API Gateway's:
bursts of concurrent connections are all answered, every malformed request
gets the contract's JSON error (never HTML, never a traceback), OPTIONS is a
method like any other, and paths are read as a REST API reads them.

One in-process server on a free loopback port, talked to over raw sockets
(what no HTTP client library would send). Nothing sleeps: every wait is on a
socket, a barrier or a thread, with a ceiling."""
import contextlib
import http.client
import json
import socket
import threading

import pytest
from chalice import Chalice

from devstack.gateway import GATEWAY_MAX_BODY_BYTES, make_gateway, make_server

READ_TIMEOUT = 0.5  # the server's, here: how long a stalled request is waited on
CEILING = 30  # how long the client waits for an answer: a ceiling, not an expectation
CONTRACT_ERRORS = {400: "invalid_request", 404: "not_found", 413: "payload_too_large", 401: "unauthorized"}


@pytest.fixture(scope="module")
def server():
    from app import app

    statuses: list[int] = []
    local = make_server(app, "127.0.0.1", 0, on_response=statuses.append, read_timeout=READ_TIMEOUT)
    thread = threading.Thread(target=local.server.serve_forever, daemon=True)
    thread.start()
    local.statuses = statuses
    local.port = local.server.server_address[1]
    yield local
    local.server.shutdown()
    local.server.server_close()
    thread.join(CEILING)


@pytest.fixture
def alice(server, fresh_tables):
    status, _, body = call(server, "POST", "/auth/signup", {"handle": "alice", "password": "correct horse"})
    assert status == 201, body
    return json.loads(body)["token"]


def connect(server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=CEILING)


def answer(sock: socket.socket, method: str = "GET") -> http.client.HTTPResponse:
    response = http.client.HTTPResponse(sock, method=method)
    response.begin()
    return response


def raw(server, data: bytes, method: str = "GET", half_close: bool = False):
    """Sends `data` on a new connection; returns the answer (status, headers,
    body) and whether the server then closed the connection."""
    with connect(server) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        response = answer(sock, method)
        body = response.read()
        closed = sock.recv(1) == b""  # waits for the server's FIN (or the ceiling)
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body, closed


def call(server, method, path, json_body=None, token=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=CEILING)
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=None if json_body is None else json.dumps(json_body), headers=sent)
    response = conn.getresponse()
    out = response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    conn.close()
    return out


def assert_contract_error(status, headers, body, wanted_status, what=""):
    assert status == wanted_status, (what, status, body)
    assert headers["content-type"] == "application/json", what
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message"} and error["message"], what
    assert error["code"] == CONTRACT_ERRORS[wanted_status], what


# --- load ------------------------------------------------------------------------------------------

def test_200_concurrent_requests_are_all_answered(server, alice, concurrent_api):
    """200 new connections at once, half of them with a body (those were the
    ones reset: socketserver's listen backlog of 5 overflowed, and a body's
    second packet failed its SYN cookie): every one gets a real HTTP answer."""
    token = alice
    kinds = ["GET /health", "GET /users/alice", "POST /tweets", "POST /tweets without a token"]
    n = 200
    barrier = threading.Barrier(n)
    outcomes: list[tuple[str, object]] = [("", None)] * n

    def one(i):
        kind = kinds[i % len(kinds)]
        method, path = kind.split()[:2]
        body = json.dumps({"text": f"burst {i}"}).encode() if method == "POST" else b""
        auth = f"Authorization: Bearer {token}\r\n" if kind == "POST /tweets" else ""
        request = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{auth}"
                   f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
        barrier.wait(CEILING)
        try:
            with connect(server) as sock:
                sock.sendall(request)
                response = answer(sock)
                response.read()
                outcomes[i] = (kind, response.status)
        except Exception as exc:  # noqa: BLE001 (what failed is the finding)
            outcomes[i] = (kind, f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(CEILING * 4)
    wanted = {"GET /health": 200, "GET /users/alice": 200, "POST /tweets": 201,
              "POST /tweets without a token": 401}
    failed = [(kind, got) for kind, got in outcomes if got != wanted[kind]]
    assert not failed, failed
    tweets = json.loads(call(server, "GET", "/users/alice/tweets?limit=100")[2])["data"]
    assert len(tweets) == n // len(kinds)


# --- malformed requests ----------------------------------------------------------------------------

LOGIN = b"POST /auth/login HTTP/1.1\r\nHost: x\r\n"  # a request line and a first header, for bodies
MALFORMED = {
    "Content-Length not a number": (LOGIN + b"Content-Length: abc\r\n\r\n{}", 400),
    "Content-Length negative": (LOGIN + b"Content-Length: -2\r\n\r\n{}", 400),
    "Content-Length signed": (LOGIN + b"Content-Length: +2\r\n\r\n{}", 400),
    "two Content-Lengths": (LOGIN + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400),
    "Content-Length over the limit": (LOGIN + b"Content-Length: %d\r\n\r\n" % (GATEWAY_MAX_BODY_BYTES + 1),
                                      413),
    "Content-Length of 30 digits": (LOGIN + b"Content-Length: " + b"9" * 30 + b"\r\n\r\n", 413),
    "Transfer-Encoding": (LOGIN + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 400),
    "garbage request line": (b"GARBAGE\r\n\r\n", 400),
    "request line with four words": (b"GET /health HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400),
    "two spaces": (b"GET  /health HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "HTTP/0.9": (b"GET /health\r\n", 400),
    "HTTP/2 over cleartext": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
    "bad HTTP version": (b"GET /health HTTP/one\r\nHost: x\r\n\r\n", 400),
    "absolute-form target": (b"GET http://x/health HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "target not starting with /": (b"GET health HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "non-ASCII in the target": ("GET /users/é HTTP/1.1\r\nHost: x\r\n\r\n".encode(), 400),
    "fragment in the target": (b"GET /health#top HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "header line without a colon": (b"GET /health HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", 400),
    "unknown method FOO": (b"FOO /health HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    "unknown method PROPFIND": (b"PROPFIND /tweets HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 404),
    "TRACE": (b"TRACE /health HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    "CONNECT": (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n", 400),
    "lower-case method": (b"get /health HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    "URL over 8192 characters": (b"GET /health?q=" + b"a" * 8192 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 413),
    "request line over 64 KiB": (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 413),
    "header section over 10240 bytes": (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10240
                                        + b"\r\n\r\n", 413),
    "header line over 64 KiB": (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000
                                + b"\r\n\r\n", 413),
    "over 100 headers": (b"GET /health HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(101))
                         + b"\r\n", 413),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_request_gets_the_contracts_json_and_the_connection_closes(server, case, capfd):
    data, wanted = MALFORMED[case]
    status, headers, body, closed = raw(server, data)
    assert_contract_error(status, headers, body, wanted, case)
    assert headers["connection"] == "close" and closed, case
    assert b"<html" not in body.lower()
    err = capfd.readouterr().err
    assert "Traceback" not in err, err


def test_a_body_shorter_than_its_content_length_is_answered_not_waited_on(server, capfd):
    """The server reads the body with a timeout: a client that sends less
    than it announced and waits is answered 400 after it (READ_TIMEOUT here);
    one that closes its side is answered at once."""
    short = LOGIN + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{}"
    for half_close in (False, True):
        status, headers, body, closed = raw(server, short, half_close=half_close)
        assert_contract_error(status, headers, body, 400, f"half_close={half_close}")
        assert closed
    with connect(server) as sock:  # headers that never end
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        response = answer(sock)
        assert_contract_error(response.status, {"content-type": response.getheader("Content-Type")},
                              response.read(), 400)
    assert "Traceback" not in capfd.readouterr().err


def test_a_refused_body_does_not_reset_the_answer(server):
    """Refused before its body is read (over 10 MiB), the client still
    sending: the server drains what comes before closing, so the 413 is
    read, not destroyed by a connection reset."""
    head = LOGIN + b"Content-Length: %d\r\n\r\n" % (GATEWAY_MAX_BODY_BYTES + 1)
    with connect(server) as sock:
        sock.sendall(head)
        with contextlib.suppress(OSError):  # the server may have stopped reading; the answer is what counts
            sock.sendall(b" " * (1024 * 1024))
        response = answer(sock)
        body = response.read()
    assert_contract_error(response.status, {"content-type": response.getheader("Content-Type")}, body, 413)


def test_expect_100_continue_is_answered_after_the_length_is_checked(server, alice):
    too_big = (b"POST /tweets HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n"
               % (GATEWAY_MAX_BODY_BYTES + 1))
    status, headers, body, closed = raw(server, too_big)  # no 100 Continue first: http.client would skip it
    assert_contract_error(status, headers, body, 413)
    with connect(server) as sock:
        payload = json.dumps({"text": "after a continue"}).encode()
        sock.sendall(b"POST /tweets HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     b"Content-Type: application/json\r\nAuthorization: Bearer %s\r\n"
                     b"Content-Length: %d\r\n\r\n" % (alice.encode(), len(payload)))
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):  # the 100's head, byte by byte: the rest is the answer
            interim += sock.recv(1)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim
        sock.sendall(payload)
        response = answer(sock)
        assert response.status == 201 and json.loads(response.read())["text"] == "after a continue"


def test_a_refusal_is_counted_as_an_answer(server):
    before = len(server.statuses)
    raw(server, b"GARBAGE\r\n\r\n")
    raw(server, b"FOO /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert server.statuses[before:] == [400, 404]


def test_keep_alive_survives_gateway_answers_and_head_has_no_body(server):
    """A route-level answer (404, 200, HEAD's) leaves the connection usable:
    three requests on one connection, HEAD's answer without a body."""
    with connect(server) as sock:
        sock.sendall(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        first = answer(sock)
        assert_contract_error(first.status, {"content-type": first.getheader("Content-Type")},
                              first.read(), 404)
        sock.sendall(b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n")
        head = answer(sock, "HEAD")
        assert head.status == 404 and int(head.getheader("Content-Length")) > 0 and head.read() == b""
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        last = answer(sock)
        assert last.status == 200 and json.loads(last.read()) == {"status": "ok"}


# --- OPTIONS ---------------------------------------------------------------------------------------

def test_options_is_an_undefined_method_like_any_other(server):
    """No Chirp route configures CORS, so no resource has an OPTIONS method:
    API Gateway answers OPTIONS "Missing Authentication Token", the
    contract's 404, preflight or not (chalice.local answered 200)."""
    from app import app

    for path in sorted(app.routes):
        concrete = path.replace("{tweet_id}", "1").replace("{handle}", "alice").replace("{tag}", "aws")
        status, headers, body = call(server, "OPTIONS", concrete,
                                     headers={"Origin": "http://example.com",
                                              "Access-Control-Request-Method": "POST"})
        assert_contract_error(status, headers, body, 404, path)
        assert not any(h.startswith("access-control-") for h in headers), path


def test_options_is_answered_where_a_route_has_cors():
    """Where a route does configure CORS, `chalice deploy` gives its resource
    an OPTIONS method, and the preflight is answered as chalice.local does."""
    app = Chalice(app_name="cors")

    @app.route("/open", methods=["GET"], cors=True)
    def open_():
        return {}

    @app.route("/closed", methods=["GET"])
    def closed():
        return {}

    gateway = make_gateway(app)
    preflight = gateway.handle_request("OPTIONS", "/open", {"origin": "http://example.com"}, None)
    assert preflight["statusCode"] == 200
    assert preflight["headers"]["Access-Control-Allow-Methods"] == "GET,OPTIONS"
    assert gateway.handle_request("OPTIONS", "/closed", {}, None)["statusCode"] == 404


# --- paths and query strings -----------------------------------------------------------------------

def test_paths_match_as_api_gateway_matches_them(server, alice, pump):
    token = alice
    status, _, body = call(server, "POST", "/tweets", {"text": "hello #aws"}, token=token)
    assert status == 201
    tweet_id = json.loads(body)["id"]
    # One trailing slash is the same resource (REST APIs route both).
    for path in ("/health/", f"/tweets/{tweet_id}/", "/users/alice/", "/users/alice/tweets/"):
        assert call(server, "GET", path)[0] == 200, path
    assert call(server, "GET", "/me/", token=token)[0] == 200
    # Empty segments, `;` and anything else that names no resource: the contract's 404.
    for path in ("//health", "/health//", "//", f"/tweets//{tweet_id}", f"/tweets/{tweet_id}//",
                 "/tweets//like", "/health;x=1", "/health;", "/users/alice;v=1", f"/tweets/{tweet_id};x",
                 "/users/alice/tweets;limit=1", "/HEALTH", "/heal%74h", "/health/%2F",
                 "/users/alice%2Ftweets"):
        assert_contract_error(*call(server, "GET", path), 404, path)
    assert_contract_error(*call(server, "POST", "/tweets//", {"text": "x"}, token=token), 404)
    # A percent-encoded path parameter reaches the app as sent (the app decodes a hashtag's `%23`).
    pump.drain()
    for path in ("/hashtags/%23aws/tweets", "/hashtags/aws/tweets", "/hashtags/%23aws/tweets/"):
        status, _, body = call(server, "GET", path)
        assert status == 200 and [t["id"] for t in json.loads(body)["data"]] == [tweet_id], path


def test_the_lambda_event_carries_the_path_and_query_as_api_gateway_does():
    from app import app

    convert = make_gateway(app).event_converter.create_lambda_event
    event = convert("GET", "/users/a%20b/tweets/?limit=5&limit=7&q=a+b%2Bc&flag&empty=;semi=1", {}, None)
    assert event["requestContext"]["resourcePath"] == "/users/{handle}/tweets"
    assert event["requestContext"]["path"] == "/users/a%20b/tweets/"  # as sent, trailing slash and all
    assert event["pathParameters"] == {"handle": "a%20b"}  # not decoded, as a REST API's proxy event
    assert event["multiValueQueryStringParameters"] == {
        "limit": ["5", "7"], "q": ["a b+c"], "flag": [""], "empty": [""], "semi": ["1"]}
    assert convert("GET", "/health", {}, None)["multiValueQueryStringParameters"] is None
    # No capture leaks from a route that failed to match into the one that did.
    assert convert("DELETE", "/tweets/5/like", {}, None)["pathParameters"] == {"tweet_id": "5"}


def test_the_last_of_a_repeated_query_parameter_is_the_one_read(server, alice):
    """queryStringParameters holds the last value of a repeated key; so
    does chalice's `query_params[key]`, which the app reads."""
    assert_contract_error(*call(server, "GET", "/users/alice/tweets?limit=5&limit=abc"), 400)
    assert call(server, "GET", "/users/alice/tweets?limit=abc&limit=5")[0] == 200
