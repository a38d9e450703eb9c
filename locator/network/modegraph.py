"""Per-mode search graphs: which edges a mode may use, their times, the CSR both ways.

:class:`ModeGraphs` is built once per artifact, eagerly, for every mode of the network and
both directions, and is read-only afterwards: every engine (routing, nearest, circles,
coverage, siting) shares the same matrices and nothing is filled in lazily while request
threads read it.

``direction="from"`` follows edges forward (travel *from* a source); ``"to"`` follows them
backwards (travel *to* a target), so a search on it yields the time from every node to
the seeds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse

from locator.errors import InvalidParameterError
from locator.network.geometry import element_view
from locator.network.graph import RoadGraph

Direction = Literal["from", "to"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: scipy drops explicit zeros from a CSR built from triplets, so a zero-time edge gets this
#: negligible positive weight (and reach computations divide by at least this).
MIN_EDGE_TIME_S = 1e-9


class DirectedCsr:
    """The CSR adjacency of one mode in one direction, with the edge behind each entry.

    Parallel edges keep their minimum weight. Row ``tail`` lists the heads reachable in
    one step, sorted, so ``(tail, head)`` keys are globally sorted and
    :meth:`edges_between` is one binary search.
    """

    def __init__(self, graph: RoadGraph, allowed: BoolArray, time_s: FloatArray, *, reverse: bool):
        self.reverse = reverse
        self.n_nodes = n = graph.n_nodes
        edge_ids = np.nonzero(allowed)[0].astype(np.int64)
        tail = graph.edge_u[edge_ids].astype(np.int64)
        head = graph.edge_v[edge_ids].astype(np.int64)
        if reverse:
            tail, head = head, tail
        weight = np.maximum(time_s[edge_ids], MIN_EDGE_TIME_S)
        order = np.lexsort((weight, head, tail))
        tail, head, weight, edge_ids = tail[order], head[order], weight[order], edge_ids[order]
        keep = np.ones(tail.shape[0], dtype=bool)
        keep[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
        tail, head, weight, edge_ids = tail[keep], head[keep], weight[keep], edge_ids[keep]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(tail, minlength=n), out=indptr[1:])
        self.matrix = sparse.csr_matrix((weight, head, indptr), shape=(n, n))
        self.entry_edge: IntArray = edge_ids
        self._keys: IntArray = tail * np.int64(max(n, 1)) + head

    def edges_between(self, tails: npt.ArrayLike, heads: npt.ArrayLike) -> IntArray:
        """The cheapest edge joining ``tails[i]`` to ``heads[i]`` in this direction.

        Raises
        ------
        KeyError
            Some pair is not joined by an edge of the mode (a caller's inconsistency).
        """
        keys = self._keys
        want = np.asarray(tails, dtype=np.int64) * np.int64(max(self.n_nodes, 1)) + np.asarray(
            heads, dtype=np.int64
        )
        pos = np.searchsorted(keys, want)
        if want.size and (
            np.any(pos >= keys.size) or np.any(keys[np.minimum(pos, keys.size - 1)] != want)
        ):
            raise KeyError("no edge between some of the given node pairs")
        return self.entry_edge[pos]


class ModeGraph:
    """One travel mode on one network: permissions, times and the CSR in both directions.

    Attributes
    ----------
    mode
        ``"truck"``, ``"car"`` or ``"walk"``.
    allowed, time_s
        Per directed edge: whether the mode may travel it, and in how many seconds.
    allowed_l, time_l
        The same as read-only memoryviews (scalar hot paths).
    max_edge_time_s
        The longest single-edge time of the mode: how far past a search bound the next
        unreached node can lie.
    forward, reverse
        :class:`DirectedCsr` for ``direction="from"`` and ``"to"``.
    """

    def __init__(self, graph: RoadGraph, mode: str) -> None:
        if mode not in graph.edge_allowed:
            raise InvalidParameterError(
                f"mode {mode!r} is not available on this network", parameter="mode", mode=mode
            )
        self.mode = mode
        self.n_nodes = graph.n_nodes
        self.allowed: BoolArray = graph.edge_allowed[mode].astype(bool)
        self.time_s: FloatArray = graph.edge_time_s[mode].astype(np.float64)
        self.allowed_l = element_view(self.allowed)
        self.time_l = element_view(self.time_s)
        usable = self.time_s[self.allowed]
        self.max_edge_time_s = float(usable.max()) if usable.size else 0.0
        self.forward = DirectedCsr(graph, self.allowed, self.time_s, reverse=False)
        self.reverse = DirectedCsr(graph, self.allowed, self.time_s, reverse=True)

    def csr(self, direction: Direction) -> DirectedCsr:
        """The adjacency a search in ``direction`` runs on."""
        return self.forward if direction == "from" else self.reverse


class ModeGraphs(Mapping[str, ModeGraph]):
    """The :class:`ModeGraph` of every mode of a network (built eagerly, read-only)."""

    def __init__(self, graph: RoadGraph) -> None:
        self._by_mode = {mode: ModeGraph(graph, mode) for mode in graph.modes}
        self.modes: tuple[str, ...] = tuple(self._by_mode)

    def __getitem__(self, mode: str) -> ModeGraph:
        try:
            return self._by_mode[mode]
        except KeyError:
            raise InvalidParameterError(
                f"mode {mode!r} is not available on this network; use one of "
                f"{', '.join(self.modes)}",
                parameter="mode",
                mode=mode,
            ) from None

    def __contains__(self, mode: object) -> bool:
        return mode in self._by_mode

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_mode)

    def __len__(self) -> int:
        return len(self._by_mode)
