"""Benchmark: artifact load time and resident memory of the server process (not a test).

Builds the regional and Helsinki artifacts (into a temp dir unless ``--artifacts`` is
given), then loads each ``--repeat`` times, every time in a fresh Python process (so
imports and page cache are as a restarted server sees them), and reports the median
``Locator.open`` time and the peak resident set size.

    python benchmarks/bench_load.py [--repeat 5]

``--memory`` measures the served memory instead (issue 13): ``locator serve`` on the
regional artifact with ``--workers 1``, with ``--workers 2`` and as two independent
servers on the same artifact (replicas on one host: no fork, nothing shared but files),
each warmed with ``--requests`` ``GET /v1/nearest`` per worker on fresh connections
(every worker answers, learned from ``/health`` on the same connection). For every
process it reports ``/proc/PID/smaps_rollup`` (Rss, Pss, Shared_Clean, Shared_Dirty,
Private_Clean, Private_Dirty) and, from ``/proc/PID/smaps``, the Rss and Pss of its mappings of the
artifact's own files (the memory-mapped arrays). To compare two commits, run this file
from a git worktree of each (``git worktree add /tmp/before HEAD~1``, copy this file
and ``bench_workers.py`` in): the servers run the code next to the script.

    python benchmarks/bench_load.py --memory [--artifacts DIR] [--out results.json]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROBE = """
import json, resource, sys, time
t0 = time.perf_counter()
from locator import Locator
t1 = time.perf_counter()
loc = Locator.open(__import__("pathlib").Path(sys.argv[1]))
t2 = time.perf_counter()
g = loc.network.graph
loc.nearest(float(g.node_lon[0]), float(g.node_lat[0]),
            kind="driver_station") if loc.stations() else None
