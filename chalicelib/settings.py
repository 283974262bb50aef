"""Every setting and limit in one place.

Values come from environment variables so that the same code runs under
`make run`, the tests and a deployed Lambda (where `.chalice/config.json`
sets them per stage). Read at import: Lambda containers never change their
environment, and PynamoDB models need their table names when defined.
"""
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


STAGE = os.environ.get("CHIRP_STAGE", "local")
REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

# Table names follow one pattern, also used by infra/ (with the stage left as
# a CloudFormation parameter); any one can be overridden, e.g. USERS_TABLE.
TABLE_NAME_PATTERN = "chirp-{stage}-{table}"
TABLE_NAMES = {
    table: os.environ.get(f"{table.upper()}_TABLE",
                          TABLE_NAME_PATTERN.format(stage=STAGE, table=table))
    for table in ("users", "handles", "tweets", "follows", "idempotency")
}

# Auth. Locally the key is an environment variable; deployed stages name an
# SSM SecureString parameter instead, so no real key is ever in the repo.
JWT_SECRET = os.environ.get("JWT_SECRET")
JWT_SECRET_PARAMETER = os.environ.get("JWT_SECRET_PARAMETER")
TOKEN_TTL_SECONDS = _int("TOKEN_TTL_SECONDS", 24 * 3600)
JWT_ISSUER = "chirp"

# Limits of the API contract.
HANDLE_MAX = 15
PASSWORD_MIN = 8
PASSWORD_MAX = 256  # scrypt cost is per byte too; cap it to stay cheap
DISPLAY_NAME_MAX = 50
TWEET_MAX_CHARS = 280
PAGE_DEFAULT = 20
PAGE_MAX = 100
MAX_BODY_BYTES = 16 * 1024
IDEMPOTENCY_KEY_MAX = 255
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
