"""Reference shortest paths with NetworkX, independent of locator.network.search.

The graph of one mode becomes an ``nx.DiGraph`` (cheapest of parallel edges); every
snapped point becomes an extra node ``("p", i)`` that splits the directed edges it lies
on (its own edge at ``fraction`` and the reverse edge at ``1 - fraction``), so travel
times include the partial edges at both ends and between points on one edge.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

import networkx as nx
import numpy as np

from locator.analysis.routing import Route
from locator.network.graph import RoadGraph
from locator.network.projection import Projector
from locator.network.snapping import Snap


def reverse_edges(graph: RoadGraph, edge: int) -> list[int]:
    """Edges running the other way between the same nodes with the same length."""
    u, v, length = int(graph.edge_u[edge]), int(graph.edge_v[edge]), graph.edge_length_m[edge]
    cand = np.nonzero((graph.edge_u == v) & (graph.edge_v == u))[0]
    return [int(c) for c in cand if abs(graph.edge_length_m[c] - length) < 0.01 and c != edge]


def reference_graph(graph: RoadGraph, mode: str, points: Sequence[Snap]) -> nx.DiGraph:
    """The mode's weighted DiGraph with ``points`` inserted as nodes ``("p", i)``."""
    allowed = graph.edge_allowed[mode]
    times = graph.edge_time_s[mode]
    g = nx.DiGraph()
    g.add_nodes_from(range(graph.n_nodes))
    for e in np.nonzero(allowed)[0]:
        u, v, w = int(graph.edge_u[e]), int(graph.edge_v[e]), float(times[e])
        if not g.has_edge(u, v) or g[u][v]["weight"] > w:
            g.add_edge(u, v, weight=w)
    on_edge: dict[int, list[tuple[float, object]]] = defaultdict(list)
    for i, p in enumerate(points):
        on_edge[p.edge].append((p.fraction, ("p", i)))
        for r in reverse_edges(graph, p.edge):
            on_edge[r].append((1.0 - p.fraction, ("p", i)))
    for e, pts in on_edge.items():
        g.add_nodes_from(node for _, node in pts)
        if not allowed[e]:
            continue
        t = float(times[e])
        chain = [
            (0.0, int(graph.edge_u[e])),
            *sorted(pts, key=lambda x: x[0]),
            (1.0, int(graph.edge_v[e])),
        ]
        for (fa, a), (fb, b) in itertools.pairwise(chain):
            w = (fb - fa) * t
            if not g.has_edge(a, b) or g[a][b]["weight"] > w:
                g.add_edge(a, b, weight=w)
            if fa == fb and isinstance(a, tuple) and isinstance(b, tuple):
                # two query points at the very same spot reach each other at no cost,
                # whatever order the sort put them in (the engine's same-edge case)
                g.add_edge(b, a, weight=0.0)
    return g


def times_from(g: nx.DiGraph, i: int) -> dict[object, float]:
    """Travel time from point ``i`` to every reachable node."""
    return dict(nx.single_source_dijkstra_path_length(g, ("p", i), weight="weight"))


def close(a: float, b: float, rel: float = 1e-6, abs_s: float = 1e-6) -> bool:
    """Equal within ``rel`` relative or ``abs_s`` absolute tolerance."""
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), abs_s)


def random_lonlat(
    graph: RoadGraph, rng: np.random.Generator, n: int, *, pad_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform random points over the graph's projected extent grown by ``pad_m``."""
    x = rng.uniform(graph.node_x.min() - pad_m, graph.node_x.max() + pad_m, n)
    y = rng.uniform(graph.node_y.min() - pad_m, graph.node_y.max() + pad_m, n)
    lon, lat = Projector(graph.crs).inverse(x, y)
    return np.atleast_1d(lon), np.atleast_1d(lat)


def polyline_length_m(graph: RoadGraph, coords: Sequence[tuple[float, float]]) -> float:
    """Length of a (lon, lat) polyline measured in the graph's projected CRS."""
    arr = np.asarray(coords, dtype=float)
    x, y = Projector(graph.crs).forward(arr[:, 0], arr[:, 1])
    return float(np.hypot(np.diff(x), np.diff(y)).sum())


def check_route_shape(
    graph: RoadGraph, mode: str, route: object, start: Snap, end: Snap, *, check_length: bool = True
) -> None:
    """Assert the structural invariants of a route between two snaps.

    ``check_length`` compares the polyline's projected length with ``distance_m`` (only
    where edge lengths are projected lengths, as on synthetic grids).
    """
    assert isinstance(route, Route)
    assert tuple(route.coordinates[0]) == (start.snapped_lon, start.snapped_lat)
    assert tuple(route.coordinates[-1]) == (end.snapped_lon, end.snapped_lat)
    if check_length:
        length_m = polyline_length_m(graph, route.coordinates)
        assert abs(length_m - route.distance_m) <= 1e-6 * max(route.distance_m, 1.0) + 1e-3
    else:
        # the polyline runs along the edges: each vertex on the route's edges or ends
        assert route.distance_m >= 0.0
    edges = route.edges
    assert all(graph.edge_allowed[mode][e] for e in edges)
    for a, b in itertools.pairwise(edges):
        assert graph.edge_v[a] == graph.edge_u[b]
    assert close(sum(s["duration_s"] for s in route.steps), route.duration_s)
    assert close(sum(s["distance_m"] for s in route.steps), route.distance_m, abs_s=1e-6)


def bend_edges(graph: RoadGraph, offset_m: float = 60.0) -> RoadGraph:
    """A copy of a grid whose edges are dog-legs (4-point polylines) instead of lines.

    Both directions of a road get the same shape (reversed); lengths and travel times
    are recomputed from the bent shape, so the graph stays consistent.
    """
    proj = Projector(graph.crs)
    u = graph.edge_u.astype(np.int64)
    v = graph.edge_v.astype(np.int64)
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    ax, ay, bx, by = graph.node_x[lo], graph.node_y[lo], graph.node_x[hi], graph.node_y[hi]
    dx, dy = bx - ax, by - ay
    norm = np.hypot(dx, dy)
    px, py = -dy / norm * offset_m, dx / norm * offset_m
    xs = np.column_stack((ax, ax + 0.3 * dx + px, ax + 0.7 * dx + px, bx))
    ys = np.column_stack((ay, ay + 0.3 * dy + py, ay + 0.7 * dy + py, by))
    flip = u > v
    xs[flip] = xs[flip, ::-1]
    ys[flip] = ys[flip, ::-1]
    length = np.hypot(np.diff(xs, axis=1), np.diff(ys, axis=1)).sum(axis=1)
    lon, lat = proj.inverse(xs.ravel(), ys.ravel())
    scale = length / graph.edge_length_m
    g = replace(
        graph,
        edge_length_m=length,
        geom_offsets=np.arange(0, 4 * graph.n_edges + 1, 4, dtype=np.int64),
        geom_lon=np.asarray(lon, dtype=float),
        geom_lat=np.asarray(lat, dtype=float),
        edge_time_s={m: t * scale for m, t in graph.edge_time_s.items()},
    )
    g.validate()
    return g
