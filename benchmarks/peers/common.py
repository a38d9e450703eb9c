"""Shared pieces of the peer benchmarks: timing statistics, result records, child processes.

Every engine adapter returns plain dicts (JSON-ready). A timing record is
``{"n": samples, "median_ms": ..., "p99_ms": ..., "mean_ms": ...}`` built by :func:`stats`.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
PEERS_DIR = Path(__file__).resolve().parent
PEERS_VENV = ROOT / "benchmarks" / ".peers-venv312"
PEERS_PYTHON = PEERS_VENV / "bin" / "python"
RESULTS_DIR = ROOT / "benchmarks" / "results"


def stats(seconds: Sequence[float]) -> dict[str, float]:
    """Median, p99 and mean of per-call wall times (input seconds, output milliseconds)."""
    arr = np.asarray(seconds, dtype=float) * 1000.0
    if arr.size == 0:
        return {"n": 0}
    return {
        "n": int(arr.size),
        "median_ms": float(np.median(arr)),
        "p99_ms": float(np.percentile(arr, 99)),
        "mean_ms": float(arr.mean()),
        "min_ms": float(arr.min()),
    }


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` once; return (seconds, result)."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def rss_mb() -> float:
    """Resident set size of this process now, MB (Linux /proc)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_child(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float = 900.0,
    log_path: Path | None = None,
) -> dict[str, Any]:
    """Run a child process; return its wall time and its own peak RSS.

    The peak RSS comes from GNU ``/usr/bin/time -f %M`` when present (``wait4`` from this
    process would report at least our own RSS: Linux carries the parent's high-water mark
    into a forked child). Output goes to ``log_path`` (or is discarded). Raises
    ``RuntimeError`` on a non-zero exit, quoting the command and the tail of the log.
    """
    gnu_time = Path("/usr/bin/time")
    rss_file = None
    full = [str(c) for c in cmd]
    if gnu_time.exists():
        fd, name = tempfile.mkstemp(suffix=".rss")
        os.close(fd)
        rss_file = Path(name)
        full = [str(gnu_time), "-f", "%M", "-o", name, *full]
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            full,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout_s,
            check=False,
        )
    finally:
        if log_path:
            out.close()  # type: ignore[union-attr]
    wall = time.perf_counter() - t0
    peak = None
    if rss_file is not None:
        text = rss_file.read_text().strip().splitlines()
        rss_file.unlink()
        if text and text[-1].strip().isdigit():
            peak = int(text[-1].strip()) / 1024.0
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace")[-1500:] if log_path else ""
        raise RuntimeError(f"exit {proc.returncode}: {' '.join(map(str, cmd))}\n{tail}")
    return {"wall_s": wall, "peak_rss_mb": peak}


def machine_info() -> dict[str, Any]:
    """CPU, memory and interpreter of this run."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "load_avg_at_start": os.getloadavg(),
    }


def versions(modules: Sequence[str]) -> dict[str, str]:
    """Installed versions of the given distributions ("missing" when absent)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in modules:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "missing"
    return out


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON (numpy scalars converted)."""

    def conv(o: Any) -> Any:
        if isinstance(o, np.integer):
            return int(o)
        if isinstance(o, np.floating):
            return float(o)
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        raise TypeError(type(o))

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=conv, allow_nan=True))
    tmp.replace(path)
