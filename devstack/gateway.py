"""API Gateway's own answers, in the contract's error shape.

Some requests never reach the Lambda function: an unknown route, a missing
or rejected bearer token, a body over the gateway's limit. On AWS the
GatewayResponses in infra/ shape those answers; here ContractGateway (a
chalice.local.LocalGateway) does the same for the local server and the
tests. Both answer from deploy.gateway_responses (GATEWAY_ERRORS).
"""
import functools
from collections.abc import Callable

from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LocalChalice,
    LocalDevServer,
    LocalGateway,
    LocalGatewayException,
    NotAuthorizedError,
)

from deploy.gateway_responses import gateway_response

GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


class GatewayError(Exception):
    def __init__(self, response_type: str):
        super().__init__(response_type)
        self.response_type = response_type


class ContractGateway(LocalGateway):
    """chalice's LocalGateway with API Gateway's error answers reshaped."""

    def _generate_lambda_event(self, method, path, headers, body):
        try:
            event = super()._generate_lambda_event(method, path, headers, body)
        except ValueError:
            raise GatewayError("MISSING_AUTHENTICATION_TOKEN") from None
        # API Gateway treats a method a resource does not define like an
        # unknown route (it never reaches Lambda), so do the same here.
        methods = self._app_object.routes[event["requestContext"]["resourcePath"]]
        if method not in methods and method != "OPTIONS":
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


class ContractRequestHandler(ChaliceRequestHandler):
    """`on_response(status)`, if given, hears of every answer sent (the
    local stack counts them: devstack.run_metrics)."""

    def __init__(self, request, client_address, server, app_object, config,
                 on_response: Callable[[int], None] | None = None):
        self.local_gateway = ContractGateway(app_object, config)
        self.on_response = on_response
        # Skip ChaliceRequestHandler.__init__, which would build a plain gateway.
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)

    def _contract_handle(self):
        # Refuse an oversized body before reading it, as API Gateway does.
        if int(self.headers.get("content-length") or 0) > GATEWAY_MAX_BODY_BYTES:
            response = gateway_response("REQUEST_TOO_LARGE")
            self.close_connection = True
            self._send_http_response(response["statusCode"], response["headers"], response["body"])
            return
        self._generic_handle()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _contract_handle

    def log_request(self, code="-", size="-"):  # every answer, gateway errors included, passes here
        if self.on_response is not None and isinstance(code, int):
            self.on_response(int(code))

    def log_message(self, format, *args):  # one quiet line per request
        pass


def local_config() -> Config:
    return Config.create(chalice_stage="local", app_name="chirp", lambda_timeout=30)


def _thread_local_requests(app) -> None:
    """What chalice.local.create_local_server does: `app.current_request`
    becomes thread-local, so concurrent requests do not read each other's."""
    if not isinstance(app, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice


def make_server(app, host: str, port: int,
                on_response: Callable[[int], None] | None = None) -> LocalDevServer:
    """A threaded HTTP server for `app` (as `chalice local` would serve it),
    answering gateway errors in the contract's shape; `on_response(status)`
    is called for every answer it sends."""
    _thread_local_requests(app)
    handler = functools.partial(ContractRequestHandler, on_response=on_response)
    return LocalDevServer(app, local_config(), host, port, handler_cls=handler)


def make_gateway(app) -> ContractGateway:
    """The same, without sockets (for tests)."""
    _thread_local_requests(app)
    return ContractGateway(app, local_config())
