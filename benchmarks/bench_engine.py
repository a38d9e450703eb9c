"""Benchmark: nearest-station queries on the regional network, ours vs OSMnx + NetworkX.

Not a test. Run from the repository root::

    python benchmarks/bench_engine.py [--points 1000] [--stations 40] [--seed 7]

Measures, on the embedded regional network (``geodata.regional``) and the SAME weighted
graph for every contender:

(a) ours: ``SnapIndex.snap`` (nearest edge) + ``NearestForest.query`` (lookup + path walk
    + route assembly), per query;
(b) KD-tree (built once) nearest node + ``nx.multi_source_dijkstra`` from all stations
    on the reversed graph, stopping at the query node (the strongest plain-NetworkX way);
(c) ``osmnx.distance.nearest_nodes`` + ``nx.single_source_dijkstra`` from the point,
    then the fastest station (the usual notebook way; fewer samples: it is slow).

Also the forest build time and the time of a station edit (add / remove). Prints a
markdown table to stdout. Stations come from ``geodata/data/sample_stations.geojson``
when present, otherwise ``--stations`` random nodes (seeded).
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import statistics
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
from scipy.spatial import cKDTree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.networks import NETWORKS, load_network
from locator.analysis.nearest import StationIndex
from locator.analysis.routing import RoutingEngine
from locator.errors import LocatorError
from locator.network.core import Network
from locator.network.graph import RoadGraph

log = logging.getLogger("bench_engine")

MODE = "truck"
SAMPLE_STATIONS = ROOT / "geodata" / "data" / "sample_stations.geojson"


def _station_points(
    g: RoadGraph, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, str]:
    for path in (SAMPLE_STATIONS, SAMPLE_STATIONS.with_suffix(".geojson.gz")):
        if path.exists():
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            feats = json.loads(raw)["features"]
            xy = np.array([f["geometry"]["coordinates"][:2] for f in feats], dtype=float)
            return xy[:, 0], xy[:, 1], f"{len(feats)} stations from {path.name}"
    nodes = rng.choice(g.n_nodes, n, replace=False)
    return g.node_lon[nodes], g.node_lat[nodes], f"{n} stations at random nodes (seeded)"


def _query_points(g: RoadGraph, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points near roads: a random spot on a random edge plus ~200 m of noise."""
    e = rng.integers(0, g.n_edges, n)
    f = rng.uniform(0.0, 1.0, n)
    lon = g.node_lon[g.edge_u[e]] * (1 - f) + g.node_lon[g.edge_v[e]] * f
    lat = g.node_lat[g.edge_u[e]] * (1 - f) + g.node_lat[g.edge_v[e]] * f
    return lon + rng.normal(0, 0.002, n), lat + rng.normal(0, 0.002, n)


