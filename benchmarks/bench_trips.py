"""Benchmark (issue 10): stations along a trip and rest plans, ours vs the peers' recipe.

Not a test. From the repository root::

    .venv/bin/python benchmarks/bench_trips.py [--trips 20] [--repeat 5] [--out FILE]

On the regional network (truck, 60 km/h on every road, the 41 sample stations), for
``--trips`` seeded trips of 400-600 km by road:

- **ours**: ``Locator.along_route`` (every station's exact detour, default 15 min limit)
  and ``Locator.rest_plan`` (China's 4 h / 20 min rule; a trip without a plan is timed
  too: it answers with the gap), in process; then again on a copy with ``--dense``
  extra driver stations on the trips' routes (synthetic positions, timing only), where
  most trips have a plan and the rest plan works on many candidates;
- **OSRM 26.10 (CH)** and **Valhalla 3.9.1**, in process through their Python bindings
  (no HTTP), the recipes a user of those engines would write: (a) one many-to-many
  table over origin + stations x destination + stations (OSRM ``Table``, Valhalla
  ``sources_to_targets`` with CostMatrix), then the sums; (b) one route per leg
  (origin -> station, station -> destination, origin -> destination) for the first
  ``--route-trips`` trips.

The peers read a ``.osm.pbf`` written from our graph at our speed (OSRM with
``benchmarks/peers/uniform.lua``, Valhalla with ``fixed_speed``), so the travel times
are comparable; the agreement of detours is reported. Peers run in the Python 3.12 venv
``benchmarks/.peers-venv312``, created and filled here when missing (as
``benchmarks/run_all.py`` does; ``PEERS_PYTHON=/path/to/python3.12`` picks the
interpreter); the script exits non-zero, saying why, when a requested peer cannot run.
Medians over trips x repeats (noisy machine: read the ratios).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.peers import common, networks, osm_peers
from locator import Locator
from locator.config import Settings
from locator.errors import NoRestPlanError

log = logging.getLogger("bench_trips")


def _artifact(path: Path, work: Path) -> Path:
    if (path / "manifest.json").exists():
        return path
    from geodata.build import BuildOptions, build

    out = work / "regional"
    log.info("no artifact at %s: building one in %s", path, out)
    build(BuildOptions(out=out, progress=False), Settings(artifact_dir=out))
    return out


def pick_trips(loc: Locator, n: int, seed: int) -> list[tuple[tuple[float, float], ...]]:
    """``n`` seeded trips of 400-600 km by road, each from a port (in turn; the sample
    stations sit near the ports, so the first stretch has stations) to a road node."""
    rng = np.random.default_rng(seed)
    g = loc.network.graph
    usable = np.unique(g.edge_u[g.edge_allowed["truck"]])
    ports = [(p.lon, p.lat) for p in loc.ports]
    out: list[tuple[tuple[float, float], ...]] = []
    tries = 0
    while len(out) < n and tries < 200 * n:
        tries += 1
        pa = ports[tries % len(ports)]
        b = int(rng.choice(usable))
        pb = (float(g.node_lon[b]), float(g.node_lat[b]))
        crow = np.hypot((pa[0] - pb[0]) * 111 * np.cos(np.radians(pa[1])), (pa[1] - pb[1]) * 111)
        if not 250 <= crow <= 550:
            continue
        try:
            r = loc.route(pa, pb)
        except Exception:  # disconnected pair: draw again
            continue
        if 400_000 <= r.distance_m <= 600_000:
            out.append((tuple(r.coordinates[0]), tuple(r.coordinates[-1])))
    return out


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000.0


def ours(loc: Locator, trips: list[Any], repeat: int) -> dict[str, Any]:
    along: list[float] = []
    plans: list[float] = []
    feasible = 0
    counts = []
    for o, d in trips:
        loc.along_route(o, d)  # first call per trip outside the timing
        for _ in range(repeat):
            t = time.perf_counter()
            trip = loc.along_route(o, d, limit=100)
            along.append(time.perf_counter() - t)
        counts.append(len(trip.stations))
        for _ in range(repeat):
            t = time.perf_counter()
            try:
                loc.rest_plan(o, d)
                ok = True
            except NoRestPlanError:
                ok = False
            plans.append(time.perf_counter() - t)
        feasible += ok
    return {
        "along_route": common.stats(along),
        "rest_plan": common.stats(plans),
        "rest_plans_feasible": feasible,
        "stations_along_median": statistics.median(counts),
    }


def dense_copy(artifact: Path, work: Path, n: int, seed: int, trips: list[Any]) -> Locator:
    """A copy of the artifact with ``n`` extra driver stations at random road nodes near
    the trips' routes (seeded; synthetic positions on the real network, timing only)."""
    import shutil

    from locator.stations import Station

    out = work / "dense"
    shutil.copytree(artifact, out)
    loc = Locator.open(out)
    rng = np.random.default_rng(seed)
    base = loc.stations()[0].model_dump()
    routes = [loc.route(o, d).coordinates for o, d in trips]
    for i in range(n):
        line = routes[i % len(routes)]
        lon, lat = line[int(rng.integers(0, line.shape[0]))]
        rec = {
            **base,
            "id": f"synthetic-{i:03d}",
            "lon": float(lon),
            "lat": float(lat),
            "kind": "driver_station",
            "port_id": None,
            "opening_hours": "24/7",
            "source": "synthetic (benchmark only)",
        }
        loc.add_station(Station.model_validate(rec), actor="bench")
    loc.warm()
    return loc


