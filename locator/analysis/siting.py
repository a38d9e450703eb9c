"""Site suggestions: where new stations cover the most uncovered demand.

This is the maximal covering location problem (MCLP): choose ``k`` candidate nodes so
that the demand within ``minutes`` of one of them (travel *to* the station) and not yet
covered by an existing station is largest. Greedy selection with lazy re-evaluation
(CELF) is used: coverage is submodular, so greedy reaches at least ``1 - 1/e`` (63 %) of
the optimum, and lazy evaluation re-scores only the candidates that may still win.

The coverage set of every candidate comes from one bounded reverse search per candidate,
run in batches by scipy's compiled Dijkstra and kept as a sparse boolean matrix.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from scipy import sparse
from scipy.sparse.csgraph import dijkstra
from shapely.geometry.base import BaseGeometry

from locator.analysis.coverage import label_nodes
from locator.analysis.isochrones import IsochroneEngine
from locator.errors import InvalidParameterError
from locator.network.core import Network
from locator.network.geometry import EdgeGeometry
from locator.network.modegraph import DirectedCsr
from locator.network.snapping import Snap

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Candidates searched per scipy call (bounds the dense (batch, n_nodes) time matrix).
_BATCH = 128


@dataclass(frozen=True)
class SiteSuggestion:
    """One proposed station site, in the order chosen.

    Attributes
    ----------
    node
        Network node of the site.
    lon, lat
        Its position (WGS 84).
    gain
        Demand newly covered by this site given the sites chosen before it.
    cumulative_gain
        Demand newly covered by this and all earlier suggestions.
    """

    node: int
    lon: float
    lat: float
    gain: float
    cumulative_gain: float


@dataclass(frozen=True)
class SitingResult:
    """Greedy MCLP answer.

    Attributes
    ----------
    sites
        Suggestions in greedy order (fewer than ``k`` when no candidate adds demand).
    total_demand
        Sum of all demand weights.
    covered_before
        Demand already covered by the existing stations.
    candidates_evaluated
        Number of candidate nodes searched.
    """

    sites: list[SiteSuggestion]
    total_demand: float
    covered_before: float
    candidates_evaluated: int

    @property
    def covered_after(self) -> float:
        """Demand covered by existing plus suggested stations."""
        return self.covered_before + (self.sites[-1].cumulative_gain if self.sites else 0.0)


def road_length_per_node(geometry: EdgeGeometry) -> FloatArray:
    """Demand proxy: half of every physical road's length assigned to each end node (m)."""
    n = geometry.graph.n_nodes
    half = geometry.road_length_m / 2.0
    at_u = np.bincount(geometry.road_u, weights=half, minlength=n)
    at_v = np.bincount(geometry.road_v, weights=half, minlength=n)
    return (at_u + at_v).astype(np.float64)


def coverage_matrix(
    reverse_graph: DirectedCsr, candidates: IntArray, limit_s: float, *, batch: int = _BATCH
) -> sparse.csr_matrix:
    """Boolean matrix: ``[c, i]`` is True when node ``i`` reaches candidate ``c`` in time.

    Parameters
    ----------
    reverse_graph
        The mode's reverse adjacency (``ModeGraph.reverse``: searches give times *to*
        the source).
    candidates
        Candidate node ids.
    limit_s
        Time budget in seconds.
    batch
        Candidates per compiled search call.
    """
    if not reverse_graph.reverse:
        raise ValueError("coverage sets need the reverse search graph (travel to the site)")
    n = reverse_graph.n_nodes
    cand = np.asarray(candidates, dtype=np.int64)
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    for start in range(0, cand.shape[0], batch):
        chunk = cand[start : start + batch]
        dist = np.atleast_2d(
            dijkstra(reverse_graph.matrix, directed=True, indices=chunk, limit=limit_s)
        )
        r, c = np.nonzero(dist <= limit_s)
        rows.append(r.astype(np.int64) + start)
        cols.append(c.astype(np.int64))
    row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    col = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    data = np.ones(row.shape[0], dtype=bool)
    return sparse.csr_matrix((data, (row, col)), shape=(cand.shape[0], n))


def greedy_max_cover(
    cover: sparse.csr_matrix, weight: FloatArray, k: int
) -> tuple[IntArray, FloatArray]:
    """Lazy greedy (CELF) maximal covering.

    Parameters
    ----------
    cover
        Boolean ``(n_candidates, n_demand)`` coverage matrix.
    weight
        Demand weight still to cover (0 where already covered), length ``n_demand``.
    k
        Number of sites.

    Returns
    -------
    chosen, gains
        Row indices in selection order and each one's marginal gain (stops early when
        no candidate adds positive demand). Ties go to the lowest row index.
    """
    if k < 0:
        raise ValueError("k must be non-negative")
    remaining = np.asarray(weight, dtype=float).copy()
    if np.any(remaining < 0):
        raise ValueError("demand weights must be non-negative")
    indptr, indices = cover.indptr, cover.indices

    def gain_of(row: int) -> float:
        return float(remaining[indices[indptr[row] : indptr[row + 1]]].sum())

    initial = np.asarray(cover @ remaining, dtype=float).ravel()
    heap: list[tuple[float, int, int]] = [
        (-float(g), int(r), 0) for r, g in enumerate(initial) if g > 0
    ]
    heapq.heapify(heap)
    chosen: list[int] = []
    gains: list[float] = []
    while heap and len(chosen) < k:
        neg, row, stamp = heapq.heappop(heap)
        if stamp == len(chosen):  # gain is current: the best by submodularity
            if -neg <= 0:
                break
            chosen.append(row)
            gains.append(-neg)
            remaining[indices[indptr[row] : indptr[row + 1]]] = 0.0
            continue
        fresh = gain_of(row)
        if fresh > 0:
            heapq.heappush(heap, (-fresh, row, len(chosen)))
    return np.array(chosen, dtype=np.int64), np.array(gains, dtype=float)


