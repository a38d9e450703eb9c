"""The embedded regional network: counts and known gaps the docs promise."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components, dijkstra

from geodata.regional import RegionalSpeeds, load_regional_graph, regional_source_info
from locator.network.modegraph import ModeGraph
from locator.network.projection import REGIONAL_CRS


@pytest.fixture(scope="module")
def graph():
    return load_regional_graph()


def test_counts_match_documented_source(graph):
    # scripts/make_regional_network.py keeps the 0.001°-rounded OSM highway nodes in
    # 97–126.5°E, 37–53.6°N; DATA.md documents these numbers.
    assert graph.n_nodes == 21585
    assert graph.n_edges == 2 * 33707
    info = regional_source_info()
    assert info["world_nodes"] == 560282
    assert info["world_edges"] == 826106
    assert info["isolated_nodes_dropped"] == 9


def test_window_and_crs(graph):
    min_lon, min_lat, max_lon, max_lat = graph.bbox()
    assert min_lon >= 97.0 and max_lon <= 126.5
    assert min_lat >= 37.0 and max_lat <= 53.6
    assert graph.crs == REGIONAL_CRS
    assert graph.network_kind == "regional"


def test_twenty_three_components(graph):
    n, _ = connected_components(ModeGraph(graph, "car").forward.matrix, directed=False)
    assert n == 23


def test_every_edge_is_two_way_with_equal_length(graph):
    half = graph.n_edges // 2
    assert np.array_equal(graph.edge_u[:half], graph.edge_v[half:])
    assert np.array_equal(graph.edge_v[:half], graph.edge_u[half:])
    assert np.array_equal(graph.edge_length_m[:half], graph.edge_length_m[half:])
    assert not graph.edge_oneway.any()


def test_speeds_are_configuration():
    slow = load_regional_graph(RegionalSpeeds(truck_kph=40, car_kph=100))
    assert np.allclose(slow.edge_time_s["truck"], slow.edge_length_m / (40 / 3.6))
    assert np.allclose(slow.edge_time_s["car"], slow.edge_length_m / (100 / 3.6))
    assert slow.modes == ["truck", "car"]  # highways only: no walk mode
    with pytest.raises(ValueError, match="truck_kph"):
        RegionalSpeeds(truck_kph=float("nan"))


def test_edge_lengths_agree_with_coordinates(graph):
    # source weights are km with 3 decimals; nodes are rounded to 0.001°, so the straight
    # projected distance may differ by a few hundred metres on short edges but never
    # exceeds the road length by more than the rounding allows
    dx = graph.node_x[graph.edge_v] - graph.node_x[graph.edge_u]
    dy = graph.node_y[graph.edge_v] - graph.node_y[graph.edge_u]
    straight = np.hypot(dx, dy)
    assert np.all(straight <= graph.edge_length_m * 1.02 + 300)


def _node_near(graph, lon, lat):
    d = ((graph.node_lon - lon) * np.cos(np.radians(lat))) ** 2 + (graph.node_lat - lat) ** 2
    return int(np.argmin(d))


def test_known_gap_manzhouli_hailar_detour(graph):
    # G301 between Manzhouli and Hailar is missing in the source: the shortest road path
    # is far longer than the ~190 km highway (DATA.md documents the detour)
    a = _node_near(graph, 117.43, 49.59)  # Manzhouli
    b = _node_near(graph, 119.76, 49.21)  # Hailar
    lengths = ModeGraph(graph, "car").forward.matrix
    lengths.data = lengths.data * (80 / 3.6)  # car times at 80 km/h back to metres
    d = dijkstra(lengths, indices=a)[b]
    assert d > 350_000


def test_matches_networkx_on_sample(graph):
    rng = np.random.default_rng(7)
    g = nx.DiGraph()
    for u, v, t in zip(graph.edge_u, graph.edge_v, graph.edge_time_s["truck"], strict=True):
        if not g.has_edge(int(u), int(v)) or g[int(u)][int(v)]["w"] > t:
            g.add_edge(int(u), int(v), w=float(t))
    csr_t = ModeGraph(graph, "truck").forward.matrix
    for src in rng.choice(graph.n_nodes, 3, replace=False):
        ours = dijkstra(csr_t, indices=int(src))
        ref = nx.single_source_dijkstra_path_length(g, int(src), weight="w")
        for node, t in list(ref.items())[:500]:
            assert ours[node] == pytest.approx(t, rel=1e-9, abs=1e-6)
        assert np.isfinite(ours).sum() == len(ref)
