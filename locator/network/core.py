"""The network as the engines use it: graph, geometry, mode graphs and snap index, once.

:class:`Network` bundles what every engine shares, built once per artifact (by the loader,
the build and the tests alike) and read-only afterwards.
"""

from __future__ import annotations

from locator.network.geometry import EdgeGeometry
from locator.network.graph import RoadGraph
from locator.network.modegraph import Direction, ModeGraph, ModeGraphs
from locator.network.projection import Projector
from locator.network.search import Option, entries
from locator.network.snapping import Snap, SnapIndex


class Network:
    """A road graph with its geometry, per-mode search graphs and snap index.

    Parameters
    ----------
    graph
        The road network (validated).
    """

    def __init__(self, graph: RoadGraph) -> None:
        self.graph = graph
        self.projector = Projector(graph.crs)
        self.geometry = EdgeGeometry(graph, self.projector)
        self.modes = ModeGraphs(graph)
        self.snapper = SnapIndex(self.geometry)

    @property
    def kind(self) -> str:
        """``"regional"`` or ``"street"``."""
        return self.graph.network_kind

    def mode(self, mode: str) -> ModeGraph:
        """The search graph of ``mode``; :class:`~locator.errors.InvalidParameterError`
        for a mode the network does not have."""
        return self.modes[mode]

    def entries(self, snap: Snap, mode: str, direction: Direction) -> list[Option]:
        """How a snapped point joins the network (see :func:`~locator.network.search.entries`)."""
        return entries(self.geometry, self.modes[mode], snap.edge, snap.fraction, direction)