def detours(loc: Locator, trips: list[Any]) -> list[dict[str, float]]:
    """Our detour of every station with a detour <= 60 min, per trip (for agreement)."""
    out = []
    for o, d in trips:
        trip = loc.along_route(o, d, max_detour_s=3600.0, limit=100)
        out.append({s.station.id: s.detour_s for s in trip.stations})
    return out


def agreement(
    mine: list[dict[str, float]], theirs: list[list[float | None]], ids: list[str]
) -> dict[str, Any]:
    """Stations within 15 min by both, by one only, and the detour differences."""
    both = only_ours = only_theirs = 0
    diffs: list[float] = []
    for m, t in zip(mine, theirs, strict=False):
        for sid, det in zip(ids, t, strict=True):
            a = m.get(sid)
            in_a = a is not None and a <= 900.0
            in_b = det is not None and det <= 900.0
            both += in_a and in_b
            only_ours += in_a and not in_b
            only_theirs += in_b and not in_a
            if a is not None and det is not None and in_a and in_b:
                diffs.append(abs(a - det))
    return {
        "within_15_min_both": both,
        "only_ours": only_ours,
        "only_peer": only_theirs,
        "median_abs_detour_diff_s": statistics.median(diffs) if diffs else None,
        "max_abs_detour_diff_s": max(diffs) if diffs else None,
    }


def peers(
    loc: Locator, trips: list[Any], engines: list[str], route_trips: int, work: Path
) -> dict[str, Any]:
    g = loc.network.graph
    stations = loc.stations()
    snapped = []
    for st in stations:
        s = loc.snap(st.lon, st.lat, "truck")
        snapped.append([s.snapped_lon, s.snapped_lat])
    ids = [st.id for st in stations]
    kph = float(g.speeds_kph["truck"])  # type: ignore[arg-type]
    pbf = networks.write_uniform_pbf(g, "truck", kph, work / "regional.osm.pbf")
    job = {
        "task": "trips",
        "trips": [[list(o), list(d)] for o, d in trips],
        "stations": snapped,
        "n_route_trips": route_trips,
        "fixed_speed_kph": kph,
    }
    mine = detours(loc, trips)
    out: dict[str, Any] = {}
    if any(osm_peers.available(eng) for eng in engines):
        from benchmarks.run_all import setup_peers  # creates the 3.12 venv, installs wheels

        setup_peers(set(engines))
    for eng in engines:
        why = osm_peers.available(eng)
        if why:
            raise SystemExit(f"{eng} cannot run: {why}")
        log.info("-- %s: build", eng)
        if eng == "osrm":
            bases, build = osm_peers.build_osrm(pbf, work / "osrm", True, ch=True)
            data = str(bases["CH"])
        else:
            cfg, build = osm_peers.build_valhalla(pbf, work / "valhalla")
            data = str(cfg)
        log.info("-- %s: queries", eng)
        res = osm_peers.run_worker({**job, "engine": eng, "algorithm": "CH", "data": data}, work)
        name = "osrm (CH)" if eng == "osrm" else "valhalla"
        out[name] = {
            "build_s": build.get("build_s"),
            "table_recipe": common.stats(res["table_times"]),
            "route_recipe": common.stats(res["route_times"]),
            "agreement_table": agreement(mine, res["table_detour_s"], ids),
            "errors": res.get("errors") or {},
        }
    return out


