"""A district hub (``matthan hub``): several stations' alerts and camera health in one place,
read-only, over NATS leaf nodes (``docs/SCALING.md``)."""
