"""Bearer tokens: issue and verify, every way a token can be bad, and
parsing the Authorization header."""
import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib import settings
from chalicelib.accounts import tokens
from chalicelib.accounts.tokens import InvalidToken, bearer_token, issue_token, verify_token

USER_ID = 911887782780350464
OTHER_KEY = "another-signing-key-that-is-long-enough-0123456789"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segments(header: dict, claims: dict) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"


def sign_hs(header: dict, claims: dict, key: bytes, digest=hashlib.sha256) -> str:
    """A JWT signed by hand, so the header can say anything."""
    signing_input = segments(header, claims)
    signature = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def claims(**overrides):
    now = int(time.time())
    base = {"sub": str(USER_ID), "iss": settings.JWT_ISSUER, "iat": now,
            "exp": now + settings.TOKEN_TTL_SECONDS}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def refused(token):
    with pytest.raises(InvalidToken):
        verify_token(token)


def test_issue_then_verify():
    token = issue_token(USER_ID)
    assert verify_token(token).user_id == USER_ID


def test_token_claims():
    token = issue_token(USER_ID, now=1_800_000_000)
    header = jwt.get_unverified_header(token)
    payload = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "HS256"
    assert payload == {"sub": str(USER_ID), "ver": 0, "iss": "chirp", "iat": 1_800_000_000,
                       "exp": 1_800_000_000 + settings.TOKEN_TTL_SECONDS}


def test_the_token_version_round_trips():
    assert verify_token(issue_token(USER_ID, 7)) == tokens.Claims(USER_ID, 7)
    assert verify_token(issue_token(USER_ID)) == tokens.Claims(USER_ID, 0)


def test_a_token_from_before_versions_is_version_0():
    token = sign_hs({"alg": "HS256"}, claims(), tokens.signing_key())
    assert verify_token(token) == tokens.Claims(USER_ID, 0)


@pytest.mark.parametrize("version", [-1, 1.5, 1.0, "1", True, None, [1], {"v": 1}])
def test_bad_version_is_refused(version):
    refused(sign_hs({"alg": "HS256"}, {**claims(), "ver": version}, tokens.signing_key()))


def test_hand_signed_token_with_the_right_key_is_accepted():
    # The hand-made tokens below fail for the reason they name, not because
    # sign_hs is wrong.
    token = sign_hs({"alg": "HS256", "typ": "JWT"}, claims(), tokens.signing_key())
    assert verify_token(token).user_id == USER_ID


def test_expired_token_is_refused():
    refused(issue_token(USER_ID, now=time.time() - settings.TOKEN_TTL_SECONDS - 60))


def test_token_just_before_expiry_is_accepted():
    token = issue_token(USER_ID, now=time.time() - settings.TOKEN_TTL_SECONDS + 60)
    assert verify_token(token).user_id == USER_ID


def test_token_issued_in_the_future_is_refused():
    refused(issue_token(USER_ID, now=time.time() + 3600))


def test_token_forged_with_another_key_is_refused():
    refused(jwt.encode(claims(), OTHER_KEY, algorithm="HS256"))


def test_key_rotation_invalidates_old_tokens(monkeypatch):
    token = issue_token(USER_ID)
    monkeypatch.setattr(settings, "JWT_SECRET", OTHER_KEY)
    refused(token)
    assert verify_token(issue_token(USER_ID)).user_id == USER_ID


def test_tampered_payload_is_refused():
    token = issue_token(USER_ID)
    header, _, signature = token.split(".")
    other = b64(json.dumps(claims(sub=str(USER_ID + 1))).encode())
    refused(f"{header}.{other}.{signature}")


def test_tampered_signature_is_refused():
    token = issue_token(USER_ID)
    head, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    refused(f"{head}.{payload}.{flipped}")
    refused(f"{head}.{payload}.")
    refused(f"{head}.{payload}")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(alg):
    unsigned = segments({"alg": alg, "typ": "JWT"}, claims())
    refused(f"{unsigned}.")
    refused(unsigned)


def test_alg_none_via_pyjwt_is_refused():
    refused(jwt.encode(claims(), None, algorithm="none"))


