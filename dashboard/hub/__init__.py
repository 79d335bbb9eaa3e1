"""A district hub's read-only page: every station's alerts and camera health, scoped by the
stations a user may see (``docs/SCALING.md``)."""
