"""The benchmarks' pictures.

- :func:`plot_fps`: cameras against analysis fps per camera, for each camera mix of ours and
  each baseline, with the target rate drawn across.
- :func:`plot_recall`: event recall against the share of frames analysed, one point per
  detector mode (:mod:`benchmarks.recall`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MIX_STYLES = {"busy": "tab:blue", "commune": "tab:green"}
BASELINE_STYLES = {
    "ultralytics": ("tab:red", "ultralytics predict, .streams, yolov8n.pt"),
    "ultralytics-openvino": ("tab:orange", "ultralytics predict, .streams, OpenVINO export"),
}


def plot_fps(
    ours: list[dict[str, Any]],
    baselines: dict[str, list[dict[str, Any]]],
    target: float,
    out: Path,
    title: str = "Cameras analysed in real time on this machine",
) -> None:
    """``ours``: runs with a ``mix`` key; ``baselines``: runs by baseline name."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7.5, 4.6), dpi=110)
    for mix in sorted({run["mix"] for run in ours}):
        runs = sorted((r for r in ours if r["mix"] == mix), key=lambda r: r["cameras"])
        color = MIX_STYLES.get(mix)
        cameras = [r["cameras"] for r in runs]
        axes.plot(
            cameras,
            [r["analysis_fps_per_camera_median"] for r in runs],
            "o-",
            color=color,
            label=f"matthan, {mix} mix: frames judged per camera",
        )
        axes.plot(
            cameras,
            [r["detector_images_per_s"] / r["cameras"] for r in runs],
            "o:",
            color=color,
            label=f"matthan, {mix} mix: frames detected per camera",
        )
    for name, unsorted in baselines.items():
        if not unsorted:
            continue
        color, label = BASELINE_STYLES.get(name, (None, name))
        runs = sorted(unsorted, key=lambda r: r["cameras"])
        axes.plot(
            [r["cameras"] for r in runs],
            [r["fps_per_stream_median"] for r in runs],
            "s--",
            color=color,
            label=f"{label} (median per stream)",
        )
    axes.axhline(target, color="grey", linestyle=":", label=f"target {target:g} fps")
    axes.set_xscale("log", base=2)
    counts = sorted(
        {r["cameras"] for r in ours} | {r["cameras"] for b in baselines.values() for r in b}
    )
    axes.set_xticks(counts, [str(count) for count in counts])
    axes.minorticks_off()
    axes.set_xlabel("cameras")
    axes.set_ylabel("analysis fps per camera")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left", fontsize=7)
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(out)
    plt.close(figure)


def plot_recall(result: dict[str, Any], out: Path) -> None:
    """Event recall against the share of frames analysed (left) and of model-input pixels
    (right), both against the reference, one point per variant. Variants that analyse the same
    frames (``frame@640``, ``frame@320``, ``regions@320``) share a column on the left and part
    on the right."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, PercentFormatter

    figure, panels = plt.subplots(1, 2, figsize=(10, 4.6), dpi=110, sharey=True)
    reference = result["reference"]
    keys = (("frames_analysed_share", "frames"), ("pixels_analysed_share", "model-input pixels"))
    for axes, (key, what) in zip(panels, keys, strict=True):
        axes.plot([1.0], [1.0], "k*", markersize=10, label=reference["name"])
        for index, (name, summary) in enumerate(result["summary"].items()):
            x, y = summary[key], summary["event_recall"]
            if x is None or y is None:
                continue
            axes.plot([x], [y], "o", markersize=8, color=f"C{index}", label=name)
            axes.annotate(
                name,
                (x, y),
                textcoords="offset points",
                xytext=(6, 4 - 11 * index),
                fontsize=8,
                color=f"C{index}",
            )
        axes.set_xscale("log")
        axes.set_xticks([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0])
        axes.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        axes.xaxis.set_minor_formatter(NullFormatter())
        axes.set_xlim(right=1.5)
        axes.set_ylim(0, 1.05)
        axes.set_xlabel(f"share of the reference's {what} analysed (log)")
        axes.grid(alpha=0.3, which="both")
    panels[0].set_ylabel("event recall against the reference")
    panels[1].legend(loc="lower right", fontsize=8)
    figure.suptitle(
        f"What looking less costs ({reference['events']} reference events,"
        f" {reference['footage_s']:.0f} s of footage; reference: every frame, whole, at 640)",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(out)
    plt.close(figure)