def markdown(result: dict[str, Any]) -> str:
    o = result["ours"]
    base = o["along_route"]["median_ms"]
    lines = [
        f"Regional network, {result['trips']} trips of 400-600 km by road, 41 stations, "
        f"medians of {result['repeat']} repeats per trip.",
        "",
        "| engine / recipe | median ms | p99 ms | vs ours (along_route) |",
        "|---|---:|---:|---:|",
        f"| ours `along_route` (every station's detour) | {base:.2f} | "
        f"{o['along_route']['p99_ms']:.2f} | 1.0x |",
        f"| ours `rest_plan` (cn rule; {o['rest_plans_feasible']} of {result['trips']} trips "
        f"have a plan, the others answer the gap) | {o['rest_plan']['median_ms']:.2f} | "
        f"{o['rest_plan']['p99_ms']:.2f} | |",
    ]
    for name, p in result.get("peers", {}).items():
        for recipe, label in (
            ("table_recipe", "one (S+1)x(S+1) table"),
            ("route_recipe", "2S+1 routes"),
        ):
            st = p[recipe]
            if st.get("n"):
                lines.append(
                    f"| {name}: {label} | {st['median_ms']:.2f} | {st['p99_ms']:.2f} | "
                    f"{st['median_ms'] / base:.1f}x slower |"
                )
    dense = result.get("dense")
    if dense:
        lines.append(
            f"| ours, +{dense['extra_stations']} synthetic stations: `along_route` | "
            f"{dense['along_route']['median_ms']:.2f} | {dense['along_route']['p99_ms']:.2f} | |"
        )
        lines.append(
            f"| ours, +{dense['extra_stations']} synthetic stations: `rest_plan` "
            f"({dense['rest_plans_feasible']} of {result['trips']} have a plan) | "
            f"{dense['rest_plan']['median_ms']:.2f} | {dense['rest_plan']['p99_ms']:.2f} | |"
        )
    for name, p in result.get("peers", {}).items():
        a = p["agreement_table"]
        lines.append("")
        lines.append(
            f"Agreement with {name} (table): {a['within_15_min_both']} station-trip pairs "
            f"within 15 min for both, {a['only_ours']} only ours, {a['only_peer']} only the "
            f"peer; detour difference median {a['median_abs_detour_diff_s']} s, max "
            f"{a['max_abs_detour_diff_s']} s."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--artifact", type=Path, default=ROOT / "artifacts" / "regional")
    ap.add_argument("--trips", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--route-trips", type=int, default=3, help="trips for the per-leg recipe")
    ap.add_argument("--seed", type=int, default=10)
    ap.add_argument("--engines", default="osrm,valhalla", help="peers ('' for none)")
    ap.add_argument(
        "--dense", type=int, default=100, help="also time ours with this many extra stations"
    )
    ap.add_argument("--out", type=Path, default=common.RESULTS_DIR / "trips.json")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with tempfile.TemporaryDirectory(prefix="bench-trips-") as tmp:
        work = Path(tmp)
        loc = Locator.open(_artifact(args.artifact, work))
        loc.warm()
        trips = pick_trips(loc, args.trips, args.seed)
        log.info("%d trips; ours", len(trips))
        result: dict[str, Any] = {
            "trips": len(trips),
            "repeat": args.repeat,
            "seed": args.seed,
            "ours": ours(loc, trips, args.repeat),
        }
        engines = [e for e in args.engines.split(",") if e]
        if engines:
            result["peers"] = peers(loc, trips, engines, args.route_trips, work)
        loc.close()
        if args.dense:
            log.info("dense: %d extra stations", args.dense)
            dense = dense_copy(loc.directory, work, args.dense, args.seed, trips)
            result["dense"] = {"extra_stations": args.dense, **ours(dense, trips, args.repeat)}
            dense.close()
    result["markdown"] = markdown(result)
    print(result["markdown"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
