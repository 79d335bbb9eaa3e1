"""Users, sessions and the audit log in the store (owned by the dashboard's accounts work)."""

SCHEMA = ""
