"""The hub page's JSON models."""
