"""Trips: the stations along a route with their detours, and rest plans.

A :class:`TripSearch` answers for one trip ``origin -> destination`` by one mode:

- ONE backward search from the destination (reverse mode graph, bounded) gives every
  node's time *to* the destination, hence the direct trip time ``T`` (from the origin's
  entries) and every station's time on to the destination (from its "from" entries);
- every station's time *from* the origin comes from its index's time table (two rows,
  no search), or from ONE forward search bounded by ``T + max_detour`` on networks
  without tables;
- so the detour of every station, ``t(o -> s) + t(s -> d) - T``, is exact with partial
  edges at both ends, for all stations at once.

:func:`plan_stops` is the rest plan on those numbers: a shortest path over the
candidates (each stop costs its rest), legal when no driving leg exceeds the rule's
limit; the leg times between stations come from the same tables (or one bounded search
per candidate). When no plan exists it returns the best partial plan and the stretch of
the route without a usable station.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from locator.analysis.nearest.index import StationIndex
from locator.analysis.routing import Route, RoutingEngine
from locator.network.search import (
    Option,
    SearchResult,
    along_edge,
    entries,
    search,
    tree_path,
)
from locator.network.snapping import Snap
from locator.stations.catalogue import Catalogue
from locator.stations.model import Station

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class RestRule:
    """A driving-time rule: never drive longer than ``max_drive_s`` without a stop of at
    least ``min_rest_s``.

    ``cn``: China's Road Traffic Safety Law Implementing Regulations, art. 62 (no more
    than 4 h of driving without a rest of at least 20 min). ``aetr``: the AETR / EU
    break rule (4 h 30 min, then 45 min). Only the break rule is modelled, not daily or
    weekly driving limits.
    """

    name: str
    max_drive_s: float
    min_rest_s: float


RULES: dict[str, RestRule] = {
    "cn": RestRule("cn", 4 * 3600.0, 20 * 60.0),
    "aetr": RestRule("aetr", 4.5 * 3600.0, 45 * 60.0),
}


@dataclass(frozen=True)
class Path:
    """A chain of directed edges entered at ``start_fraction`` of the first and left at
    ``end_fraction`` of the last, between two points (lon, lat) on the network."""

    edges: tuple[int, ...]
    start_fraction: float
    end_fraction: float
    start: tuple[float, float]
    end: tuple[float, float]


@dataclass(frozen=True)
class StationTimes:
    """Per station of one index: time from the origin and on to the destination."""

    reach_s: FloatArray
    back_s: FloatArray


class TripSearch:
    """The searches of one trip; see the module docstring.

    Parameters
    ----------
    routing
        The routing engine of the network.
    mode
        Travel mode.
    origin, destination
        The snapped ends of the trip.
    bound_s
        Bound of the backward search (the longest trip served plus the largest detour);
        nodes farther than this from the destination count as unreachable.
    """

    def __init__(
        self,
        routing: RoutingEngine,
        mode: str,
        origin: Snap,
        destination: Snap,
        *,
        bound_s: float,
    ) -> None:
        self.routing = routing
        self.mode = mode
        self.origin = origin
        self.destination = destination
        net = routing.net
        self._geo = net.geometry
        self._mg = net.mode(mode)
        self._ends = entries(self._geo, self._mg, destination.edge, destination.fraction, "to")
        nodes = [o.node for o in self._ends]
        costs = [o.cost_s for o in self._ends]
        self.back: SearchResult = search(
            self._mg.reverse, nodes, costs, limit_s=bound_s, trees=True, one_pass=True
        )
        self._back_t = np.append(self.back.time_s, np.inf)  # index -1 -> inf
        reached = self.back.time_s[np.isfinite(self.back.time_s)]
        #: the bound did not cut the search: what it did not reach cannot reach the
        #: destination at all (a node beyond the bound has a neighbour within one edge)
        self.exhausted = (
            not math.isfinite(bound_s)
            or not reached.size
            or (float(reached.max()) + self._mg.max_edge_time_s < bound_s)
        )
        self._dest_pos = self._geo.canonical(destination.edge, destination.fraction)
        self.direct_s, self._direct_path = self._to_destination(origin)
        #: forward search times of the origin and of the last other point asked about
        #: (leg_matrix asks about one candidate for every index in a row)
        self._forward: dict[tuple[Snap, float], FloatArray] = {}

    # ------------------------------------------------------------------ destination
    def _to_destination(self, snap: Snap) -> tuple[float, Path | None]:
        """Fastest time from ``snap`` to the destination and its path (``inf, None``
        when it cannot reach it within the bound)."""
        geo, mg = self._geo, self._mg
        start = (snap.snapped_lon, snap.snapped_lat)
        end = (self.destination.snapped_lon, self.destination.snapped_lat)
        direct = along_edge(geo, mg, geo.canonical(snap.edge, snap.fraction), self._dest_pos)
        best = direct[0] if direct is not None else math.inf
        first: Option | None = None
        for o in entries(geo, mg, snap.edge, snap.fraction, "from"):
            t = o.cost_s + float(self._back_t[o.node])
            if t < best:
                best, first = t, o
        if first is None:
            if direct is None:
                return math.inf, None
            _, edge, f0, f1 = direct
            return best, Path((edge,), f0, f1, start, end)
        toward, root = tree_path(self.back, self._mg.reverse, first.node)
        _, seed = self.back.trees()
        last = self._ends[int(seed[root])]
        middle = toward[::-1].tolist()  # listed from the destination's side
        return best, Path((first.edge, *middle, last.edge), first.f0, last.f1, start, end)

    def direct_route(self) -> Route:
        """The fastest route from the origin to the destination."""
        if self._direct_path is None:  # pragma: no cover - callers check direct_s first
            raise ValueError("the destination cannot be reached from the origin")
        return self.assemble(self._direct_path)

    def route_on(self, snap: Snap) -> Route:
        """The fastest route from ``snap`` (a station) to the destination."""
        _, path = self._to_destination(snap)
        if path is None:
            raise ValueError("the destination cannot be reached from this point")
        return self.assemble(path)

    def assemble(self, path: Path) -> Route:
        """``path`` as a :class:`Route`."""
        return self.routing.assemble(
            self.mode,
            list(path.edges),
            start_fraction=path.start_fraction,
            end_fraction=path.end_fraction,
            start=path.start,
            end=path.end,
        )

    # ------------------------------------------------------------------ stations
    def station_times(self, index: StationIndex, *, limit_s: float) -> StationTimes:
        """Every station's time from the origin (within ``limit_s``) and on to the
        destination (``inf`` where unreachable or removed)."""
        targets = index.targets
        reach = self.times_from(index, self.origin, limit_s=limit_s)
        back = np.min(self._back_t[targets.out_node] + targets.out_cost_s, axis=1)
        geo, mg = self._geo, self._mg
        for i in targets.by_edge.get(self._dest_pos[0], ()):
            here = (int(targets.canon_edge[i]), float(targets.canon_fraction[i]))
            d = along_edge(geo, mg, here, self._dest_pos)
            if d is not None and d[0] < back[i]:
                back[i] = d[0]
        back[~targets.active] = np.inf
        return StationTimes(reach, back)

    def times_from(self, index: StationIndex, snap: Snap, *, limit_s: float) -> FloatArray:
        """Time from ``snap`` to every station of ``index``: two rows of its time table,
        or (without a table) one forward search bounded by ``limit_s``. Stations on the
        point's own road count the direct piece along it."""
        targets = index.targets
        starts = targets.starts(snap)
        table = index.ensure_table()
        best = np.full(len(targets.snaps), np.inf)
        if table is not None:
            for o in starts:
                best = np.minimum(best, o.cost_s + table.time_s[o.node])
        elif starts:
            node_t = np.append(self._times_from(snap, starts, limit_s), np.inf)
            best = np.min(node_t[targets.node] + targets.cost_s, axis=1)
        for i, d in targets.along_own_road(snap):
            best[i] = min(best[i], d[0])
        best[~targets.active | ~(best <= limit_s)] = np.inf
        return best

    def _times_from(self, snap: Snap, starts: list[Option], limit_s: float) -> FloatArray:
        """Node times of a forward search from ``snap`` (no trees: only times are read),
        kept for the origin and for the last other point."""
        key = (snap, limit_s)
        hit = self._forward.get(key)
        if hit is None:
            if snap is not self.origin:
                for k in [k for k in self._forward if k[0] is not self.origin]:
                    del self._forward[k]
            nodes = [o.node for o in starts]
            costs = [o.cost_s for o in starts]
            hit = search(self._mg.forward, nodes, costs, limit_s=limit_s).time_s
            self._forward[key] = hit
        return hit

    def route_to(self, index: StationIndex, snap: Snap, station: int, *, limit_s: float) -> Route:
        """The fastest route from ``snap`` to station ``station`` of ``index`` (the same
        paths the nearest-station query uses: the table's tree, or a bounded search)."""
        mask = np.zeros(len(index.targets.snaps), dtype=bool)
        mask[station] = True
        found = index.nearest(snap, k=1, mask=mask, bound_s=limit_s)
        if not found:
            raise ValueError(f"station {station} cannot be reached within {limit_s} s")
        return found[0].route

    # ------------------------------------------------------------------ positions
    def position_s(self, reach_s: float, back_s: float) -> float:
        """Where along the direct route a stop lies, in seconds from the origin: the
        point that splits its detour evenly, ``(reach - back + T) / 2`` in ``[0, T]``."""
        return min(max((reach_s - back_s + self.direct_s) / 2.0, 0.0), self.direct_s)

    def piece(self, from_s: float, to_s: float) -> Route:
        """The part of the direct route between two times from the origin (exact cuts
        of the end edges; the stretch of a rest-plan gap)."""
        path = self._direct_path
        if path is None:  # pragma: no cover - callers check direct_s first
            raise ValueError("the destination cannot be reached from the origin")
        times = self.routing.graph.edge_time_s[self.mode]
        edges = np.asarray(path.edges, dtype=np.int64)
        lo = np.zeros(edges.shape[0])
        hi = np.ones(edges.shape[0])
        lo[0], hi[-1] = path.start_fraction, path.end_fraction
        spent = (hi - lo) * times[edges]
        ends = np.cumsum(spent)
        starts = ends - spent
        a, b = max(0.0, from_s), min(float(ends[-1]), max(from_s, to_s))
        i = min(int(np.searchsorted(ends, a, side="left")), edges.shape[0] - 1)
        j = min(int(np.searchsorted(ends, b, side="left")), edges.shape[0] - 1)

        def frac(k: int, t: float) -> float:
            share = (t - starts[k]) / spent[k] if spent[k] > 0 else 0.0
            return float(lo[k] + min(max(share, 0.0), 1.0) * (hi[k] - lo[k]))

        fa, fb = frac(i, a), frac(j, b)
        sub = Path(
            tuple(edges[i : j + 1].tolist()),
            fa,
            fb,
            self.routing.point_at(int(edges[i]), fa),
            self.routing.point_at(int(edges[j]), fb),
        )
        return self.assemble(sub)


