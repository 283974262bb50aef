"""Pagination: signed cursors, query parameter parsing, range conditions and
the meta block."""
import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import settings as chirp_settings
from chalicelib.storage import paging
from chalicelib.storage.ids import MAX_ID
from chalicelib.storage.paging import PageRequest
from chalicelib.storage.tables import TweetModel
from chalicelib.web import errors
from chalicelib.web.pages import (
    RankedRequest,
    decode_cursor,
    encode_cursor,
    is_ranked,
    page,
    page_request,
    ranked_page,
    ranked_request,
)
from tests import profiles

SCOPE = "user-tweets:911887782780350464"
OTHER_SCOPE = "user-tweets:911887782780350465"
ids = st.integers(1, MAX_ID)
scopes = st.text(min_size=1, max_size=40)


def rejected(call, code="invalid_request"):
    with pytest.raises(errors.ApiError) as caught:
        call()
    assert caught.value.status == 400
    assert caught.value.code == code
    assert caught.value.message
    return caught.value


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- cursors ---------------------------------------------------------------------

def test_cursor_round_trip():
    cursor = encode_cursor(SCOPE, 911887782780350464, None)
    assert decode_cursor(cursor, SCOPE) == (911887782780350464, None)
    cursor = encode_cursor(SCOPE, 911887782780350464, 900000000000000000)
    assert decode_cursor(cursor, SCOPE) == (911887782780350464, 900000000000000000)


def test_cursor_is_url_safe_and_opaque():
    cursor = encode_cursor(SCOPE, 911887782780350464, None)
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert "911887782780350464" not in cursor  # not a raw key a client could edit


@settings(max_examples=profiles.examples(200))
@given(scope=scopes, max_id=ids, since_id=st.none() | ids)
def test_cursor_round_trips_for_any_ids(scope, max_id, since_id):
    assert decode_cursor(encode_cursor(scope, max_id, since_id), scope) == (max_id, since_id)


@given(scope=scopes, other=scopes, max_id=ids, since_id=st.none() | ids)
def test_cursor_from_another_list_is_rejected(scope, other, max_id, since_id):
    if scope == other:
        return
    cursor = encode_cursor(scope, max_id, since_id)
    rejected(lambda: decode_cursor(cursor, other), "invalid_cursor")


def test_cursor_of_followers_is_not_a_cursor_of_following():
    cursor = encode_cursor("followers:7", 5, None)
    rejected(lambda: decode_cursor(cursor, "following:7"), "invalid_cursor")
    rejected(lambda: decode_cursor(cursor, "followers:8"), "invalid_cursor")
    assert decode_cursor(cursor, "followers:7") == (5, None)


def test_tampered_payload_is_rejected():
    cursor = encode_cursor(SCOPE, 911887782780350464, None)
    payload, signature = cursor.split(".")
    # A client rewrites the bounds (or the list) and keeps the signature.
    for forged in ([SCOPE, "999999999999999999", None], [OTHER_SCOPE, "911887782780350464", None],
                   [SCOPE, "911887782780350464", "1"]):
        forged_payload = b64(json.dumps(forged, separators=(",", ":")).encode())
        assert forged_payload != payload
        rejected(lambda p=forged_payload: decode_cursor(f"{p}.{signature}", SCOPE), "invalid_cursor")


def test_cursor_signed_with_another_key_is_rejected(monkeypatch):
    cursor = encode_cursor(SCOPE, 42, None)
    monkeypatch.setattr(chirp_settings, "JWT_SECRET", "another-key-that-is-long-enough-0123456789")
    rejected(lambda: decode_cursor(cursor, SCOPE), "invalid_cursor")
    assert decode_cursor(encode_cursor(SCOPE, 42, None), SCOPE) == (42, None)


