"""Our engine (``locator``) in the peer benchmark: build, nearest, route, circles,
coverage labelling, site suggestions. Engine-level classes are used directly (the same
ones ``Locator`` delegates to), because networks 2 and 3 carry random stations, not a
store. Circle buffers are the service's settings (``Settings.circle_buffer_m``)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from benchmarks.peers.common import rss_mb, stats
from benchmarks.peers.networks import Scenario, prepare
from locator.analysis.coverage import label_nodes
from locator.analysis.isochrones import IsochroneEngine
from locator.analysis.nearest import StationIndex
from locator.analysis.routing import RoutingEngine
from locator.analysis.siting import coverage_matrix, road_length_per_node, suggest_sites
from locator.config import Settings
from locator.errors import LocatorError
from locator.network.core import Network
from locator.network.snapping import Snap, SnapIndex

log = logging.getLogger(__name__)

MAX_SNAP_M = 20_000.0


@dataclass
class Ours:
    snap_index: SnapIndex
    routing: RoutingEngine
    index: StationIndex
    circles: IsochroneEngine
    station_snaps: list[Snap]
    buffer_m: float


def build(sc: Scenario) -> tuple[Ours, dict[str, Any]]:
    """Network (geometry, mode graphs, snap grid) + nearest index + circle engine; time
    and RSS growth."""
    rss0 = rss_mb()
    t0 = time.perf_counter()
    net = Network(sc.graph)
    idx = net.snapper
    eng = RoutingEngine(net)
    idx.grid(sc.mode)
    t_index = time.perf_counter() - t0
    t_r = time.perf_counter()
    eng.warm()  # route landmarks (ALT) and kernels, as Locator.warm() does at start-up
    t_route = time.perf_counter() - t_r
    if sc.station_snapped is None:
        prepare(sc, idx, MAX_SNAP_M)
    snaps = idx.snap_many(
        sc.station_lonlat[:, 0], sc.station_lonlat[:, 1], max_snap_m=MAX_SNAP_M, mode=sc.mode
    )
    t1 = time.perf_counter()
    index = StationIndex.compute(
        eng, sc.mode, [str(i) for i in range(len(snaps))], list(snaps)
    )
    index.ensure_table()
    t_forest = time.perf_counter() - t1
    t2 = time.perf_counter()
    circ = IsochroneEngine(net)
    _ = circ.geometry.unnoded_roads  # one-off road-crossing check (the server warms it too)
    t_circ = time.perf_counter() - t2
    total = time.perf_counter() - t0
    buffer_m = Settings().circle_buffer_m(sc.graph.network_kind)
    return Ours(idx, eng, index, circ, list(snaps), buffer_m), {
        "build_s": total,
        "parts_s": {
            "network(geometry+mode_csr+snap_grid)": t_index,
            "routing(landmarks+kernels)": t_route,
            "nearest_index": t_forest,
            "circle_engine": t_circ,
        },
        "rss_growth_mb": rss_mb() - rss0,
        "what": "Network (edge geometry, per-mode CSR, segment grid) + route landmarks "
        "(16 per mode, ALT) + StationIndex (one reverse multi-source search + per-station "
        "time table) + IsochroneEngine",
    }


def nearest(o: Ours, sc: Scenario, n: int) -> dict[str, Any]:
    """k=1 from the forest and k=3 by one bounded forward search, per query point."""
    t1: list[float] = []
    t3: list[float] = []
    st1: list[int] = []
    d1: list[float] = []
    st3: list[list[int]] = []
    d3: list[list[float]] = []
    for i in range(n):
        lon, lat = float(sc.point_lonlat[i, 0]), float(sc.point_lonlat[i, 1])
        a = time.perf_counter()
        try:
            snap = o.snap_index.snap(lon, lat, max_snap_m=MAX_SNAP_M, mode=sc.mode)
            (r,) = o.index.nearest(snap)
            st1.append(r.station)
            d1.append(r.duration_s)
        except (LocatorError, ValueError):
            st1.append(-1)
            d1.append(float("inf"))
        b = time.perf_counter()
        try:
            snap = o.snap_index.snap(lon, lat, max_snap_m=MAX_SNAP_M, mode=sc.mode)
            rs = o.index.nearest(snap, k=3)
            st3.append([x.station for x in rs])
            d3.append([x.duration_s for x in rs])
        except LocatorError:
            st3.append([])
            d3.append([])
        c = time.perf_counter()
        t1.append(b - a)
        t3.append(c - b)
    return {
        "k1": stats(t1),
        "k3": stats(t3),
        "k1_station": st1,
        "k1_duration_s": d1,
        "k3_station": st3,
        "k3_duration_s": d3,
        "method": "snap to edge (segment grid) + forest lookup + path walk + route assembly "
        "(k=1); snap + per-station time table (or bounded search) + k routes (k=3)",
    }


def route(o: Ours, sc: Scenario, n: int, station: list[int]) -> dict[str, Any]:
    """Route from each point to a given station (the k=1 answer)."""
    t: list[float] = []
    dur: list[float] = []
    dist: list[float] = []
    for i in range(n):
        if station[i] < 0:
            continue
        lon, lat = float(sc.point_lonlat[i, 0]), float(sc.point_lonlat[i, 1])
        a = time.perf_counter()
        snap = o.snap_index.snap(lon, lat, max_snap_m=MAX_SNAP_M, mode=sc.mode)
        try:
            r = o.routing.route(sc.mode, snap, o.station_snaps[station[i]])
        except LocatorError:
            continue
        t.append(time.perf_counter() - a)
        dur.append(r.duration_s)
        dist.append(r.distance_m)
    return {
        "route": stats(t),
        "duration_s": dur,
        "distance_m": dist,
        "method": "snap + point-to-point A* with 16 landmarks (ALT, numba kernel) with "
        "partial edges + polyline/steps",
    }


def circles(o: Ours, sc: Scenario, idx: list[int], minutes: tuple[int, ...]) -> dict[str, Any]:
    """5/10/15-minute circles from points (direction 'from', road-hugging shape)."""
    t: list[float] = []
    polys: list[list[shapely.Geometry]] = []
    delivered: list[list[shapely.Geometry]] = []
    geo = o.circles.geometry
    for i in idx:
        lon, lat = float(sc.point_lonlat[i, 0]), float(sc.point_lonlat[i, 1])
        a = time.perf_counter()
        snap = o.snap_index.snap(lon, lat, max_snap_m=MAX_SNAP_M, mode=sc.mode)
        cs = o.circles.isochrones(
            snap, mode=sc.mode, minutes=minutes, direction="from", buffer_m=o.buffer_m
        )
        t.append(time.perf_counter() - a)
        polys.append([geo.to_projected(c.polygon) for c in cs])
        delivered.append([c.polygon for c in cs])
    return {
        "circles": stats(t),
        "polygons": polys,
        "delivered": delivered,
        "method": "snap + bounded search + exact partial-edge intervals + buffered roads "
        "(Settings.circle_buffer_m per network kind), nested in WGS 84 by union",
    }


def reached_lines(o: Ours, sc: Scenario, lon: float, lat: float, minutes: float) -> Any:
    """Projected road pieces actually reachable from a point within ``minutes`` (truth)."""
    snap = o.snap_index.snap(lon, lat, max_snap_m=MAX_SNAP_M, mode=sc.mode)
    iv = o.circles.reached(snap, mode=sc.mode, minutes=minutes, direction="from")
    return iv.lines(o.circles.geometry)


def coverage(o: Ours, sc: Scenario, limit_s: float, repeat: int) -> dict[str, Any]:
    """Label every node with the time to its nearest station (stations on nodes, so the
    answer is comparable node by node with the node-based peers); also the on-road
    (snapped, partial-edge) variant the product uses."""
    assert sc.station_nodes is not None
    nodes = [int(x) for x in sc.station_nodes]
    t: list[float] = []
    lab = None
    for _ in range(repeat):
        a = time.perf_counter()
        lab = label_nodes(o.circles, nodes, mode=sc.mode, limit_s=limit_s)
        t.append(time.perf_counter() - a)
    t_snap: list[float] = []
    for _ in range(repeat):
        a = time.perf_counter()
        label_nodes(o.circles, o.station_snaps, mode=sc.mode, limit_s=limit_s)
        t_snap.append(time.perf_counter() - a)
    assert lab is not None
    return {
        "coverage": stats(t),
        "coverage_snapped_stations": stats(t_snap),
        "node_time_s": lab.time_s,
        "method": "label_nodes: one bounded reverse multi-source Dijkstra (scipy-free, "
        "compiled CSR search)",
    }


def siting(
    o: Ours, sc: Scenario, k: int, minutes: float, n_candidates: int, seed: int
) -> dict[str, Any]:
    """Greedy MCLP on road-length demand; also returns the coverage sets for spopt."""
    assert sc.station_nodes is not None
    lab = label_nodes(
        o.circles, [int(x) for x in sc.station_nodes], mode=sc.mode, limit_s=minutes * 60
    )
    demand = road_length_per_node(o.circles.geometry)
    a = time.perf_counter()
    res = suggest_sites(
        o.circles.net,
        sc.mode,
        lab.time_s,
        demand,
        k=k,
        minutes=minutes,
        max_candidates=n_candidates,
        seed=seed,
    )
    total_s = time.perf_counter() - a
    # the same candidate set, for the exact solver
    mask = sc.graph.edge_allowed[sc.mode]
    used = np.zeros(sc.graph.n_nodes, dtype=bool)
    used[sc.graph.edge_u[mask]] = True
    used[sc.graph.edge_v[mask]] = True
    cand = np.nonzero(used)[0].astype(np.int64)
    if cand.shape[0] > n_candidates:
        cand = np.sort(np.random.default_rng(seed).choice(cand, size=n_candidates, replace=False))
    a = time.perf_counter()
    cover = coverage_matrix(o.circles.net.mode(sc.mode).reverse, cand, minutes * 60)
    cover_s = time.perf_counter() - a
    remaining = np.where(lab.time_s <= minutes * 60, 0.0, demand)
    return {
        "time_ms": total_s * 1000,
        "coverage_sets_ms": cover_s * 1000,
        "objective": float(sum(s.gain for s in res.sites)),
        "minutes": minutes,
        "sites": [s.node for s in res.sites],
        "cover": cover,
        "remaining": remaining,
        "candidates": cand,
        "method": f"suggest_sites: coverage sets of {cand.shape[0]} candidates (batched "
        "bounded Dijkstra) + lazy greedy (CELF)",
    }
