"""Benchmark (issue 12): site suggestions on the coverage definition, per league.

Not a test. From the repository root::

    .venv/bin/python benchmarks/bench_siting.py [--k 5] [--repeat 3] [--out FILE]

For each league: ``Locator.suggest_sites(kind="driver_station", k, region=<league>)``
(candidates in the league and in China), the league's coverage report and a what-if
(``Locator.evaluate_plan`` with the first suggested site added), medians of ``--repeat``
runs on the regional artifact (built in a temporary directory when ``artifacts/regional``
is missing).

Demand objective against spopt: ``--demand`` weighted points (weights 1-100, seeded) at
random road nodes of the league; ours (``suggest_demand_sites``: one bounded search per
point, lazy greedy) against spopt's exact MCLP (CBC) on the very same coverage sets, in
the same run: time of each and the objective gap.
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

import numpy as np
import shapely

from locator import Locator
from locator.analysis.coverage import Coverage, DemandPoints, label_nodes
from locator.analysis.road_siting import candidate_nodes, demand_cover, suggest_demand_sites
from locator.config import Settings
from locator.stations import StationKind

LEAGUES = ("152500", "150700", "152900", "150800")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--artifact", type=Path, default=ROOT / "artifacts" / "regional")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--demand", type=int, default=300, help="demand points per league")
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
            sites_t, cov_t, what_t = [], [], []
            for _ in range(args.repeat):
                t = time.perf_counter()
                res = loc.suggest_sites(kind="driver_station", k=args.k, region=code)
                sites_t.append(time.perf_counter() - t)
                t = time.perf_counter()
                loc.coverage(kind="driver_station", region=code)
                cov_t.append(time.perf_counter() - t)
                site = res.sites[0]
                t = time.perf_counter()
                loc.evaluate_plan(kind="driver_station", region=code, add=[(site.lon, site.lat)])
                what_t.append(time.perf_counter() - t)
            demand_row = _demand_vs_spopt(loc, code, args.k, args.demand, args.repeat)
            unit = loc.regions.get(code) if loc.regions else None
            rows.append(
                {
                    "league": code,
                    "name": unit.name_en if unit else code,
                    "candidates": res.candidates_evaluated,
                    "sites_ms": statistics.median(sites_t) * 1000,
                    "coverage_ms": statistics.median(cov_t) * 1000,
                    "whatif_ms": statistics.median(what_t) * 1000,
                    "demand": demand_row,
                    "covered_km_before": res.covered_before / 1000,
                    "covered_km_after": res.covered_after / 1000,
                    "road_km": res.total_demand / 1000,
                }
            )
        loc.close()
    for r in rows:
        print(
            f"{r['name']:<18} cand {r['candidates']:>4}  sites {r['sites_ms']:7.1f} ms  "
            f"coverage {r['coverage_ms']:7.1f} ms  what-if {r['whatif_ms']:7.1f} ms  covered "
            f"{r['covered_km_before']:.1f} -> {r['covered_km_after']:.1f} of {r['road_km']:.1f} km"
        )
        d = r["demand"]
        print(
            f"{'':<18} demand {d['points']} pts, {d['candidates']} cand: ours "
            f"{d['ours_ms']:7.1f} ms ({d['ours_covered']:.0f}) vs spopt MCLP "
            f"{d['spopt_ms']:7.1f} ms ({d['spopt_covered']:.0f}): ratio "
            f"{d['spopt_ms'] / d['ours_ms']:.1f}x, gap {100 * d['gap']:.2f} %"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"k": args.k, "repeat": args.repeat, "rows": rows}, indent=1))
    return 0


def _demand_vs_spopt(loc: Locator, code: str, k: int, n: int, repeat: int) -> dict:
    """Ours against spopt's exact MCLP on one league's weighted demand (same sets)."""
    import pulp
    from spopt.locate import MCLP

    engines = loc._engines  # benchmark access to the engine behind the facade
    engine = engines.circles
    regions = loc.regions
    assert regions is not None
    poly = regions.polygon(code)
    g = engines.net.graph
    inside = np.nonzero(shapely.contains_xy(poly, g.node_lon, g.node_lat))[0]
    rng = np.random.default_rng(int(code))
    pick = rng.choice(inside, size=min(n, inside.size), replace=False)
    snaps = [loc.snap(float(g.node_lon[i]), float(g.node_lat[i])) for i in pick]
    demand = DemandPoints.from_snaps(snaps, rng.integers(1, 101, len(snaps)).astype(float))
    index = loc._state.index("truck", StationKind.driver_station)
    stations = [s for s, i in zip(index.targets.snaps, index.ids, strict=True) if s and i]
    minutes = 15.0
    ours_t = []
    for _ in range(repeat):
        t = time.perf_counter()
        res = suggest_demand_sites(
            engine,
            stations,
            demand,
            mode="truck",
            minutes=minutes,
            k=k,
            region=poly,
            in_country=regions.in_china,
        )
        ours_t.append(time.perf_counter() - t)
    # the same instance for spopt: candidates, coverage sets, uncovered weights
    region_xy = engines.net.geometry.to_projected(poly)
    cand = candidate_nodes(engine, "truck", region_xy, regions.in_china, g.n_nodes, 0)
    cover = demand_cover(engine, "truck", demand, cand, minutes * 60).toarray()
    labels = label_nodes(engine, stations, mode="truck", limit_s=minutes * 60)
    covered = Coverage(engine, labels, minutes).demand_covered(demand)
    weights = np.where(covered, 0.0, demand.weight)
    cost = np.where(cover.T, 0.0, 1.0)  # (demand, candidate); covered when cost <= radius
    spopt_t = []
    optimum = 0.0
    for _ in range(repeat):
        t = time.perf_counter()
        model = MCLP.from_cost_matrix(cost, weights, service_radius=0.5, p_facilities=k)
        model.solve(pulp.PULP_CBC_CMD(msg=False))
        spopt_t.append(time.perf_counter() - t)
        optimum = float(pulp.value(model.problem.objective))
    ours = res.sites[-1].cumulative_gain if res.sites else 0.0
    return {
        "points": len(snaps),
        "candidates": int(cand.size),
        "ours_ms": statistics.median(ours_t) * 1000,
        "spopt_ms": statistics.median(spopt_t) * 1000,
        "ours_covered": ours,
        "spopt_covered": optimum,
        "gap": (optimum - ours) / optimum if optimum > 0 else 0.0,
    }


if __name__ == "__main__":
    raise SystemExit(main())
