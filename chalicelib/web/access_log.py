"""The middleware that puts every invocation in the logs and its metrics in
CloudWatch (chalicelib.observe)."""
import logging
import time

from chalice.app import ConvertToMiddleware

from chalicelib.observe import logs, metrics, traces
from chalicelib.observe.logs import logger

_inject = ConvertToMiddleware(logger.inject_lambda_context(clear_state=True))


def lambda_context(event, get_response):
    """Every handler, HTTP or event: the Lambda context on each line, the
    keys of the previous invocation dropped (a container runs many), its
    AWS calls traced (in Lambda), and the invocation's metrics written when
    it ends, whatever the outcome."""
    logs.begin()
    metrics.started()
    traces.begin()
    try:
        return _inject(event, get_response)
    finally:
        metrics.flush()

_access = logging.getLogger("chirp.access")


def access(event, get_response):
    """HTTP middleware: one line per request once it is answered (the route
    pattern, not the path: no query strings, no cursors), at ERROR for a 5xx.
    Chalice logs the stack of a view's unexpected exception itself, on the
    same logger, before it answers 500; what escapes the middleware is
    logged here with its stack."""
    started = time.perf_counter()

    def line(status: int, **kwargs) -> None:
        keys = {"method": event.method, "route": event.path, "status": status,
                "duration_ms": round(1000 * (time.perf_counter() - started), 1)}
        level = logging.ERROR if status >= 500 else logging.INFO
        _access.log(level, "%s %s %s", event.method, event.path, status, extra=keys, **kwargs)

    try:
        response = get_response(event)
    except Exception:
        line(500, exc_info=True)
        raise
    line(response.status_code)
    return response