@settings(max_examples=profiles.examples(300))
@given(data=st.data(), max_id=ids, since_id=st.none() | ids)
def test_any_mutated_cursor_is_rejected(data, max_id, since_id):
    cursor = encode_cursor(SCOPE, max_id, since_id)
    mutation = data.draw(st.sampled_from(["replace", "insert", "delete", "truncate", "append"]))
    position = data.draw(st.integers(0, len(cursor) - 1))
    char = data.draw(st.characters(codec="ascii"))
    if mutation == "replace":
        mutated = cursor[:position] + char + cursor[position + 1:]
    elif mutation == "insert":
        mutated = cursor[:position] + char + cursor[position:]
    elif mutation == "delete":
        mutated = cursor[:position] + cursor[position + 1:]
    elif mutation == "truncate":
        mutated = cursor[:position]
    else:
        mutated = cursor + char
    if mutated == cursor:
        return
    # Even a change that base64 would decode to the same bytes is refused:
    # the signature covers the cursor's text, not what it decodes to.
    rejected(lambda: decode_cursor(mutated, SCOPE), "invalid_cursor")


@pytest.mark.parametrize("garbage", [
    "", ".", "..", "a", "a.b", "a.b.c", "not a cursor", "%%%", "\x00", "é.é", "💥.💥",
    "eyJ9.AAAA", b64(b"[1,2,3]") + ".AAAAAAAAAAAAAAAAAAAAAA",
    "A" * 5000, "." * 100,
])
def test_garbage_cursor_is_rejected(garbage):
    rejected(lambda: decode_cursor(garbage, SCOPE), "invalid_cursor")


@given(st.text(max_size=200))
def test_random_text_is_never_a_cursor(text):
    rejected(lambda: decode_cursor(text, SCOPE), "invalid_cursor")


# --- page_request ------------------------------------------------------------------

def test_defaults():
    assert page_request(None, SCOPE) == PageRequest(limit=20, max_id=None, since_id=None)
    assert page_request({}, SCOPE) == PageRequest(limit=20)


@pytest.mark.parametrize("limit, expected", [("1", 1), ("20", 20), ("100", 100), ("007", 7)])
def test_limit_in_range(limit, expected):
    assert page_request({"limit": limit}, SCOPE).limit == expected


@pytest.mark.parametrize("limit", ["0", "101", "1000", "-1", "abc", "", " 5", "5 ", "1.5", "1e1",
                                   "+5", "٥", "99999999999999999999999999"])
def test_limit_out_of_range_or_not_a_number(limit):
    error = rejected(lambda: page_request({"limit": limit}, SCOPE))
    assert "`limit`" in error.message


def test_max_id_and_since_id():
    request = page_request({"max_id": "900", "since_id": "100", "limit": "5"}, SCOPE)
    assert request == PageRequest(limit=5, max_id=900, since_id=100)


@pytest.mark.parametrize("name", ["max_id", "since_id"])
@pytest.mark.parametrize("value", ["-1", "0", "abc", "", "1.0", str(MAX_ID + 1), "9" * 30])
def test_bad_bounds(name, value):
    error = rejected(lambda: page_request({name: value}, SCOPE))
    assert f"`{name}`" in error.message


def test_cursor_continues_its_list():
    cursor = encode_cursor(SCOPE, 500, 100)
    assert page_request({"cursor": cursor, "limit": "3"}, SCOPE) == PageRequest(3, 500, 100)


@given(cursor_max=ids, cursor_since=st.none() | ids, max_id=st.none() | ids, since_id=st.none() | ids)
def test_bounds_sent_with_a_cursor_narrow_its_range(cursor_max, cursor_since, max_id, since_id):
    """The page is what both the cursor and the bounds allow: the intersection."""
    params = {"cursor": encode_cursor(SCOPE, cursor_max, cursor_since)}
    params |= {k: str(v) for k, v in (("max_id", max_id), ("since_id", since_id)) if v is not None}
    page = page_request(params, SCOPE)
    assert page.max_id == min(cursor_max, max_id or cursor_max)
    lows = [low for low in (cursor_since, since_id) if low is not None]
    assert page.since_id == (max(lows) if lows else None)


def test_cursor_of_another_list_is_rejected():
    cursor = encode_cursor(OTHER_SCOPE, 500, None)
    rejected(lambda: page_request({"cursor": cursor}, SCOPE), "invalid_cursor")


@pytest.mark.parametrize("bound", ["max_id", "since_id"])
def test_lists_without_bounds_refuse_them(bound):
    error = rejected(lambda: page_request({bound: "42"}, "followers:1", bounds=False))
    assert "cursor" in error.message
    assert page_request({"limit": "5"}, "followers:1", bounds=False) == PageRequest(5)


# --- range_condition -----------------------------------------------------------------

