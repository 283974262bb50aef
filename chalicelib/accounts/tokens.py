"""Bearer tokens: HS256-signed JWTs carrying the user id and the user's
token version, with an expiry.

The version is what revokes: the user item keeps the current one
(UserModel.token_version), a log-out-everywhere or a password change moves
it on, and a token carrying an older one is refused (chalicelib.web.auth).

The signing key is JWT_SECRET locally; deployed stages name an SSM
SecureString in JWT_SECRET_PARAMETER, fetched once and cached per container.

PyJWT (and the cryptography package it loads) is imported by the first token
issued or checked, not at import: the routes that neither log in nor carry a
bearer token do not pay it (README, "Cold start").
"""
import time
from dataclasses import dataclass

from chalicelib import settings

ALGORITHM = "HS256"


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class Claims:
    """What a valid token says: whose it is, and which of their versions."""

    user_id: int
    version: int


def signing_key() -> bytes:
    if settings.JWT_SECRET:
        secret = settings.JWT_SECRET
    elif settings.JWT_SECRET_PARAMETER:
        from aws_lambda_powertools.utilities import parameters

        secret = parameters.get_parameter(settings.JWT_SECRET_PARAMETER, decrypt=True, max_age=300)
    else:
        raise RuntimeError("Set JWT_SECRET (local) or JWT_SECRET_PARAMETER (deployed).")
    key = secret.encode("utf-8")
    if len(key) < settings.JWT_MIN_SECRET_BYTES:
        raise RuntimeError(f"The JWT signing key must be at least {settings.JWT_MIN_SECRET_BYTES} bytes.")
    return key


def issue_token(user_id: int, version: int = 0, now: float | None = None) -> str:
    """A token for the user at their current token version (0 until their
    first log-out-everywhere or password change)."""
    import jwt

    now = int(time.time() if now is None else now)
    claims = {"sub": str(user_id), "ver": version, "iss": settings.JWT_ISSUER, "iat": now,
              "exp": now + settings.TOKEN_TTL_SECONDS}
    return jwt.encode(claims, signing_key(), algorithm=ALGORITHM)


def verify_token(token: str) -> Claims:
    """Whom a valid token was issued to, at which version; InvalidToken
    otherwise. Whether that user still exists at that version is the
    caller's check (chalicelib.web.auth): this one reads no table.

    Only HS256 is accepted, which rules out `alg: none` and key-confusion
    tricks; exp, iat and sub must be present. A token without `ver` was
    issued before versions existed and counts as version 0.
    """
    import jwt

    try:
        claims = jwt.decode(
            token, signing_key(), algorithms=[ALGORITHM], issuer=settings.JWT_ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub.isascii() or not sub.isdigit():
        raise InvalidToken("bad subject")
    version = claims.get("ver", 0)
    if type(version) is not int or version < 0:  # not a bool, a float or a string
        raise InvalidToken("bad version")
    return Claims(int(sub), version)


def bearer_token(authorization: str | None) -> str | None:
    """The token in an `Authorization: Bearer <token>` header, if any."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
