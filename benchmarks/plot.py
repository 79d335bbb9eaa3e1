"""The benchmark's picture: cameras against achieved analysis fps per camera, ours and the
stock baseline, with the target rate drawn across."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_fps(
    ours: list[dict[str, Any]], baseline: list[dict[str, Any]], target: float, out: Path
) -> None:
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=110)
    axes.plot(
        [r["cameras"] for r in ours],
        [r["analysis_fps_per_camera_median"] for r in ours],
        "o-",
        label="matthan: frames judged per camera (motion gate)",
    )
    axes.plot(
        [r["cameras"] for r in ours],
        [r["detector_images_per_s"] / r["cameras"] for r in ours],
        "o:",
        label="matthan: frames detected per camera",
    )
    axes.plot(
        [r["cameras"] for r in baseline],
        [r["fps_per_stream_median"] for r in baseline],
        "s--",
        label="ultralytics predict, .streams (median per stream)",
    )
    axes.axhline(target, color="grey", linestyle=":", label=f"target {target:g} fps")
    axes.set_xscale("log", base=2)
    axes.set_xlabel("cameras")
    axes.set_ylabel("analysis fps per camera")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left", fontsize=8)
    axes.set_title("Cameras analysed in real time on this machine")
    figure.tight_layout()
    figure.savefig(out)
    plt.close(figure)
