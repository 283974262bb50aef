"""API Gateway's own answers, in the contract's error shape, and its HTTP edge.

Some requests never reach the Lambda function: an unknown route, a missing
or rejected bearer token, a body over the gateway's limit, a request that
is not well-formed HTTP. On AWS the GatewayResponses in infra/ shape those
answers; here ContractGateway (a chalice.local.LocalGateway) and
ContractRequestHandler (the local server's HTTP handler) do the same for
the local server and the tests. Both answer from deploy.gateway_responses
(GATEWAY_ERRORS): nothing here answers in HTML or leaves a traceback.

How API Gateway (REST API) behaves, and where that is only our best guess,
is said next to each rule. Sources: the REST API quotas and "important
notes" pages of the API Gateway developer guide (URL length, header size,
10 MB payload; `;` splitting query strings); Powertools for AWS Lambda's
end-to-end tests against real APIs (tests/e2e/event_handler/
test_paths_ending_with_slash.py: a REST API routes `/todos/` to `/todos`,
an HTTP API answers 404); chalice's own issues #65 and #588 (trailing
slashes work on AWS; an empty `{param}` matches nothing); live proxy events
captured by hotsock/voker (vokerhttp/testdata/apigwv1-request.json: the path
and `{proxy+}` still percent-encoded, the query decoded, `+` a space,
repeated keys in multiValueQueryStringParameters, the last in
queryStringParameters); an AWS maintainer in
CodeGenieApp/serverless-express#167 ("API Gateway does not support chunked
transfer"). What AWS's front door (CloudFront, for an edge-optimized API)
answers to malformed HTTP is not documented: those answers are ours.
"""
import functools
import re
import socket
import sys
import time
from collections.abc import Callable
from socketserver import BaseServer
from urllib.parse import parse_qs

from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LambdaEventConverter,
    LocalChalice,
    LocalDevServer,
    LocalGateway,
    LocalGatewayException,
    MatchResult,
    NotAuthorizedError,
    RouteMatcher,
    ThreadedHTTPServer,
)

from chalicelib.settings import GATEWAY_MAX_BODY_BYTES, GATEWAY_MAX_HEADER_BYTES, GATEWAY_MAX_URL_CHARS
from deploy.gateway_responses import gateway_response

# The methods an API Gateway resource can define (ANY stands for these).
GATEWAY_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

READ_TIMEOUT_SECONDS = 10.0  # every read within a request: a stalled request is answered, not waited on
# How long a kept-alive connection may sit idle between requests. AWS does not document API Gateway's;
# 60 s is an ALB's default, and longer than any client pool here keeps one unused.
IDLE_TIMEOUT_SECONDS = 60.0
LINGER_SECONDS = 2.0  # how long a refused request's unread bytes are drained before the socket closes
LISTEN_BACKLOG = 1024  # socketserver's default is 5: a burst of new connections was reset

# method SP origin-form request target SP HTTP/1.x: what API Gateway serves (no HTTP/0.9, no HTTP/2
# over cleartext, no absolute-form or `*` target). The target is visible ASCII without `#`.
_REQUEST_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+) (/[\x21\x22\x24-\x7e]*) HTTP/1\.[0-9]\r?\n")
_DIGITS = re.compile(r"[0-9]+")


class GatewayError(Exception):
    def __init__(self, response_type: str):
        super().__init__(response_type)
        self.response_type = response_type


class ContractRouteMatcher(RouteMatcher):
    """chalice's route matcher, with API Gateway's (REST API) reading of a path.

    - One trailing slash is ignored (`/tweets/` is `/tweets`): REST APIs route
      both to the resource; HTTP APIs do not, and chalice deploys a REST API.
    - An empty segment matches nothing (`/tweets//like`, `//health`,
      `/tweets//`): a resource's path part is never empty, and API Gateway
      does not fill a `{param}` with an empty string. (Whether it collapses
      `//` first is not documented; answering 404 is the conservative guess.)
    - `;` is an ordinary character of a segment: `/tweets;x=1` is not
      `/tweets` (chalice's urlparse cut it off as "params"; API Gateway knows no
      matrix parameters, and `;` is not allowed in a resource's path part).
    - Path parameters arrive as sent, still percent-encoded (`/hashtags/%23aws/tweets`
      gives `tag` = `%23aws`), as a REST API's proxy event carries them.
    - The query string is decoded (`+` is a space), every value of a repeated
      key kept in order (multiValueQueryStringParameters; chalice's
      `query_params[key]` is the last, as queryStringParameters is), blank
      values kept; `;` separates parameters too, as API Gateway's "important
      notes" warn it does for REST APIs.
    - Captures do not leak from a route that failed to match into the next.
    """

    def match_route(self, url: str) -> MatchResult:
        path, _, query = url.partition("?")
        query_params = parse_qs(query.replace(";", "&"), keep_blank_values=True)
        if path != "/" and path.endswith("/"):
            path = path[:-1]
        parts = path.split("/")
        if path != "/" and "" in parts[1:]:
            raise ValueError(f"No matching route found for: {url}")
        for route_url in self.route_urls:
            route_parts = route_url.split("/")
            if len(route_parts) != len(parts):
                continue
            captured = {}
            for given, wanted in zip(parts, route_parts, strict=True):
                if wanted.startswith("{") and wanted.endswith("}"):
                    captured[wanted[1:-1]] = given
                elif given != wanted:
                    break
            else:
                return MatchResult(route_url, captured, query_params)
        raise ValueError(f"No matching route found for: {url}")


