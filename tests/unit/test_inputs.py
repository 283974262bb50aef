"""Validating what clients send: JSON bodies, handles, passwords, display
names, ids, tweet text and idempotency keys."""
import json
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import settings as chirp_settings
from chalicelib.errors import DomainError
from chalicelib.storage.ids import MAX_ID
from chalicelib.tweets import tweets
from chalicelib.web import errors, inputs
from tests import profiles
from tests.conformance.twitter_text_adapters import is_valid_tweet

ALLOWED = {"handle", "password", "display_name"}
REQUIRED = {"handle", "password"}
HANDLE_DEFINITION = re.compile(r"[A-Za-z0-9_]{1,15}")


def rejected(call, status=400, code="invalid_request"):
    """Asserts the answer a client gets: the HTTP edge raises ApiError, the
    domain its own refusal, which the edge maps (chalicelib.web.errors)."""
    with pytest.raises((errors.ApiError, DomainError)) as caught:
        call()
    answer = caught.value if isinstance(caught.value, errors.ApiError) else errors.api_error(caught.value)
    assert (answer.status, answer.code) == (status, code)
    assert answer.message
    return answer


def body(obj) -> bytes:
    return json.dumps(obj).encode()


# --- json_object -----------------------------------------------------------------------

def test_json_object():
    raw = body({"handle": "alice", "password": "secret123"})
    assert inputs.json_object(raw, ALLOWED, REQUIRED) == {"handle": "alice", "password": "secret123"}


def test_optional_fields_may_be_absent_or_null():
    raw = body({"handle": "a", "password": "b", "display_name": None})
    assert inputs.json_object(raw, ALLOWED, REQUIRED)["display_name"] is None


@pytest.mark.parametrize("raw", [
    b"{", b"}", b"not json", b"{'handle': 'a'}", b'{"handle": "a",}', b"\xff\xfe\x00",
    b'{"handle": "\xff"}', b"\x00", b"{}{}",
    b'{"handle": "\\ud800", "password": "x"}',  # a lone surrogate is not text
    b'{"handle": "a", "password": "\\udfff\\ud800"}',
    b'{"\\ud800": 1}',
    b"[" * 5_000 + b"]" * 5_000,  # nesting deeper than the parser's recursion limit
    b'{"handle": ' + b"[" * 3_000 + b"]" * 3_000 + b"}",
])
def test_not_json(raw):
    error = rejected(lambda: inputs.json_object(raw, ALLOWED, REQUIRED), code="invalid_json")
    assert "JSON" in error.message


@pytest.mark.parametrize("raw", [None, b""])
def test_no_body(raw):
    rejected(lambda: inputs.json_object(raw, ALLOWED, REQUIRED), code="invalid_json")


@pytest.mark.parametrize("raw", [b"[]", b'["handle", "password"]', b'"a"', b"1", b"1.5", b"true",
                                 b"null", b' "{}" '])
def test_not_an_object(raw):
    error = rejected(lambda: inputs.json_object(raw, ALLOWED, REQUIRED), code="invalid_json")
    assert "object" in error.message


def test_valid_surrogate_pair_is_text():
    parsed = inputs.json_object(b'{"handle": "\\ud83d\\ude00", "password": "x"}', ALLOWED, REQUIRED)
    assert parsed["handle"] == "😀"


def test_body_at_the_limit_is_read():
    raw = body({"handle": "a", "password": "p" * (chirp_settings.MAX_BODY_BYTES - 40)})
    raw += b" " * (chirp_settings.MAX_BODY_BYTES - len(raw))
    assert len(raw) == chirp_settings.MAX_BODY_BYTES
    assert inputs.json_object(raw, ALLOWED, REQUIRED)["handle"] == "a"


def test_body_over_the_limit_is_413():
    raw = body({"handle": "a", "password": "p" * chirp_settings.MAX_BODY_BYTES})
    error = rejected(lambda: inputs.json_object(raw, ALLOWED, REQUIRED), 413, "payload_too_large")
    assert str(chirp_settings.MAX_BODY_BYTES) in error.message


