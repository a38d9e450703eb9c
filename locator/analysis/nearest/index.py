"""The stations of one kind for one mode, and the one entry point of nearest queries.

A :class:`StationIndex` holds the station ids, their network targets, the nearest-station
forest and (when it fits) the per-station time table. :meth:`StationIndex.nearest`
answers every nearest question by the fastest exact path:

- ``from_forest`` (k = 1 over the whole set): no search;
- ``from_table`` (any k, any mask): no search;
- ``bounded_search`` (networks too large for the table): one search, iterative deepening.

The three give the same answers under the same bound (tests hold them to each other and
to NetworkX). The index is read-only; edits return a new index.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from locator.analysis.nearest.bounded import bounded_search
from locator.analysis.nearest.forest import NearestForest
from locator.analysis.nearest.tables import MAX_TABLE_BYTES, StationTimes
from locator.analysis.nearest.targets import Accept, NearestResult, StationTargets
from locator.analysis.routing import RoutingEngine
from locator.errors import StationNotFoundError
from locator.network.snapping import Snap

log = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]


class StationIndex:
    """Nearest-station structures of one station set (one kind) for one mode.

    Parameters
    ----------
    ids
        Station id per index (``None``: a removed station's hole).
    forest
        The nearest-station forest of the same stations.
    tables
        Keep a :class:`StationTimes` table when it fits in ``max_table_bytes``; it is
        built on first use (or by :meth:`ensure_table`) and published whole.
    table
        An already computed table (edits pass the updated one on).
    """

    def __init__(
        self,
        ids: Sequence[str | None],
        forest: NearestForest,
        *,
        tables: bool = True,
        max_table_bytes: int = MAX_TABLE_BYTES,
        table: StationTimes | None = None,
    ) -> None:
        if len(ids) != len(forest.targets.snaps):
            raise ValueError("one id per station of the forest")
        self.ids: tuple[str | None, ...] = tuple(ids)
        self.forest = forest
        self.targets = forest.targets
        self.mode = forest.mode
        self.want_tables = tables
        self.tables = tables and StationTimes.fits(
            forest.routing.graph.n_nodes, len(self.ids), max_table_bytes
        )
        self.max_table_bytes = max_table_bytes
        self._table = table if self.tables else None
        self._table_lock = threading.Lock()

    # ------------------------------------------------------------------ build
    @classmethod
    def compute(
        cls,
        routing: RoutingEngine,
        mode: str,
        ids: Sequence[str | None],
        snaps: Sequence[Snap | None],
        *,
        tables: bool = True,
        max_table_bytes: int = MAX_TABLE_BYTES,
    ) -> StationIndex:
        """Snapped stations -> targets -> forest (one search); the table comes later."""
        forest = NearestForest.compute(StationTargets(routing, mode, snaps))
        return cls(ids, forest, tables=tables, max_table_bytes=max_table_bytes)

    def to_arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """The forest's arrays plus the ids (see :meth:`from_arrays`)."""
        arrays = self.forest.to_arrays()
        arrays["ids"] = np.array([i or "" for i in self.ids], dtype=str)
        return arrays

    @classmethod
    def from_arrays(
        cls,
        routing: RoutingEngine,
        arrays: Mapping[str, npt.NDArray[np.generic]],
        *,
        tables: bool = True,
        max_table_bytes: int = MAX_TABLE_BYTES,
    ) -> StationIndex:
        """Rebuild an index saved with :meth:`to_arrays`."""
        ids = [str(i) or None for i in np.asarray(arrays["ids"]).tolist()]
        forest = NearestForest.from_arrays(routing, {k: v for k, v in arrays.items() if k != "ids"})
        return cls(ids, forest, tables=tables, max_table_bytes=max_table_bytes)

    # ------------------------------------------------------------------ table
    @property
    def table(self) -> StationTimes | None:
        """The per-station time table (``None`` until built, or when it does not fit)."""
        return self._table

    def ensure_table(self) -> StationTimes | None:
        """Build the table now if it is wanted and not built yet (one scipy call)."""
        if self._table is None and self.tables:
            with self._table_lock:
                if self._table is None:
                    self._table = StationTimes.compute(self.targets)
        return self._table

    # ------------------------------------------------------------------ queries
    def nearest(
        self,
        snap: Snap,
        *,
        k: int = 1,
        mask: BoolArray | None = None,
        bound_s: float = np.inf,
        accept: Accept | None = None,
    ) -> list[NearestResult]:
        """The ``k`` stations (among ``mask``, taken by ``accept``) fastest to reach within
        ``bound_s``; ``accept(i, t)`` sees each candidate in order of arrival time ``t``
        (opening hours on arrival).

        Fastest first; fewer than ``k`` (possibly none) when not enough are reachable.
        """
        if k == 1 and mask is None and accept is None:
            hit = self.forest.from_forest(snap, bound_s=bound_s)
            return [] if hit is None else [hit]
        table = self.ensure_table()
        if table is not None:
            return table.from_table(snap, k=k, mask=mask, bound_s=bound_s, accept=accept)
        return bounded_search(self.targets, snap, k=k, mask=mask, bound_s=bound_s, accept=accept)

    def position(self, station_id: str) -> int:
        """The index of a station (:class:`StationNotFoundError` if absent)."""
        try:
            return self.ids.index(station_id)
        except ValueError:
            raise StationNotFoundError(
                f"station {station_id!r} is not in the {self.mode} index", station_id=station_id
            ) from None

    # ------------------------------------------------------------------ edits
    def _edited(self, index: int, station_id: str | None, snap: Snap | None) -> StationIndex:
        targets = self.targets.replaced(index, snap)
        ids = list(self.ids)
        if index == len(ids):
            ids.append(station_id)
        else:
            ids[index] = station_id
        forest = NearestForest.compute(targets)
        fits = StationTimes.fits(targets.routing.graph.n_nodes, len(ids), self.max_table_bytes)
        table = self._table.replaced(targets, index) if self._table is not None and fits else None
        return StationIndex(
            ids, forest, tables=self.want_tables, max_table_bytes=self.max_table_bytes, table=table
        )

    def with_station(self, station_id: str, snap: Snap) -> StationIndex:
        """A new index with the station added, or moved when its id is already here
        (its column of the table is replaced, so moves do not grow the table)."""
        index = self.ids.index(station_id) if station_id in self.ids else len(self.ids)
        return self._edited(index, station_id, snap)

    def without(self, station_id: str) -> StationIndex:
        """A new index without the station (its index stays as a hole)."""
        return self._edited(self.position(station_id), None, None)