class ContractGateway(LocalGateway):
    """chalice's LocalGateway with API Gateway's routing and error answers."""

    def __init__(self, app_object, config: Config):
        super().__init__(app_object, config)
        self.event_converter = LambdaEventConverter(ContractRouteMatcher(list(app_object.routes)),
                                                    app_object.api.binary_types)

    def _generate_lambda_event(self, method, path, headers, body):
        try:
            event = super()._generate_lambda_event(method, path, headers, body)
        except ValueError:
            raise GatewayError("MISSING_AUTHENTICATION_TOKEN") from None
        # API Gateway treats a method a resource does not define like an
        # unknown route (it never reaches Lambda), so do the same here.
        # OPTIONS included: without CORS, a resource has no OPTIONS method and
        # API Gateway answers it "Missing Authentication Token" like any
        # other; with CORS, `chalice deploy` adds a MOCK OPTIONS method, and
        # chalice.local answers the preflight as it does.
        methods = self._app_object.routes[event["requestContext"]["resourcePath"]]
        if method not in methods and not (
                method == "OPTIONS" and any(view.cors for view in methods.values())):
            raise GatewayError("MISSING_AUTHENTICATION_TOKEN")
        return event

    def handle_request(self, method, path, headers, body):
        if body is not None and len(body) > GATEWAY_MAX_BODY_BYTES:
            return gateway_response("REQUEST_TOO_LARGE")
        try:
            return super().handle_request(method, path, headers, body)
        except GatewayError as exc:
            return gateway_response(exc.response_type)
        except NotAuthorizedError:
            return gateway_response("UNAUTHORIZED")
        except LocalGatewayException as exc:
            return gateway_response("ACCESS_DENIED" if exc.CODE == 403 else "DEFAULT_5XX")
        except Exception as exc:  # raised by the authorizer, as on AWS
            return gateway_response("UNAUTHORIZED" if str(exc) == "Unauthorized" else "AUTHORIZER_FAILURE")


class _Refused(Exception):
    """A request the HTTP edge answers itself, with `response_type`."""

    def __init__(self, response_type: str):
        super().__init__(response_type)
        self.response_type = response_type


# What Python's http.server would answer with send_error, as API Gateway's responses.
_SEND_ERROR_TYPES = {404: "MISSING_AUTHENTICATION_TOKEN", 405: "MISSING_AUTHENTICATION_TOKEN",
                     501: "MISSING_AUTHENTICATION_TOKEN", 413: "REQUEST_TOO_LARGE",
                     414: "REQUEST_TOO_LARGE", 431: "REQUEST_TOO_LARGE"}


