"""Nearest stations by travel time.

Two tools:

- :class:`NearestForest` — precomputed at build time per mode and station kind: ONE
  reverse multi-source search from all stations gives, for every node, the nearest
  station, the time to it and the next edge toward it. A query then needs no graph
  search: the point's two ways onto the network (plus a station on its own edge) and the
  forest times give the answer; the path is read off the successor pointers.
- :class:`StationTimes` — kept next to a forest when it fits in memory: the time from
  every node to every station of the set and each station's successor tree, from ONE
  reverse search per station (one scipy call for all). The k fastest stations among an
  arbitrary mask then need no graph search either (:meth:`NearestForest.nearest_k`).
- :func:`nearest_k` — the k fastest-to-reach stations among an arbitrary candidate mask
  (kind, services, open now...), by one bounded forward search from the point (used
  when the station times do not fit in memory).

Stations are identified by their index in the list of station snaps; the caller maps
indices to records. Removed stations keep their index (as a hole), so indices are stable.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import depth_first_order, dijkstra

from locator.errors import NoRouteError, StationNotFoundError
from locator.routing import Option, Route, RoutingEngine, element_view
from locator.search import SearchResult, Snap, multi_source_dijkstra

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

FOREST_FORMAT_VERSION = 1

#: Default memory budget of one :class:`StationTimes` (time + successor per node and
#: station, 12 bytes each); larger station sets fall back to a search per query.
STATION_TIMES_MAX_BYTES = 200_000_000


@dataclass(frozen=True)
class NearestResult:
    """One station reached from a query point."""

    station: int
    duration_s: float
    route: Route


class StationTargets:
    """The stations of one set as targets of one mode: how each is reached from nodes.

    Every station has up to two "to" options (via its edge and via the twin): arrive at
    node ``node[i, j]`` and add ``cost_s[i, j]`` along ``edge[i, j]`` up to fraction
    ``f1[i, j]``. Unusable options have node -1 and cost inf.
    """

    def __init__(self, engine: RoutingEngine, mode: str, snaps: Sequence[Snap | None]) -> None:
        self.engine = engine
        self.mode = mode
        self.snaps: list[Snap | None] = list(snaps)
        n = len(self.snaps)
        self.node = np.full((n, 2), -1, dtype=np.int64)
        self.cost_s = np.full((n, 2), np.inf)
        self.edge = np.full((n, 2), -1, dtype=np.int64)
        self.f1 = np.zeros((n, 2))
        self.canon_edge = np.full(n, -1, dtype=np.int64)
        self.canon_fraction = np.zeros(n)
        self.active = np.zeros(n, dtype=bool)
        self.by_edge: dict[int, list[int]] = {}
        for i, s in enumerate(self.snaps):
            self._fill(i, s)

    def _fill(self, i: int, s: Snap | None) -> None:
        self.node[i] = -1
        self.cost_s[i] = np.inf
        self.edge[i] = -1
        self.f1[i] = 0.0
        old = int(self.canon_edge[i])
        if old >= 0 and i in self.by_edge.get(old, []):
            self.by_edge[old].remove(i)
        self.canon_edge[i] = -1
        self.active[i] = s is not None
        if s is None:
            return
        for j, o in enumerate(self.engine.options(s, self.mode, "to")):
            self.node[i, j] = o.node
            self.cost_s[i, j] = o.cost_s
            self.edge[i, j] = o.edge
            self.f1[i, j] = o.f1
        ce, cf = self.engine.canonical(s)
        self.canon_edge[i] = ce
        self.canon_fraction[i] = cf
        self.by_edge.setdefault(ce, []).append(i)

    def set(self, i: int, s: Snap | None) -> None:
        """Replace (or, with None, remove) station ``i``; ``i == len`` appends."""
        if i == len(self.snaps):
            self.snaps.append(None)
            self.node = np.vstack([self.node, [[-1, -1]]])
            self.cost_s = np.vstack([self.cost_s, [[np.inf, np.inf]]])
            self.edge = np.vstack([self.edge, [[-1, -1]]])
            self.f1 = np.vstack([self.f1, [[0.0, 0.0]]])
            self.canon_edge = np.append(self.canon_edge, -1)
            self.canon_fraction = np.append(self.canon_fraction, 0.0)
            self.active = np.append(self.active, False)
        self.snaps[i] = s
        self._fill(i, s)

    def copy(self) -> StationTargets:
        """An independent copy (edits build a new version, then swap it in)."""
        out = copy.copy(self)
        out.snaps = list(self.snaps)
        for name in ("node", "cost_s", "edge", "f1", "canon_edge", "canon_fraction", "active"):
            setattr(out, name, getattr(self, name).copy())
        out.by_edge = {k: list(v) for k, v in self.by_edge.items()}
        return out

    def end_option(self, i: int, j: int) -> Option:
        """Option ``j`` of station ``i`` as an :class:`~locator.routing.Option`."""
        return Option(
            int(self.node[i, j]),
            float(self.cost_s[i, j]),
            int(self.edge[i, j]),
            0.0,
            float(self.f1[i, j]),
        )

    def end_point(self, i: int) -> tuple[float, float]:
        s = self.snaps[i]
        if s is None:
            raise StationNotFoundError(f"station {i} was removed", station=i)
        return (s.snapped_lon, s.snapped_lat)


def _check_index(targets: StationTargets, i: int) -> None:
    if not (0 <= i < len(targets.snaps)) or targets.snaps[i] is None:
        raise StationNotFoundError(f"no station with index {i}", station=i)


@dataclass(frozen=True)
class _ForestState:
    """One consistent version of a forest; edits build a new one and swap it in."""

    targets: StationTargets
    node_station: IntArray
    node_time_s: FloatArray
    node_next: IntArray
    node_next_edge: IntArray
    # memoryviews: per-element reads from Python ~2x faster than numpy scalars, and
    # unlike lists they need no per-element objects
    station_l: memoryview
    time_l: memoryview
    next_l: memoryview
    next_edge_l: memoryview
    # heavy-path decomposition of the forest (see _heavy_paths)
    pos_l: memoryview
    head_pos_l: memoryview
    order_l: memoryview
    edge_by_pos: IntArray
    # all-stations times for search-free k-nearest (None: too large, or not wanted)
    times: StationTimes | None = None

    @classmethod
    def of(
        cls,
        targets: StationTargets,
        station: IntArray,
        time_s: FloatArray,
        nxt: IntArray,
        next_edge: IntArray,
    ) -> _ForestState:
        order, pos, head_pos = _heavy_paths(nxt)
        return cls(
            targets,
            station,
            time_s,
            nxt,
            next_edge,
            element_view(station),
            element_view(time_s),
            element_view(nxt),
            element_view(next_edge),
            element_view(pos),
            element_view(head_pos),
            element_view(order),
            next_edge[order],
        )

    def path_edges(self, node: int) -> tuple[IntArray, int]:
        """``node_next_edge`` of every node from ``node`` to its tree's root, and the root.

        The root path is cut into O(log n) heavy-path pieces, each a reversed slice of
        :attr:`edge_by_pos`, instead of one Python step per node.
        """
        pos, head_pos, order, nxt = self.pos_l, self.head_pos_l, self.order_l, self.next_l
        by_pos = self.edge_by_pos
        pieces = []
        while True:
            top = head_pos[node]
            end = pos[node]
            pieces.append(by_pos[end : top - 1 if top > 0 else None : -1])
            root = order[top]
            node = nxt[root]
            if node < 0:
                break
        edges = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        return edges, root


class NearestForest:
    """Nearest station of one kind for every node, for one mode (no search per query).

    Build with :meth:`compute` (or :meth:`from_arrays` to load a stored one). Edits
    (:meth:`add_station`, :meth:`remove_station`, :meth:`move_station`) recompute the
    forest (one search, a few ms on the regional network) and swap it in atomically, so
    concurrent queries see either the old or the new forest, never a mix.
    """

    def __init__(
        self,
        engine: RoutingEngine,
        mode: str,
        state: _ForestState,
        *,
        station_times: bool = True,
        max_station_times_bytes: int = STATION_TIMES_MAX_BYTES,
        defer_station_times: bool = False,
    ) -> None:
        self.engine = engine
        self.mode = mode
        self._edit_lock = threading.Lock()
        self.last_compute_s = 0.0
        self.station_times_enabled = station_times
        self.max_station_times_bytes = max_station_times_bytes
        self._state = state if defer_station_times else self._with_times(state, None, None)

    def ensure_station_times(self) -> None:
        """Compute deferred :class:`StationTimes` now (no-op when kept or disabled)."""
        if self._state.times is not None or not self.station_times_enabled:
            return
        with self._edit_lock:
            if self._state.times is None:
                self._state = self._with_times(self._state, None, None)

    # ------------------------------------------------------------------ build
    @classmethod
    def compute(
        cls,
        engine: RoutingEngine,
        mode: str,
        station_snaps: Sequence[Snap | None],
        *,
        station_times: bool = True,
        max_station_times_bytes: int = STATION_TIMES_MAX_BYTES,
    ) -> NearestForest:
        """One reverse multi-source search from ``station_snaps`` (None = no station).

        Station snaps should be made with the same ``mode`` filter; a station on an edge
        the mode may not use is unreachable. With ``station_times`` (and when they fit in
        ``max_station_times_bytes``) the :class:`StationTimes` for search-free k-nearest
        queries are computed too.
        """
        started = time.perf_counter()
        forest = cls(
            engine,
            mode,
            _search(engine, mode, StationTargets(engine, mode, station_snaps)),
            station_times=station_times,
            max_station_times_bytes=max_station_times_bytes,
        )
        forest.last_compute_s = time.perf_counter() - started
        return forest

    def _with_times(
        self, state: _ForestState, previous: StationTimes | None, changed: int | None
    ) -> _ForestState:
        """``state`` with its :class:`StationTimes` (updated from ``previous`` if given)."""
        t = state.targets
        if not self.station_times_enabled or not StationTimes.fits(
            self.engine.graph.n_nodes, len(t.snaps), self.max_station_times_bytes
        ):
            return state
        if previous is not None and changed is not None:
            times = previous.updated(t, changed)
        else:
            times = StationTimes.compute(self.engine, t)
        return dataclasses.replace(state, times=times)

    @property
    def targets(self) -> StationTargets:
        """The stations of the current forest."""
        return self._state.targets

    @property
    def station_times(self) -> StationTimes | None:
        """The all-stations times of the current forest (None when not kept)."""
        return self._state.times

    @property
    def node_station(self) -> IntArray:
        """Per node: index of the nearest station (-1 where none is reachable)."""
        return self._state.node_station

    @property
    def node_time_s(self) -> FloatArray:
        """Per node: travel time to the nearest station (inf where none)."""
        return self._state.node_time_s

    @property
    def node_next(self) -> IntArray:
        """Per node: next node toward the station (-1 at the last node and unreached)."""
        return self._state.node_next

    @property
    def node_next_edge(self) -> IntArray:
        """Per node: edge to ``node_next``; at the last node the edge holding the station."""
        return self._state.node_next_edge

    # ------------------------------------------------------------------ storage
    def to_arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """Arrays to store in an ``.npz`` without pickling (see :meth:`from_arrays`)."""
        st = self._state
        snaps = st.targets.snaps
        n = len(snaps)
        vals = np.full((n, 6), np.nan)
        edge = np.full(n, -1, dtype=np.int64)
        for i, s in enumerate(snaps):
            if s is not None:
                edge[i] = s.edge
                vals[i] = (s.lon, s.lat, s.fraction, s.distance_m, s.snapped_lon, s.snapped_lat)
        return {
            "format_version": np.array(FOREST_FORMAT_VERSION, dtype=np.int64),
            "mode": np.array(self.mode),
            "station_edge": edge,
            "station_values": vals,
            "node_station": st.node_station,
            "node_time_s": st.node_time_s,
            "node_next": st.node_next,
            "node_next_edge": st.node_next_edge,
        }

    @classmethod
    def from_arrays(
        cls,
        engine: RoutingEngine,
        arrays: Mapping[str, npt.NDArray[np.generic]],
        *,
        station_times: bool = True,
        max_station_times_bytes: int = STATION_TIMES_MAX_BYTES,
        defer_station_times: bool = False,
    ) -> NearestForest:
        """Rebuild a forest saved with :meth:`to_arrays` for the same graph.

        The :class:`StationTimes` are not stored; they are recomputed here (one scipy
        call, when enabled and within ``max_station_times_bytes``), or on first use /
        :meth:`ensure_station_times` with ``defer_station_times`` (keeps loading fast).
        """
        if int(arrays["format_version"]) != FOREST_FORMAT_VERSION:
            raise ValueError(f"forest format {int(arrays['format_version'])} is not supported")
        mode = str(arrays["mode"])
        edge = np.asarray(arrays["station_edge"], dtype=np.int64)
        vals = np.asarray(arrays["station_values"], dtype=float)
        snaps: list[Snap | None] = []
        for i in range(edge.shape[0]):
            if edge[i] < 0:
                snaps.append(None)
            else:
                lon, lat, frac, dist, slon, slat = (float(x) for x in vals[i])
                snaps.append(Snap(lon, lat, int(edge[i]), frac, dist, slon, slat))
        n = engine.graph.n_nodes
        for name in ("node_station", "node_time_s", "node_next", "node_next_edge"):
            if np.asarray(arrays[name]).shape != (n,):
                raise ValueError(f"forest array {name} does not match the graph ({n} nodes)")
        state = _ForestState.of(
            StationTargets(engine, mode, snaps),
            np.asarray(arrays["node_station"], dtype=np.int64),
            np.asarray(arrays["node_time_s"], dtype=float),
            np.asarray(arrays["node_next"], dtype=np.int64),
            np.asarray(arrays["node_next_edge"], dtype=np.int64),
        )
        return cls(
            engine,
            mode,
            state,
            station_times=station_times,
            max_station_times_bytes=max_station_times_bytes,
            defer_station_times=defer_station_times,
        )

    # ------------------------------------------------------------------ edits
    @property
    def station_snaps(self) -> list[Snap | None]:
        """The station snaps by index (None where removed)."""
        return list(self._state.targets.snaps)

    def _edit(self, index: int | None, snap: Snap | None) -> int:
        """Set station ``index`` (None appends) and swap in the recomputed forest."""
        with self._edit_lock:
            started = time.perf_counter()
            targets = self._state.targets.copy()
            if index is None:
                index = len(targets.snaps)
            else:
                _check_index(targets, index)
            targets.set(index, snap)
            state = _search(self.engine, self.mode, targets)
            self._state = self._with_times(state, self._state.times, index)
            self.last_compute_s = time.perf_counter() - started
            return index

    def add_station(self, snap: Snap) -> int:
        """Add a station; returns its index. The next query sees it."""
        return self._edit(None, snap)

    def remove_station(self, index: int) -> None:
        """Remove station ``index`` (the index is not reused)."""
        self._edit(index, None)

    def move_station(self, index: int, snap: Snap) -> None:
        """Move station ``index`` to a new snapped position."""
        self._edit(index, snap)

    # ------------------------------------------------------------------ query
    def nearest_k(
        self,
        snap: Snap,
        *,
        k: int = 1,
        mask: BoolArray | None = None,
        max_time_s: float = np.inf,
    ) -> list[NearestResult]:
        """The ``k`` fastest stations among ``mask`` within a budget (see :func:`nearest_k`).

        Uses the :class:`StationTimes` (no graph search) when they are kept, else one
        bounded search from the point.
        """
        if self._state.times is None and self.station_times_enabled:
            self.ensure_station_times()  # deferred at load: built on first use
        st = self._state  # one consistent version for the whole query
        if st.times is not None:
            return st.times.nearest_k(snap, k=k, mask=mask, max_time_s=max_time_s)
        return nearest_k(self.engine, st.targets, snap, k=k, mask=mask, max_time_s=max_time_s)

    def query(self, snap: Snap) -> NearestResult:
        """The nearest station from a snapped point, with its route; no graph search.

        Raises
        ------
        NoRouteError
            No station of this forest can be reached from the point.
        """
        st = self._state  # one consistent version for the whole query
        eng = self.engine
        mode = self.mode
        time_l = st.time_l
        best_t = np.inf
        best_opt: Option | None = None
        for o in eng.options(snap, mode, "from"):
            tt = o.cost_s + time_l[o.node]
            if tt < best_t:
                best_t, best_opt = tt, o
        # a station ahead on the point's own edge
        direct: tuple[float, int, float, float] | None = None
        direct_station = -1
        here = eng.canonical(snap)
        t = st.targets
        for i in t.by_edge.get(here[0], ()):
            cand = eng.same_edge(mode, here, (here[0], float(t.canon_fraction[i])))
            if cand is not None and cand[0] < best_t:
                best_t, direct, direct_station = cand[0], cand, i
        start = (snap.snapped_lon, snap.snapped_lat)
        if direct is not None:
            _, edge, f0, f1 = direct
            r = eng.assemble(
                mode,
                [edge],
                start_fraction=f0,
                end_fraction=f1,
                start=start,
                end=t.end_point(direct_station),
            )
            return NearestResult(direct_station, r.duration_s, r)
        if best_opt is None:
            raise NoRouteError(
                f"no station reachable by {mode} from ({snap.lon:.6f}, {snap.lat:.6f})",
                mode=mode,
            )
        station = st.station_l[best_opt.node]
        path, root = st.path_edges(best_opt.node)
        last = st.next_edge_l[root]
        s = t.snaps[station]
        if s is None:  # pragma: no cover - states are built from their own targets
            raise NoRouteError("inconsistent forest state", mode=mode)
        f_end = s.fraction if last == s.edge else 1.0 - s.fraction
        edges = np.empty(path.shape[0] + 1, dtype=np.int64)
        edges[0] = best_opt.edge
        edges[1:] = path  # ends with `last`, the edge holding the station
        r = eng.assemble(
            mode,
            edges,
            start_fraction=best_opt.f0,
            end_fraction=f_end,
            start=start,
            end=(s.snapped_lon, s.snapped_lat),
        )
        return NearestResult(station, r.duration_s, r)


def _heavy_paths(nxt: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Heavy-path decomposition of the forest given by next-node pointers.

    Returns ``order`` (nodes in a depth-first preorder that visits each node's largest
    subtree first), ``pos`` (position of each node in ``order``) and ``head_pos`` (per
    node, the position of the top of its heavy path). A heavy path is contiguous in
    ``order`` from its top down, and any node's path to its root crosses at most
    ``log2(n)`` heavy paths.

    Built with three scipy depth-first traversals from a virtual root over all trees:
    subtree sizes come from ``size = post - pre + depth + 1`` (preorder and postorder
    positions, the postorder being the reversed preorder with children visited in the
    reverse order), depths from pointer doubling.
    """
    n = int(nxt.shape[0])
    root = n  # virtual root above every tree
    parent = np.where(nxt >= 0, nxt, root).astype(np.int64)
    # isolated nodes (unreached, or a station's lone node) stay out of the traversals:
    # scipy's DFS rescans a node's children on every return to it, so thousands of
    # them under the virtual root would cost quadratic time; they are appended at the end
    has_child = np.bincount(nxt[nxt >= 0], minlength=n) > 0
    member = (nxt >= 0) | has_child
    kids = np.flatnonzero(member).astype(np.int64)
    kid_parent = parent[kids]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(kid_parent, minlength=n + 1))])
    ones = np.ones(kids.shape[0])  # float64: another dtype makes scipy copy (sorting rows)

    def preorder(sort_key: IntArray) -> IntArray:
        by = np.lexsort((sort_key, kid_parent))
        csr = sp.csr_matrix((ones, kids[by], indptr), shape=(n + 1, n + 1))
        return np.asarray(depth_first_order(csr, root, return_predecessors=False), np.int64)

    first = preorder(kids)
    pre = np.zeros(n + 1, dtype=np.int64)
    pre[first] = np.arange(first.shape[0])
    post = np.zeros(n + 1, dtype=np.int64)
    post[preorder(-kids)[::-1]] = np.arange(first.shape[0])
    depth = np.ones(n + 1, dtype=np.int64)  # edges to the virtual root
    depth[root] = 0
    up = np.append(parent, root)
    while True:
        step = np.flatnonzero(up != root)
        if step.shape[0] == 0:
            break
        depth[step] += depth[up[step]]
        up[step] = up[up[step]]
    size = post - pre + depth + 1  # meaningful for members
    order = np.concatenate([preorder(-size[kids])[1:], np.flatnonzero(~member)])
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    # a node continues its parent's heavy path iff it directly follows the parent
    parent_pos = np.where(nxt >= 0, pos[np.maximum(nxt, 0)], -2)
    light = pos != parent_pos + 1
    head_pos = np.maximum.accumulate(np.where(light[order], np.arange(n), 0))[pos]
    return order, pos, head_pos