# ---------------------------------------------------------------------- answers
@dataclass(frozen=True)
class TripStation:
    """A station along a trip.

    Attributes
    ----------
    station
        The record.
    reach_s
        Driving time from the origin to the station.
    detour_s
        Time the stop adds to the trip: ``reach_s + onward_s - direct_s`` (``>= 0``).
    onward_s
        Driving time from the station to the destination.
    position_s
        Where along the direct route the stop lies, in seconds from the origin.
    arrival_at
        ``depart_at + reach_s`` (``None`` without a departure time).
    open_on_arrival
        Whether the opening hours include ``arrival_at`` (``None`` without one).
    route_to, route_on
        The routes origin -> station and station -> destination (when asked for).
    """

    station: Station
    reach_s: float
    detour_s: float
    onward_s: float
    position_s: float
    arrival_at: datetime | None = None
    open_on_arrival: bool | None = None
    route_to: Route | None = None
    route_on: Route | None = None


@dataclass(frozen=True)
class Trip:
    """The stations along a trip (:meth:`locator.Locator.along_route`).

    Attributes
    ----------
    route
        The direct (fastest) route from the origin to the destination.
    stations
        The stations within the detour limit, by ``reach_s`` (then id).
    depart_at
        The departure time the opening hours were evaluated from (or ``None``).
    """

    route: Route
    stations: list[TripStation]
    depart_at: datetime | None = None

    @property
    def direct_s(self) -> float:
        """Driving time of the direct route."""
        return self.route.duration_s