def suggest_sites(
    net: Network,
    mode: str,
    existing_time_s: FloatArray,
    demand_weight: FloatArray,
    *,
    k: int,
    minutes: float = 15.0,
    candidates: npt.ArrayLike | None = None,
    max_candidates: int | None = None,
    seed: int = 0,
) -> SitingResult:
    """Propose ``k`` new station sites maximising newly covered demand.

    Parameters
    ----------
    net
        The network.
    mode
        Travel mode (sites are reached *to*: the reverse graph is searched).
    existing_time_s
        Per node, seconds to the nearest existing station
        (:attr:`locator.coverage.CoverageLabels.time_s`); ``inf`` where none is in reach.
    demand_weight
        Per-node demand (people, trips, or :func:`road_length_per_node`).
    k
        Number of new stations.
    minutes
        Service-circle budget.
    candidates
        Candidate node ids; default every node touched by a road of the mode.
    max_candidates
        Random subsample of the candidates to this many (reproducible by ``seed``).
    seed
        Seed of the subsample.
    """
    graph = net.graph
    mg = net.mode(mode)
    n = graph.n_nodes
    weight = np.asarray(demand_weight, dtype=float)
    if weight.shape != (n,):
        raise ValueError(f"demand_weight needs one value per node ({n})")
    existing = np.asarray(existing_time_s, dtype=float)
    if existing.shape != (n,):
        raise ValueError(f"existing_time_s needs one value per node ({n})")
    limit_s = float(minutes) * 60.0
    if candidates is None:
        mask = mg.allowed
        used = np.zeros(n, dtype=bool)
        used[graph.edge_u[mask]] = True
        used[graph.edge_v[mask]] = True
        cand = np.nonzero(used)[0].astype(np.int64)
    else:
        cand = np.unique(np.asarray(candidates, dtype=np.int64))
    if max_candidates is not None and cand.shape[0] > max_candidates:
        rng = np.random.default_rng(seed)
        cand = np.sort(rng.choice(cand, size=max_candidates, replace=False))
    already = existing <= limit_s
    remaining = np.where(already, 0.0, weight)
    cover = coverage_matrix(mg.reverse, cand, limit_s)
    rows, gains = greedy_max_cover(cover, remaining, k)
    sites: list[SiteSuggestion] = []
    total = 0.0
    for row, gain in zip(rows, gains, strict=True):
        node = int(cand[row])
        total += float(gain)
        sites.append(
            SiteSuggestion(
                node=node,
                lon=float(graph.node_lon[node]),
                lat=float(graph.node_lat[node]),
                gain=float(gain),
                cumulative_gain=total,
            )
        )
    log.info("suggested %d sites from %d candidates", len(sites), cand.shape[0])
    return SitingResult(
        sites=sites,
        total_demand=float(weight.sum()),
        covered_before=float(weight[already].sum()),
        candidates_evaluated=int(cand.shape[0]),
    )


#: Most candidate nodes one suggestion request may search.
MAX_CANDIDATES = 100_000


def suggest_in_region(
    engine: IsochroneEngine,
    stations: Sequence[Snap],
    *,
    mode: str,
    minutes: float,
    k: int,
    region: BaseGeometry | None = None,
    max_candidates: int = 2000,
) -> SitingResult:
    """Sites for ``k`` new stations given the existing ``stations``: demand is road length
    (each node carries half of its roads); with a lon/lat ``region``, only demand and
    candidates inside it count.

    Raises
    ------
    InvalidParameterError
        The region holds no network node.
    """
    net = engine.net
    labels = label_nodes(engine, stations, mode=mode, limit_s=minutes * 60.0)
    weight = road_length_per_node(net.geometry)
    candidates = None
    if region is not None:
        poly_xy = net.geometry.to_projected(region)
        graph = net.graph
        inside = np.asarray(shapely.contains_xy(poly_xy, graph.node_x, graph.node_y), dtype=bool)
        weight = np.where(inside, weight, 0.0)
        candidates = np.nonzero(inside)[0]
        if candidates.size == 0:
            raise InvalidParameterError("the region holds no network node", parameter="region")
    return suggest_sites(
        net,
        mode,
        labels.time_s,
        weight,
        k=k,
        minutes=minutes,
        candidates=candidates,
        max_candidates=max_candidates,
    )
