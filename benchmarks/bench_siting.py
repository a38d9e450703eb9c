"""Benchmark (issue 12): site suggestions on the coverage definition, per league.

Not a test. From the repository root::

    .venv/bin/python benchmarks/bench_siting.py [--k 5] [--repeat 3] [--out FILE]

For each league: ``Locator.suggest_sites(kind="driver_station", k, region=<league>)``
(candidates in the league and in China) and the league's coverage report, medians of
``--repeat`` runs on the regional artifact (built in a temporary directory when
``artifacts/regional`` is missing).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from locator import Locator
from locator.config import Settings

LEAGUES = ("152500", "150700", "152900", "150800")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--artifact", type=Path, default=ROOT / "artifacts" / "regional")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "siting.json")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        artifact = args.artifact
        if not (artifact / "manifest.json").exists():
            from geodata.build import BuildOptions, build

            artifact = Path(tmp) / "regional"
            build(BuildOptions(out=artifact, progress=False), Settings(artifact_dir=artifact))
        loc = Locator.open(artifact)
        loc.warm()
        rows = []
        for code in LEAGUES:
            sites_t, cov_t = [], []
            for _ in range(args.repeat):
                t = time.perf_counter()
                res = loc.suggest_sites(kind="driver_station", k=args.k, region=code)
                sites_t.append(time.perf_counter() - t)
                t = time.perf_counter()
                loc.coverage(kind="driver_station", region=code)
                cov_t.append(time.perf_counter() - t)
            unit = loc.regions.get(code) if loc.regions else None
            rows.append(
                {
                    "league": code,
                    "name": unit.name_en if unit else code,
                    "candidates": res.candidates_evaluated,
                    "sites_ms": statistics.median(sites_t) * 1000,
                    "coverage_ms": statistics.median(cov_t) * 1000,
                    "covered_km_before": res.covered_before / 1000,
                    "covered_km_after": res.covered_after / 1000,
                    "road_km": res.total_demand / 1000,
                }
            )
        loc.close()
    for r in rows:
        print(
            f"{r['name']:<18} cand {r['candidates']:>4}  sites {r['sites_ms']:7.1f} ms  "
            f"coverage {r['coverage_ms']:7.1f} ms  covered {r['covered_km_before']:.1f} -> "
            f"{r['covered_km_after']:.1f} of {r['road_km']:.1f} km"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"k": args.k, "repeat": args.repeat, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
