"""What an operator reads: every line JSON with the Lambda context and
Chirp's keys, one line per request and per failed record, and never a
password or a token (chalicelib.observe.logs)."""
import json
import logging

import pytest
from support import logged_lines


@pytest.fixture
def lines():
    with logged_lines() as handler:
        yield handler


def test_a_request_is_one_json_line_with_the_lambda_context_and_the_caller(api, make_user, make_tweet, lines):
    user, token = make_user()
    tweet = make_tweet(token, "logged")
    posted = [r for r in lines.records if r.get("route") == "/tweets" and r.get("method") == "POST"]
    assert len(posted) == 1
    line = posted[0]
    assert line["level"] == "INFO" and line["status"] == 201 and line["duration_ms"] >= 0
    assert line["service"] == "chirp" and line["function_request_id"] and "cold_start" in line
    assert line["user_id"] == int(user["id"]) and line["tweet_id"] == int(tweet["id"])


def test_keys_do_not_leak_from_one_request_into_the_next(api, make_user, make_tweet, lines):
    _, token = make_user()
    make_tweet(token)
    assert api.get("/health").status == 200
    health = [r for r in lines.records if r.get("route") == "/health"][-1]
    assert "user_id" not in health and "tweet_id" not in health


def test_no_password_or_token_is_ever_logged(api, make_user, lines, caplog):
    caplog.set_level(logging.DEBUG)
    password = "a very secret horse battery"
    user, token = make_user(password=password)
    login = api.post("/auth/login", {"handle": user["handle"], "password": password})
    assert login.status == 200
    assert api.get("/me", token=login.json["token"]).status == 200
    assert api.post("/auth/login", {"handle": user["handle"], "password": password + "!"}).status == 401
    written = "\n".join(lines.lines) + "\n".join(r.getMessage() for r in caplog.records)
    assert lines.lines  # the requests were logged
    for secret in (password, token, login.json["token"]):
        assert secret not in written


def test_a_failed_stream_record_is_one_line_saying_which_and_why(lines):
    from chalicelib.events import consumers

    def handle(record):
        raise ValueError("the item is malformed")

    record = {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "42", "Keys": {"id": {"N": "7"}}}}
    result = consumers.stream_batch({"Records": [record]}, handle)
    assert result == {"batchItemFailures": [{"itemIdentifier": "42"}]}
    failed = [r for r in lines.records if r["level"] == "ERROR"]
    assert len(failed) == 1
    assert failed[0]["sequence_number"] == "42" and failed[0]["event_name"] == "INSERT"
    assert "the item is malformed" in failed[0]["exception"]


def test_a_job_line_names_its_kind(lines, monkeypatch):
    from chalicelib.storage import jobs

    def job(**fields):
        logging.getLogger("chirp.test").info("ran")

    monkeypatch.setitem(jobs.HANDLERS, "test-kind", job)
    jobs.run(json.dumps({"kind": "test-kind"}))
    ran = [r for r in lines.records if r["message"] == "ran"]
    assert ran and ran[0]["job_kind"] == "test-kind"


def test_an_unexpected_failure_is_an_error_line_with_its_stack(api, make_user, lines, monkeypatch):
    import app

    user, token = make_user()

    def broken(user):
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(app, "user_json", broken)
    assert api.get("/me", token=token).status == 500
    failed = [r for r in lines.records if r.get("route") == "/me"]
    assert len(failed) == 1 and failed[0]["level"] == "ERROR" and failed[0]["status"] == 500
    # Chalice logs the stack (on the same logger) before it answers 500: the same invocation's lines
    stacks = [r for r in lines.records if "the disk is on fire" in r.get("exception", "")]
    assert len(stacks) == 1 and stacks[0]["level"] == "ERROR"
    assert stacks[0]["function_request_id"] == failed[0]["function_request_id"]
    assert stacks[0]["user_id"] == failed[0]["user_id"] == int(user["id"])


def test_a_failure_before_the_view_is_the_contracts_500_with_its_stack(api, make_user, lines, monkeypatch):
    """The token check (middleware, before any view) failing unexpectedly:
    not an invocation error (API Gateway's own 502), but the contract's 500."""
    from chalicelib.accounts import users

    _, token = make_user()

    def broken(user_id, consistent=False):
        raise RuntimeError("the table is on fire")

    monkeypatch.setattr(users, "find_by_id", broken)
    reply = api.get("/trends", token=token)
    assert reply.status == 500
    assert reply.json == {"error": {"code": "internal_error", "message": "An internal error occurred."}}
    failed = [r for r in lines.records if r.get("route") == "/trends"]
    assert len(failed) == 1 and failed[0]["status"] == 500
    stacks = [r for r in lines.records if "the table is on fire" in r.get("exception", "")]
    assert len(stacks) == 1 and stacks[0]["level"] == "ERROR"
    assert stacks[0]["function_request_id"] == failed[0]["function_request_id"]
