"""What a benchmark result needs to be read later: the machine, the commit, and the
CPU time and memory of processes, read from /proc (Linux)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _git_dirty() -> list[str] | None:
    """The files that differ from the commit (changed, or not in git), results aside: a result
    measured on a tree that is not its commit says so. None if git cannot tell."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    changed = [line[3:] for line in out.stdout.splitlines()]
    return [path for path in changed if not path.startswith("benchmarks/results/")]


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def machine_info() -> dict[str, Any]:
    """CPU model and count, memory, Python, git commit."""
    flags = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "amx": "amx_tile" in flags,
        "avx512": "avx512f" in flags,
        "memory_gb": round(memory_kb / 1e6, 1),
        "python": platform.python_version(),
        "git_commit": _git_commit(),
        "git_dirty": _git_dirty(),
    }


def process_cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds of the given processes (all their threads)."""
    return sum(cpu_seconds_by_pid(pids).values())


def cpu_seconds_by_pid(pids: Iterable[int]) -> dict[int, float]:
    """User + system CPU seconds of each of the given processes that is still alive."""
    out: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return out


def process_rss_bytes(pids: Iterable[int]) -> int:
    """Proportional set size (shared pages split between their users) of the processes."""
    total = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="utf-8")
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
    return total


def write_report(out: Path, name: str, report: dict[str, Any], stamp: str | None = None) -> Path:
    """Write ``report`` as ``<name>-<stamp>.json`` (kept) and ``<name>-latest.json`` (what the
    README and the next runs read) in ``out``; returns the latest file's path."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = stamp or time.strftime("%Y%m%dT%H%M%S")
    text = json.dumps(report, indent=2) + "\n"
    (out / f"{name}-{stamp}.json").write_text(text, encoding="utf-8")
    latest = out / f"{name}-latest.json"
    latest.write_text(text, encoding="utf-8")
    return latest
