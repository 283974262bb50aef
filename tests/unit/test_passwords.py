"""Password hashing with scrypt."""
import base64

import pytest

from chalicelib.accounts import passwords
from chalicelib.accounts.passwords import hash_password, verify_password


@pytest.fixture(scope="module")
def stored():
    return hash_password("correct horse battery staple")


def test_right_password_verifies(stored):
    assert verify_password("correct horse battery staple", stored) is True


@pytest.mark.parametrize("attempt", [
    "correct horse battery stapl", "Correct horse battery staple", "correct horse battery staple ",
    "", "x" * 300,
])
def test_wrong_password_fails(stored, attempt):
    assert verify_password(attempt, stored) is False


def test_stored_form(stored):
    scheme, log2_n, r, p, salt, digest = stored.split("$")
    assert (scheme, int(log2_n), int(r), int(p)) == ("scrypt", passwords.LOG2_N, passwords.R, passwords.P)
    assert passwords.LOG2_N >= 14  # a slow KDF, not a fast hash
    assert len(base64.b64decode(salt)) == passwords.SALT_BYTES
    assert len(base64.b64decode(digest)) == passwords.HASH_BYTES
    assert "correct" not in stored


def test_same_password_gets_a_new_salt_each_time():
    first, second = hash_password("same password"), hash_password("same password")
    assert first != second
    assert verify_password("same password", first) and verify_password("same password", second)


def test_unicode_password():
    stored = hash_password("pässwörd 🔑 密码")
    assert verify_password("pässwörd 🔑 密码", stored) is True
    assert verify_password("passwörd 🔑 密码", stored) is False


def test_old_cost_parameters_still_verify():
    # The cost lives in the stored hash, so raising it later breaks nobody.
    salt = b"0123456789abcdef"
    digest = passwords._scrypt("old password", salt, 10, 8, 1)
    stored = f"scrypt$10$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    assert verify_password("old password", stored) is True
    assert verify_password("new password", stored) is False


@pytest.mark.parametrize("malformed", [
    "", "garbage", "scrypt", "scrypt$14$8$1$c2FsdA==", "scrypt$14$8$1$c2FsdA==$aGFzaA==$extra",
    "bcrypt$14$8$1$c2FsdA==$aGFzaA==", "scrypt$x$8$1$c2FsdA==$aGFzaA==", "scrypt$14$y$1$c2FsdA==$aGFzaA==",
    "scrypt$14$8$z$c2FsdA==$aGFzaA==", "scrypt$14$8$1$!!!$aGFzaA==", "scrypt$14$8$1$c2FsdA==$***",
    "scrypt$-1$8$1$c2FsdA==$aGFzaA==", "scrypt$13$8$1$c2FsdA==$aGFzaA==", "scrypt$0$8$1$c2FsdA==$aGFzaA==",
    "scrypt$70$8$1$c2FsdA==$aGFzaA==", "scrypt$14$0$1$c2FsdA==$aGFzaA==", "scrypt$14$8$0$c2FsdA==$aGFzaA==",
    "scrypt$40$8$1$c2FsdA==$aGFzaA==",  # would need terabytes: refused, not attempted
])
def test_malformed_stored_hash_fails_closed(malformed):
    assert verify_password("correct horse battery staple", malformed) is False


def test_dummy_hash_is_a_real_hash():
    # Unknown handles are checked against it, so it must cost the same work.
    assert passwords.dummy_hash().startswith(f"scrypt${passwords.LOG2_N}${passwords.R}${passwords.P}$")
    assert verify_password("not-a-real-password", passwords.dummy_hash()) is True
