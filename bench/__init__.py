"""The fan-out benchmark (`make bench`): dev-only, never shipped to Lambda."""
