"""schemathesis hooks for the fuzz run (tests/e2e/test_fuzz.py), loaded by
SCHEMATHESIS_HOOKS: what the OpenAPI document cannot say about valid input.

- A cursor is signed by the server: no generated value can be a valid one,
  so a schema-valid case carrying one would be refused (400) and counted as
  "valid data rejected". Positive cases go without it; negative ones keep
  theirs (and must be refused); real cursors are covered by the integration
  tests.
- A tweet's text must weigh at most 280 by twitter-text's rules (URLs 23,
  CJK 2, ...) and not be blank, which no JSON Schema keyword can count:
  positive cases whose text twitter-text refuses are skipped (negative ones
  are still sent, and must be refused). twitter-text itself is held to its
  conformance vectors (tests/conformance).
Nothing else is changed."""
import schemathesis

from chalicelib.tweets import tweet_text


def _positive(case, location: str) -> bool:
    return case.meta is None or not case.meta.is_negative_at(location)


@schemathesis.hook
def filter_case(context, case):
    operation = case.operation
    if operation.method.upper() == "POST" and operation.path == "/tweets" and _positive(case, "body"):
        text = case.body.get("text") if isinstance(case.body, dict) else None
        return not isinstance(text, str) or tweet_text.parse_tweet(text).valid
    return True


@schemathesis.hook
def map_case(context, case):
    if case.query and "cursor" in case.query and _positive(case, "query"):
        del case.query["cursor"]
    return case
