"""In-process Python peers: OSMnx + NetworkX, Pandana, spopt (same weights as ours)."""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any

import networkx as nx
import numpy as np
import shapely
from scipy.spatial import cKDTree

from benchmarks.peers.common import rss_mb, stats
from benchmarks.peers.networks import Scenario

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- NetworkX
def nx_build(sc: Scenario) -> tuple[nx.MultiDiGraph, dict[str, Any]]:
    """OSMnx-style projected MultiDiGraph with our travel times (``travel_time``, s)."""
    g = sc.graph
    rss0 = rss_mb()
    t0 = time.perf_counter()
    mg = nx.MultiDiGraph(crs=g.crs)
    assert sc.usable_nodes is not None
    use = sc.usable_nodes
    mg.add_nodes_from(  # only nodes the mode can use (nearest_nodes must not pick others)
        (int(i), {"x": float(x), "y": float(y)})
        for i, x, y in zip(use, g.node_x[use], g.node_y[use], strict=True)
    )
    m = g.edge_allowed[sc.mode]
    t = g.edge_time_s[sc.mode]
    mg.add_edges_from(
        (int(u), int(v), {"travel_time": float(w)})
        for u, v, w in zip(g.edge_u[m], g.edge_v[m], t[m], strict=True)
    )
    return mg, {
        "build_s": time.perf_counter() - t0,
        "rss_growth_mb": rss_mb() - rss0,
        "what": "networkx.MultiDiGraph from our arrays (as osmnx.graph_from_* would hold it)",
    }


def nx_nearest(mg: nx.MultiDiGraph, sc: Scenario, n: int) -> dict[str, Any]:
    """The notebook recipe: ``osmnx.distance.nearest_nodes`` + single-source Dijkstra
    from the point's node, then the k fastest stations (k=1 and k=3 from one search)."""
    import osmnx

    assert sc.station_nodes is not None
    assert sc.node_xy is not None
    from locator.network.projection import Projector

    px, py = Projector(sc.graph.crs).forward(sc.point_lonlat[:n, 0], sc.point_lonlat[:n, 1])
    st_nodes = [int(x) for x in sc.station_nodes]
    times: list[float] = []
    k1: list[int] = []
    d1: list[float] = []
    for i in range(n):
        a = time.perf_counter()
        origin = int(osmnx.distance.nearest_nodes(mg, float(px[i]), float(py[i])))
        dist = nx.single_source_dijkstra_path_length(mg, origin, weight="travel_time")
        cand = sorted((dist.get(s, np.inf), j) for j, s in enumerate(st_nodes))[:3]
        times.append(time.perf_counter() - a)
        k1.append(cand[0][1] if np.isfinite(cand[0][0]) else -1)
        d1.append(float(cand[0][0]))
    return {
        "k1": stats(times),
        "k3": stats(times),
        "k1_station": k1,
        "k1_duration_s": d1,
        "method": "osmnx.distance.nearest_nodes (tree built per call) + "
        "nx.single_source_dijkstra_path_length; k=1 and k=3 from one search",
    }


def nx_nearest_fast(mg: nx.MultiDiGraph, sc: Scenario, n: int) -> dict[str, Any]:
    """The strongest plain NetworkX way for k=1: KD-tree built once + multi-source
    Dijkstra from all stations on the reversed graph, stopping at the point's node."""
    assert sc.station_nodes is not None
    assert sc.node_xy is not None
    from locator.network.projection import Projector

    rev = mg.reverse(copy=True)
    tree = cKDTree(sc.node_xy[sc.usable_nodes])
    px, py = Projector(sc.graph.crs).forward(sc.point_lonlat[:n, 0], sc.point_lonlat[:n, 1])
    st_nodes = {int(x): j for j, x in enumerate(sc.station_nodes)}
    times: list[float] = []
    k1: list[int] = []
    for i in range(n):
        a = time.perf_counter()
        origin = int(sc.usable_nodes[tree.query((px[i], py[i]))[1]])  # type: ignore[index]
        try:
            _, path = nx.multi_source_dijkstra(
                rev, set(st_nodes), target=origin, weight="travel_time"
            )
            k1.append(st_nodes[path[0]])
        except nx.NetworkXNoPath:
            k1.append(-1)
        times.append(time.perf_counter() - a)
    return {
        "k1": stats(times),
        "k1_station": k1,
        "method": "KD-tree once + nx.multi_source_dijkstra on the reversed graph to the "
        "point's node (k=1 only)",
    }


