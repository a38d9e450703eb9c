"""A compact copy of the nearest-station forests for a phone without signal.

For every node of the mode's network: its position and, per station kind, the index of
its nearest station and the travel time to it (the forest's answer from that node,
rounded up to ``TIME_UNIT_S``). A phone snaps a point to the nearest node and reads one
row: no road network, no search. The answer is an estimate (the point is not on the
node, and the time is rounded); the app labels it so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from locator.analysis.nearest.index import StationIndex
from locator.network.graph import RoadGraph

#: Travel times are stored in units of this many seconds (uint16: up to 182 h).
TIME_UNIT_S = 10.0
#: Stored for "no station of this kind can be reached".
NO_TIME = np.iinfo(np.uint16).max
NO_STATION = -1


@dataclass(frozen=True)
class OfflineNearest:
    """The arrays of the offline pack of one mode (see the module docstring).

    ``node_lon``/``node_lat``: float32 degrees of the nodes the mode can use;
    ``station[kind]``: int16 index into ``station_ids[kind]`` (-1: none reachable);
    ``time[kind]``: uint16 travel time in ``TIME_UNIT_S`` (``NO_TIME``: none).
    """

    mode: str
    node_lon: npt.NDArray[np.float32]
    node_lat: npt.NDArray[np.float32]
    station_ids: Mapping[str, list[str]]
    station: Mapping[str, npt.NDArray[np.int16]]
    time: Mapping[str, npt.NDArray[np.uint16]]
    time_unit_s: float = TIME_UNIT_S


def offline_nearest(
    graph: RoadGraph, mode: str, indexes: Mapping[str, StationIndex]
) -> OfflineNearest:
    """The pack of ``mode`` from the forests of ``indexes`` (kind -> index)."""
    allowed = graph.edge_allowed[mode]
    used = np.zeros(graph.n_nodes, dtype=bool)
    used[graph.edge_u[allowed]] = True
    used[graph.edge_v[allowed]] = True
    nodes = np.flatnonzero(used)
    ids: dict[str, list[str]] = {}
    station: dict[str, npt.NDArray[np.int16]] = {}
    time: dict[str, npt.NDArray[np.uint16]] = {}
    for kind, index in indexes.items():
        live = [(i, sid) for i, sid in enumerate(index.ids) if sid is not None]
        if len(live) > np.iinfo(np.int16).max:
            raise ValueError(f"too many {kind} stations for the offline pack")
        ids[kind] = [sid for _, sid in live]
        remap = np.full(len(index.ids) + 1, NO_STATION, dtype=np.int16)
        for new, (old, _) in enumerate(live):
            remap[old] = new
        forest = index.forest
        st = np.asarray(forest.node_station, dtype=np.int64)[nodes]
        t = np.asarray(forest.node_time_s, dtype=np.float64)[nodes]
        ok = (st >= 0) & np.isfinite(t)
        station[kind] = np.where(ok, remap[np.where(ok, st, -1)], NO_STATION).astype(np.int16)
        units = np.ceil(np.where(ok, t, 0.0) / TIME_UNIT_S)
        time[kind] = np.where(ok & (units < NO_TIME), units, NO_TIME).astype(np.uint16)
        station[kind][time[kind] == NO_TIME] = NO_STATION
    return OfflineNearest(
        mode,
        graph.node_lon[nodes].astype(np.float32),
        graph.node_lat[nodes].astype(np.float32),
        ids,
        station,
        time,
    )


__all__ = ["NO_STATION", "NO_TIME", "TIME_UNIT_S", "OfflineNearest", "offline_nearest"]
