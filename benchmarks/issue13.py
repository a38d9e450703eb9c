"""Issue 13's targets, each with the value measured in one ``make bench-peers`` run.

``run_all.py`` measures the peers per network (``peers_summary.json``) and then runs the
benchmarks that are not per network as part of the same run (:data:`EXTRAS`: HTTP against
``osrm-routed`` and ``valhalla_service``, the streaming OSM build, the memory of a second
worker), each writing its own JSON under ``benchmarks/results``. :func:`targets_table`
reads them all and writes one row per target: the target, the measured value, met or not.
A target whose measurement is missing says so (it is never reported as met).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("run_all")

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Extra:
    """A benchmark run as a step of ``run_all.py`` (a script writing one JSON file)."""

    script: str
    result: str
    args: tuple[str, ...] = ()


#: the steps of the run beyond the per-network peer tables (``--extras`` names them)
EXTRAS: dict[str, Extra] = {
    "http": Extra("bench_http.py", "http.json"),
    "build": Extra("bench_build.py", "build.json"),
    "memory": Extra(
        "bench_load.py", "memory.json", ("--memory", "--out", "benchmarks/results/memory.json")
    ),
}


RESULTS = ROOT / "benchmarks" / "results"


def run_extras(names: list[str], out_dir: Path) -> dict[str, str]:
    """Run the named extras one after the other; ``{name: why}`` of those that failed.
    The extras write into ``benchmarks/results``: another ``out_dir`` cannot hold them."""
    failed: dict[str, str] = {}
    if names and out_dir.resolve() != RESULTS.resolve():
        return dict.fromkeys(names, f"the extras write to {RESULTS}, not {out_dir}")
    for name in names:
        extra = EXTRAS.get(name)
        if extra is None:
            failed[name] = f"unknown extra (known: {', '.join(EXTRAS)})"
            continue
        script = ROOT / "benchmarks" / extra.script
        if not script.is_file():
            failed[name] = f"{script} is missing"
            continue
        cmd = [sys.executable, str(script), *extra.args]
        log.info("extra %s: %s", name, " ".join(cmd))
        started = time.perf_counter()
        wall = time.time()
        r = subprocess.run(cmd, cwd=ROOT, check=False)
        log.info(
            "extra %s: exit %d after %.0f s", name, r.returncode, time.perf_counter() - started
        )
        result = out_dir / extra.result
        if r.returncode != 0:
            failed[name] = f"{extra.script} exited with {r.returncode}"
        elif not result.is_file() or result.stat().st_mtime < wall:
            failed[name] = f"{extra.script} wrote no new {extra.result}"
    return failed


def _load(out_dir: Path, name: str, measured: set[str] | None = None) -> dict[str, Any] | None:
    """A result file of this run's extras (``measured``: their result file names; None:
    any file there, as ``--report-only`` rebuilds the table of the last run)."""
    path = out_dir / name
    if not path.is_file() or (measured is not None and name not in measured):
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _med(rec: dict[str, Any] | None, task: str, eng: str) -> float | None:
    v = _get(rec, task, eng, "median_ms")
    return float(v) if isinstance(v, int | float) else None


def _row(target: str, measured: str | None, met: bool | None) -> str:
    if measured is None:
        return f"| {target} | not measured in this run | NO |"
    return f"| {target} | {measured} | {'yes' if met else 'NO'} |"


def _fastest(rec: dict[str, Any] | None, task: str, prefix: str) -> tuple[str, float] | None:
    peers = {
        e: float(r["median_ms"])
        for e, r in (_get(rec, task) or {}).items()
        if e.startswith(prefix) and isinstance(r, dict) and "median_ms" in r
    }
    if not peers:
        return None
    best = min(peers, key=peers.__getitem__)
    return best, peers[best]


def targets_table(summary: dict[str, Any], out_dir: Path) -> str:
    """Markdown table of issue 13's targets (see the module docstring). Only the extras
    this run measured (``summary["extras_measured"]``) count, and networks carried over
    from an earlier run are not judged."""
    measured_extras = summary.get("extras_measured")
    measured = (
        None
        if measured_extras is None
        else {EXTRAS[e].result for e in measured_extras if e in EXTRAS}
    )
    nets = {k: v for k, v in summary.get("networks", {}).items() if "carried_from_run" not in v}
    regional = nets.get("regional")
    world = nets.get("world")
    rows = ["| target | measured | met? |", "|---|---|---|"]

    # 1. HTTP nearest
    http = _load(out_dir, "http.json", measured)
    seq = _get(http, "ours_w1", "sequential", "p50_ms")
    rows.append(
        _row(
            "HTTP nearest, one sequential keep-alive client, p50 <= 0.5 ms",
            None if seq is None else f"p50 {seq:.3f} ms (1 worker, default settings)",
            seq is not None and seq <= 0.5,
        )
    )
    w2 = _get(http, "ours_w2", "wrk_c4")
    if isinstance(w2, dict):
        p50, rps = float(w2["p50_ms"]), float(w2["requests_per_s"])
        errors = float(w2.get("non_2xx", 0)) + float(_get(w2, "errors") or 0)
        rows.append(
            _row(
                "HTTP nearest, 2 workers, wrk 4 connections: p50 <= 1 ms, >= 3,000 req/s, 0 errors",
                f"p50 {p50:.3f} ms, {rps:,.0f} req/s, {errors:.0f} errors",
                p50 <= 1.0 and rps >= 3000 and errors == 0,
            )
        )
    else:
        rows.append(_row("HTTP nearest, 2 workers, wrk 4 connections", None, None))
    for key, label in (("osrm", "osrm-routed table 1xS"), ("valhalla", "valhalla_service")):
        peer = _get(http, key, "sequential", "p50_ms")
        rps = _get(http, key, "wrk_c4", "requests_per_s")
        rows.append(
            _row(
                f"the same question asked of {label} over HTTP, same run",
                None
                if peer is None
                else f"p50 {peer:.3f} ms, {float(rps or 0):,.0f} req/s "
                f"(ours {float(seq or 0):.3f} ms: {peer / seq:.3g}x)"
                if seq
                else f"p50 {peer:.3f} ms",
                peer is not None and seq is not None and seq < peer,
            )
        )

    # 2. in process
    k1 = _med(regional, "nearest_k1", "ours")
    rows.append(
        _row(
            "in process: nearest k=1 <= 30 us median (regional)",
            None if k1 is None else f"{k1 * 1000:.0f} us",
            k1 is not None and k1 <= 0.030,
        )
    )
    circ = _med(regional, "circles", "ours")
    rows.append(
        _row(
            "in process: live circles 5/10/15 min <= 5 ms median (regional)",
            None if circ is None else f"{circ:.2f} ms",
            circ is not None and circ <= 5.0,
        )
    )

    # 3. routes
    ours_route = _med(regional, "route", "ours")
    osrm = _fastest(regional, "route", "osrm")
    rows.append(
        _row(
            "routes: point-to-station at least as fast as OSRM CH (regional, exact)",
            None
            if ours_route is None or osrm is None
            else f"ours {ours_route:.3f} ms vs {osrm[0]} {osrm[1]:.3f} ms "
            f"({osrm[1] / ours_route:.3g}x)",
            ours_route is not None and osrm is not None and ours_route <= osrm[1],
        )
    )

    # 4. world graph
    wk1 = _med(world, "nearest_k1", "ours")
    pandana = _med(world, "nearest_k1", "pandana nearest_pois")
    rows.append(
        _row(
            "world graph (560k nodes): nearest k=1 faster than Pandana",
            None
            if wk1 is None or pandana is None
            else f"ours {wk1:.3f} ms vs Pandana {pandana:.3f} ms ({pandana / wk1:.3g}x)",
            wk1 is not None and pandana is not None and wk1 < pandana,
        )
    )
    wk3 = _med(world, "nearest_k3", "ours")
    rows.append(
        _row(
            "world graph: nearest k=3 <= 2 ms median",
            None if wk3 is None else f"{wk3:.3f} ms",
            wk3 is not None and wk3 <= 2.0,
        )
    )

    # 5. build
    build = _load(out_dir, "build.json", measured)
    big = _get(build, "summary")
    if isinstance(big, dict) and "world_wall_s" in big:
        s, gb = float(big["world_wall_s"]), float(big["world_peak_rss_gb"])
        rows.append(
            _row(
                "streaming OSM build of the 560k-node world pbf: <= 2 min, <= 4 GB peak RSS",
                f"{s:.0f} s, {gb:.2f} GB peak RSS"
                + (
                    f"; extrapolated {int(big['province_nodes']):,}-node province "
                    f"{float(big['province_wall_s']):.0f} s, "
                    f"{float(big['province_peak_rss_gb']):.1f} GB"
                    if "province_wall_s" in big
                    else ""
                ),
                s <= 120 and gb <= 4.0,
            )
        )
    else:
        rows.append(_row("streaming OSM build of the 560k-node world pbf", None, None))

    # 6. memory
    mem = _load(out_dir, "memory.json", measured)
    shared = _get(mem, "targets")
    if isinstance(shared, dict) and "second_worker_pss_mb" in shared:
        rows.append(
            _row(
                "memory: artifact memory-mapped, a second worker mostly shared (RSS, PSS)",
                f"second worker RSS {float(shared['second_worker_rss_mb']):.0f} MiB, "
                f"PSS {float(shared['second_worker_pss_mb']):.0f} MiB, "
                f"shared {float(shared.get('second_worker_shared_mb', 0)):.0f} MiB, "
                f"private {float(shared.get('second_worker_private_mb', 0)):.0f} MiB"
                + (
                    f"; second replica RSS {float(shared['second_replica_rss_mb']):.0f} MiB, "
                    f"PSS {float(shared['second_replica_pss_mb']):.0f} MiB"
                    if "second_replica_rss_mb" in shared
                    else ""
                ),
                bool(shared.get("mostly_shared")),
            )
        )
    else:
        rows.append(_row("memory: artifact memory-mapped, RSS and PSS", None, None))

    # every peer
    missing = sorted(summary.get("unavailable", {}))
    rows.append(
        _row(
            "every peer ran (OSRM, Valhalla, pgRouting, Pandana, OSMnx + NetworkX, spopt)",
            "all ran" if not missing else "missing: " + ", ".join(missing),
            not missing,
        )
    )
    return "\n".join(rows) + "\n"


BEGIN = "<!-- generated by benchmarks/run_all.py: begin -->"
END = "<!-- generated by benchmarks/run_all.py: end -->"


def splice(markdown_path: Path, body: str) -> bool:
    """Replace the text between :data:`BEGIN` and :data:`END` in ``markdown_path`` with
    ``body``; False (and nothing written) when the markers are missing."""
    text = markdown_path.read_text()
    a, b = text.find(BEGIN), text.find(END)
    if a < 0 or b < a:
        return False
    markdown_path.write_text(text[: a + len(BEGIN)] + "\n" + body + "\n" + text[b:])
    return True
