"""Password hashing with scrypt (stdlib), a deliberately slow, memory-hard KDF.

Stored form: "scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>", so the cost can
be raised later without breaking existing hashes.
"""
import base64
import functools
import hashlib
import hmac
import os

LOG2_N, R, P = 14, 8, 1  # 16 MiB of memory, ~50 ms per hash on one core
SALT_BYTES, HASH_BYTES = 16, 32


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=1 << log2_n, r=r, p=p,
        maxmem=256 * 1024 * 1024, dklen=HASH_BYTES,
    )


def hash_password(password: str) -> str:
    salt = os.urandom(SALT_BYTES)
    digest = _scrypt(password, salt, LOG2_N, R, P)
    b64 = base64.b64encode
    return f"scrypt${LOG2_N}${R}${P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, log2_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(log2_n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def dummy_hash() -> str:
    """Verified against when a login names an unknown handle, so that a
    failed login costs the same time whether or not the handle exists.
    Made on first use, not at import: every cold start would pay for it."""
    return hash_password("not-a-real-password")