@dataclass(frozen=True)
class Candidate:
    """A station of one index with its trip times (see :func:`trip_candidates`)."""

    index: StationIndex
    position: int
    station: Station
    reach_s: float
    onward_s: float

    @property
    def snap(self) -> Snap:
        s = self.index.targets.snaps[self.position]
        if s is None:  # pragma: no cover - candidates are active stations
            raise ValueError("a candidate's station has no position")
        return s


def trip_candidates(
    trip: TripSearch,
    groups: Sequence[tuple[StationIndex, BoolArray | None]],
    catalogue: Catalogue,
    *,
    max_detour_s: float,
) -> list[Candidate]:
    """The stations of ``groups`` (index and mask) with a detour of at most
    ``max_detour_s``, by time from the origin (then id)."""
    limit = trip.direct_s + max_detour_s
    out: list[Candidate] = []
    for index, mask in groups:
        times = trip.station_times(index, limit_s=limit)
        detour = times.reach_s + times.back_s - trip.direct_s
        ok = index.targets.candidates(mask) & (detour <= max_detour_s)
        for i in np.flatnonzero(ok).tolist():
            st = catalogue.find(index.ids[i])
            if st is not None:
                out.append(Candidate(index, i, st, float(times.reach_s[i]), float(times.back_s[i])))
    out.sort(key=lambda c: (c.reach_s, c.station.id))
    return out