def _search(engine: RoutingEngine, mode: str, t: StationTargets) -> _ForestState:
    """The reverse multi-source search behind a forest."""
    ok = t.node >= 0
    seed_station = np.nonzero(ok)[0].astype(np.int64)
    seed_slot = np.nonzero(ok)[1].astype(np.int64)
    res = multi_source_dijkstra(engine.mode_graph(mode, reverse=True), t.node[ok], t.cost_s[ok])
    reached = res.seed >= 0
    station = np.full(reached.shape[0], -1, dtype=np.int64)
    station[reached] = seed_station[res.seed[reached]]
    time_s = np.where(reached, res.time_s, np.inf)
    # in the reverse search a node's predecessor is the next node toward its station
    nxt = np.where(reached, res.predecessor, -1).astype(np.int64)
    next_edge = np.full(nxt.shape[0], -1, dtype=np.int64)
    inner = np.nonzero(nxt >= 0)[0]
    if inner.size:
        next_edge[inner] = engine.edges_between(mode, inner, nxt[inner])
    term = np.nonzero(reached & (nxt < 0))[0]
    if term.size:
        s = res.seed[term]
        next_edge[term] = t.edge[seed_station[s], seed_slot[s]]
    log.debug("nearest forest %s: %d stations", mode, int(t.active.sum()))
    return _ForestState.of(t, station, time_s, nxt, next_edge)


