"""The embedded regional border network (derived from ``scgraph-data``; see DATA.md).

The committed file ``data/regional_network.npz`` holds the undirected OSM-derived highway
graph clipped to the Inner Mongolia border window (made by
``scripts/make_regional_network.py``). The source has no road classes, so travel speeds
per mode are build configuration (:class:`RegionalSpeeds`). Every road is two-way; there
is no walk mode on this network (it holds highways only).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from geodata.densify import DEFAULT_MAX_SEGMENT_M, densify_graph
from locator.network.graph import RoadGraph
from locator.network.projection import REGIONAL_CRS, Projector

log = logging.getLogger(__name__)

REGIONAL_FILE = Path(__file__).resolve().parent / "data" / "regional_network.npz"


@dataclass(frozen=True)
class RegionalSpeeds:
    """Uniform travel speeds (km/h) per mode on the class-less regional network."""

    truck_kph: float = 60.0
    car_kph: float = 80.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not (np.isfinite(value) and 0 < value <= 200):
                raise ValueError(f"{name} must be in (0, 200] km/h, got {value}")


def regional_source_info(path: Path = REGIONAL_FILE) -> dict[str, Any]:
    """Metadata stored with the derived file plus its own SHA-256."""
    with np.load(path, allow_pickle=False) as data:
        meta: dict[str, Any] = json.loads(str(data["meta"]))
    meta["derived_file"] = path.name
    meta["derived_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return meta


def load_regional_graph(
    speeds: RegionalSpeeds | None = None,
    path: Path = REGIONAL_FILE,
    *,
    max_segment_m: float | None = DEFAULT_MAX_SEGMENT_M,
) -> RoadGraph:
    """Load the regional network as a directed :class:`RoadGraph` (both directions).

    Parameters
    ----------
    speeds
        Speeds per mode; defaults to truck 60 km/h, car 80 km/h.
    path
        The derived ``.npz`` file.
    max_segment_m
        Densify the straight roads along the geodesic to segments of at most this many
        metres, as every artifact is (``None``: the source's straight segments).
    """
    speeds = speeds or RegionalSpeeds()
    with np.load(path, allow_pickle=False) as data:
        lon = data["node_lon_milli"].astype(np.float64) / 1000.0
        lat = data["node_lat_milli"].astype(np.float64) / 1000.0
        u0 = data["edge_u"].astype(np.int32)
        v0 = data["edge_v"].astype(np.int32)
        length0 = data["edge_length_m"].astype(np.float64)
        meta = json.loads(str(data["meta"]))
    graph = two_way_graph(
        lon,
        lat,
        u0,
        v0,
        length0,
        speeds_kph={"truck": speeds.truck_kph, "car": speeds.car_kph},
        crs=REGIONAL_CRS,
        extra={"source": meta},
    )
    if max_segment_m is not None:
        graph = densify_graph(graph, max_segment_m)
    log.info("regional network: %d nodes, %d directed edges", graph.n_nodes, graph.n_edges)
    return graph


def two_way_graph(
    lon: npt.NDArray[np.float64],
    lat: npt.NDArray[np.float64],
    u0: npt.ArrayLike,
    v0: npt.ArrayLike,
    length_m: npt.ArrayLike,
    *,
    speeds_kph: dict[str, float],
    crs: str,
    extra: dict[str, Any],
) -> RoadGraph:
    """A :class:`RoadGraph` from undirected straight roads with uniform speeds per mode.

    Every road ``u0[i] -- v0[i]`` becomes two directed edges (forward block, then reverse
    block); no road classes, names or one-way rules (the scgraph-data graphs have none).
    """
    u0 = np.asarray(u0, dtype=np.int32)
    v0 = np.asarray(v0, dtype=np.int32)
    length0 = np.asarray(length_m, dtype=np.float64)
    u = np.concatenate([u0, v0])
    v = np.concatenate([v0, u0])
    length = np.concatenate([length0, length0])
    e = u.shape[0]
    x, y = Projector(crs).forward(lon, lat)
    graph = RoadGraph(
        node_lon=lon,
        node_lat=lat,
        node_x=x,
        node_y=y,
        edge_u=u,
        edge_v=v,
        edge_length_m=length,
        edge_highway=np.full(e, -1, dtype=np.int32),
        edge_name=np.full(e, -1, dtype=np.int32),
        edge_oneway=np.zeros(e, dtype=bool),
        geom_offsets=np.arange(0, 2 * e + 1, 2, dtype=np.int64),
        geom_lon=np.column_stack((lon[u], lon[v])).ravel(),
        geom_lat=np.column_stack((lat[u], lat[v])).ravel(),
        edge_allowed={m: np.ones(e, dtype=bool) for m in speeds_kph},
        edge_time_s={m: length / (kph / 3.6) for m, kph in speeds_kph.items()},
        crs=crs,
        network_kind="regional",
        highway_classes=[],
        names=[],
        speeds_kph={**speeds_kph, "by_class": False},
        extra=extra,
    )
    graph.validate()
    return graph