print(json.dumps({"import_s": t1 - t0, "open_s": t2 - t1,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


ROLLUP = (
    "rss_kb",
    "pss_kb",
    "shared_clean_kb",
    "shared_dirty_kb",
    "private_clean_kb",
    "private_dirty_kb",
)


def artifact_mappings(pid: int, directory: Path) -> dict[str, int]:
    """Rss and Pss (kB) of the mappings of files inside ``directory`` (``/proc/PID/smaps``)."""
    inside = str(directory.resolve()) + "/"
    out = {"artifact_rss_kb": 0, "artifact_pss_kb": 0}
    current = False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = re.match(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$", line)
            if head:
                current = head.group(1).startswith(inside)
            elif current and (m := re.match(r"(Rss|Pss):\s+(\d+) kB", line)):
                out[f"artifact_{m.group(1).lower()}_kb"] += int(m.group(2))
    return out


def warm(servers: list[Any], paths: list[str], per_worker: int) -> dict[int, int]:
    """``GET /v1/nearest`` on fresh connections until every worker of every server has
    answered ``per_worker`` of them; returns answers per pid."""
    from benchmarks.bench_workers import HOST, health

    answered: dict[int, int] = {}
    for server in servers:
        pids = set(server.worker_pids)
        i = 0
        while any(answered.get(p, 0) < per_worker for p in pids):
            conn = http.client.HTTPConnection(HOST, server.port, timeout=30)
            try:
                for _ in range(10):  # a few on one connection (one worker), then reconnect
                    conn.request("GET", paths[i % len(paths)])
                    r = conn.getresponse()
                    r.read()
                    if r.status != 200:
                        raise RuntimeError(f"{paths[i % len(paths)]} answered {r.status}")
                    i += 1
                pid = int(health(server.port, conn)["worker"]["pid"])
                answered[pid] = answered.get(pid, 0) + 10
            finally:
                conn.close()
            if i > 200 * per_worker * max(1, len(pids)):
                raise RuntimeError(f"workers {pids} not all reached: {answered}")
    return answered


def serve_memory(artifact: Path, per_worker: int) -> dict[str, Any]:
    """RSS/PSS of ``locator serve`` with 1 worker, 2 workers and 2 replicas (see above)."""
    from benchmarks.bench_workers import Server, nearest_paths, smaps_rollup, stations

    logdir = Path(tempfile.mkdtemp(prefix="bench-load-serve-"))
    setups: dict[str, list[Any]] = {}
    results: dict[str, Any] = {}
    try:
        probe = Server(artifact, 1, logdir, "probe").start()
        try:
            paths = nearest_paths(probe.port, stations(probe.port))
        finally:
            probe.stop()
        for name, servers in (
            ("1 worker", [(1, "w1")]),
            ("2 workers", [(2, "w2")]),
            ("2 replicas", [(1, "r1"), (1, "r2")]),
        ):
            started = [Server(artifact, w, logdir, tag).start() for w, tag in servers]
            setups[name] = started
            try:
                warm(started, paths, per_worker)
                procs: dict[str, dict[str, int]] = {}
                for k, server in enumerate(started):
                    for role, pid in server.processes().items():
                        label = f"replica{k} {role}" if len(started) > 1 else role
                        roll = smaps_rollup(pid)
                        procs[label] = {
                            "pid": pid,
                            **{f: roll[f] for f in ROLLUP},
                            **artifact_mappings(pid, artifact),
                        }
                results[name] = {
                    "processes": procs,
                    "sum_pss_kb": sum(p["pss_kb"] for p in procs.values()),
                    "sum_rss_kb": sum(p["rss_kb"] for p in procs.values()),
                }
            finally:
                for server in started:
                    server.stop()
    finally:
        for servers in setups.values():
            for server in servers:
                with contextlib.suppress(Exception):
                    server.stop()
    return results


def memory_targets(results: dict[str, Any]) -> dict[str, Any]:
    """Issue 13's memory figures: the second worker of ``2 workers`` (RSS, PSS, how much
    of its RSS is shared with the other processes) and the second replica's."""
    out: dict[str, Any] = {}
    worker = results.get("2 workers", {}).get("processes", {}).get("worker1")
    if worker:
        shared = worker["rss_kb"] - worker["private_clean_kb"] - worker["private_dirty_kb"]
        out.update(
            second_worker_rss_mb=worker["rss_kb"] / 1024,
            second_worker_pss_mb=worker["pss_kb"] / 1024,
            second_worker_shared_mb=shared / 1024,
            second_worker_private_mb=worker["private_dirty_kb"] / 1024,
            mostly_shared=shared > worker["rss_kb"] / 2,
        )
    replica = results.get("2 replicas", {}).get("processes", {}).get("replica1 server")
    if replica:
        out.update(
            second_replica_rss_mb=replica["rss_kb"] / 1024,
            second_replica_pss_mb=replica["pss_kb"] / 1024,
            second_replica_private_mb=replica["private_dirty_kb"] / 1024,
        )
    return out


def memory_markdown(results: dict[str, Any]) -> str:
    mib = lambda kb: f"{kb / 1024:.1f}"  # noqa: E731
    lines = [
        "| setup | process | RSS | PSS | Shared_Clean | Shared_Dirty | Private_Clean "
        "| Private_Dirty | artifact maps RSS | artifact maps PSS |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, res in results.items():
        if name == "targets":
            continue
        for role, p in res["processes"].items():
            lines.append(
                f"| {name} | {role} | {mib(p['rss_kb'])} | {mib(p['pss_kb'])} | "
                f"{mib(p['shared_clean_kb'])} | {mib(p['shared_dirty_kb'])} | "
                f"{mib(p['private_clean_kb'])} | "
                f"{mib(p['private_dirty_kb'])} | {mib(p['artifact_rss_kb'])} | "
                f"{mib(p['artifact_pss_kb'])} |"
            )
        lines.append(
            f"| {name} | **sum** | {mib(res['sum_rss_kb'])} | **{mib(res['sum_pss_kb'])}** "
            "| | | | | | |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--artifacts", type=Path, default=None, help="reuse/build artifacts here")
    ap.add_argument("--memory", action="store_true", help="RSS/PSS of served workers instead")
    ap.add_argument("--requests", type=int, default=100, help="--memory: warm-up per worker")
    ap.add_argument("--out", type=Path, default=None, help="--memory: write the JSON here")
    args = ap.parse_args(argv)
    from benchmarks.networks import helsinki_pbf
    from geodata.build import BuildOptions, build
    from locator.config import Settings

    base = args.artifacts or Path(tempfile.mkdtemp(prefix="bench-load-"))
    if args.memory:
        regional = base / "regional"
        if not (regional / "manifest.json").is_file():
            build(BuildOptions(out=regional, progress=False), Settings(artifact_dir=regional))
        results = serve_memory(regional, args.requests)
        results["targets"] = memory_targets(results)
        if args.out:
            args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(memory_markdown(results))
        return 0
    targets = {
        "regional": BuildOptions(out=base / "regional", progress=False),
        "helsinki": BuildOptions(
            out=base / "helsinki", network=str(helsinki_pbf()), progress=False
        ),
    }
    print("| artifact | nodes | import s (median) | open s (median) | open s (max) | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    for name, opts in targets.items():
        if not (opts.out / "manifest.json").is_file():
            build(opts, Settings(artifact_dir=opts.out))
        nodes = json.loads((opts.out / "manifest.json").read_text())["network"]["nodes"]
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run(
                [sys.executable, "-c", PROBE, str(opts.out)],
                check=True,
                capture_output=True,
                text=True,
                cwd=ROOT,
            ).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
        print(
            f"| {name} | {nodes} | {statistics.median(r['import_s'] for r in runs):.2f} | "
            f"{statistics.median(r['open_s'] for r in runs):.3f} | "
            f"{max(r['open_s'] for r in runs):.3f} | "
            f"{max(r['rss_mb'] for r in runs):.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
