"""osmnx's graph topology steps on segment arrays: largest component, endpoints, simplify.

The streaming OSM builder (:mod:`geodata.osm_stream`) holds a network as directed segments
``u[i] -> v[i]`` over compact node indices, numbered in the order osmnx inserts them. This
module repeats on those arrays what ``geodata.osm`` asks NetworkX and osmnx to do:

* :func:`largest_wcc`: ``geodata.osm._largest_wcc_edges`` (scipy instead of NetworkX, the
  same tie-break).
* :func:`endpoints`: ``osmnx.simplification._is_endpoint`` for every node at once.
* :func:`simplify`: ``osmnx.simplify_graph(..., remove_rings=True)`` with sums for
  length and times, walking paths exactly as ``osmnx.simplification._build_path`` does.

The per-node loops are numba kernels over CSR arrays (a few bytes per segment; no Python
object per node or segment), compiled once and cached on disk.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from locator.network.kernels import jit

log = logging.getLogger(__name__)


I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]


def _components(n_nodes: int, u: I64, v: I64) -> npt.NDArray[np.int32]:
    adj = coo_matrix((np.ones(len(u), np.int8), (u, v)), shape=(n_nodes, n_nodes))
    _, label = connected_components(adj, directed=True, connection="weak")
    return np.asarray(label, dtype=np.int32)


def largest_wcc(n_nodes: int, u: I64, v: I64) -> Bool:
    """Which of the segments ``u -> v`` lie in their largest weakly connected component.

    Ties go to the component holding the smallest node index with an outgoing segment:
    ``geodata.osm`` lists segments by tail node in ascending OSM id (the node index
    order), and NetworkX keeps the first of equally large components in that order.
    """
    if len(u) == 0:
        return np.zeros(0, dtype=bool)
    label = _components(n_nodes, u, v)
    touched = np.zeros(n_nodes, dtype=bool)
    touched[u] = True
    touched[v] = True
    size = np.bincount(label[touched], minlength=int(label.max()) + 1)
    first_tail = np.full(len(size), n_nodes, dtype=np.int64)
    np.minimum.at(first_tail, label[u], u)
    best = np.lexsort((first_tail, -size))[0]
    return np.asarray(label[u] == best)


@dataclass
class _CSR:
    """Segments grouped by one end: ``nbr[off[x]:off[x+1]]`` are the other ends of node
    ``x``'s segments, ascending, ties in segment order; ``seg`` and ``code`` per entry."""

    off: I64
    nbr: I64
    seg: I64
    code: I64


def _csr(n_nodes: int, by: I64, other: I64, seg: I64, code: I64) -> _CSR:
    order = np.lexsort((other, by))  # stable: equal pairs keep segment order
    off = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(by, minlength=n_nodes), out=off[1:])
    return _CSR(off, other[order], seg[order], code[order])


def _endpoint_kernel(  # noqa: PLR0917 (a compiled kernel: plain arguments only)
    present: Any, o_off: Any, o_nbr: Any, o_code: Any, i_off: Any, i_nbr: Any, i_code: Any
) -> Any:
    n = len(present)
    end = np.zeros(n, dtype=np.bool_)
    for x in range(n):
        if not present[x]:
            continue
        o0, o1, i0, i1 = o_off[x], o_off[x + 1], i_off[x], i_off[x + 1]
        if o1 == o0 or i1 == i0:  # rule 2: no outgoing or no incoming edge
            end[x] = True
            continue
        code = o_code[o0]
        distinct = 0
        last = -1
        a, b = o0, i0
        while a < o1 or b < i1:  # merge the two sorted neighbour lists
            if b >= i1 or (a < o1 and o_nbr[a] <= i_nbr[b]):
                y = o_nbr[a]
                c = o_code[a]
                a += 1
            else:
                y = i_nbr[b]
                c = i_code[b]
                b += 1
            if y == x:  # rule 1: self-loop
                distinct = -1
                break
            if y != last:
                distinct += 1
                last = y
            if c != code:  # rule 5: an edge_attrs_differ attribute changes here
                distinct = -1
                break
        degree = (o1 - o0) + (i1 - i0)
        if distinct != 2 or degree not in (2, 4):  # rule 3 (and 1, 5)
            end[x] = True
    return end


_endpoint_jit = jit(_endpoint_kernel)


