"""The stations of one set as targets of one mode, and what the three answer paths share.

Stations are identified by their index in the set; the caller maps indices to records.
A removed station keeps its index as a hole (``None``), so indices stay stable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from locator.analysis.routing import Route, RoutingEngine
from locator.errors import StationNotFoundError
from locator.network.multitarget import Attachments
from locator.network.search import Option, along_edge, entries
from locator.network.snapping import Snap

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: A direct piece along one road: ``(cost_s, edge, f0, f1)`` (see ``along_edge``).
Direct = tuple[float, int, float, float]

#: Whether station ``i`` reached after ``t`` seconds may be an answer (e.g. open on
#: arrival); applied in order of arrival, after the mask.
Accept = Callable[[int, float], bool]


@dataclass(frozen=True)
class NearestResult:
    """One station reached from a query point."""

    station: int
    duration_s: float
    route: Route


class StationTargets:
    """How each station of a set is reached from the network by one mode (read-only).

    Every station has up to two "to" entries (via its edge and via the twin): arrive at
    node ``node[i, j]`` and add ``cost_s[i, j]`` along ``edge[i, j]`` up to fraction
    ``f1[i, j]``; and up to two "from" entries (how a driver leaves it): from the station
    at fraction ``out_f0[i, j]`` of ``out_edge[i, j]`` to node ``out_node[i, j]`` at
    ``out_cost_s[i, j]``. Unusable entries have node -1 and cost inf. :meth:`replaced`
    makes the version after an edit; the original is never changed.
    """

    def __init__(self, routing: RoutingEngine, mode: str, snaps: Sequence[Snap | None]) -> None:
        self.routing = routing
        self.mode = mode
        self._geo = routing.net.geometry
        self._mg = routing.net.mode(mode)
        self.snaps: tuple[Snap | None, ...] = tuple(snaps)
        n = len(self.snaps)
        self.node = np.full((n, 2), -1, dtype=np.int64)
        self.cost_s = np.full((n, 2), np.inf)
        self.edge = np.full((n, 2), -1, dtype=np.int64)
        self.f1 = np.zeros((n, 2))
        self.out_node = np.full((n, 2), -1, dtype=np.int64)
        self.out_cost_s = np.full((n, 2), np.inf)
        self.out_edge = np.full((n, 2), -1, dtype=np.int64)
        self.out_f0 = np.zeros((n, 2))
        self.canon_edge = np.full(n, -1, dtype=np.int64)
        self.canon_fraction = np.zeros(n)
        self.active = np.zeros(n, dtype=bool)
        self.by_edge: dict[int, tuple[int, ...]] = {}
        self._attachments: Attachments | None = None
        for i, s in enumerate(self.snaps):
            self._fill(i, s)

    def _fill(self, i: int, s: Snap | None) -> None:
        self.node[i] = -1
        self.cost_s[i] = np.inf
        self.edge[i] = -1
        self.f1[i] = 0.0
        self.out_node[i] = -1
        self.out_cost_s[i] = np.inf
        self.out_edge[i] = -1
        self.out_f0[i] = 0.0
        old = int(self.canon_edge[i])
        if old >= 0:
            rest = tuple(j for j in self.by_edge.get(old, ()) if j != i)
            if rest:
                self.by_edge[old] = rest
            else:
                self.by_edge.pop(old, None)
        self.canon_edge[i] = -1
        self.active[i] = s is not None
        if s is None:
            return
        net = self.routing.net
        for j, o in enumerate(net.entries(s, self.mode, "to")):
            self.node[i, j] = o.node
            self.cost_s[i, j] = o.cost_s
            self.edge[i, j] = o.edge
            self.f1[i, j] = o.f1
        for j, o in enumerate(net.entries(s, self.mode, "from")):
            self.out_node[i, j] = o.node
            self.out_cost_s[i, j] = o.cost_s
            self.out_edge[i, j] = o.edge
            self.out_f0[i, j] = o.f0
        ce, cf = net.geometry.canonical(s.edge, s.fraction)
        self.canon_edge[i] = ce
        self.canon_fraction[i] = cf
        self.by_edge[ce] = (*self.by_edge.get(ce, ()), i)

    def replaced(self, i: int, s: Snap | None) -> StationTargets:
        """A new version with station ``i`` set to ``s`` (``None`` removes it;
        ``i == len(snaps)`` appends)."""
        n = len(self.snaps)
        if not 0 <= i <= n:
            raise StationNotFoundError(f"no station with index {i}", station=i)
        out = StationTargets.__new__(StationTargets)
        out.routing, out.mode, out._geo, out._mg = self.routing, self.mode, self._geo, self._mg
        grow = 1 if i == n else 0
        out.snaps = (*self.snaps, None) if grow else self.snaps
        out.node = np.vstack([self.node, [[-1, -1]]]) if grow else self.node.copy()
        out.cost_s = np.vstack([self.cost_s, [[np.inf, np.inf]]]) if grow else self.cost_s.copy()
        out.edge = np.vstack([self.edge, [[-1, -1]]]) if grow else self.edge.copy()
        out.f1 = np.vstack([self.f1, [[0.0, 0.0]]]) if grow else self.f1.copy()
        out.out_node = np.vstack([self.out_node, [[-1, -1]]]) if grow else self.out_node.copy()
        out.out_cost_s = (
            np.vstack([self.out_cost_s, [[np.inf, np.inf]]]) if grow else self.out_cost_s.copy()
        )
        out.out_edge = np.vstack([self.out_edge, [[-1, -1]]]) if grow else self.out_edge.copy()
        out.out_f0 = np.vstack([self.out_f0, [[0.0, 0.0]]]) if grow else self.out_f0.copy()
        out.canon_edge = np.append(self.canon_edge, -1) if grow else self.canon_edge.copy()
        out.canon_fraction = (
            np.append(self.canon_fraction, 0.0) if grow else (self.canon_fraction.copy())
        )
        out.active = np.append(self.active, False) if grow else self.active.copy()
        out.by_edge = dict(self.by_edge)
        out._attachments = None
        out.snaps = (*out.snaps[:i], s, *out.snaps[i + 1 :])
        out._fill(i, s)
        return out

    @property
    def attachments(self) -> Attachments:
        """The "to" entries sorted by node, for :class:`MultiTargetSearch` (built on first
        use and published whole; a second build at the same time gives the same arrays)."""
        att = self._attachments
        if att is None:
            att = self._attachments = Attachments.from_table(self.node, self.cost_s)
        return att

    def end_option(self, i: int, j: int) -> Option:
        """Entry ``j`` of station ``i`` (direction "to")."""
        return Option(
            int(self.node[i, j]),
            float(self.cost_s[i, j]),
            int(self.edge[i, j]),
            0.0,
            float(self.f1[i, j]),
        )

    def leave_option(self, i: int, j: int) -> Option:
        """Entry ``j`` of station ``i`` (direction "from")."""
        return Option(
            int(self.out_node[i, j]),
            float(self.out_cost_s[i, j]),
            int(self.out_edge[i, j]),
            float(self.out_f0[i, j]),
            1.0,
        )

    def end_point(self, i: int) -> tuple[float, float]:
        """Where station ``i`` sits on the road (lon, lat)."""
        s = self.snaps[i]
        if s is None:
            raise StationNotFoundError(f"station {i} was removed", station=i)
        return (s.snapped_lon, s.snapped_lat)

    def candidates(self, mask: BoolArray | None) -> BoolArray:
        """The stations a query may return: active and (when given) in ``mask``."""
        cand = self.active.copy()
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != cand.shape:
                raise ValueError(f"mask must have one entry per station ({cand.shape[0]})")
            cand &= mask
        return cand

    # ------------------------------------------------------------------ shared steps
    def along_own_road(self, snap: Snap) -> list[tuple[int, Direct]]:
        """The stations on the point's own road the mode reaches directly along it."""
        geo = self._geo
        here = geo.canonical(snap.edge, snap.fraction)
        on_road = self.by_edge.get(here[0])
        if not on_road:
            return []
        mg = self._mg
        out = []
        for i in on_road:
            d = along_edge(geo, mg, here, (here[0], float(self.canon_fraction[i])))
            if d is not None:
                out.append((i, d))
        return out

    def on_own_edge(self, snap: Snap, best: FloatArray) -> dict[int, Direct]:
        """Stations on the point's own road reached directly no slower than ``best``.

        Lowers ``best`` in place for them and returns their direct pieces.
        """
        direct: dict[int, Direct] = {}
        for i, d in self.along_own_road(snap):
            if d[0] <= best[i]:
                best[i] = d[0]
                direct[i] = d
        return direct

    def starts(self, snap: Snap) -> list[Option]:
        """How the query point joins the network (direction "from")."""
        return entries(self._geo, self._mg, snap.edge, snap.fraction, "from")

    def results(
        self,
        snap: Snap,
        best: FloatArray,
        *,
        cand: BoolArray,
        k: int,
        bound_s: float,
        path_to: Callable[[int], tuple[Option, IntArray, Option]],
        accept: Accept | None = None,
    ) -> list[NearestResult]:
        """The ``k`` fastest candidates within the bound (that ``accept`` takes, if
        given), each with its route: along the point's own road when that is as fast
        (``best`` is lowered for those), else by ``path_to(i)``: the way out, the full
        edges between, the way in."""
        direct = self.on_own_edge(snap, best)
        out: list[NearestResult] = []
        for i in pick(best, cand, k if accept is None else best.shape[0], bound_s):
            if len(out) == k:
                break
            if accept is not None and not accept(i, float(best[i])):
                continue
            if i in direct:
                r = self.route_direct(snap, i, direct[i])
            else:
                first, middle, last = path_to(i)
                r = self.route_via(snap, i, first, middle, last)
            out.append(NearestResult(i, r.duration_s, r))
        return out

    def route_direct(self, snap: Snap, i: int, direct: Direct) -> Route:
        """The route along the shared road to station ``i``."""
        _, edge, f0, f1 = direct
        return self.routing.assemble(
            self.mode,
            [edge],
            start_fraction=f0,
            end_fraction=f1,
            start=(snap.snapped_lon, snap.snapped_lat),
            end=self.end_point(i),
        )

    def route_via(
        self, snap: Snap, i: int, first: Option, middle: IntArray | Sequence[int], last: Option
    ) -> Route:
        """The route leaving by ``first``, along ``middle``, arriving by ``last`` at ``i``."""
        edges = np.empty(len(middle) + 2, dtype=np.int64)
        edges[0] = first.edge
        edges[1:-1] = middle
        edges[-1] = last.edge
        return self.routing.assemble(
            self.mode,
            edges,
            start_fraction=first.f0,
            end_fraction=last.f1,
            start=(snap.snapped_lon, snap.snapped_lat),
            end=self.end_point(i),
        )


def pick(best: FloatArray, cand: BoolArray, k: int, bound_s: float) -> list[int]:
    """Indices of the ``k`` smallest finite ``best`` among ``cand`` within the bound
    (fastest first; ties by index)."""
    best = np.where(cand & (best <= bound_s), best, np.inf)
    order: list[int] = np.argsort(best, kind="stable")[:k].tolist()
    return [i for i in order if best[i] < np.inf]  # the finite ones sort first
