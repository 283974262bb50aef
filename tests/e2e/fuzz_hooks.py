"""schemathesis hooks for the fuzz run (tests/e2e/test_fuzz.py), loaded by
SCHEMATHESIS_HOOKS.

A cursor is signed by the server: no generated value can be a valid one, so
a schema-valid case carrying one would be refused (400) and counted as
"valid data rejected". Positive cases go without it; negative ones keep
theirs (and must be refused); real cursors are covered by the integration
tests. Nothing else is changed."""
import schemathesis


@schemathesis.hook
def map_case(context, case):
    negative = case.meta is not None and case.meta.is_negative_at("query")
    if case.query and "cursor" in case.query and not negative:
        del case.query["cursor"]
    return case
