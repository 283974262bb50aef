"""The registry of background job kinds (chalicelib.storage.jobs)."""
import ast
import json
from pathlib import Path

import pytest

import app  # noqa: F401  (importing the app registers every kind, as in the deployed function)
from chalicelib.storage import jobs

CHALICELIB = Path(__file__).resolve().parents[2] / "chalicelib"


def sent_kinds() -> set[str]:
    """Every kind some module sends: the first argument of each jobs.send call."""
    kinds = set()
    for path in CHALICELIB.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            func = getattr(node, "func", None)
            if (isinstance(node, ast.Call) and isinstance(func, ast.Attribute) and func.attr == "send"
                    and isinstance(func.value, ast.Name) and func.value.id == "jobs"):
                first = node.args[0]
                if isinstance(first, ast.Constant):
                    kinds.add(first.value)
                else:  # celebrities sends its own kind by name: both are registered below
                    kinds.update({"promote", "demote"})
    return kinds


def test_every_kind_sent_has_a_handler_and_every_handler_is_sent():
    assert sent_kinds() == set(jobs.HANDLERS) == {
        "deliver", "retract", "rebuild", "promote", "demote", "drop-retweets", "drop-likes"}


def test_run_calls_the_kinds_handler_with_the_jobs_fields(monkeypatch):
    calls = []
    monkeypatch.setitem(jobs.HANDLERS, "test-kind", lambda **fields: calls.append(fields))
    jobs.run(json.dumps({"kind": "test-kind", "user_id": 7, "cursor": None}))
    assert calls == [{"user_id": 7, "cursor": None}]


def test_an_unknown_kind_fails_so_the_message_is_retried_then_dead_lettered():
    with pytest.raises(ValueError, match="unknown job kind 'nope'"):
        jobs.run(json.dumps({"kind": "nope"}))


def test_a_kind_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="registered twice"):
        jobs.handler("deliver")(lambda **_: None)
