"""The nearest few of a set of targets from seeded sources: one compiled Dijkstra that
stops once it has them.

A *target* (a station) is attached to the network at one or more nodes, each with a final
cost (its "to" entries: the rest of the edge it sits on). :class:`MultiTargetSearch`
runs a forward Dijkstra from the sources (the query point's "from" entries) and, each
time it settles a node, offers the targets attached there at ``time + final cost`` as
labels of their own in the same heap. A target is final when its label is popped, so
the search stops as soon as ``want`` targets are final and the heap holds nothing as
cheap as the last of them (targets tied with it are taken too): its cost follows the
distance to the ``want``-th target, not the network's size, and there is no iterative
deepening. It is exact: a label popped is the cheapest way to that node or target.

Thread-safety: the kernel releases the GIL, reads the graph and attachment arrays only,
and writes a work set taken from a :class:`~locator.network.kernels.WorkPool` for the
call (labels it touched are reset before it is given back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from locator.network.kernels import WorkPool, heap_pop, heap_push, jit
from locator.network.modegraph import ModeGraph

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Attachments:
    """Where targets join the network, sorted by node: ``node[i]`` holds target
    ``target[i]`` (its ``slot``-th entry) at a final cost of ``cost_s[i]``."""

    node: IntArray
    target: IntArray
    slot: IntArray
    cost_s: FloatArray
    n_targets: int

    @classmethod
    def from_table(cls, node: IntArray, cost_s: FloatArray) -> Attachments:
        """From ``(n_targets, slots)`` arrays of entry nodes (-1: none) and costs."""
        node = np.asarray(node, dtype=np.int64)
        n_targets, slots = node.shape
        tgt = np.repeat(np.arange(n_targets, dtype=np.int64), slots)
        slot = np.tile(np.arange(slots, dtype=np.int64), n_targets)
        flat, cost = node.reshape(-1), np.asarray(cost_s, dtype=np.float64).reshape(-1)
        ok = (flat >= 0) & np.isfinite(cost)
        order = np.argsort(flat[ok], kind="stable")
        arrays = [a[ok][order] for a in (flat, tgt, slot)]
        out = cls(arrays[0], arrays[1], arrays[2], cost[ok][order], int(n_targets))
        for a in (out.node, out.target, out.slot, out.cost_s):
            a.flags.writeable = False
        return out


@dataclass(frozen=True)
class Found:
    """The targets a search made final, cheapest first.

    Attributes
    ----------
    target, cost_s, slot
        Per found target: its index, total cost, and the attachment slot it was
        reached by.
    source
        Per found target: the index of the source its path starts at.
    edges
        Per found target: the directed edges from that source's node to the slot's node,
        in travel order.
    exhausted
        True when the search ran out of network within the bound (then every target
        reachable within it is among those found).
    """

    target: IntArray
    cost_s: FloatArray
    slot: IntArray
    source: IntArray
    edges: list[IntArray]
    exhausted: bool


def _nearest_targets(  # noqa: PLR0917 (one compiled loop)
    fwd: Any,
    s_nodes: Any,
    s_costs: Any,
    att_node: Any,
    att_target: Any,
    att_slot: Any,
    att_cost: Any,
    cand: Any,
    want: int,
    bound: float,
    work: Any,
) -> tuple[Any, ...]:
    """See the module docstring. ``fwd``: ``(indptr, indices, weights, entry_edge)``;
    ``work``: ``(dist, pnode, ppos, touched, hkey, hid)`` with ``dist`` all ``inf`` on
    entry (and on return). Heap ids below ``n`` are nodes, ``n + t`` target ``t``."""
    ptr, idx, w, entry_edge = fwd
    dist, pnode, ppos, touched, hkey, hid = work
    n = dist.shape[0]
    n_t = cand.shape[0]
    inf = np.inf
    t_time = np.full(n_t, inf)
    t_node = np.full(n_t, -1, dtype=np.int64)
    t_slot = np.full(n_t, -1, dtype=np.int64)
    t_done = np.zeros(n_t, dtype=np.bool_)
    order = np.empty(n_t, dtype=np.int64)
    n_found = 0
    last = inf
    n_touched = 0
    size = 0
    n_att = att_node.shape[0]
    for i in range(s_nodes.shape[0]):
        s = s_nodes[i]
        c = s_costs[i]
        if c < dist[s] and c <= bound:
            if dist[s] == inf:
                touched[n_touched] = s
                n_touched += 1
            dist[s] = c
            pnode[s] = -1 - i
            size = heap_push(hkey, hid, size, c, s)
    exhausted = True
    while size > 0:
        key = hkey[0]
        if key > bound:
            break
        if n_found >= want and key > last:
            exhausted = False
            break
        u = hid[0]
        size = heap_pop(hkey, hid, size)
        if u >= n:
            t = u - n
            if t_done[t] or key > t_time[t]:
                continue
            t_done[t] = True
            order[n_found] = t
            n_found += 1
            last = key
            continue
        if key > dist[u]:
            continue
        a = np.searchsorted(att_node, u)
        while a < n_att and att_node[a] == u:
            t = att_target[a]
            nt = key + att_cost[a]
            if cand[t] and not t_done[t] and nt < t_time[t] and nt <= bound:
                t_time[t] = nt
                t_node[t] = u
                t_slot[t] = att_slot[a]
                size = heap_push(hkey, hid, size, nt, n + t)
            a += 1
        for p in range(ptr[u], ptr[u + 1]):
            v = idx[p]
            nd = key + w[p]
            if nd < dist[v] and nd <= bound:
                if dist[v] == inf:
                    touched[n_touched] = v
                    n_touched += 1
                dist[v] = nd
                pnode[v] = u
                ppos[v] = p
                size = heap_push(hkey, hid, size, nd, v)
    found = order[:n_found].copy()
    cost = np.empty(n_found)
    slot = np.empty(n_found, dtype=np.int64)
    source = np.empty(n_found, dtype=np.int64)
    lengths = np.zeros(n_found + 1, dtype=np.int64)
    for j in range(n_found):
        t = found[j]
        cost[j] = t_time[t]
        slot[j] = t_slot[t]
        v = t_node[t]
        steps = 0
        while pnode[v] >= 0:
            steps += 1
            v = pnode[v]
        source[j] = -1 - pnode[v]
        lengths[j + 1] = lengths[j] + steps
    edges = np.empty(lengths[n_found], dtype=np.int64)
    for j in range(n_found):
        v = t_node[found[j]]
        k = lengths[j + 1] - 1
        while pnode[v] >= 0:
            edges[k] = entry_edge[ppos[v]]
            k -= 1
            v = pnode[v]
    for k in range(n_touched):
        dist[touched[k]] = inf
    return found, cost, slot, source, edges, lengths, exhausted


_nearest_kernel = jit(_nearest_targets)


class MultiTargetSearch:
    """Nearest-targets search on one :class:`ModeGraph` (build once, share between
    threads)."""

    def __init__(self, mg: ModeGraph) -> None:
        self.mode = mg.mode
        self.n_nodes = mg.n_nodes
        m = mg.forward.matrix
        self._fwd = (
            np.ascontiguousarray(m.indptr),
            np.ascontiguousarray(m.indices),
            np.ascontiguousarray(m.data, dtype=np.float64),
            np.ascontiguousarray(mg.forward.entry_edge, dtype=np.int64),
        )
        self._room = int(self._fwd[1].shape[0])
        self._pool: WorkPool[tuple[Any, ...]] = WorkPool(
            self._new_work, lambda w: int(w[4].shape[0])
        )

    def _new_work(self, room: int) -> tuple[Any, ...]:
        n = self.n_nodes
        return (
            np.full(n, np.inf),
            np.empty(n, dtype=np.int64),
            np.empty(n, dtype=np.int64),
            np.empty(n, dtype=np.int64),
            np.empty(room, dtype=np.float64),
            np.empty(room, dtype=np.int64),
        )

    def nearest(
        self,
        sources: Sequence[tuple[int, float]],
        attachments: Attachments,
        cand: BoolArray,
        *,
        want: int,
        bound_s: float = np.inf,
    ) -> Found:
        """The ``want`` candidate targets (``cand``, one flag per target) cheapest to reach
        from the sources ``(node, initial cost)`` within ``bound_s`` (more on a tie with
        the last; fewer when not enough are reachable)."""
        s_nodes = np.array([s[0] for s in sources], dtype=np.int64)
        s_costs = np.array([s[1] for s in sources], dtype=np.float64)
        cand = np.ascontiguousarray(cand, dtype=np.bool_)
        if cand.shape != (attachments.n_targets,):
            raise ValueError("one candidate flag per target")
        # the kernel does not check bounds: a bad seed must not reach it
        if s_nodes.size and (
            int(s_nodes.min()) < 0
            or int(s_nodes.max()) >= self.n_nodes
            or not bool(np.all(s_costs >= 0.0))
        ):
            raise ValueError("seed nodes must be nodes of the graph and seed costs >= 0")
        work = self._pool.take(self._room + s_nodes.shape[0] + attachments.node.shape[0] + 8)
        found, cost, slot, source, edges, lengths, exhausted = _nearest_kernel(
            self._fwd,
            s_nodes,
            s_costs,
            attachments.node,
            attachments.target,
            attachments.slot,
            attachments.cost_s,
            cand,
            int(want),
            float(bound_s),
            work,
        )
        self._pool.give(work)
        return Found(
            found,
            cost,
            slot,
            source,
            [edges[lengths[j] : lengths[j + 1]] for j in range(found.shape[0])],
            bool(exhausted),
        )

    def warm(self) -> None:
        """Compile (or load from numba's cache) the kernel for this graph's arrays."""
        if self.n_nodes:
            att = Attachments.from_table(np.zeros((1, 1), dtype=np.int64), np.zeros((1, 1)))
            self.nearest([(0, 0.0)], att, np.ones(1, dtype=bool), want=1)