def trip_station(trip: TripSearch, c: Candidate, *, depart_at: datetime | None) -> TripStation:
    """The answer record of one candidate (no routes: see :func:`with_legs`)."""
    arrival = None if depart_at is None else depart_at + timedelta(seconds=c.reach_s)
    return TripStation(
        station=c.station,
        reach_s=c.reach_s,
        detour_s=max(0.0, c.reach_s + c.onward_s - trip.direct_s),
        onward_s=c.onward_s,
        position_s=trip.position_s(c.reach_s, c.onward_s),
        arrival_at=arrival,
        open_on_arrival=None if arrival is None else c.station.hours.is_open(arrival),
    )


def with_legs(trip: TripSearch, c: Candidate, rec: TripStation) -> TripStation:
    """``rec`` with its routes origin -> station and station -> destination."""
    return replace(
        rec,
        route_to=trip.route_to(c.index, trip.origin, c.position, limit_s=c.reach_s + 1.0),
        route_on=trip.route_on(c.snap),
    )


@dataclass(frozen=True)
class RestStop:
    """One stop of a rest plan.

    ``arrival_s`` and ``departure_s`` count from the departure (driving, detours and the
    rests before); ``departure_s - arrival_s`` is the rule's rest.
    """

    station: Station
    arrival_s: float
    departure_s: float
    detour_s: float
    arrival_at: datetime | None = None
    departure_at: datetime | None = None
    open_on_arrival: bool | None = None