def test_oversized_garbage_is_413_not_400():
    raw = b"x" * (chirp_settings.MAX_BODY_BYTES + 1)
    rejected(lambda: inputs.json_object(raw, ALLOWED, REQUIRED), 413, "payload_too_large")


@pytest.mark.parametrize("field", ["id", "author", "counts", "created_at", "followers_count", "Handle"])
def test_unknown_or_server_owned_fields(field):
    raw = body({"handle": "a", "password": "b", field: "x"})
    error = rejected(lambda: inputs.json_object(raw, ALLOWED, REQUIRED))
    assert field in error.message


def test_every_unknown_field_is_named():
    raw = body({"handle": "a", "password": "b", "zz": 1, "id": 2})
    assert rejected(lambda: inputs.json_object(raw, ALLOWED, REQUIRED)).message.endswith("id, zz.")


@pytest.mark.parametrize("obj, missing", [
    ({}, "handle, password"),
    ({"handle": "a"}, "password"),
    ({"password": "b"}, "handle"),
    ({"handle": None, "password": "b"}, "handle"),
])
def test_missing_fields(obj, missing):
    error = rejected(lambda: inputs.json_object(body(obj), ALLOWED, REQUIRED))
    assert error.message == f"Missing required field(s): {missing}."


# --- handles -------------------------------------------------------------------------------

@pytest.mark.parametrize("handle", ["a", "Z", "_", "0", "alice", "Alice_99", "a" * 15, "___", "9" * 15])
def test_good_handles(handle):
    assert inputs.handle_field(handle) == handle


@pytest.mark.parametrize("handle", [
    "", "a" * 16, "al ice", "alice!", "al-ice", "al.ice", "@alice", "ålice", "аlice",  # Cyrillic а
    "alice\n", "\nalice", "ａｌｉｃｅ", "alice\x00", "١٢", None, 5, ["alice"], {"h": 1}, True,
])
def test_bad_handles(handle):
    error = rejected(lambda: inputs.handle_field(handle))
    assert "`handle`" in error.message


@settings(max_examples=profiles.examples(500))
@given(st.one_of(st.text(max_size=20), st.from_regex(HANDLE_DEFINITION, fullmatch=True),
                 st.text(alphabet="abcXYZ019_ -é\n", max_size=17)))
