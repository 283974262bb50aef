"""Chaos: faults at the wire, a randomised workload, and a model to check it
against (`make chaos`; a short run is tests/integration/test_chaos.py).

Dev-only, like bench/: never shipped to Lambda."""
