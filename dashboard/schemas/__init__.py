"""The HTTP edge, as pydantic models: one module per resource."""
