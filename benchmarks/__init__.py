"""Benchmarks and the test infrastructure they run on (the RTSP camera farm)."""
