"""Chirp's Lambda-deployed library: domain logic and storage."""
