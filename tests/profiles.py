"""Hypothesis profiles, chosen by the HYPOTHESIS_PROFILE environment variable
(tests/conftest.py loads one before any test module is imported).

- ``ci``, the default when HYPOTHESIS_PROFILE is unset, so what `make test`
  and CI run: Hypothesis's own CI profile (derandomized, so every run tries
  the same examples and a CI failure reproduces with `make test`; no
  deadline, so a machine under heavy CPU contention is not a failure; no
  example database; print_blob, to replay a failure) with 200 examples for
  tests that do not set their own (Hypothesis's default is 100).
- ``dev``, what `make test-fast` runs: a tenth of that, randomized, with the
  example database (a failure found once is tried first next time), also
  without a deadline.

A test that sets a large max_examples purely for thoroughness writes
``examples(n)``: n under ``ci``, scaled with the profile elsewhere. Tests
whose assertions need their count (coverage checks over the examples seen)
keep a literal one.
"""
import math
import os

from hypothesis import HealthCheck, settings

CI_EXAMPLES = 200

settings.register_profile("ci", settings.get_profile("ci"), max_examples=CI_EXAMPLES)
settings.register_profile("dev", max_examples=CI_EXAMPLES // 10, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])


def load() -> str:
    """Loads the profile HYPOTHESIS_PROFILE names (``ci`` if unset); returns its name."""
    name = os.environ.get("HYPOTHESIS_PROFILE") or "ci"
    settings.load_profile(name)
    return name


def examples(n: int) -> int:
    """n examples under the ``ci`` profile; proportionally fewer (at least 1)
    under a profile with fewer examples, such as ``dev``."""
    return max(1, math.ceil(n * settings().max_examples / CI_EXAMPLES))