def _check_k_mask(k: int, mask: BoolArray | None, targets: StationTargets) -> BoolArray:
    """Validate ``k`` and ``mask``; the candidate stations (active and in the mask)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    n_st = len(targets.snaps)
    cand = targets.active.copy()
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (n_st,):
            raise ValueError(f"mask must have one entry per station ({n_st})")
        cand &= mask
    return cand


def _same_edge_times(
    engine: RoutingEngine, targets: StationTargets, snap: Snap, best: FloatArray
) -> dict[int, tuple[float, int, float, float]]:
    """Stations on the point's own edge reached directly no slower than ``best``.

    Lowers ``best`` in place for them and returns their direct pieces.
    """
    direct: dict[int, tuple[float, int, float, float]] = {}
    here = engine.canonical(snap)
    for i in targets.by_edge.get(here[0], ()):
        d = engine.same_edge(targets.mode, here, (here[0], float(targets.canon_fraction[i])))
        if d is not None and d[0] <= best[i]:
            best[i] = d[0]
            direct[i] = d
    return direct


def _pick(best: FloatArray, cand: BoolArray, k: int, max_time_s: float) -> list[int]:
    """Indices of the ``k`` smallest finite ``best`` among ``cand`` within the budget."""
    best = np.where(cand & (best <= max_time_s), best, np.inf)
    n_ok = int(np.count_nonzero(np.isfinite(best)))
    if n_ok == 0:
        return []
    return [int(i) for i in np.argsort(best, kind="stable")[: min(k, n_ok)]]


class StationTimes:
    """Time from every node to every station of a set, with each station's path tree.

    ``time_s[node, s]`` is the travel time from ``node`` to station ``s`` (partial edge
    into the station included; inf if unreachable or removed) and ``succ[node, s]`` the
    next node toward ``s`` (-2 at the node where the path leaves onto the station's edge,
    -1 where unreached). Node-major layout: a query reads two contiguous rows.

    Computed by ONE scipy Dijkstra call on the reverse mode graph with one virtual source
    per station (joined to the station's "to" nodes by its partial-edge costs). Costs
    12 bytes per node and station; see :meth:`fits`.
    """

    BYTES_PER_ENTRY = 12

    def __init__(
        self,
        engine: RoutingEngine,
        targets: StationTargets,
        time_s: FloatArray,
        succ: npt.NDArray[np.int32],
    ) -> None:
        self.engine = engine
        self.targets = targets
        self.mode = targets.mode
        self.time_s = time_s
        self.succ = succ
        self._succ_l = np.ascontiguousarray(succ).data.toreadonly()

    @classmethod
    def fits(cls, n_nodes: int, n_stations: int, max_bytes: int) -> bool:
        """Whether times for ``n_stations`` on ``n_nodes`` fit in ``max_bytes``."""
        return n_nodes * max(n_stations, 1) * cls.BYTES_PER_ENTRY <= max_bytes

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return int(self.time_s.nbytes + self.succ.nbytes)

    @classmethod
    def compute(cls, engine: RoutingEngine, targets: StationTargets) -> StationTimes:
        """All stations of ``targets`` (one scipy call)."""
        stations = np.arange(len(targets.snaps), dtype=np.int64)
        time_s, succ = _station_columns(engine, targets, stations)
        return cls(engine, targets, time_s, succ)

    def updated(self, targets: StationTargets, index: int) -> StationTimes:
        """A new version for ``targets`` where only station ``index`` changed (or was
        appended as the last one); the other columns are copied, not recomputed."""
        n_st = len(targets.snaps)
        col_t, col_s = _station_columns(engine := self.engine, targets, np.array([index]))
        if index == self.time_s.shape[1] and n_st == index + 1:
            time_s = np.hstack([self.time_s, col_t])
            succ = np.hstack([self.succ, col_s])
        elif self.time_s.shape[1] == n_st and 0 <= index < n_st:
            time_s = self.time_s.copy()
            succ = self.succ.copy()
            time_s[:, index] = col_t[:, 0]
            succ[:, index] = col_s[:, 0]
        else:
            raise ValueError("station times and targets disagree; recompute them")
        return StationTimes(engine, targets, time_s, succ)

    def nearest_k(
        self,
        snap: Snap,
        *,
        k: int = 1,
        mask: BoolArray | None = None,
        max_time_s: float = np.inf,
    ) -> list[NearestResult]:
        """Same answer as :func:`nearest_k` for these targets, without a graph search."""
        engine, t, mode = self.engine, self.targets, self.mode
        cand = _check_k_mask(k, mask, t)
        starts = engine.options(snap, mode, "from")
        n_st = len(t.snaps)
        which = np.zeros(n_st, dtype=np.int64)
        if not starts:
            best = np.full(n_st, np.inf)
        elif len(starts) == 1:
            best = starts[0].cost_s + self.time_s[starts[0].node]
        else:
            both = np.stack([o.cost_s + self.time_s[o.node] for o in starts])
            which = np.argmin(both, axis=0)
            best = both[which, np.arange(n_st)]
        direct = _same_edge_times(engine, t, snap, best)
        out: list[NearestResult] = []
        start = (snap.snapped_lon, snap.snapped_lat)
        for i in _pick(best, cand, k, max_time_s):
            end = t.end_point(i)
            if i in direct:
                _, edge, f0, f1 = direct[i]
                r = engine.assemble(
                    mode, [edge], start_fraction=f0, end_fraction=f1, start=start, end=end
                )
            else:
                first = starts[int(which[i])]
                nodes, slot = self._walk(first.node, i)
                edges = np.empty(len(nodes) + 1, dtype=np.int64)
                edges[0] = first.edge
                if len(nodes) > 1:
                    arr = np.array(nodes, dtype=np.int64)
                    edges[1:-1] = engine.edges_between(mode, arr[:-1], arr[1:])
                edges[-1] = t.edge[i, slot]
                r = engine.assemble(
                    mode,
                    edges,
                    start_fraction=first.f0,
                    end_fraction=float(t.f1[i, slot]),
                    start=start,
                    end=end,
                )
            out.append(NearestResult(i, r.duration_s, r))
        return out

    def _walk(self, node: int, station: int) -> tuple[list[int], int]:
        """Nodes from ``node`` to where the path leaves for ``station``, and that slot."""
        succ = self._succ_l
        nodes = [node]
        nxt = succ[node, station]
        while nxt >= 0:
            node = nxt
            nodes.append(node)
            nxt = succ[node, station]
        if nxt != -2:  # pragma: no cover - only reached nodes are walked
            raise NoRouteError("inconsistent station times", mode=self.mode)
        t = self.targets
        costs = np.where(t.node[station] == node, t.cost_s[station], np.inf)
        return nodes, int(np.argmin(costs))


def _station_columns(
    engine: RoutingEngine, t: StationTargets, stations: IntArray
) -> tuple[FloatArray, npt.NDArray[np.int32]]:
    """``(time_s, succ)`` columns of :class:`StationTimes` for ``stations`` (one call)."""
    mg = engine.mode_graph(t.mode, reverse=True)
    m = mg.matrix
    n = mg.n_nodes
    n_src = int(stations.shape[0])
    # virtual node n + j joined to station j's "to" nodes (cheapest per node); explicit
    # zeros in a CSR matrix are edges for scipy, so zero-cost seeds stay exact
    rows_idx: list[npt.NDArray[np.int64]] = []
    rows_val: list[FloatArray] = []
    counts = np.zeros(n_src, dtype=np.int64)
    for j, s in enumerate(stations.tolist()):
        ok = t.node[s] >= 0
        nodes, costs = t.node[s][ok], t.cost_s[s][ok]
        if nodes.shape[0] == 2 and nodes[0] == nodes[1]:
            nodes, costs = nodes[:1], np.minimum(costs[:1], costs[1:])
        order = np.argsort(nodes)
        rows_idx.append(nodes[order])
        rows_val.append(costs[order])
        counts[j] = nodes.shape[0]
    indptr = np.concatenate([m.indptr, m.indptr[-1] + np.cumsum(counts)])
    indices = np.concatenate([m.indices, *rows_idx]) if n_src else m.indices
    data = np.concatenate([m.data, *rows_val]) if n_src else m.data
    size = n + n_src
    aug = sp.csr_matrix((data, indices, indptr), shape=(size, size))
    dist, pred = dijkstra(
        aug, directed=True, indices=n + np.arange(n_src), return_predecessors=True
    )
    dist = np.atleast_2d(dist)[:, :n]
    pred = np.atleast_2d(pred)[:, :n]
    succ = np.where(pred >= n, -2, np.where(pred < 0, -1, pred)).astype(np.int32)
    return np.ascontiguousarray(dist.T), np.ascontiguousarray(succ.T)


def nearest_k(
    engine: RoutingEngine,
    targets: StationTargets,
    snap: Snap,
    *,
    k: int = 1,
    mask: BoolArray | None = None,
    max_time_s: float = np.inf,
) -> list[NearestResult]:
    """The ``k`` stations fastest to reach from ``snap`` among ``mask``, within a budget.

    Parameters
    ----------
    engine
        The routing engine of the graph.
    targets
        The candidate stations for ``targets.mode``.
    snap
        The query point.
    k
        How many stations to return at most.
    mask
        Boolean per station (same order as ``targets``): which may be returned.
    max_time_s
        Only stations reachable within this many seconds.

    Returns
    -------
    list of NearestResult
        Fastest first; fewer than ``k`` (possibly none) when not enough are reachable.
    """
    cand = _check_k_mask(k, mask, targets)
    # Iterative deepening: a search bounded by L finds every station within L exactly, so
    # once k candidates lie within L they are the k nearest; otherwise widen L (x4) until
    # the budget is reached or the search has exhausted the point's component. Cost then
    # follows the k-th station's distance rather than the network's size.
    n_cand = int(cand.sum())
    limit = min(_FIRST_LIMIT_S, max_time_s)
    while True:
        found, exhausted = _nearest_k_within(
            engine, targets, snap, k=k, cand=cand, limit_s=limit, budget_s=max_time_s
        )
        if len(found) >= min(k, n_cand) or exhausted or limit >= max_time_s:
            return found
        limit = min(limit * 4.0, max_time_s)


#: First search radius of :func:`nearest_k` (seconds of travel); widened x4 as needed.
_FIRST_LIMIT_S = 1800.0


def _nearest_k_within(
    engine: RoutingEngine,
    targets: StationTargets,
    snap: Snap,
    *,
    k: int,
    cand: BoolArray,
    limit_s: float,
    budget_s: float,
) -> tuple[list[NearestResult], bool]:
    """:func:`nearest_k` with the search bounded by ``limit_s``; also whether the search
    explored the point's whole component (then stations up to ``budget_s`` count)."""
    mode = targets.mode
    n_st = len(targets.snaps)
    starts = engine.options(snap, mode, "from")
    times = np.full((n_st, 2), np.inf)
    search: SearchResult | None = None
    exhausted = True
    if starts:
        search = multi_source_dijkstra(
            engine.mode_graph(mode),
            np.array([o.node for o in starts], dtype=np.int64),
            np.array([o.cost_s for o in starts], dtype=float),
            limit_s=limit_s,
        )
        reached = search.time_s[np.isfinite(search.time_s)]
        # a node beyond the bound would have a reached predecessor within one edge of it
        exhausted = not np.isfinite(limit_s) or (
            reached.size > 0 and float(reached.max()) + engine.max_edge_time_s(mode) < limit_s
        )
        node_t = np.append(search.time_s, np.inf)  # index -1 -> inf
        times = node_t[targets.node] + targets.cost_s
    max_time_s = budget_s if exhausted else limit_s
    slot = np.argmin(times, axis=1)
    best = times[np.arange(n_st), slot]
    direct = _same_edge_times(engine, targets, snap, best)
    out: list[NearestResult] = []
    start = (snap.snapped_lon, snap.snapped_lat)
    for i in _pick(best, cand, k, max_time_s):
        end = targets.end_point(i)
        if i in direct:
            _, edge, f0, f1 = direct[i]
            r = engine.assemble(
                mode, [edge], start_fraction=f0, end_fraction=f1, start=start, end=end
            )
        else:
            assert search is not None  # finite time without a search only via `direct`
            o_end = targets.end_option(i, int(slot[i]))
            first = starts[int(search.seed[o_end.node])]
            middle = engine.tree_path(mode, search, o_end.node)
            r = engine.assemble(
                mode,
                [first.edge, *middle, o_end.edge],
                start_fraction=first.f0,
                end_fraction=o_end.f1,
                start=start,
                end=end,
            )
        out.append(NearestResult(i, r.duration_s, r))
    return out, exhausted
