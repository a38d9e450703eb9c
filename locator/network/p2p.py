"""Point-to-point fastest paths: A* with landmarks (ALT) and a bidirectional Dijkstra,
compiled with numba.

:class:`PointToPoint` answers "the cheapest path from these seeds to those targets" on one
mode graph: the start point's :func:`~locator.network.search.entries` (``"from"``) with
their initial costs, the end point's (``"to"``) with their final costs: the virtual source
and target of a one-to-all search, without building a matrix. Both kernels relax the same
CSR weights as the one-to-all search (:mod:`locator.network.search`) and are exact:

- ALT (:func:`_alt`): A* whose estimate of the remaining time is the triangle-inequality
  bound of :class:`Landmarks`, lowered by a slack covering the float32 storage, so it
  never exceeds the true time; the search stops when the smallest ``cost + bound`` left
  in the heap reaches the best target cost. On the regional network it settles a few
  hundred nodes where a one-to-all search settles 21,585.
- Bidirectional Dijkstra (:func:`_bidirectional`): a forward search on the forward CSR
  and a backward one on the reverse CSR, the best meeting cost ``mu`` updated whenever a
  node is labelled in one direction while labelled in the other, stopped when
  ``top_forward + top_backward >= mu``. It serves until the landmarks are computed
  (:meth:`PointToPoint.prepare`, run by the service's warm-up).

The caller recomputes a route's time from its edges (the one assembler), so a route's
duration is the sum of the same float64 edge times whichever search found the path.

Thread-safety: the kernels release the GIL and only read the graph and landmark arrays;
each call checks a work set (labels, predecessors, heaps) out of a small pool, so no two
calls write the same arrays. A kernel resets only the labels it touched, so a work set
comes back clean without clearing ``n`` entries; at most
:data:`~locator.network.kernels.POOL_SIZE` sets are kept
per mode graph. Landmarks are published whole (computed, then assigned).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from scipy.sparse.csgraph import dijkstra

from locator.network.kernels import WorkPool, heap_pop, heap_push, jit, jit_inline
from locator.network.modegraph import DirectedCsr, ModeGraph

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: landmarks per mode graph (two float32 times per node each: 128 bytes a node)
LANDMARKS = 16


def _expand_node(  # noqa: PLR0917 (compiled helper: plain arguments only)
    ptr: Any,
    idx: Any,
    w: Any,
    u: int,
    du: float,
    dist: Any,
    pnode: Any,
    ppos: Any,
    touched: Any,
    n_touched: int,
    hkey: Any,
    hnode: Any,
    size: int,
    other: Any,
    mu: float,
    meet: int,
) -> tuple[int, int, float, int]:
    """One direction's step of :func:`_bidirectional`: relax the edges of ``u`` (settled
    at ``du``) below the best meeting cost ``mu``, listing newly labelled nodes in
    ``touched``, and lower ``mu`` where a label meets the ``other`` direction's. Returns
    the new heap size, touched count, ``mu`` and meeting node."""
    for p in range(ptr[u], ptr[u + 1]):
        v = idx[p]
        nd = du + w[p]
        if nd < dist[v] and nd < mu:
            if dist[v] == np.inf:
                touched[n_touched] = v
                n_touched += 1
            dist[v] = nd
            pnode[v] = u
            ppos[v] = p
            size = heap_push(hkey, hnode, size, nd, v)
            if nd + other[v] < mu:
                mu = nd + other[v]
                meet = v
    return size, n_touched, mu, meet


_expand = jit_inline(_expand_node)


def _bidirectional(  # noqa: PLR0917 (one compiled loop)
    fwd: Any,
    bwd: Any,
    s_nodes: Any,
    s_costs: Any,
    t_nodes: Any,
    t_costs: Any,
    bound: float,
    work: Any,
) -> tuple[float, int, int, Any]:
    """Bidirectional Dijkstra between seeded sources and targets, below ``bound``.

    ``fwd``/``bwd``: ``(indptr, indices, weights, entry_edge)`` of the forward and reverse
    CSR. ``work``: ``(dist_f, dist_b, pnode_f, pnode_b, ppos_f, ppos_b, touched_f,
    touched_b, hkey_f, hnode_f, hkey_b, hnode_b, seen)`` (``seen``: ALT's only); the
    distances are ``inf`` on entry and
    are left ``inf`` on return. Returns ``(cost, source, target, edges)``: the cheapest
    cost, the indices of the source and target seeds its path starts and ends at and the
    directed edges between them in travel order; ``source == -1`` when no path is
    cheaper than ``bound``.
    """
    f_ptr, f_idx, f_w, f_edge = fwd
    b_ptr, b_idx, b_w, b_edge = bwd
    dist_f, dist_b, pnode_f, pnode_b, ppos_f, ppos_b = work[:6]
    touched_f, touched_b, hkey_f, hnode_f, hkey_b, hnode_b = work[6:12]
    inf = np.inf
    mu = bound
    meet = -1
    n_tf = 0
    n_tb = 0
    size_f = 0
    size_b = 0
    # seeds: a predecessor -1 - i marks seed i (the cheapest one where a node is given twice)
    for i in range(s_nodes.shape[0]):
        s = s_nodes[i]
        c = s_costs[i]
        if c < dist_f[s] and c < mu:
            if dist_f[s] == inf:
                touched_f[n_tf] = s
                n_tf += 1
            dist_f[s] = c
            pnode_f[s] = -1 - i
            size_f = heap_push(hkey_f, hnode_f, size_f, c, s)
    for j in range(t_nodes.shape[0]):
        t = t_nodes[j]
        c = t_costs[j]
        if c < dist_b[t] and c < mu:
            if dist_b[t] == inf:
                touched_b[n_tb] = t
                n_tb += 1
            dist_b[t] = c
            pnode_b[t] = -1 - j
            size_b = heap_push(hkey_b, hnode_b, size_b, c, t)
            if dist_f[t] + c < mu:
                mu = dist_f[t] + c
                meet = t
    while True:
        # drop stale heap entries, so the tops are the smallest live labels
        while size_f > 0 and hkey_f[0] > dist_f[hnode_f[0]]:
            size_f = heap_pop(hkey_f, hnode_f, size_f)
        while size_b > 0 and hkey_b[0] > dist_b[hnode_b[0]]:
            size_b = heap_pop(hkey_b, hnode_b, size_b)
        top_f = hkey_f[0] if size_f > 0 else inf
        top_b = hkey_b[0] if size_b > 0 else inf
        if top_f + top_b >= mu:
            break
        if top_f <= top_b:
            u = hnode_f[0]
            size_f = heap_pop(hkey_f, hnode_f, size_f)
            size_f, n_tf, mu, meet = _expand(
                f_ptr, f_idx, f_w, u, top_f, dist_f, pnode_f, ppos_f, touched_f, n_tf,
                hkey_f, hnode_f, size_f, dist_b, mu, meet,
            )  # fmt: skip
        else:
            u = hnode_b[0]
            size_b = heap_pop(hkey_b, hnode_b, size_b)
            size_b, n_tb, mu, meet = _expand(
                b_ptr, b_idx, b_w, u, top_b, dist_b, pnode_b, ppos_b, touched_b, n_tb,
                hkey_b, hnode_b, size_b, dist_f, mu, meet,
            )  # fmt: skip
    source = -1
    target = -1
    edges = np.empty(0, dtype=np.int64)
    if meet >= 0:
        n_f = 0
        v = meet
        while pnode_f[v] >= 0:
            n_f += 1
            v = pnode_f[v]
        source = -1 - pnode_f[v]
        n_b = 0
        v = meet
        while pnode_b[v] >= 0:
            n_b += 1
            v = pnode_b[v]
        target = -1 - pnode_b[v]
        edges = np.empty(n_f + n_b, dtype=np.int64)
        v = meet
        for k in range(n_f - 1, -1, -1):
            edges[k] = f_edge[ppos_f[v]]
            v = pnode_f[v]
        v = meet
        for k in range(n_f, n_f + n_b):
            edges[k] = b_edge[ppos_b[v]]
            v = pnode_b[v]
    for k in range(n_tf):
        dist_f[touched_f[k]] = inf
    for k in range(n_tb):
        dist_b[touched_b[k]] = inf
    return mu, source, target, edges


_bidirectional_kernel = jit(_bidirectional)


def _lower_bound(  # noqa: PLR0917 (compiled helper)
    frm: Any, to: Any, v: int, t_from: Any, t_to: Any, t_costs: Any, slack: float
) -> float:
    """A lower bound on the cost from node ``v`` to the cheapest target (ALT).

    For a landmark ``L``: ``d(v, t) >= d(L, t) - d(L, v)`` and ``d(v, t) >= d(v, L) -
    d(t, L)``; a landmark that reaches ``v`` but not ``t`` (or is reached from ``t`` but
    not from ``v``) proves ``t`` unreachable from ``v`` (``inf``). ``slack`` covers the
    float32 rounding of the stored distances, so the bound never exceeds the true cost.
    """
    best = np.inf
    for j in range(t_from.shape[0]):
        h = 0.0
        for k in range(frm.shape[1]):
            x = np.float64(frm[v, k])
            a = t_from[j, k]
            if x < np.inf:
                if a == np.inf:
                    h = np.inf
                    break
                h = max(h, a - x)
            y = np.float64(to[v, k])
            b = t_to[j, k]
            if b < np.inf:
                if y == np.inf:
                    h = np.inf
                    break
                h = max(h, y - b)
        if h < np.inf:
            h = max(h - slack, 0.0)
        best = min(best, h + t_costs[j])
    return best


_bound = jit(_lower_bound)


def _alt(  # noqa: PLR0917 (one compiled loop)
    fwd: Any,
    frm: Any,
    to: Any,
    slack: float,
    s_nodes: Any,
    s_costs: Any,
    t_nodes: Any,
    t_costs: Any,
    bound: float,
    work: Any,
) -> tuple[int, float, int, int, Any]:
    """A* with landmark lower bounds (ALT) from seeded sources to seeded targets.

    The same seeds, bound, work set and answer as :func:`_bidirectional` (``work[0]`` holds
    the costs from the sources, ``work[1]`` the lower bounds, both left ``inf``), with a
    leading status: ``0`` done, ``-1`` the heap ran full (a node reopened by the float32
    rounding of the bounds more often than it has room for; the caller searches again
    without landmarks). The search stops when the smallest ``cost + bound`` in the heap
    reaches the best target cost: the bounds never exceed the true remaining cost, so no
    path left in the heap is cheaper. Reopening keeps this exact even where rounding makes
    the bounds slightly inconsistent.
    """
    f_ptr, f_idx, f_w, f_edge = fwd
    g, hc, pnode, _, ppos, _, touched = work[:7]
    hkey, hnode = work[8], work[9]
    seen = work[12]  # a node's bound is computed (and the node listed) once
    cap = hkey.shape[0]
    n_t = t_nodes.shape[0]
    n_k = frm.shape[1]
    t_from = np.empty((n_t, n_k))
    t_to = np.empty((n_t, n_k))
    for j in range(n_t):
        for k in range(n_k):
            t_from[j, k] = frm[t_nodes[j], k]
            t_to[j, k] = to[t_nodes[j], k]
    inf = np.inf
    mu = bound
    end = -1
    target = -1
    n_touched = 0
    size = 0
    status = 0
    for i in range(s_nodes.shape[0]):
        s = s_nodes[i]
        c = s_costs[i]
        if not seen[s]:
            seen[s] = True
            hc[s] = _bound(frm, to, s, t_from, t_to, t_costs, slack)
            touched[n_touched] = s
            n_touched += 1
        if c < g[s] and c + hc[s] < mu:
            g[s] = c
            pnode[s] = -1 - i
            size = heap_push(hkey, hnode, size, c + hc[s], s)
            for j in range(n_t):
                if t_nodes[j] == s and c + t_costs[j] < mu:
                    mu = c + t_costs[j]
                    end = s
                    target = j
    while size > 0:
        key = hkey[0]
        u = hnode[0]
        size = heap_pop(hkey, hnode, size)
        if key > g[u] + hc[u]:
            continue  # stale: u was reached more cheaply since
        if key >= mu:
            break
        gu = g[u]
        for p in range(f_ptr[u], f_ptr[u + 1]):
            v = f_idx[p]
            nd = gu + f_w[p]
            if nd < g[v]:
                if not seen[v]:
                    # listed once: a node whose bound keeps it out of the heap (its label
                    # stays inf) is relaxed again later, but not listed again
                    seen[v] = True
                    hc[v] = _bound(frm, to, v, t_from, t_to, t_costs, slack)
                    touched[n_touched] = v
                    n_touched += 1
                fv = nd + hc[v]
                if fv < mu:
                    if size >= cap:
                        status = -1
                        break
                    g[v] = nd
                    pnode[v] = u
                    ppos[v] = p
                    size = heap_push(hkey, hnode, size, fv, v)
                    for j in range(n_t):
                        if t_nodes[j] == v and nd + t_costs[j] < mu:
                            mu = nd + t_costs[j]
                            end = v
                            target = j
        if status < 0:
            break
    source = -1
    edges = np.empty(0, dtype=np.int64)
    if end >= 0 and status == 0:
        n_e = 0
        v = end
        while pnode[v] >= 0:
            n_e += 1
            v = pnode[v]
        source = -1 - pnode[v]
        edges = np.empty(n_e, dtype=np.int64)
        v = end
        for k in range(n_e - 1, -1, -1):
            edges[k] = f_edge[ppos[v]]
            v = pnode[v]
    for k in range(n_touched):
        g[touched[k]] = inf
        hc[touched[k]] = inf
        seen[touched[k]] = False
    return status, mu, source, target, edges


_alt_kernel = jit(_alt)


class Path(NamedTuple):
    """A cheapest path between two seed sets: ``cost_s`` (the search's sum), the indices
    of its ``source`` and ``target`` seeds and the directed ``edges`` between their nodes
    in travel order (empty when both seeds sit on one node)."""

    cost_s: float
    source: int
    target: int
    edges: IntArray


def _csr_arrays(csr: DirectedCsr) -> tuple[Any, ...]:
    m = csr.matrix
    return (
        np.ascontiguousarray(m.indptr),
        np.ascontiguousarray(m.indices),
        np.ascontiguousarray(m.data, dtype=np.float64),
        np.ascontiguousarray(csr.entry_edge, dtype=np.int64),
    )


@dataclass(frozen=True)
class Landmarks:
    """ALT landmarks of one mode graph: the travel times from and to each landmark.

    Attributes
    ----------
    nodes
        The landmark nodes (chosen farthest-first: each the node with the longest round
        trip to the landmarks before it).
    from_s, to_s
        ``(n_nodes, k)`` float32: ``from_s[v, i]`` the time from landmark ``i`` to ``v``,
        ``to_s[v, i]`` from ``v`` to landmark ``i`` (``inf`` where unreachable).
    slack_s
        Subtracted from every bound: twice the float32 rounding error of a difference
        of two stored times, so a bound never exceeds the float64 travel time it
        estimates.
    """

    nodes: IntArray
    from_s: npt.NDArray[np.float32]
    to_s: npt.NDArray[np.float32]
    slack_s: float

    @classmethod
    def compute(cls, mg: ModeGraph, k: int = LANDMARKS) -> Landmarks:
        """``2 k`` one-to-all searches (scipy) on the mode's CSR in both directions."""
        n = mg.n_nodes
        fwd, rev = mg.forward.matrix, mg.reverse.matrix
        from_s = np.full((n, k), np.inf, dtype=np.float32)
        to_s = np.full((n, k), np.inf, dtype=np.float32)
        nodes: list[int] = []
        if n:
            first = dijkstra(fwd, directed=True, indices=0)
            nxt = int(np.argmax(np.where(np.isfinite(first), first, -1.0)))
            round_trip = np.full(n, np.inf)
            while len(nodes) < k and nxt >= 0:
                i = len(nodes)
                nodes.append(nxt)
                a = dijkstra(fwd, directed=True, indices=nxt)
                b = dijkstra(rev, directed=True, indices=nxt)
                from_s[:, i] = a
                to_s[:, i] = b
                round_trip = np.minimum(round_trip, a + b)
                score = np.where(np.isfinite(round_trip), round_trip, -1.0)
                score[nodes] = -1.0
                nxt = int(np.argmax(score)) if float(score.max()) > 0.0 else -1
        k_used = len(nodes)
        from_s, to_s = from_s[:, :k_used].copy(), to_s[:, :k_used].copy()
        finite = np.concatenate([from_s[np.isfinite(from_s)], to_s[np.isfinite(to_s)]])
        longest = float(finite.max()) if finite.size else 0.0
        from_s.flags.writeable = False
        to_s.flags.writeable = False
        return cls(
            np.array(nodes, dtype=np.int64),
            from_s,
            to_s,
            # float32 keeps 24 bits: each stored time is within 2^-24 of it relatively
            2.0 * longest * 2.0**-23,
        )


class PointToPoint:
    """Point-to-point search on one :class:`ModeGraph` (build once, share between
    threads).

    A* with landmarks (:class:`Landmarks`, computed by :meth:`prepare`, which the
    service's warm-up runs) when they are there, the bidirectional Dijkstra before (and
    when an A* search runs out of heap). Both are exact.

    Parameters
    ----------
    mg
        The mode graph (its forward and reverse CSR arrays are read, not copied when
        already contiguous).
    """

    def __init__(self, mg: ModeGraph) -> None:
        self.mode = mg.mode
        self.n_nodes = mg.n_nodes
        self._mg = mg
        self._fwd = _csr_arrays(mg.forward)
        self._bwd = _csr_arrays(mg.reverse)
        #: heap room of a work set beyond its seeds: one push per relaxation (a
        #: bidirectional search settles each node once; A* seldom reopens one)
        self.heap_room = max(int(self._fwd[1].shape[0]), int(self._bwd[1].shape[0]))
        #: published whole by :meth:`prepare` (None until then)
        self.landmarks: Landmarks | None = None
        self._pool: WorkPool[tuple[Any, ...]] = WorkPool(
            self._new_work, lambda work: int(work[8].shape[0])
        )

    def prepare(self) -> None:
        """Compute the landmarks (once; about ``2 LANDMARKS`` one-to-all searches)."""
        if self.landmarks is None:
            self.landmarks = Landmarks.compute(self._mg)

    def _new_work(self, room: int) -> tuple[Any, ...]:
        n = self.n_nodes
        return (
            np.full(n, np.inf),
            np.full(n, np.inf),
            *(np.empty(n, dtype=np.int64) for _ in range(6)),
            np.empty(room, dtype=np.float64),
            np.empty(room, dtype=np.int64),
            np.empty(room, dtype=np.float64),
            np.empty(room, dtype=np.int64),
            np.zeros(n, dtype=np.bool_),  # ALT: bound computed (False on entry and return)
        )

    def _take(self, n_seeds: int) -> tuple[Any, ...]:
        return self._pool.take(self.heap_room + max(n_seeds, 8))

    def _give(self, work: tuple[Any, ...]) -> None:
        self._pool.give(work)

    def path(
        self,
        sources: Sequence[tuple[int, float]],
        targets: Sequence[tuple[int, float]],
        *,
        bound_s: float = np.inf,
        landmarks: bool = True,
    ) -> Path | None:
        """The cheapest path from any source ``(node, initial cost)`` to any target
        ``(node, final cost)`` whose total is below ``bound_s``, or ``None``.

        ``landmarks=False`` runs the bidirectional Dijkstra even when landmarks exist.
        """
        if not sources or not targets:
            return None
        s_nodes = np.array([s[0] for s in sources], dtype=np.int64)
        s_costs = np.array([s[1] for s in sources], dtype=np.float64)
        t_nodes = np.array([t[0] for t in targets], dtype=np.int64)
        t_costs = np.array([t[1] for t in targets], dtype=np.float64)
        # the kernels do not check bounds: a bad seed must not reach them
        nodes = np.concatenate([s_nodes, t_nodes])
        costs = np.concatenate([s_costs, t_costs])
        if (
            int(nodes.min()) < 0
            or int(nodes.max()) >= self.n_nodes
            or not bool(np.all(costs >= 0.0))
        ):
            raise ValueError("seed nodes must be nodes of the graph and seed costs >= 0")
        lm = self.landmarks if landmarks else None
        work = self._take(len(sources) + len(targets))
        # a kernel that raised would leave labels set: its work set is not given back
        status = -1
        if lm is not None:
            status, cost, source, target, edges = _alt_kernel(
                self._fwd,
                lm.from_s,
                lm.to_s,
                lm.slack_s,
                s_nodes,
                s_costs,
                t_nodes,
                t_costs,
                float(bound_s),
                work,
            )
        if status < 0:
            cost, source, target, edges = _bidirectional_kernel(
                self._fwd, self._bwd, s_nodes, s_costs, t_nodes, t_costs, float(bound_s), work
            )
        self._give(work)
        if source < 0:
            return None
        return Path(float(cost), int(source), int(target), edges)

    def warm(self) -> None:
        """Compute the landmarks and compile (or load from numba's cache) both kernels for
        this graph's array types, so the first request pays for neither."""
        self.prepare()
        if self.n_nodes:
            self.path([(0, 0.0)], [(0, 0.0)], landmarks=False)
            self.path([(0, 0.0)], [(0, 0.0)])
