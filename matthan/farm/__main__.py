"""Serve clips as RTSP cameras until Ctrl-C.

    python -m matthan.farm --port 8554 --mount gate=pets09_s2l1_vtest.mp4 \\
        --mount lot=intel_parking_lot_cars.mp4@100 [--username U --password P]

CLIP is a path, or a file name in the clip library (`$MATTHAN_CLIPS` or ``../shared/clips``);
``@OFFSET`` is the frame the camera starts near (rounded down to a keyframe).
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from common.paths import default_clips_dir
from matthan.farm.control import CameraFarm, Mount


def parse_mount(text: str) -> Mount:
    """``NAME=CLIP[@OFFSET]`` to a `Mount`; argparse reports the ValueError as a usage error."""
    name, sep, clip_part = text.partition("=")
    if not sep or not clip_part:
        raise argparse.ArgumentTypeError(f"expected NAME=CLIP[@OFFSET], got {text!r}")
    clip_text, _, offset_text = clip_part.partition("@")
    try:
        offset = int(offset_text) if offset_text else 0
        return Mount(name, find_clip(clip_text), offset)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def find_clip(text: str) -> Path:
    """A path as given if it exists, else the file of that name in the clip library."""
    path = Path(text)
    if path.exists():
        return path
    library = default_clips_dir() / text
    if library.exists():
        return library
    raise ValueError(f"no clip {text!r} here or in {default_clips_dir()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m matthan.farm", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--port", type=int, default=8554, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--mount", type=parse_mount, action="append", required=True, metavar="NAME=CLIP[@OFFSET]"
    )
    parser.add_argument("--username")
    parser.add_argument("--password")
    args = parser.parse_args(argv)
    with CameraFarm(args.mount, args.port, args.username, args.password, args.host) as farm:
        for mount in args.mount:
            print(farm.url(mount.name, with_credentials=args.username is not None), flush=True)
        wait_for_stop_signal()
        print("stopping", flush=True)
    return 0


def wait_for_stop_signal() -> None:
    """Sleep until Ctrl-C or SIGTERM; call it after the server has started, because a child
    inherits the blocked-signal mask and the server must still see its own SIGTERM."""
    stop = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    signal.sigwait(stop)


if __name__ == "__main__":
    raise SystemExit(main())
