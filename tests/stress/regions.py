"""Stress script: fresh administrative units (their prepared outlines and STR-trees not yet
used), 16 threads released at one barrier into point-in-polygon queries, repeated. GEOS
builds a prepared geometry's index lazily on its first queries; unguarded, the first
concurrent queries race and the process aborts (issue 9, D1).

    python -X faulthandler tests/stress/regions.py ADMIN_FILE ROUNDS THREADS CALLS
"""

from __future__ import annotations

import json
import random
import sys
import threading
import traceback
from pathlib import Path

import numpy as np

from locator.analysis.regions import AdminUnits


def _worker(
    units: AdminUnits, barrier: threading.Barrier, seed: int, calls: int, out: list[str]
) -> None:
    rng = random.Random(seed)
    lon = np.array([rng.uniform(97.0, 126.0) for _ in range(64)])
    lat = np.array([rng.uniform(37.0, 53.5) for _ in range(64)])
    barrier.wait()
    try:
        for _ in range(calls):
            units.in_china(lon, lat)
            units.locate(lon, lat)
            units.locate(float(lon[0]), float(lat[0]))
        out.append("done")
    except Exception:
        out.append(traceback.format_exc())


def main() -> int:
    path, rounds, n_threads, calls = Path(sys.argv[1]), *map(int, sys.argv[2:5])
    results: list[str] = []
    for r in range(rounds):
        units = AdminUnits.load(path)
        barrier = threading.Barrier(n_threads)
        threads = [
            threading.Thread(target=_worker, args=(units, barrier, k + 100 * r, calls, results))
            for k in range(n_threads)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    failures = [x for x in results if x != "done"]
    print(json.dumps({"threads_done": results.count("done"), "failures": failures[:3]}))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