def _nx_graph(g: RoadGraph) -> nx.MultiDiGraph:
    """The same weighted graph as an OSMnx-style projected MultiDiGraph."""
    mg = nx.MultiDiGraph(crs=g.crs)
    for i in range(g.n_nodes):
        mg.add_node(i, x=float(g.node_x[i]), y=float(g.node_y[i]))
    allowed = g.edge_allowed[MODE]
    t = g.edge_time_s[MODE]
    for e in np.nonzero(allowed)[0]:
        mg.add_edge(int(g.edge_u[e]), int(g.edge_v[e]), travel_time=float(t[e]))
    return mg


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--base-points", type=int, default=200, help="samples for (b)")
    ap.add_argument("--slow-points", type=int, default=30, help="samples for (c)")
    ap.add_argument("--stations", type=int, default=40)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--network", choices=NETWORKS, default="regional")
    ap.add_argument("--max-snap-m", type=float, default=20_000.0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    rng = np.random.default_rng(args.seed)

    started = time.perf_counter()
    g = load_network(args.network)
    net = Network(g)
    idx = net.snapper
    eng = RoutingEngine(net)
    idx.grid(MODE)  # build the snap grid now
    prep_s = time.perf_counter() - started
    log.info("graph %d nodes / %d edges, engine ready in %.2f s", g.n_nodes, g.n_edges, prep_s)

    if args.network == "regional":
        s_lon, s_lat, station_note = _station_points(g, args.stations, rng)
    else:
        drivable = np.unique(g.edge_u[g.edge_allowed[MODE]])
        nodes = rng.choice(drivable, args.stations, replace=False)
        s_lon, s_lat = g.node_lon[nodes], g.node_lat[nodes]
        station_note = f"{args.stations} stations at random nodes (seeded)"
    stations = idx.snap_many(s_lon, s_lat, max_snap_m=args.max_snap_m, mode=MODE)
    ids = [f"s{i}" for i in range(len(stations))]
    builds = []
    for _ in range(5):
        t0 = time.perf_counter()
        index = StationIndex.compute(eng, MODE, ids, list(stations))
        builds.append(time.perf_counter() - t0)

    lon, lat = _query_points(g, args.points, rng)
    ours: list[float] = []
    ours_snap: list[float] = []
    ours_station: list[int] = []
    path_edges: list[int] = []
    for i in range(args.points):
        t0 = time.perf_counter()
        t1 = t0
        try:
            snap = idx.snap(float(lon[i]), float(lat[i]), max_snap_m=args.max_snap_m, mode=MODE)
            t1 = time.perf_counter()
            (res,) = index.nearest(snap)
            station = res.station
            path_edges.append(len(res.route.edges))
        except (LocatorError, ValueError):
            station = -1
        t2 = time.perf_counter()
        ours.append(t2 - t0)
        ours_snap.append(t1 - t0)
        ours_station.append(station)

    # (b) KD-tree once + NetworkX multi-source Dijkstra to the query node
    mg = _nx_graph(g)
    rev = mg.reverse(copy=True)
    tree = cKDTree(np.column_stack((g.node_x, g.node_y)))
    station_node = [
        int(tree.query(np.column_stack(idx.projector.forward(s.snapped_lon, s.snapped_lat)))[1][0])
        for s in stations
    ]
    node_to_station = {n: k for k, n in enumerate(station_node)}
    px, py = idx.projector.forward(lon, lat)
    base: list[float] = []
    agree = 0
    n_base = min(args.base_points, args.points)
    for i in range(n_base):
        t0 = time.perf_counter()
        origin = int(tree.query((px[i], py[i]))[1])
        try:
            _, path = nx.multi_source_dijkstra(
                rev, set(station_node), target=origin, weight="travel_time"
            )
            station = node_to_station[path[0]]
        except nx.NetworkXNoPath:
            station = -1
        base.append(time.perf_counter() - t0)
        agree += station == ours_station[i]

    # (c) osmnx.nearest_nodes per call + single-source Dijkstra from the point
    import osmnx

    slow: list[float] = []
    for i in range(min(args.slow_points, args.points)):
        t0 = time.perf_counter()
        origin = int(osmnx.distance.nearest_nodes(mg, float(px[i]), float(py[i])))
        dist = nx.single_source_dijkstra_path_length(mg, origin, weight="travel_time")
        min((dist.get(n, np.inf), k) for k, n in enumerate(station_node))
        slow.append(time.perf_counter() - t0)

    # edits
    adds, removes = [], []
    extra = idx.snap_many(*_query_points(g, 20, rng), max_snap_m=args.max_snap_m, mode=MODE)
    for j, s in enumerate(extra):
        t0 = time.perf_counter()
        added = index.with_station(f"extra{j}", s)
        adds.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        added.without(f"extra{j}")
        removes.append(time.perf_counter() - t0)

    us = 1e6
    p50_ours, p50_base, p50_slow = (statistics.median(x) for x in (ours, base, slow))
    print(f"### Nearest station (k=1), {args.network} network, mode {MODE}\n")
    print(
        f"{g.n_nodes} nodes, {g.n_edges} directed edges; {station_note}; "
        f"{args.points} query points (seed {args.seed}); median route "
        f"{statistics.median(path_edges):.0f} edges.\n"
    )
    print("| method | samples | p50 | p99 | p50 ratio vs ours |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| (a) ours: snap to edge + forest lookup + path walk | {len(ours)} | "
        f"{p50_ours * us:.1f} µs | {_pct(ours, 99) * us:.1f} µs | 1x |"
    )
    print(
        f"| (a1) of which: snap to edge | {len(ours_snap)} | "
        f"{statistics.median(ours_snap) * us:.1f} µs | {_pct(ours_snap, 99) * us:.1f} µs | |"
    )
    print(
        f"| (b) KD-tree (once) + nx.multi_source_dijkstra to the point | {len(base)} | "
        f"{p50_base * 1e3:.2f} ms | {_pct(base, 99) * 1e3:.2f} ms | "
        f"{p50_base / p50_ours:.0f}x |"
    )
    print(
        f"| (c) osmnx.nearest_nodes + nx.single_source_dijkstra | {len(slow)} | "
        f"{p50_slow * 1e3:.1f} ms | {_pct(slow, 99) * 1e3:.1f} ms | "
        f"{p50_slow / p50_ours:.0f}x |"
    )
    print()
    print("| build / edit | samples | median | max |")
    print("|---|---:|---:|---:|")
    print(
        f"| forest compute ({len(stations)} stations) | {len(builds)} | "
        f"{statistics.median(builds) * 1e3:.1f} ms | {max(builds) * 1e3:.1f} ms |"
    )
    print(
        f"| add_station (recompute) | {len(adds)} | {statistics.median(adds) * 1e3:.1f} ms | "
        f"{max(adds) * 1e3:.1f} ms |"
    )
    print(
        f"| remove_station (recompute) | {len(removes)} | "
        f"{statistics.median(removes) * 1e3:.1f} ms | {max(removes) * 1e3:.1f} ms |"
    )
    print()
    target_ok = p50_ours < 100e-6 and p50_base / p50_ours >= 100
    print(
        f"Targets: p50 < 100 µs and >= 100x faster than (b): "
        f"{'met' if target_ok else 'NOT met'}. Same nearest station as (b) "
        f"(node-snapped) for {agree}/{n_base} points."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