@dataclass(frozen=True)
class RestPlan:
    """A rest plan (:meth:`locator.Locator.rest_plan`).

    Attributes
    ----------
    rule
        The driving-time rule the plan keeps.
    legs
        The driving legs (one more than the stops), each no longer than
        ``rule.max_drive_s``.
    stops
        The stops in travel order (none when the trip is within the limit).
    total_s
        Driving plus rests, departure to arrival.
    direct_s
        Driving time of the direct route (without stops).
    depart_at
        The departure time (or ``None``).
    """

    rule: RestRule
    legs: list[Route]
    stops: list[RestStop]
    total_s: float
    direct_s: float
    depart_at: datetime | None = None

    @property
    def driving_s(self) -> float:
        """Driving time of all legs."""
        return float(sum(leg.duration_s for leg in self.legs))

    @property
    def rest_s(self) -> float:
        """Time spent at stops."""
        return self.rule.min_rest_s * len(self.stops)

    @property
    def arrive_at(self) -> datetime | None:
        """Arrival at the destination (``None`` without a departure time)."""
        return None if self.depart_at is None else self.depart_at + timedelta(seconds=self.total_s)


@dataclass(frozen=True)
class RestGap:
    """The stretch of the direct route a rest plan cannot cross.

    ``from_s``/``to_s``: times along the direct route from the origin (where the last
    legal stop lies, and the next usable station or the destination); ``route``: that
    piece of the direct route; ``after``: the last legal stop's station id (``None``:
    the origin).
    """

    from_s: float
    to_s: float
    route: Route
    after: str | None

    @property
    def length_s(self) -> float:
        return self.to_s - self.from_s


def build_plan(
    trip: TripSearch,
    cands: Sequence[Candidate],
    plan: StopPlan,
    rule: RestRule,
    *,
    depart_at: datetime | None,
) -> tuple[list[Route], list[RestStop]]:
    """The legs and stops of ``plan`` (feasible: through to the destination; else up to
    the last stop)."""
    legs: list[Route] = []
    stops: list[RestStop] = []
    clock = 0.0
    here: Snap = trip.origin
    for c in plan.stops:
        cand = cands[c]
        leg = trip.route_to(cand.index, here, cand.position, limit_s=rule.max_drive_s + 1.0)
        legs.append(leg)
        arrival = clock + leg.duration_s
        clock = arrival + rule.min_rest_s
        at = None if depart_at is None else depart_at + timedelta(seconds=arrival)
        stops.append(
            RestStop(
                station=cand.station,
                arrival_s=arrival,
                departure_s=clock,
                detour_s=max(0.0, cand.reach_s + cand.onward_s - trip.direct_s),
                arrival_at=at,
                departure_at=None if depart_at is None else depart_at + timedelta(seconds=clock),
                open_on_arrival=None if at is None else cand.station.hours.is_open(at),
            )
        )
        here = cand.snap
    if plan.feasible:
        legs.append(trip.direct_route() if not plan.stops else trip.route_on(here))
    return legs, stops


def rest_gap(trip: TripSearch, cands: Sequence[Candidate], plan: StopPlan) -> RestGap:
    """Where an infeasible plan stops: from the position of the last legal stop (the one
    nearest the destination) to the next candidate beyond it that no legal plan reaches,
    or to the destination."""
    if plan.stops:
        last = cands[plan.stops[-1]]
        start = trip.position_s(last.reach_s, last.onward_s)
        after: str | None = last.station.id
    else:
        start, after = 0.0, None
    beyond = [
        p
        for i, c in enumerate(cands)
        if i not in plan.reached and (p := trip.position_s(c.reach_s, c.onward_s)) > start
    ]
    end = min(beyond) if beyond else trip.direct_s
    return RestGap(start, end, trip.piece(start, end), after)


# ---------------------------------------------------------------------- rest plans
@dataclass(frozen=True)
class StopPlan:
    """The answer of :func:`plan_stops`.

    Attributes
    ----------
    feasible
        Whether the destination is reached with no leg over the limit.
    stops
        Candidate indices in travel order: the optimal plan, or (infeasible) the best
        plan to the candidate nearest the destination that can be reached legally.
    total_s
        Driving plus rests up to the destination (feasible) or up to the end of the
        last stop's rest (infeasible; 0 with no stop).
    reached
        The candidates some legal plan reaches.
    """

    feasible: bool
    stops: tuple[int, ...]
    total_s: float
    reached: frozenset[int] = frozenset()


