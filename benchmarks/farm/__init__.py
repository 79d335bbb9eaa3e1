"""An RTSP camera farm: looping real clips served as live cameras, steerable from tests.

See `benchmarks.farm.control` for the API and `benchmarks/farm/server.py` for how it serves.
"""

from benchmarks.farm.control import (
    CameraFarm,
    FarmError,
    FarmTimeoutError,
    Mode,
    Mount,
    default_clips_dir,
)

__all__ = ["CameraFarm", "FarmError", "FarmTimeoutError", "Mode", "Mount", "default_clips_dir"]
