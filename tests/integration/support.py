"""Helpers shared by the integration tests (imported, not fixtures)."""
import json
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager


class Lines(logging.Handler):
    """The `chirp` logger's lines, formatted when written, as on Lambda."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        from chalicelib.observe import logs

        self.lines.append(logs.logger.registered_formatter.format(record))

    @property
    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.lines]


@contextmanager
def logged_lines() -> Iterator[Lines]:
    handler = Lines()
    chirp = logging.getLogger("chirp")
    chirp.addHandler(handler)
    try:
        yield handler
    finally:
        chirp.removeHandler(handler)


def run_concurrently(calls):
    """Runs the zero-argument `calls` at once (released together by a
    barrier) and returns their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def assert_error(reply, status, code=None, what=""):
    """`reply` is an error in the contract's shape (and nothing else);
    `what` names the case in failure messages. Returns the error object."""
    assert reply.status == status, (what, reply.status, reply.body[:500])
    body = reply.json
    assert isinstance(body, dict) and set(body) == {"error"}, (what, body)
    assert set(body["error"]) == {"code", "message"}, (what, body)
    assert isinstance(body["error"]["code"], str) and body["error"]["code"], (what, body)
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], (what, body)
    if code is not None:
        assert body["error"]["code"] == code, (what, body)
    return body["error"]


def timeline_entries(user_id) -> list[str]:
    """The tweet ids materialised in a user's home timeline (the table, not
    the API: reading through the API would mark the reader active), newest
    first."""
    from chalicelib.storage.tables import TimelineModel

    return [str(int(e.tweet_id)) for e in TimelineModel.query(int(user_id), scan_index_forward=False,
                                                              consistent_read=True)]


def user_item(user_id):
    """The stored user item, with its home timeline bookkeeping."""
    from chalicelib.storage.tables import UserModel

    return UserModel.get(int(user_id), consistent_read=True)


def celebrity_followees(user_id) -> set[str]:
    return {str(int(c)) for c in user_item(user_id).celebrity_followees or ()}


def delivered_twice(name, handler):
    """A `pump_factory(wrap=...)` wrapper: every batch handled twice, as
    at-least-once delivery may (the second answer is the one reported)."""
    def invoke(event, context):
        handler(event, context)
        return handler(event, context)
    return invoke