def test_hs512_with_the_right_key_is_refused():
    refused(jwt.encode(claims(), tokens.signing_key(), algorithm="HS512"))


def test_hs384_header_with_an_hs256_signature_is_refused():
    refused(sign_hs({"alg": "HS384", "typ": "JWT"}, claims(), tokens.signing_key()))


def test_rs256_header_with_an_hmac_signature_is_refused():
    # Key confusion: an HMAC made with the key where RS256 is announced.
    refused(sign_hs({"alg": "RS256", "typ": "JWT"}, claims(), tokens.signing_key()))


def test_missing_alg_is_refused():
    refused(sign_hs({"typ": "JWT"}, claims(), tokens.signing_key()))


@pytest.mark.parametrize("missing", ["sub", "exp", "iat", "iss"])
def test_missing_claims_are_refused(missing):
    refused(sign_hs({"alg": "HS256"}, claims(**{missing: None}), tokens.signing_key()))


@pytest.mark.parametrize("issuer", ["", "chirp-dev", "Chirp", "evil"])
def test_wrong_issuer_is_refused(issuer):
    refused(sign_hs({"alg": "HS256"}, claims(iss=issuer), tokens.signing_key()))


@pytest.mark.parametrize("sub", ["", "abc", "-1", "1.5", " 1", "١٢", 12, None, ["1"], {"id": "1"}])
def test_bad_subject_is_refused(sub):
    payload = claims()
    payload["sub"] = sub
    refused(sign_hs({"alg": "HS256"}, payload, tokens.signing_key()))


@pytest.mark.parametrize("exp", ["tomorrow", None, [1]])
def test_bad_expiry_is_refused(exp):
    payload = claims()
    payload["exp"] = exp
    refused(sign_hs({"alg": "HS256"}, payload, tokens.signing_key()))


@pytest.mark.parametrize("garbage", [
    "", "a", "a.b", "a.b.c", "...", "Bearer", "null", "{}", "eyJhbGciOiJIUzI1NiJ9", "💥.💥.💥",
    "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln", "x" * 10_000,
])
def test_garbage_is_refused(garbage):
    refused(garbage)


@given(st.text(max_size=300))
def test_random_text_is_never_a_token(text):
    refused(text)


def test_payload_that_is_not_an_object_is_refused():
    for payload in (b"[]", b'"x"', b"1", b"null"):
        signing_input = f"{b64(json.dumps({'alg': 'HS256'}).encode())}.{b64(payload)}"
        signature = hmac.new(tokens.signing_key(), signing_input.encode(), hashlib.sha256).digest()
        refused(f"{signing_input}.{b64(signature)}")


# --- the signing key ---------------------------------------------------------------

def test_short_signing_key_is_refused(monkeypatch):
    monkeypatch.setattr(settings, "JWT_SECRET", "too-short")
    with pytest.raises(RuntimeError):
        issue_token(USER_ID)


def test_no_signing_key_configured_is_an_error(monkeypatch):
    monkeypatch.setattr(settings, "JWT_SECRET", None)
    monkeypatch.setattr(settings, "JWT_SECRET_PARAMETER", None)
    with pytest.raises(RuntimeError):
        tokens.signing_key()


# --- bearer header parsing -----------------------------------------------------------

@pytest.mark.parametrize("header, token", [
    ("Bearer abc.def.ghi", "abc.def.ghi"),
    ("bearer abc.def.ghi", "abc.def.ghi"),
    ("BEARER abc.def.ghi", "abc.def.ghi"),
    ("Bearer   abc.def.ghi  ", "abc.def.ghi"),
    ("  Bearer abc", "abc"),
])
def test_bearer_header(header, token):
    assert bearer_token(header) == token


@pytest.mark.parametrize("header", [
    None, "", " ", "Bearer", "Bearer ", "Bearer    ", "abc.def.ghi", "Basic dXNlcjpwYXNz",
    "Token abc", "Bearerabc", "JWT abc.def.ghi", "Bearer\tabc",
])
def test_not_a_bearer_header(header):
    assert bearer_token(header) is None
