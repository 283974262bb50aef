"""Structured logs: one line per event, with the Lambda context and Chirp's keys.

Chirp's modules log through the standard library under `chirp.*`; this
module gives the `chirp` logger Powertools' formatter, so every line of an
invocation carries the Lambda context (request id, function name, cold
start) and the keys bound for it with `bind`: the caller's user id, the
tweet id, a stream record's sequence number and event name, a job's kind.
The Lambda context and the one line per API request come from the HTTP
edge's middleware (chalicelib.web.access_log). The level comes from LOG_LEVEL; the
format from LOG_FORMAT: `json` (what Lambda writes to CloudWatch) or `text`
(one readable line, for the local stack).

Nothing here logs a request's or an event's body: bodies hold passwords,
tokens and other people's data. Keys are ids, names and numbers only.
"""
import json
import logging
import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from chalicelib import settings

# The keys Powertools adds that a person reading the local console does not need.
_TEXT_SKIPS = {"level", "location", "message", "timestamp", "service", "cold_start", "function_memory_size",
               "function_arn", "function_name", "function_request_id", "xray_trace_id", "sampling_rate"}


class TextFormatter(LambdaPowertoolsFormatter):
    """`12:03:04 INFO message  key=value ...`: Powertools' fields, one line."""

    def format(self, record: logging.LogRecord) -> str:
        fields = json.loads(super().format(record))
        keys = " ".join(f"{k}={v}" for k, v in fields.items() if k not in _TEXT_SKIPS and v is not None)
        line = f"{time.strftime('%H:%M:%S', time.localtime(record.created))} {record.levelname:<7} " \
               f"{record.name.removeprefix('chirp.') or 'chirp'}: {fields.get('message')}"
        return f"{line}  {keys}" if keys else line


# Made when app.py imports the HTTP edge, before app.py makes its Chalice app,
# whose logger is `chirp` too: Chalice then finds it configured and leaves its
# handler and level alone (it would set ERROR, and add a plain-text handler).
logger = Logger(service="chirp", level=settings.LOG_LEVEL, utc=True,
                logger_formatter=TextFormatter() if settings.LOG_FORMAT == "text" else None)


def bind(**keys: Any) -> None:
    """Adds keys to every line of this invocation from here on (None: left
    out). Per thread: the local stack runs requests and the event pump in
    threads of one process, where Lambda runs one invocation per process."""
    logger.thread_safe_append_keys(**{name: value for name, value in keys.items() if value is not None})


def begin() -> None:
    """A new invocation: the keys the last one bound are gone."""
    logger.thread_safe_clear_keys()
