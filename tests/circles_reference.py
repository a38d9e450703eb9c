"""Brute-force references for service circles and coverage (NetworkX + dense sampling).

Independent of ``locator.search``/``locator.segments``: node times come from NetworkX
Dijkstra on a graph with a virtual node for each snapped place, and partial roads are
judged point by point at evenly spaced samples along every directed edge (a sample is a
physical location; the same location sampled on the reverse edge counts once because
results are united by position).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from locator.network.graph import RoadGraph
from locator.network.snapping import Snap

SAMPLES_PER_EDGE = 101


def snap_on(graph: RoadGraph, edge: int, fraction: float) -> Snap:
    """A Snap on ``edge`` at ``fraction`` (lon/lat interpolated along its polyline)."""
    coords = graph.edge_coords(edge)
    seg = np.hypot(*np.diff(coords, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    target = fraction * cum[-1]
    lon = float(np.interp(target, cum, coords[:, 0]))
    lat = float(np.interp(target, cum, coords[:, 1]))
    return Snap(lon, lat, edge, fraction, 0.0, lon, lat)


def _reverse_edge(graph: RoadGraph, edge: int) -> int:
    back = (graph.edge_u == graph.edge_v[edge]) & (graph.edge_v == graph.edge_u[edge])
    hits = np.nonzero(back)[0]
    return int(hits[0]) if hits.size else -1


def node_times(
    graph: RoadGraph, places: Sequence[Snap | int], mode: str, direction: str
) -> np.ndarray:
    """Exact seconds between the places and every node (NetworkX Dijkstra)."""
    g = nx.DiGraph()
    g.add_nodes_from(range(graph.n_nodes))
    allowed = graph.edge_allowed[mode]
    times = graph.edge_time_s[mode]
    for e in np.nonzero(allowed)[0]:
        u, v, t = int(graph.edge_u[e]), int(graph.edge_v[e]), float(times[e])
        if not g.has_edge(u, v) or g[u][v]["weight"] > t:
            g.add_edge(u, v, weight=t)
    src = "S"
    g.add_node(src)
    for place in places:
        if isinstance(place, Snap):
            e, f = place.edge, place.fraction
            u, v = int(graph.edge_u[e]), int(graph.edge_v[e])
            r = _reverse_edge(graph, e)
            links = []
            if allowed[e]:
                # from: S -> v costs (1-f) t_e ; to: u -> S costs f t_e
                links.append((v, (1 - f) * times[e]) if direction == "from" else (u, f * times[e]))
            if r >= 0 and allowed[r]:
                links.append((u, f * times[r]) if direction == "from" else (v, (1 - f) * times[r]))
            for node, cost in links:
                if direction == "from":
                    _add_min(g, src, node, float(cost))
                else:
                    _add_min(g, node, src, float(cost))
        elif direction == "from":
            _add_min(g, src, int(place), 0.0)
        else:
            _add_min(g, int(place), src, 0.0)
    if direction == "to":
        g = g.reverse(copy=True)
    dist = nx.single_source_dijkstra_path_length(g, src, weight="weight")
    out = np.full(graph.n_nodes, np.inf)
    for node, d in dist.items():
        if node != src:
            out[int(node)] = d
    return out


def _add_min(g: nx.DiGraph, a: object, b: object, w: float) -> None:
    if not g.has_edge(a, b) or g[a][b]["weight"] > w:
        g.add_edge(a, b, weight=w)


@dataclass
class Samples:
    """Sample points along every directed edge allowed for the mode."""

    edge: np.ndarray  # directed edge of each sample
    x: np.ndarray  # fraction along that edge
    px: np.ndarray  # projected coordinates
    py: np.ndarray
    time_s: np.ndarray  # exact travel time to/from the places


def sample_times(
    graph: RoadGraph,
    places: Sequence[Snap | int],
    mode: str,
    direction: str,
    node_time: np.ndarray,
    *,
    samples: int = SAMPLES_PER_EDGE,
) -> Samples:
    """Exact travel time at evenly spaced points of every allowed directed edge."""
    allowed = graph.edge_allowed[mode]
    times = graph.edge_time_s[mode]
    edges = np.nonzero(allowed)[0]
    xs = np.linspace(0.0, 1.0, samples)
    e_rep = np.repeat(edges, samples)
    x_rep = np.tile(xs, edges.size)
    u = graph.edge_u[e_rep]
    v = graph.edge_v[e_rep]
    t_e = times[e_rep]
    # "from": arrive through u along the edge; "to": leave along the edge through v
    t = node_time[u] + x_rep * t_e if direction == "from" else (1 - x_rep) * t_e + node_time[v]
    for place in places:
        if not isinstance(place, Snap):
            continue
        f = place.fraction
        for e, pos in ((place.edge, f), (_reverse_edge(graph, place.edge), 1 - f)):
            if e < 0 or not allowed[e]:
                continue
            m = e_rep == e
            if direction == "from":
                ok = m & (x_rep >= pos)
                t[ok] = np.minimum(t[ok], (x_rep[ok] - pos) * times[e])
            else:
                ok = m & (x_rep <= pos)
                t[ok] = np.minimum(t[ok], (pos - x_rep[ok]) * times[e])
    px = graph.node_x[u] + x_rep * (graph.node_x[v] - graph.node_x[u])
    py = graph.node_y[u] + x_rep * (graph.node_y[v] - graph.node_y[u])
    return Samples(e_rep, x_rep, px, py, t)


@dataclass
class Locations:
    """Physical sample locations (a location sampled on both directions counted once)."""

    time_s: np.ndarray  # best time over the directed edges through the location
    px: np.ndarray
    py: np.ndarray
    road: np.ndarray  # physical road id of each location
    step_m: np.ndarray  # road length / (samples - 1): length represented by a sample


def locations(graph: RoadGraph, samples: Samples, n_samples: int) -> Locations:
    """Merge samples of an edge and its reverse by position (fractions i/(n_samples-1))."""
    u = graph.edge_u[samples.edge].astype(np.int64)
    v = graph.edge_v[samples.edge].astype(np.int64)
    fwd = u < v
    pos = np.round(np.where(fwd, samples.x, 1 - samples.x) * (n_samples - 1)).astype(np.int64)
    road_key = np.minimum(u, v) * graph.n_nodes + np.maximum(u, v)
    key = road_key * n_samples + pos
    order = np.lexsort((samples.time_s, key))
    first = np.ones(order.size, dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    pick = order[first]
    _, road = np.unique(road_key[pick], return_inverse=True)
    step = graph.edge_length_m[samples.edge[pick]] / (n_samples - 1)
    return Locations(samples.time_s[pick], samples.px[pick], samples.py[pick], road, step)
