"""Benchmark: artifact load time and resident memory of the server process (not a test).

Builds the regional and Helsinki artifacts (into a temp dir unless ``--artifacts`` is
given), then loads each ``--repeat`` times, every time in a fresh Python process (so
imports and page cache are as a restarted server sees them), and reports the median
``Locator.open`` time and the peak resident set size.

    python benchmarks/bench_load.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--artifacts", type=Path, default=None, help="reuse/build artifacts here")
    args = ap.parse_args(argv)
    from benchmarks.networks import helsinki_pbf
    from geodata.build import BuildOptions, build
    from locator.config import Settings

    base = args.artifacts or Path(tempfile.mkdtemp(prefix="bench-load-"))
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
