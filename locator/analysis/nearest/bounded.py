"""k-nearest by one forward search from the point (when no table fits in memory).

:class:`~locator.network.multitarget.MultiTargetSearch` runs one compiled Dijkstra from
the point's entries that offers each station at its node's time plus its final cost and
stops once the ``k`` fastest candidates are final: the cost follows the k-th station's
distance, not the network's size. With an ``accept`` test (opening hours on arrival) the
search is asked for more stations until ``k`` are taken or none are left.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from locator.analysis.nearest.targets import Accept, NearestResult, StationTargets
from locator.network.search import Option
from locator.network.snapping import Snap

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


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
    starts = targets.starts(snap)
    search = targets.routing.targets_search[targets.mode]
    want = k
    while True:
        best = np.full(len(targets.snaps), np.inf)
        paths: dict[int, tuple[Option, IntArray, Option]] = {}
        exhausted = True
        if starts and n_cand:
            found = search.nearest(
                [(o.node, o.cost_s) for o in starts],
                targets.attachments,
                cand,
                want=want,
                bound_s=bound_s,
            )
            exhausted = found.exhausted
            for j, i in enumerate(found.target.tolist()):
                best[i] = float(found.cost_s[j])
                paths[i] = (
                    starts[int(found.source[j])],
                    found.edges[j],
                    targets.end_option(i, int(found.slot[j])),
                )
        out = targets.results(
            snap, best, cand=cand, k=k, bound_s=bound_s, path_to=paths.__getitem__, accept=accept
        )
        # fewer than k taken while stations are left: ask the search for more of them
        if len(out) >= k or exhausted or want >= n_cand:
            return out
        want = min(want * 4, n_cand)
