"""k-nearest by one bounded forward search from the point (when no table fits in memory).

Iterative deepening: a search bounded by ``L`` finds every station within ``L`` exactly,
so once ``k`` candidates lie within ``L`` they are the ``k`` nearest; otherwise ``L`` is
widened (x4) until the query's bound is reached or the search has exhausted the point's
component. The cost follows the k-th station's distance, not the network's size.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from locator.analysis.nearest.targets import Accept, NearestResult, StationTargets
from locator.network.search import Option, search_from, tree_path
from locator.network.snapping import Snap

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

#: First search radius (seconds of travel); widened x4 as needed.
FIRST_LIMIT_S = 1800.0


def bounded_search(
    targets: StationTargets,
    snap: Snap,
    *,
    k: int,
    mask: BoolArray | None = None,
    bound_s: float = np.inf,
    accept: Accept | None = None,
) -> list[NearestResult]:
    """The ``k`` stations among ``mask`` (and taken by ``accept``) fastest to reach from
    ``snap`` within ``bound_s``.

    Returns fastest first; fewer than ``k`` (possibly none) when not enough are reachable
    within the bound. Exact: the same answer as the forest and the table.
    """
    cand = targets.candidates(mask)
    n_cand = int(cand.sum())
    limit = min(FIRST_LIMIT_S, bound_s)
    while True:
        found, exhausted = _within(
            targets, snap, k=k, cand=cand, limit_s=limit, bound_s=bound_s, accept=accept
        )
        if len(found) >= min(k, n_cand) or exhausted or limit >= bound_s:
            return found
        limit = min(limit * 4.0, bound_s)


def _within(
    targets: StationTargets,
    snap: Snap,
    *,
    k: int,
    cand: BoolArray,
    limit_s: float,
    bound_s: float,
    accept: Accept | None = None,
) -> tuple[list[NearestResult], bool]:
    """:func:`bounded_search` with the search stopped at ``limit_s``; also whether the
    search explored the point's whole component (then stations up to ``bound_s`` count)."""
    mg = targets.routing.net.mode(targets.mode)
    n_st = len(targets.snaps)
    starts = targets.starts(snap)
    times = np.full((n_st, 2), np.inf)
    result = None
    exhausted = True
    if starts:
        result = search_from(mg.forward, starts, limit_s=limit_s)
        reached = result.time_s[np.isfinite(result.time_s)]
        # a node beyond the bound would have a reached predecessor within one edge of it
        exhausted = not np.isfinite(limit_s) or (
            reached.size > 0 and float(reached.max()) + mg.max_edge_time_s < limit_s
        )
        node_t = np.append(result.time_s, np.inf)  # index -1 -> inf
        times = node_t[targets.node] + targets.cost_s
    usable_s = bound_s if exhausted else limit_s
    slot = np.argmin(times, axis=1)
    best = times[np.arange(n_st), slot]

    def path_to(i: int) -> tuple[Option, IntArray, Option]:
        assert result is not None  # a finite time without a search only via `direct`
        last = targets.end_option(i, int(slot[i]))
        middle, root = tree_path(result, mg.forward, last.node)
        _, seed = result.trees()
        return starts[int(seed[root])], middle, last

    found = targets.results(
        snap, best, cand=cand, k=k, bound_s=usable_s, path_to=path_to, accept=accept
    )
    return found, exhausted
