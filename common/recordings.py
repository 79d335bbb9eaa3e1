"""Recorded segments, coverage gaps and legal holds in the store (owned by ingest)."""

SCHEMA = ""