def nx_circles(
    mg: nx.MultiDiGraph, sc: Scenario, idx: list[int], minutes: tuple[int, ...]
) -> dict[str, Any]:
    """The OSMnx isochrone recipe: ``ego_graph(radius=T, distance=travel_time)`` and a
    concave hull (ratio 0.3) of the reached nodes, per budget."""
    assert sc.point_nodes is not None
    assert sc.node_xy is not None
    dg = nx.DiGraph(mg)  # ego_graph on the simple view, as the osmnx example does
    t: list[float] = []
    polys: list[list[shapely.Geometry]] = []
    for i in idx:
        a = time.perf_counter()
        out = []
        for m in minutes:
            sub = nx.ego_graph(dg, int(sc.point_nodes[i]), radius=m * 60.0, distance="travel_time")
            pts = shapely.multipoints(sc.node_xy[list(sub.nodes)])
            out.append(shapely.concave_hull(pts, 0.3))
        t.append(time.perf_counter() - a)
        polys.append(out)
    return {
        "circles": stats(t),
        "polygons": polys,
        "method": "nx.ego_graph by travel_time + shapely.concave_hull(ratio 0.3) of "
        "reached nodes, per budget",
    }


def nx_coverage(mg: nx.MultiDiGraph, sc: Scenario, limit_s: float) -> dict[str, Any]:
    """Time from every node to its nearest station: multi-source Dijkstra on the reverse."""
    assert sc.station_nodes is not None
    rev = mg.reverse(copy=False)
    a = time.perf_counter()
    dist = nx.multi_source_dijkstra_path_length(
        rev,
        {int(x) for x in sc.station_nodes},
        cutoff=limit_s if np.isfinite(limit_s) else None,
        weight="travel_time",
    )
    el = time.perf_counter() - a
    out = np.full(sc.graph.n_nodes, np.inf)
    out[np.fromiter(dist.keys(), dtype=np.int64)] = np.fromiter(dist.values(), dtype=float)
    return {
        "coverage": stats([el]),
        "node_time_s": out,
        "method": "nx.multi_source_dijkstra_path_length(reverse view, cutoff)",
    }


# ---------------------------------------------------------------------------- Pandana
def pandana_build(sc: Scenario, max_s: float) -> tuple[Any, dict[str, Any]]:
    """pandana.Network on our directed edges (twoway=False), weight = our travel time;
    contraction hierarchies are built in the constructor; POIs = station nodes."""
    import pandana
    import pandas as pd

    g = sc.graph
    assert sc.station_nodes is not None
    m = g.edge_allowed[sc.mode]
    rss0 = rss_mb()
    t0 = time.perf_counter()
    use = sc.usable_nodes
    assert use is not None
    nodes = pd.DataFrame({"x": g.node_x[use], "y": g.node_y[use]}, index=use)
    net = pandana.Network(
        nodes["x"],
        nodes["y"],
        pd.Series(g.edge_u[m].astype(np.int64)),
        pd.Series(g.edge_v[m].astype(np.int64)),
        pd.DataFrame({"t": g.edge_time_s[sc.mode][m]}),
        twoway=False,
    )
    t_ch = time.perf_counter() - t0
    t1 = time.perf_counter()
    sx = pd.Series(g.node_x[sc.station_nodes])
    sy = pd.Series(g.node_y[sc.station_nodes])
    net.set_pois("stations", max_s, 3, sx, sy)
    t_pois = time.perf_counter() - t1
    return net, {
        "build_s": t_ch + t_pois,
        "parts_s": {"network+CH": t_ch, "set_pois": t_pois},
        "rss_growth_mb": rss_mb() - rss0,
        "what": "pandana.Network (CH preprocessing) + set_pois(stations)",
    }


