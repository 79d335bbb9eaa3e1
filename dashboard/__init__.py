"""The station dashboard: FastAPI app, alert feed over WebSocket, camera health, /metrics."""
