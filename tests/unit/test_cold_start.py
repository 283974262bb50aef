"""`import app` loads what every Lambda of the app needs (Chalice, botocore
and PynamoDB, the domain) and nothing that only some handlers use: each
function of the deployment imports app.py whole, so an import there is paid
by every cold start (README, "Cold start"; bench/coldstart.py measures it).
"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Loaded by the first handler that needs them, never by `import app`.
LAZY = {
    "boto3": "chalicelib.storage.clients: the first SQS or Streams client",
    "s3transfer": "comes with boto3",
    "jwt": "chalicelib.accounts.tokens: the first token issued or checked",
    "cryptography": "comes with PyJWT",
    "aws_lambda_powertools.utilities.batch": "chalicelib.events.consumers: the first queue batch",
    "aws_xray_sdk": "Powertools' Tracer: about 0.27 s even when disabled",
    "asyncio": "comes with Powertools' batch utility",
}

PROBE = """
import json, sys
import app
from chalicelib.storage import clients
from chalicelib.tweets import tweet_text
print(json.dumps({
    "modules": sorted(sys.modules),
    "clients_made": clients.client.cache_info().currsize,
    "text_patterns_built": tweet_text._patterns.cache_info().currsize,
}))
"""


def probe() -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True,
                          check=True, timeout=120)
    return json.loads(done.stdout)


def test_import_app_leaves_what_only_some_handlers_use_unloaded():
    found = probe()
    loaded = {name: why for name, why in LAZY.items()
              if any(module == name or module.startswith(name + ".") for module in found["modules"])}
    assert loaded == {}, f"`import app` loads {sorted(loaded)}: import it where it is used"
    assert {"chalice", "botocore", "pynamodb"} <= set(found["modules"])  # the probe did import app
    assert "aws_lambda_powertools.logging" in found["modules"]  # every handler logs


def test_import_app_makes_no_client_and_compiles_no_tweet_text_patterns():
    found = probe()
    assert found["clients_made"] == 0  # boto3.client() loads a service model: ~0.1 s
    assert found["text_patterns_built"] == 0  # ~1,600 TLDs in one pattern, built by the first tweet


def test_the_lazy_imports_load_on_first_use():
    """The other side: the handlers that need them still get them."""
    code = """
import sys
import app
from chalicelib.accounts import tokens
from chalicelib.events import consumers
assert tokens.verify_token(tokens.issue_token(7)).user_id == 7
assert "jwt" in sys.modules
event = {"Records": [{"messageId": "m1", "body": "x", "receiptHandle": "r", "attributes": {},
                      "eventSource": "aws:sqs", "md5OfBody": "",
                      "eventSourceARN": "arn:aws:sqs:us-east-1:1:q"}]}
seen = []
assert consumers.queue_batch(event, seen.append) == {"batchItemFailures": []} and seen == ["x"]
assert "aws_lambda_powertools.utilities.batch" in sys.modules
"""
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)