def pandana_nearest(net: Any, sc: Scenario, n: int, max_s: float) -> dict[str, Any]:
    """Two ways: (a) ``nearest_pois`` for all nodes once (bounded by ``max_s``), then per
    query ``get_node_ids`` + lookup; (b) per query ``get_node_ids`` +
    ``shortest_path_lengths`` 1xS (CH queries), k fastest."""
    import pandas as pd

    from locator.network.projection import Projector

    assert sc.station_nodes is not None
    px, py = Projector(sc.graph.crs).forward(sc.point_lonlat[:n, 0], sc.point_lonlat[:n, 1])
    a = time.perf_counter()
    table = net.nearest_pois(max_s, "stations", num_pois=3, include_poi_ids=True)
    pre_s = time.perf_counter() - a
    d_cols = table[[1, 2, 3]].to_numpy()
    p_cols = table[["poi1", "poi2", "poi3"]].to_numpy()
    t_a: list[float] = []
    k1a: list[int] = []
    d1a: list[float] = []
    for i in range(n):
        b = time.perf_counter()
        node = int(net.get_node_ids(pd.Series([px[i]]), pd.Series([py[i]])).iloc[0])
        row = table.index.get_loc(node)
        d = d_cols[row]
        p = p_cols[row]
        t_a.append(time.perf_counter() - b)
        ok = d[0] < max_s
        k1a.append(int(p[0]) if ok else -1)
        d1a.append(float(d[0]) if ok else float("inf"))
    st = [int(x) for x in sc.station_nodes]
    t_b: list[float] = []
    k1b: list[int] = []
    d1b: list[float] = []
    for i in range(n):
        b = time.perf_counter()
        node = int(net.get_node_ids(pd.Series([px[i]]), pd.Series([py[i]])).iloc[0])
        with warnings.catch_warnings():  # "unconnected nodes" on multi-component networks
            warnings.simplefilter("ignore", UserWarning)
            lens = np.asarray(net.shortest_path_lengths([node] * len(st), st), dtype=float)
        order = np.argsort(lens)[:3]
        t_b.append(time.perf_counter() - b)
        reach = lens[order[0]] < 4e6  # pandana's "unreachable" sentinel is 4294967.295
        k1b.append(int(order[0]) if reach else -1)
        d1b.append(float(lens[order[0]]) if reach else float("inf"))
    return {
        "k1": stats(t_a),
        "k3": stats(t_a),
        "precompute_all_nodes_s": pre_s,
        "k1_station": k1a,
        "k1_duration_s": d1a,
        "method": f"nearest_pois(num_pois=3, bound {max_s:.0f} s) for all nodes once, then "
        "get_node_ids + table lookup per query",
        "per_query_ch": {
            "k1": stats(t_b),
            "k3": stats(t_b),
            "k1_station": k1b,
            "k1_duration_s": d1b,
            "method": "get_node_ids + shortest_path_lengths 1xS (CH) per query",
        },
    }


# ---------------------------------------------------------------------------- spopt
def spopt_mclp(ours_siting: dict[str, Any], k: int, time_limit_s: float) -> dict[str, Any]:
    """Exact MCLP (spopt + CBC) on the same candidates, coverage sets and demand as ours.

    Demand nodes that no candidate covers, or that carry no remaining demand, cannot
    change the objective and are dropped before building the (dense) model.
    """
    import pulp
    from spopt.locate import MCLP

    cover = ours_siting["cover"]  # (candidates, nodes) bool sparse
    remaining = ours_siting["remaining"]
    covered_any = np.asarray(cover.sum(axis=0)).ravel() > 0
    keep = np.nonzero(covered_any & (remaining > 0))[0]
    if keep.size == 0:
        raise ValueError("no uncovered demand that a candidate could cover: nothing to solve")
    sub = cover[:, keep].toarray().T  # (demand, candidates)
    cost = np.where(sub, 0.0, 2.0)
    a = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MCLP.from_cost_matrix(cost, remaining[keep], service_radius=1.0, p_facilities=k)
        build_s = time.perf_counter() - a
        model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s))
    el = time.perf_counter() - a
    obj = float(pulp.value(model.problem.objective))
    status = pulp.LpStatus[model.problem.status]
    return {
        "time_ms": el * 1000,
        "model_build_ms": build_s * 1000,
        "objective": obj,
        "status": status,
        "demand_nodes": int(keep.shape[0]),
        "candidates": int(cost.shape[1]),
        "method": f"spopt MCLP.from_cost_matrix + CBC (time limit {time_limit_s:.0f} s) on "
        "our coverage sets",
    }