def serialized(condition):
    names, values = {}, {}
    expression = condition.serialize(names, values)
    return expression, {v: k for k, v in names.items()}, {k: int(v["N"]) for k, v in values.items()}


def test_no_bounds_no_condition():
    assert paging.range_condition(TweetModel.id, PageRequest(5)) is None


def test_max_id_is_exclusive():
    condition = paging.range_condition(TweetModel.id, PageRequest(5, max_id=10))
    assert serialized(condition) == ("#0 < :0", {"#0": "id"}, {":0": 10})


def test_since_id_is_exclusive():
    condition = paging.range_condition(TweetModel.id, PageRequest(5, since_id=8))
    assert serialized(condition) == ("#0 > :0", {"#0": "id"}, {":0": 8})


def test_both_bounds_are_exclusive():
    condition = paging.range_condition(TweetModel.id, PageRequest(5, max_id=10, since_id=8))
    assert serialized(condition) == ("#0 BETWEEN :0 AND :1", {"#0": "id"}, {":0": 9, ":1": 9})


@pytest.mark.parametrize("max_id, since_id", [(10, 9), (10, 10), (10, 50)])
def test_bounds_with_no_room_are_empty(max_id, since_id):
    request = PageRequest(5, max_id=max_id, since_id=since_id)
    assert paging.range_condition(TweetModel.id, request) is paging.EMPTY


# --- page --------------------------------------------------------------------------------

def test_page_meta_with_more():
    items = [{"id": "30"}, {"id": "20"}, {"id": "10"}]
    body = page(items, PageRequest(3), SCOPE, True, 10)
    assert body["data"] == items
    assert body["meta"]["newest_id"] == "30"
    assert body["meta"]["oldest_id"] == "10"
    assert decode_cursor(body["meta"]["next_cursor"], SCOPE) == (10, None)


def test_page_cursor_keeps_since_id():
    body = page([{"id": "30"}], PageRequest(1, since_id=5), SCOPE, True, 30)
    assert decode_cursor(body["meta"]["next_cursor"], SCOPE) == (30, 5)


def test_last_page_has_no_cursor():
    body = page([{"id": "30"}], PageRequest(3), SCOPE, False, 30)
    assert body["meta"] == {"next_cursor": None, "newest_id": "30", "oldest_id": "30"}


def test_empty_page():
    assert page([], PageRequest(3), SCOPE, False, None) == {
        "data": [], "meta": {"next_cursor": None, "newest_id": None, "oldest_id": None}}


# --- ranked lists -------------------------------------------------------------

RANKED = "home-ranked:911887782780350464"


@given(snapshot_id=ids, offset=st.integers(0, 10**6))
def test_a_ranked_cursor_carries_its_snapshot_and_place(snapshot_id, offset):
    cursor = ranked_page([], RANKED, snapshot_id, offset, None)["meta"]["next_cursor"]
    assert ranked_request({"cursor": cursor, "limit": "7"}, RANKED) == \
        RankedRequest(7, snapshot_id, offset, PageRequest(7))
    rejected(lambda: ranked_request({"cursor": cursor}, RANKED + "0"), "invalid_cursor")
    rejected(lambda: page_request({"cursor": cursor}, RANKED), "invalid_cursor")  # not an id cursor


def test_a_ranked_list_takes_id_bounds_and_refuses_a_chronological_cursor():
    assert ranked_request({"max_id": "5", "since_id": "2"}, RANKED).bounds == PageRequest(20, 5, 2)
    rejected(lambda: ranked_request({"max_id": "x"}, RANKED))
    rejected(lambda: ranked_request({"cursor": encode_cursor(RANKED, 5, None)}, RANKED), "invalid_cursor")
    assert [is_ranked(p) for p in (None, {}, {"ranked": "0"}, {"ranked": "false"}, {"ranked": "1"},
                                   {"ranked": "true"})] == [False, False, False, False, True, True]
    rejected(lambda: is_ranked({"ranked": "yes"}))


def test_a_ranked_page_says_it_is_ranked_and_its_id_range():
    meta = ranked_page([{"id": "5"}, {"id": "9"}, {"id": "7"}], RANKED, None, 3, None)["meta"]
    assert meta == {"next_cursor": None, "newest_id": "9", "oldest_id": "5", "ranked": True,
                    "snapshot_expires_at": None}