def endpoints(n_nodes: int, u: I64, v: I64, *, seg: I64, code: I64, present: Bool) -> Bool:
    """osmnx's ``_is_endpoint`` for every node of the multigraph ``u -> v``.

    ``code`` numbers the ``edge_attrs_differ`` values of each segment: two segments share
    a code exactly when they agree on every such attribute.
    """
    out = _csr(n_nodes, u, v, seg, code)
    inc = _csr(n_nodes, v, u, seg, code)
    end = _endpoint_jit(present, out.off, out.nbr, out.code, inc.off, inc.nbr, inc.code)
    return np.asarray(end, dtype=bool)


def _walk_kernel(  # noqa: PLR0917 (a compiled kernel: plain arguments only)
    is_end: Any,
    off: Any,
    nbr: Any,
    nseg: Any,
    length: Any,
    car: Any,
    truck: Any,
    oneway: Any,
    fill: bool,
    p_off: Any,
    p_nodes: Any,
    p_seg: Any,
    p_sums: Any,
    p_oneway: Any,
) -> Any:
    """osmnx ``_get_paths_to_simplify`` + ``_build_path`` (``fill=False`` only counts).

    Returns (paths, path nodes, unexpected patterns, node of an impossible pattern or -1).
    """
    n = len(is_end)
    mark = np.full(n, -1, dtype=np.int64)  # mark[x] == path number: x is on the path
    paths = 0
    total = 0
    unexpected = 0
    for e in range(n):
        if not is_end[e]:
            continue
        for j in range(off[e], off[e + 1]):
            s = nbr[j]
            if (j > off[e] and nbr[j - 1] == s) or is_end[s]:
                continue
            start = total
            if fill:
                p_nodes[total] = e
                p_nodes[total + 1] = s
            total += 2
            mark[e] = paths
            mark[s] = paths
            for k in range(off[s], off[s + 1]):
                t = nbr[k]
                if mark[t] == paths:
                    continue
                if fill:
                    p_nodes[total] = t
                total += 1
                mark[t] = paths
                node = t
                while not is_end[node]:
                    cand = -1
                    count = 0
                    for q in range(off[node], off[node + 1]):
                        c = nbr[q]
                        if mark[c] != paths and c != cand:
                            cand = c
                            count += 1
                    if count == 1:
                        node = cand
                        if fill:
                            p_nodes[total] = node
                        total += 1
                        mark[node] = paths
                    elif count == 0:
                        closes = False
                        for q in range(off[node], off[node + 1]):
                            if nbr[q] == e:
                                closes = True
                        if closes:
                            if fill:
                                p_nodes[total] = e
                            total += 1
                        else:
                            unexpected += 1
                        break
                    else:
                        return paths, total, unexpected, node
                break
            if fill:
                p_off[paths + 1] = total
                acc_len = 0.0
                acc_car = 0.0
                acc_truck = 0.0
                one = False
                for i in range(start, total - 1):
                    a, b = p_nodes[i], p_nodes[i + 1]
                    sg = -1
                    for q in range(off[a], off[a + 1]):
                        if nbr[q] == b:
                            sg = nseg[q]
                            break
                    if i == start:
                        p_seg[paths] = sg
                    acc_len += length[sg]  # summed in path order, as osmnx's sum()
                    acc_car += car[sg]
                    acc_truck += truck[sg]
                    one = one or oneway[sg]
                p_sums[paths, 0] = acc_len
                p_sums[paths, 1] = acc_car
                p_sums[paths, 2] = acc_truck
                p_oneway[paths] = one
            paths += 1
    return paths, total, unexpected, -1


_walk_jit = jit(_walk_kernel)


@dataclass
class Simplified:
    """Edges after osmnx's simplification: surviving segments, then merged paths."""

    keep_nodes: Bool
    u: I64
    v: I64
    seg: I64  # the segment whose attributes the edge carries
    length_m: F64
    car_s: F64
    truck_s: F64
    oneway: Bool
    geom_offsets: I64  # into geom_nodes
    geom_nodes: I64


class SimplifyError(ValueError):
    """osmnx's "impossible simplify pattern" (an interior node with several ways on)."""