def plan_stops(
    reach_s: FloatArray,
    back_s: FloatArray,
    legs_s: FloatArray,
    direct_s: float,
    rule: RestRule,
) -> StopPlan:
    """The fastest legal sequence of stops (exact).

    Parameters
    ----------
    reach_s, back_s
        Per candidate: driving time from the origin, and on to the destination.
    legs_s
        ``legs_s[i, j]``: driving time from candidate ``i`` to candidate ``j``.
    direct_s
        Driving time from the origin to the destination.
    rule
        No leg may exceed ``rule.max_drive_s``; every stop costs ``rule.min_rest_s``.

    A shortest path (Dijkstra) over origin, candidates and destination, where an arc is a
    legal leg and arriving at a candidate adds its rest. Ties go to fewer stops. Every
    stop rests in full, so the state is the candidate alone.
    """
    n = int(reach_s.shape[0])
    limit, rest = rule.max_drive_s, rule.min_rest_s
    dest = n
    # labels: (time, stops) per candidate and the destination; origin = -1
    best: dict[int, tuple[float, int]] = {}
    prev: dict[int, int] = {}
    heap: list[tuple[float, int, int, int]] = []  # (time, stops, node, previous)
    if direct_s <= limit:
        heap.append((direct_s, 0, dest, -1))
    for j in range(n):
        if reach_s[j] <= limit:
            heap.append((float(reach_s[j]) + rest, 1, j, -1))
    heapq.heapify(heap)
    while heap:
        t, k, node, before = heapq.heappop(heap)
        if node in best:
            continue
        best[node], prev[node] = (t, k), before
        if node == dest:
            break
        if back_s[node] <= limit and dest not in best:
            heapq.heappush(heap, (t + float(back_s[node]), k, dest, node))
        row = legs_s[node]
        for j in np.flatnonzero(row <= limit).tolist():
            if j != node and j not in best:
                heapq.heappush(heap, (t + float(row[j]) + rest, k + 1, j, node))
    if dest in best:
        return StopPlan(True, _chain(prev, prev[dest]), best[dest][0])
    reached = frozenset(c for c in best if c != dest)
    if not reached:
        return StopPlan(False, (), 0.0, reached)
    # nearest the destination; then the earliest there
    far = min(reached, key=lambda c: (float(back_s[c]), best[c][0], c))
    if not back_s[far] < direct_s:  # no stop gets closer than the origin is
        return StopPlan(False, (), 0.0, reached)
    return StopPlan(False, _chain(prev, far), best[far][0], reached)


def _chain(prev: dict[int, int], last: int) -> tuple[int, ...]:
    out: list[int] = []
    node = last
    while node >= 0:
        out.append(node)
        node = prev[node]
    return tuple(out[::-1])


def leg_matrix(
    trip: TripSearch,
    candidates: Sequence[tuple[StationIndex, int]],
    *,
    limit_s: float,
) -> FloatArray:
    """Driving time between every ordered pair of candidates (``inf`` beyond
    ``limit_s``): per candidate, its time to every station of each index involved."""
    n = len(candidates)
    out = np.full((n, n), np.inf)
    by_index: dict[int, tuple[StationIndex, list[tuple[int, int]]]] = {}
    for c, (index, i) in enumerate(candidates):
        by_index.setdefault(id(index), (index, []))[1].append((c, i))
    for a, (index_a, i) in enumerate(candidates):
        snap = index_a.targets.snaps[i]
        if snap is None:  # pragma: no cover - candidates are active stations
            continue
        for index, members in by_index.values():
            times = trip.times_from(index, snap, limit_s=limit_s)
            for c, j in members:
                out[a, c] = times[j]
    np.fill_diagonal(out, np.inf)
    return out


__all__ = [
    "RULES",
    "Candidate",
    "Path",
    "RestGap",
    "RestPlan",
    "RestRule",
    "RestStop",
    "StationTimes",
    "StopPlan",
    "Trip",
    "TripSearch",
    "TripStation",
    "build_plan",
    "leg_matrix",
    "plan_stops",
    "rest_gap",
    "trip_candidates",
    "trip_station",
    "with_legs",
]