class ContractRequestHandler(ChaliceRequestHandler):
    """The local server's HTTP/1.1 handler: chalice's, with API Gateway's edge.

    What the gateway answers itself, always in the contract's JSON shape, the
    connection closed after it (what was not read of the request is drained
    first, so the answer is not lost to a reset):

    - a request line that is not `METHOD /target HTTP/1.x` (HTTP/0.9, HTTP/2,
      an absolute or `*` target, a target with spaces, `#` or non-ASCII,
      garbage): 400 (DEFAULT_4XX);
    - a request target over 8192 characters, a header section over 10240
      bytes or over 100 headers, a line over 64 KiB, a body over 10 MiB
      (refused before it is read, `Expect: 100-continue` included): 413
      (REQUEST_TOO_LARGE). HTTP has 414 and 431 for the first ones, but API
      Gateway has no response type for them, and the contract pairs each
      code with one status: payload_too_large is 413;
    - a malformed header section, a Content-Length that is not one decimal
      number, any Transfer-Encoding (chalice.local reads no chunked body, and
      API Gateway does not support chunked transfer), a body shorter than its
      Content-Length (the client closed, or sent nothing for
      READ_TIMEOUT_SECONDS): 400 (DEFAULT_4XX);
    - a method API Gateway does not have (FOO, PROPFIND, TRACE, CONNECT, a
      lower-case get): 404, like a method the resource does not define
      (MISSING_AUTHENTICATION_TOKEN). What AWS's front door answers these is
      not documented; this keeps one answer for "no such method".

    Every read has a timeout: a client that stalls mid-request is answered
    400 after READ_TIMEOUT_SECONDS; a kept-alive connection idle for
    IDLE_TIMEOUT_SECONDS before its next request is closed.

    `on_response(status)`, if given, hears of every answer sent (the local
    stack counts them: devstack.run_metrics)."""

    timeout = READ_TIMEOUT_SECONDS  # StreamRequestHandler puts it on the socket: every read is bounded
    idle_timeout = IDLE_TIMEOUT_SECONDS
    default_request_version = "HTTP/1.0"  # so even an answer to garbage has a status line and headers

    def __init__(self, request, client_address, server, app_object, config,
                 on_response: Callable[[int], None] | None = None,
                 read_timeout: float | None = None):
        self.local_gateway = ContractGateway(app_object, config)
        self.on_response = on_response
        if read_timeout is not None:
            self.timeout = read_timeout
        self._body: bytes | None = None
        self._unread_input = False
        # Skip ChaliceRequestHandler.__init__, which would build a plain gateway.
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)

    # --- one request --------------------------------------------------------------------------

    def handle_one_request(self):
        self._body, self._unread_input, self._expects_continue = None, False, False
        self.command, self.request_version = None, self.default_request_version
        try:
            if not self._read_request_head():
                self.close_connection = True
                return
            if self.command not in GATEWAY_METHODS:
                raise _Refused("MISSING_AUTHENTICATION_TOKEN")
            self._read_body()
            self._generic_handle()
            self.wfile.flush()
        except _Refused as refused:
            self._refuse(refused.response_type)
        except (ConnectionError, TimeoutError):  # the client went away, or stalled before a request
            self.close_connection = True

    def _read_request_head(self) -> bool:
        """Reads the request line and headers; False if there is no request
        (the client closed or stayed idle). Raises _Refused for a bad one."""
        try:
            self.connection.settimeout(self.idle_timeout)
            line = self.rfile.readline(65537)
            self.connection.settimeout(self.timeout)
            for _ in range(8):  # RFC 9112: ignore empty lines before a request line
                if line not in (b"\r\n", b"\n"):
                    break
                line = self.rfile.readline(65537)
        except (ConnectionError, TimeoutError):
            return False
        if not line:
            return False
        if len(line) > 65536:
            raise _Refused("REQUEST_TOO_LARGE")
        self.raw_requestline = line
        self.requestline = str(line, "iso-8859-1").rstrip("\r\n")
        match = _REQUEST_LINE.fullmatch(line)
        if match is None:
            raise _Refused("DEFAULT_4XX")
        target = match.group(2).decode("ascii")
        if len(target) > GATEWAY_MAX_URL_CHARS:
            raise _Refused("REQUEST_TOO_LARGE")
        try:
            parsed = self.parse_request()  # headers; answers what it refuses through send_error
        except (ConnectionError, TimeoutError):
            raise _Refused("DEFAULT_4XX") from None
        if not parsed:
            self._unread_input = True
            return False
        # http.server turns a leading `//` into `/`; API Gateway gets the path as sent.
        self.path = target
        size = sum(len(name) + len(value) + 4 for name, value in self.headers.raw_items()) + 2
        if size > GATEWAY_MAX_HEADER_BYTES:
            raise _Refused("REQUEST_TOO_LARGE")
        if self.headers.defects or self.headers.get_payload():  # a line that is no `name: value`
            raise _Refused("DEFAULT_4XX")
        return True

    def _read_body(self) -> None:
        if "Transfer-Encoding" in self.headers:
            raise _Refused("DEFAULT_4XX")
        lengths = {value.strip() for value in self.headers.get_all("Content-Length", [])}
        if not lengths:
            length = 0
        elif len(lengths) == 1 and _DIGITS.fullmatch(next(iter(lengths))):
            length = int(next(iter(lengths)))
        else:  # not a number, negative, or two different ones
            raise _Refused("DEFAULT_4XX")
        if length > GATEWAY_MAX_BODY_BYTES:  # refused before it is read, as API Gateway does
            raise _Refused("REQUEST_TOO_LARGE")
        if self._expects_continue:
            self.send_response_only(100)
            self.end_headers()
            self.wfile.flush()
        if length == 0:
            return
        chunks, missing = [], length
        try:
            while missing:
                chunk = self.rfile.read1(min(missing, 65536))
                if not chunk:
                    break
                chunks.append(chunk)
                missing -= len(chunk)
        except (ConnectionError, TimeoutError):
            pass
        if missing:  # shorter than its Content-Length: the client closed, or stalled
            raise _Refused("DEFAULT_4XX")
        self._body = b"".join(chunks)

    def _parse_payload(self):  # what chalice's _generic_handle reads: the body read above
        return dict(self.headers), self._body

    _expects_continue = False

    def handle_expect_100(self):
        # Answered (100 Continue, or a refusal) only once the body's length has been checked.
        self._expects_continue = True
        return True

    # --- answers ------------------------------------------------------------------------------

    def _refuse(self, response_type: str) -> None:
        """Answers a request the gateway refuses, then closes the connection
        (draining what the client still sends, in `finish`)."""
        response = gateway_response(response_type)
        self.close_connection = True
        self._unread_input = True
        headers = dict(response["headers"], Connection="close")
        try:
            self._send_http_response(response["statusCode"], headers, response["body"])
            self.wfile.flush()
        except (ConnectionError, TimeoutError):
            pass

    def send_error(self, code, message=None, explain=None):
        """http.server's HTML error page, as API Gateway's JSON answer."""
        if code >= 500 and code != 501:
            response_type = "DEFAULT_5XX"
        else:
            response_type = _SEND_ERROR_TYPES.get(code, "DEFAULT_4XX")
        self._refuse(response_type)

    def _send_http_response_with_body(self, code, headers, body):
        """chalice's, without a body for HEAD (which must not have one, or
        the client reads it as the next response)."""
        if not isinstance(body, bytes):
            body = body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        self._send_headers(headers)
        if self.command != "HEAD":
            self.wfile.write(body)

    def finish(self):
        super().finish()
        if self._unread_input:
            self._drain()

    def _drain(self) -> None:
        """A lingering close: closing a socket with unread bytes sends a
        reset, which can destroy the answer before the client reads it. So
        the answer's end is signalled (FIN) and what the client still sends
        is read and dropped, until it closes or LINGER_SECONDS pass."""
        deadline = time.monotonic() + LINGER_SECONDS
        try:
            self.connection.shutdown(socket.SHUT_WR)
            while (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(left)
                if not self.connection.recv(65536):
                    return
        except OSError:
            pass

    def log_request(self, code="-", size="-"):  # every answer, gateway errors included, passes here
        if self.on_response is not None and isinstance(code, int) and code >= 200:
            self.on_response(int(code))

    def log_message(self, format, *args):  # one quiet line per request
        pass


class ContractHTTPServer(ThreadedHTTPServer):
    """chalice's threaded server, with a listen backlog for bursts: with
    socketserver's 5, a burst of 20-200 new connections overflowed the
    kernel's accept queue, and a request whose body came in a second packet
    was reset (its SYN cookie no longer matched)."""

    request_queue_size = LISTEN_BACKLOG

    def handle_error(self, request, client_address):
        """A client that vanished mid-answer is no error worth a traceback;
        anything else still is (socketserver prints it)."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            BaseServer.handle_error(self, request, client_address)


def local_config() -> Config:
    return Config.create(chalice_stage="local", app_name="chirp", lambda_timeout=30)


def _thread_local_requests(app) -> None:
    """What chalice.local.create_local_server does: `app.current_request`
    becomes thread-local, so concurrent requests do not read each other's."""
    if not isinstance(app, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice


def make_server(app, host: str, port: int,
                on_response: Callable[[int], None] | None = None,
                read_timeout: float = READ_TIMEOUT_SECONDS) -> LocalDevServer:
    """A threaded HTTP server for `app` (as `chalice local` would serve it),
    answering gateway errors in the contract's shape; `on_response(status)`
    is called for every answer it sends; a client that stalls mid-request is
    answered after `read_timeout` seconds."""
    _thread_local_requests(app)
    handler = functools.partial(ContractRequestHandler, on_response=on_response, read_timeout=read_timeout)
    return LocalDevServer(app, local_config(), host, port, handler_cls=handler, server_cls=ContractHTTPServer)


def make_gateway(app) -> ContractGateway:
    """The same, without sockets (for tests)."""
    _thread_local_requests(app)
    return ContractGateway(app, local_config())