def simplify(
    n_nodes: int,
    u: I64,
    v: I64,
    *,
    keep: Bool,
    code: I64,
    length_m: F64,
    car_s: F64,
    truck_s: F64,
    oneway: Bool,
) -> Simplified:
    """osmnx ``simplify_graph(edge_attrs_differ=..., remove_rings=True)`` on the kept
    segments, ``length``/``car_s``/``truck_s`` summed (``edge_attr_aggs``) and ``oneway``
    true when any merged segment is one-way."""
    idx = np.nonzero(keep)[0]
    ku, kv = u[idx], v[idx]
    present = np.zeros(n_nodes, dtype=bool)
    present[ku] = True
    present[kv] = True
    out = _csr(n_nodes, ku, kv, idx, code[idx])
    inc = _csr(n_nodes, kv, ku, idx, code[idx])
    end = np.asarray(
        _endpoint_jit(present, out.off, out.nbr, out.code, inc.off, inc.nbr, inc.code), bool
    )
    del inc
    args = (end, out.off, out.nbr, out.seg, length_m, car_s, truck_s, oneway)
    empty_i, empty_f = np.zeros(0, np.int64), np.zeros((0, 3), np.float64)
    n_paths, n_pts, _, bad = _walk_jit(
        *args, False, empty_i, empty_i, empty_i, empty_f, np.zeros(0, np.bool_)
    )
    if bad >= 0:
        raise SimplifyError(f"impossible simplify pattern near node index {bad}")
    p_off = np.zeros(n_paths + 1, dtype=np.int64)
    p_nodes = np.empty(n_pts, dtype=np.int64)
    p_seg = np.empty(n_paths, dtype=np.int64)
    p_sums = np.empty((n_paths, 3), dtype=np.float64)
    p_oneway = np.empty(n_paths, dtype=np.bool_)
    _, _, unexpected, _ = _walk_jit(*args, True, p_off, p_nodes, p_seg, p_sums, p_oneway)
    del out
    if unexpected:
        log.warning("%d unexpected simplify patterns (osmnx warns the same)", unexpected)
    lens = np.diff(p_off)
    p_u, p_v = p_nodes[p_off[:-1]], p_nodes[p_off[1:] - 1]
    removed = np.zeros(n_nodes, dtype=bool)
    interior = np.ones(n_pts, dtype=bool)
    interior[p_off[:-1]] = False
    interior[p_off[1:] - 1] = False
    removed[p_nodes[interior]] = True
    del interior

    # osmnx adds the merged edges, then removes the interior nodes with all their edges
    survivors = idx[~(removed[ku] | removed[kv])]
    merged = ~(removed[p_u] | removed[p_v])
    e_u = np.concatenate((u[survivors], p_u[merged]))
    e_v = np.concatenate((v[survivors], p_v[merged]))
    e_seg = np.concatenate((survivors, p_seg[merged]))
    geom_len = np.concatenate((np.full(len(survivors), 2, np.int64), lens[merged]))
    geom_nodes = np.concatenate(
        (
            np.column_stack((u[survivors], v[survivors])).ravel(),
            p_nodes[np.repeat(merged, lens)],
        )
    )
    sums = p_sums[merged]
    e_len = np.concatenate((length_m[survivors], sums[:, 0]))
    e_car = np.concatenate((car_s[survivors], sums[:, 1]))
    e_truck = np.concatenate((truck_s[survivors], sums[:, 2]))
    e_oneway = np.concatenate((oneway[survivors], p_oneway[merged]))
    del p_nodes, sums, p_sums

    # osmnx remove_rings: drop the components in which no node is an endpoint
    alive = present & ~removed
    end_after = endpoints(n_nodes, e_u, e_v, seg=e_seg, code=code[e_seg], present=alive)
    label = _components(n_nodes, e_u, e_v)
    has_end = np.zeros(int(label.max()) + 1, dtype=bool)
    has_end[label[end_after]] = True
    keep_nodes = alive & has_end[label]
    keep_e = keep_nodes[e_u]
    if not keep_e.all():
        log.info("removing %d edges of isolated rings (osmnx remove_rings)", int((~keep_e).sum()))
    geom_nodes = geom_nodes[np.repeat(keep_e, geom_len)]
    geom_off = np.zeros(int(keep_e.sum()) + 1, dtype=np.int64)
    np.cumsum(geom_len[keep_e], out=geom_off[1:])
    return Simplified(
        keep_nodes=keep_nodes,
        u=e_u[keep_e],
        v=e_v[keep_e],
        seg=e_seg[keep_e],
        length_m=e_len[keep_e],
        car_s=e_car[keep_e],
        truck_s=e_truck[keep_e],
        oneway=e_oneway[keep_e],
        geom_offsets=geom_off,
        geom_nodes=geom_nodes,
    )
