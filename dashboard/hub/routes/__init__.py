"""The hub app's routers (its own: none of them is the station's)."""