def test_handle_validation_equals_the_definition(text):
    """1 to 15 of [A-Za-z0-9_], exactly: what the regex accepts and nothing else."""
    valid = HANDLE_DEFINITION.fullmatch(text) is not None
    assert valid == (1 <= len(text) <= 15 and all(c in
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_" for c in text))
    if valid:
        assert inputs.handle_field(text) == text
        assert inputs.path_handle(text) == text
    else:
        rejected(lambda: inputs.handle_field(text))
        rejected(lambda: inputs.path_handle(text), 404, "not_found")


# --- passwords -----------------------------------------------------------------------------

@pytest.mark.parametrize("password", ["12345678", "p" * 256, "        ", "пароль12", "🔑" * 8])
def test_good_passwords(password):
    assert inputs.password_field({"password": password}) == password


@pytest.mark.parametrize("password", ["", "1234567", "p" * 257, "🔑" * 7])
def test_password_length(password):
    error = rejected(lambda: inputs.password_field({"password": password}))
    assert "8 to 256" in error.message


@pytest.mark.parametrize("password", [None, 12345678, ["12345678"], True])
def test_password_must_be_a_string(password):
    rejected(lambda: inputs.password_field({"password": password}))


# --- display names -------------------------------------------------------------------------

def test_display_name_absent_is_none():
    assert inputs.display_name_field({}) is None
    assert inputs.display_name_field({"display_name": None}) is None


@pytest.mark.parametrize("name, stored", [
    ("Alice", "Alice"), ("  Alice  ", "Alice"), ("Zoë 🐦", "Zoë 🐦"), ("x" * 50, "x" * 50), ("李", "李"),
])
def test_good_display_names(name, stored):
    assert inputs.display_name_field({"display_name": name}) == stored


@pytest.mark.parametrize("name", [
    "", "   ", "x" * 51, "a\x00b", "a\nb", "a\tb", "a\x7fb", "\x1b[31mred", 5, ["Alice"], True,
])
def test_bad_display_names(name):
    error = rejected(lambda: inputs.display_name_field({"display_name": name}))
    assert "`display_name`" in error.message


# --- ids in bodies and paths --------------------------------------------------------------

def test_id_field():
    assert inputs.id_field({"reply_to_id": "911887782780350464"}, "reply_to_id") == 911887782780350464
    assert inputs.id_field({}, "reply_to_id") is None
    assert inputs.id_field({"reply_to_id": None}, "reply_to_id") is None


@pytest.mark.parametrize("value", [911887782780350464, 1.5, "abc", "", "0", "-5", str(MAX_ID + 1),
                                   ["1"], {"id": "1"}, True])
def test_bad_id_field(value):
    error = rejected(lambda: inputs.id_field({"reply_to_id": value}, "reply_to_id"))
    assert "`reply_to_id`" in error.message


@pytest.mark.parametrize("value", ["abc", "", "0", "-1", "1.0", str(MAX_ID + 1), "9" * 40, "%20"])
def test_path_id_that_names_nothing_is_404(value):
    error = rejected(lambda: inputs.path_id(value, "Tweet"), 404, "not_found")
    assert error.message == "Tweet not found."


# --- tweet text ----------------------------------------------------------------------------

LONG_URL = "https://example.com/" + "a" * 300  # weighs 23 however long


@pytest.mark.parametrize("text", ["a", "hello world", "x" * 280, "🐦" * 140, "李" * 140, " padded ",
                                  "line\nbreak", "é" * 280, LONG_URL + " " + "x" * 256])
def test_good_text_is_stored_as_sent(text):
    assert tweets.validate_text(text) == text


def test_length_counts_weighted_after_nfc():
    decomposed = "e\u0301" * 280  # 560 code points, 280 after NFC
    assert len(decomposed) == 560 and len(unicodedata.normalize("NFC", decomposed)) == 280
    assert tweets.validate_text(decomposed) == decomposed  # stored as sent, not normalised
    rejected(lambda: tweets.validate_text("e\u0301" * 281), code="invalid_text")


@pytest.mark.parametrize("text", ["x" * 281, "🐦" * 141, "李" * 141, "", " ", "   \n\t ", "\u3000", "a\x00",
                                  "\x00", "a\ufffe", "\ufeffhi", "x\uffff"])
def test_bad_text(text):
    rejected(lambda: tweets.validate_text(text), code="invalid_text")


def test_too_long_says_the_weight():
    error = rejected(lambda: tweets.validate_text("李" * 141), code="invalid_text")
    assert "282" in error.message and "280" in error.message


@pytest.mark.parametrize("text", [None, 5, ["hi"], {"text": "hi"}, True])
def test_text_must_be_a_string(text):
    error = rejected(lambda: tweets.validate_text(text))
    assert "`text`" in error.message


@given(st.text(max_size=300))
def test_text_rule(text):
    """Exactly the texts twitter-text calls valid tweets are accepted (and NUL, which nothing stores)."""
    valid = is_valid_tweet(text) and "\x00" not in text
    if valid:
        assert tweets.validate_text(text) == text
    else:
        rejected(lambda: tweets.validate_text(text), code="invalid_text")


# --- idempotency keys --------------------------------------------------------------------

@pytest.mark.parametrize("key", [None, "k", "2f1e7c1a-6d3b-4e2a-9c1f-0a1b2c3d4e5f", "x" * 255, "a b ~!"])
def test_good_idempotency_keys(key):
    assert tweets.validate_idempotency_key(key) == key


@pytest.mark.parametrize("key", ["", "x" * 256, "clé", "a\tb", "a\nb", "\x00"])
def test_bad_idempotency_keys(key):
    error = rejected(lambda: tweets.validate_idempotency_key(key))
    assert "Idempotency-Key" in error.message


def test_fingerprint_binds_every_field():
    base = tweets.NewTweet("hi")
    assert base.fingerprint() == tweets.NewTweet("hi").fingerprint()
    others = [tweets.NewTweet("hi!"), tweets.NewTweet("hi", reply_to_id=1),
              tweets.NewTweet("hi", quote_of_id=1)]
    assert len({base.fingerprint(), *(o.fingerprint() for o in others)}) == 4
