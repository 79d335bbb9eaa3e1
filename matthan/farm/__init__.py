"""An RTSP camera farm: looping real clips served as live cameras, steerable from tests.

The demo (:mod:`matthan.demo`) serves the clip library through it as the demo site's cameras;
the tests and benchmarks use it as real cameras. See `matthan.farm.control` for the API and
`matthan/farm/server.py` for how it serves.
"""

from matthan.farm.control import CameraFarm, FarmError, FarmTimeoutError, Mode, Mount

__all__ = ["CameraFarm", "FarmError", "FarmTimeoutError", "Mode", "Mount"]
