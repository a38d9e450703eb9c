"""Station store: SQLite (the embedded default) or PostgreSQL/PostGIS, one behaviour.

Tables (the same in both; see :mod:`locator.stations.backends` for the DDL)::

    stations        rid, id UNIQUE, kind, port_id, lon, lat, name_zh, name_en,
                    services (JSON), record (full Station JSON),
                    version (``seq`` of the write that last changed the row);
                    spatial index: SQLite's R-tree (triggers) / a PostGIS point + GiST
    audit_log       id, actor, at (UTC ISO 8601), action, station_id, before, after (JSON);
                    ``id`` is the store's edit sequence: every committed write adds exactly
                    one row, in commit order, so "the edits after N" is one query

``StationStore("…/stations.sqlite")`` opens a file; ``StationStore("postgresql://…")`` a
database (``LOCATOR_STORE_URL``).

Concurrency. Every thread reads through its own connection (a read sees the last
committed state, never a write in progress). Every write is one transaction, writers
serialised (SQLite ``BEGIN IMMEDIATE``; PostgreSQL an exclusive lock on ``audit_log`` that
readers do not wait for), that re-reads what it changes, so a read-merge-write
(:meth:`patch`) cannot lose a concurrent update, in this process or another one on the
same store; a write that names a version (``if_version``) fails with
:class:`~locator.errors.PreconditionFailedError` when the station has moved on.

Row parsing and validation live in :mod:`locator.stations.io`. Imports (GeoJSON, CSV)
validate every row first and raise
:class:`~locator.errors.StationValidationError` listing *every* problem (row, field,
reason); nothing is written unless all rows are valid, and the write itself is one
transaction. Row numbers are CSV line numbers (header = line 1) or 0-based GeoJSON feature
indexes.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeAlias

import shapely
from shapely.geometry.base import BaseGeometry

from locator.errors import (
    InvalidCoordinateError,
    PreconditionFailedError,
    RowProblem,
    StationExistsError,
    StationNotFoundError,
    StationValidationError,
)
from locator.stations.backends import (
    Backend,
    Conn,
    PostgresBackend,
    SqliteBackend,
    is_postgres_url,
)
from locator.stations.io import (
    BAD_ROW,
    CSV_COLUMNS,
    CSV_OPTIONAL_EXTRA,
    parse_csv_text,
    station_to_csv_row,
    validate_one,
)
from locator.stations.model import Station, feature_to_record, merge_patch

log = logging.getLogger(__name__)

Area: TypeAlias = BaseGeometry | Callable[[float, float], bool]
ImportMode: TypeAlias = Literal["insert", "upsert", "replace"]


@dataclass(frozen=True)
class Revision:
    """A station as one committed write left it.

    Attributes
    ----------
    station
        The record (for a delete: the record that was removed).
    version
        The station's version after the write: the ``seq`` of the write that last changed
        it (for a delete: the version it had). Versions only grow and are never reused.
    seq
        The write's place in the store's edit sequence (its audit row id).
    """

    station: Station
    version: int
    seq: int


@dataclass(frozen=True)
class Change:
    """One committed write, as :meth:`StationStore.changes_since` lists it."""

    seq: int
    action: str
    station_id: str | None
    after: dict[str, Any] | None


class StationStore:
    """Stations in one SQLite file or one PostgreSQL database.

    Parameters
    ----------
    path
        Database file (created if missing, owner-only permissions), ``":memory:"``, or a
        ``postgresql://`` URL (tables and the PostGIS extension created if missing).
    area
        Default service area for validation: a shapely geometry in lon/lat or a callable
        ``(lon, lat) -> bool``; stations outside it are rejected. ``None`` disables the check.
    read_only
        Open an existing store for reads only (a read-only mount, a replica's view):
        every write raises :class:`~locator.errors.StoreUnavailableError`.

    Raises
    ------
    StoreUnavailableError
        A database that cannot be reached or set up; a read-only store that is missing.
    """

    def __init__(
        self, path: str | Path, *, area: Area | None = None, read_only: bool = False
    ) -> None:
        self.path = str(path)
        self.area = area
        self.read_only = read_only
        self._backend: Backend = (
            PostgresBackend(self.path, read_only=read_only)
            if is_postgres_url(self.path)
            else SqliteBackend(self.path, read_only=read_only)
        )

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._backend.kind

    def _read(self) -> contextlib.AbstractContextManager[Conn]:
        """A connection for reads (each statement sees the last commit)."""
        return self._backend.read()

    def _write(self) -> contextlib.AbstractContextManager[Conn]:
        """One write transaction (writers serialised; see the module docstring).

        Raises
        ------
        StoreUnavailableError
            The store cannot take writes (read-only, full disk, unreachable, locked too long).
        StationExistsError
            A unique id was violated.
        """
        return self._backend.write()

    # -- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection this store opened."""
        self._backend.close()

    def __enter__(self) -> StationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def journal_mode(self) -> str:
        """SQLite journal mode (``"wal"`` for file databases; PostgreSQL: ``"wal"``)."""
        if isinstance(self._backend, SqliteBackend):
            return self._backend.journal_mode()
        return "wal"

    def table_names(self) -> set[str]:
        """The tables of the database."""
        return self._backend.table_names()

    # -- reads ----------------------------------------------------------------------

    def count(self) -> int:
        """Number of stations."""
        with self._read() as conn:
            return int(conn.execute("SELECT count(*) FROM stations").fetchone()[0])

    def ids(self) -> set[str]:
        """All station ids."""
        with self._read() as conn:
            return {r[0] for r in conn.execute("SELECT id FROM stations").fetchall()}

    def get(self, station_id: str) -> Station:
        """The station with ``station_id``.

        Raises
        ------
        StationNotFoundError
            If there is none.
        """
        return self.get_revision(station_id).station

    def get_revision(self, station_id: str) -> Revision:
        """The station with ``station_id``, its version and the store's edit sequence."""
        with self._read() as conn:
            return self._revision(conn, station_id)

    def version(self, station_id: str) -> int:
        """The current version of a station (:class:`StationNotFoundError` if none)."""
        return self.get_revision(station_id).version

    def all(self) -> list[Station]:
        """Every station, ordered by id."""
        return [r.station for r in self.revisions()]

    def revisions(self) -> list[Revision]:
        """Every station with its version, ordered by id, as of one commit (``seq``)."""
        return self.snapshot()[0]

    def snapshot(self) -> tuple[list[Revision], int]:
        """Every station with its version (ordered by id) and the edit sequence they
        reflect, read as of one commit."""
        with self._backend.snapshot() as conn:  # one view for both statements
            seq = _seq(conn)
            rows = conn.execute("SELECT record, version FROM stations ORDER BY id").fetchall()
        return [Revision(Station.model_validate_json(r[0]), int(r[1]), seq) for r in rows], seq

    def seq(self) -> int:
        """The store's edit sequence: the number of the last committed write (0: none)."""
        with self._read() as conn:
            return _seq(conn)

    def changes_since(self, seq: int) -> list[Change]:
        """The committed writes after ``seq``, oldest first (imports list no records:
        re-read the store for them)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, action, station_id, after FROM audit_log WHERE id > ? ORDER BY id",
                [int(seq)],
            ).fetchall()
        return [
            Change(int(r[0]), str(r[1]), r[2], json.loads(r[3]) if r[3] else None) for r in rows
        ]

    def bbox(self, min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> list[Station]:
        """Stations with ``min_lon <= lon <= max_lon`` and ``min_lat <= lat <= max_lat``.

        The R-tree (32-bit, outward-rounded boxes) selects candidates; the exact
        coordinates in ``stations`` decide. Ordered by id.

        Raises
        ------
        InvalidCoordinateError
            For non-finite bounds or ``min > max``.
        """
        bounds = (min_lon, min_lat, max_lon, max_lat)
        if not all(isinstance(b, int | float) and math.isfinite(b) for b in bounds):
            raise InvalidCoordinateError(f"bbox bounds must be finite numbers, got {bounds}")
        if min_lon > max_lon or min_lat > max_lat:
            raise InvalidCoordinateError(
                f"bbox needs min <= max, got lon [{min_lon}, {max_lon}], lat [{min_lat}, {max_lat}]"
            )
        sql = self._backend.bbox_sql
        params = {"min_lon": min_lon, "min_lat": min_lat, "max_lon": max_lon, "max_lat": max_lat}
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [Station.model_validate_json(r[0]) for r in rows]

    def audit_entries(self, station_id: str | None = None) -> list[dict[str, Any]]:
        """Audit log rows (oldest first), optionally for one station."""
        sql = "SELECT id, actor, at, action, station_id, before, after FROM audit_log"
        with self._read() as conn:
            if station_id is None:
                rows = conn.execute(sql + " ORDER BY id").fetchall()
            else:
                where = " WHERE station_id = ? ORDER BY id"
                rows = conn.execute(sql + where, [station_id]).fetchall()
        keys = ("id", "actor", "at", "action", "station_id", "before", "after")
        out = []
        for row in rows:
            entry = dict(zip(keys, row, strict=True))
            entry["before"] = json.loads(entry["before"]) if entry["before"] else None
            entry["after"] = json.loads(entry["after"]) if entry["after"] else None
            out.append(entry)
        return out

    # -- validation -----------------------------------------------------------------

    def validate_rows(
        self,
        rows: Sequence[Mapping[str, Any]],
        *,
        area: Area | None = None,
        mode: ImportMode = "insert",
        row_numbers: Sequence[int] | None = None,
        what: str = "input",
    ) -> list[Station]:
        """Validate station records; return them or raise listing every problem.

        Parameters
        ----------
        rows
            Record dicts (the :class:`~locator.stations.Station` fields; ``name`` may also
            be given as ``name_zh``/``name_en``/... keys).
        area
            Service area (defaults to the store's); stations outside it are rejected.
        mode
            ``"insert"`` also rejects ids already in the store.
        row_numbers
            Number reported for each row (CSV line, feature index); default 0, 1, 2, ...

        Raises
        ------
        StationValidationError
            With one :class:`~locator.errors.RowProblem` per bad field.
        """
        numbers = list(row_numbers) if row_numbers is not None else list(range(len(rows)))
        if len(numbers) != len(rows):
            raise ValueError("row_numbers must match rows in length")
        problems: list[RowProblem] = []
        valid: list[tuple[int, Station]] = []
        first_seen: dict[str, int] = {}
        existing = self.ids() if mode == "insert" else set()
        for number, raw in zip(numbers, rows, strict=True):
            station = validate_one(number, raw, problems)
            sid = raw.get("id") if isinstance(raw, Mapping) else None
            if isinstance(sid, str):
                if sid in first_seen:
                    problems.append(
                        RowProblem(
                            number, "id", f"duplicate id {sid!r} (first at row {first_seen[sid]})"
                        )
                    )
                else:
                    first_seen[sid] = number
                    if sid in existing:
                        problems.append(
                            RowProblem(number, "id", f"id {sid!r} already exists in the store")
                        )
            if station is not None:
                valid.append((number, station))
        area = area if area is not None else self.area
        if area is not None and valid:
            inside = _inside(area, [s for _, s in valid])
            for (number, st), ok in zip(valid, inside, strict=True):
                if not ok:
                    problems.append(
                        RowProblem(
                            number,
                            "location",
                            f"({st.lon}, {st.lat}) is outside the network's area",
                        )
                    )
        if problems:
            problems.sort(key=lambda p: p.row)
            raise StationValidationError(problems, what=what)
        return [st for _, st in valid]

    # -- imports --------------------------------------------------------------------

    def import_rows(
        self,
        rows: Sequence[Mapping[str, Any]],
        *,
        mode: ImportMode = "insert",
        area: Area | None = None,
        actor: str = "import",
        row_numbers: Sequence[int] | None = None,
        what: str = "input",
    ) -> int:
        """Validate record dicts and write them all-or-nothing; return the number written.

        ``mode``: ``"insert"`` (ids must be new), ``"upsert"`` (replace by id) or
        ``"replace"`` (the store ends up holding exactly these stations).
        """
        numbers = list(row_numbers) if row_numbers is not None else list(range(len(rows)))
        return self._import(rows, numbers, [], mode=mode, area=area, actor=actor, what=what)

    def import_geojson(
        self,
        source: str | Path | Mapping[str, Any],
        *,
        mode: ImportMode = "insert",
        area: Area | None = None,
        actor: str = "import",
    ) -> int:
        """Import a GeoJSON FeatureCollection of Point features (file path or parsed object).

        Problems are reported by 0-based feature index; field ``"file"`` marks a malformed
        document (row = JSON line number for syntax errors, else 0).

        Raises
        ------
        StationValidationError
            Listing every problem; nothing is written.
        """
        what = str(source) if isinstance(source, str | Path) else "GeoJSON object"
        if isinstance(source, str | Path):
            try:
                text = Path(source).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise StationValidationError(
                    [RowProblem(0, "file", f"cannot read: {exc}")], what=what
                ) from exc
            try:
                doc: Any = json.loads(text)
            except json.JSONDecodeError as exc:
                reason = f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
                raise StationValidationError(
                    [RowProblem(exc.lineno, "file", reason)], what=what
                ) from exc
        else:
            doc = source
        if not isinstance(doc, Mapping) or doc.get("type") != "FeatureCollection":
            reason = "not a GeoJSON FeatureCollection (top-level type must be 'FeatureCollection')"
            raise StationValidationError([RowProblem(0, "file", reason)], what=what)
        features = doc.get("features")
        if not isinstance(features, list):
            raise StationValidationError(
                [RowProblem(0, "file", "'features' must be an array")], what=what
            )
        records: list[Mapping[str, Any]] = []
        problems: list[RowProblem] = []
        for i, feature in enumerate(features):
            try:
                records.append(feature_to_record(feature))
            except ValueError as exc:
                field = "geometry" if "geometry" in str(exc) or "oint" in str(exc) else "feature"
                problems.append(RowProblem(i, field, str(exc)))
                records.append(BAD_ROW)
        numbers = list(range(len(records)))
        return self._import(
            records, numbers, problems, mode=mode, area=area, actor=actor, what=what
        )

    def import_csv(
        self,
        source: str | Path,
        *,
        mode: ImportMode = "insert",
        area: Area | None = None,
        actor: str = "import",
    ) -> int:
        """Import a CSV file with the documented columns (see :data:`CSV_COLUMNS`).

        ``services`` is semicolon-separated; empty cells are missing values;
        ``location_approximate`` accepts true/false/1/0/yes/no. Problems are reported by
        file line number (the header is line 1).

        Raises
        ------
        StationValidationError
            Listing every problem; nothing is written.
        """
        what = str(source)
        try:
            with open(source, encoding="utf-8-sig", newline="") as f:  # keep \r in fields
                text = f.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise StationValidationError(
                [RowProblem(0, "file", f"cannot read: {exc}")], what=what
            ) from exc
        records, numbers, problems = parse_csv_text(text)
        if problems and not records:
            raise StationValidationError(problems, what=what)
        return self._import(
            records, numbers, problems, mode=mode, area=area, actor=actor, what=what
        )

    def _import(
        self,
        records: Sequence[Mapping[str, Any]],
        numbers: list[int],
        problems: list[RowProblem],
        *,
        mode: ImportMode,
        area: Area | None,
        actor: str,
        what: str,
    ) -> int:
        if mode not in ("insert", "upsert", "replace"):
            raise ValueError(f"mode must be 'insert', 'upsert' or 'replace', got {mode!r}")
        try:
            stations = self.validate_rows(
                records, area=area, mode=mode, row_numbers=numbers, what=what
            )
        except StationValidationError as exc:
            problems = problems + list(exc.problems)
        if problems:
            problems.sort(key=lambda p: p.row)
            raise StationValidationError(problems, what=what)
        with self._write() as conn:
            if mode == "insert":
                taken = sorted({s.id for s in stations} & _ids(conn))
                if taken:  # written meanwhile by another writer: nothing is written
                    problems = [RowProblem(0, "id", f"id {t!r} already exists") for t in taken]
                    raise StationValidationError(problems, what=what)
            if mode == "replace":
                conn.execute("DELETE FROM stations")
            _put_all(conn, stations, actor=actor, action=f"import_{mode}", what=what)
        log.info("imported %d station(s) from %s (mode=%s)", len(stations), what, mode)
        return len(stations)

    def seed(self, stations: Sequence[Station], *, actor: str, what: str) -> int:
        """Write ``stations`` if the store was never written (no edit, no station), in one
        transaction that checks it; return how many were written (0: it had a history).
        Replicas starting at once on a new database seed it exactly once."""
        with self._write() as conn:
            count = int(conn.execute("SELECT count(*) FROM stations").fetchone()[0])
            if _seq(conn) or count:
                return 0
            _put_all(conn, stations, actor=actor, action="import_seed", what=what)
        return len(stations)

    # -- exports --------------------------------------------------------------------

    def export_geojson(self) -> dict[str, Any]:
        """All stations as an RFC 7946 FeatureCollection (ordered by id)."""
        return {"type": "FeatureCollection", "features": [s.to_feature() for s in self.all()]}

    def export_csv(self, path: str | Path | None = None) -> str:
        """Write all stations as CSV (documented columns + ``name_mn_mong``); return the text."""
        buf = io.StringIO()
        writer = csv.writer(buf)  # RFC 4180 CRLF; quotes fields holding \r or \n
        writer.writerow([*CSV_COLUMNS, *CSV_OPTIONAL_EXTRA])
        for st in self.all():
            writer.writerow(station_to_csv_row(st))
        text = buf.getvalue()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8", newline="")
        return text

    # -- single edits ---------------------------------------------------------------

    def add(
        self, station: Station | Mapping[str, Any], *, actor: str, area: Area | None = None
    ) -> Revision:
        """Insert one new station (audited; version 1).

        Raises
        ------
        StationValidationError
            If invalid or outside the area.
        StationExistsError
            If the id is taken (checked inside the write transaction).
        """
        record = station.model_dump() if isinstance(station, Station) else station
        (st,) = self.validate_rows([record], area=area, mode="upsert", what="station")
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM stations WHERE id = ?", [st.id]).fetchone():
                raise StationExistsError(f"a station with id {st.id!r} exists", station_id=st.id)
            seq = _audit(conn, actor, "add", st.id, None, st.model_dump(mode="json"))
            _put(conn, st, version=seq)
        return Revision(st, seq, seq)

    def update(
        self,
        station: Station | Mapping[str, Any],
        *,
        actor: str,
        area: Area | None = None,
        if_version: int | None = None,
        check: Callable[[Station], None] | None = None,
    ) -> Revision:
        """Replace an existing station by id (audited, before and after).

        Raises
        ------
        StationNotFoundError
            If the id is unknown.
        PreconditionFailedError
            ``if_version`` is given and is not the station's current version.
        StationValidationError
            If the new record is invalid.
        """
        record = station.model_dump() if isinstance(station, Station) else station
        (st,) = self.validate_rows([record], area=area, mode="upsert", what="station")
        return self._replace(
            st.id, lambda _old: st, actor=actor, if_version=if_version, check=check
        )

    def patch(
        self,
        station_id: str,
        changes: Mapping[str, Any],
        *,
        actor: str,
        area: Area | None = None,
        if_version: int | None = None,
        check: Callable[[Station], None] | None = None,
    ) -> Revision:
        """Apply a JSON merge patch (see :func:`~locator.stations.model.merge_patch`) to
        the station as it is *inside* the write transaction, so concurrent patches of
        different fields all survive.

        ``check`` runs on the merged record before it is written (e.g. "a road is near");
        raising aborts the write.

        Raises
        ------
        StationNotFoundError, PreconditionFailedError, StationValidationError
            As for :meth:`update`.
        """

        def merged(old: Station) -> Station:
            record = merge_patch(old.model_dump(mode="json"), changes)
            (st,) = self.validate_rows([record], area=area, mode="upsert", what="station")
            return st

        return self._replace(station_id, merged, actor=actor, if_version=if_version, check=check)

    def _replace(
        self,
        station_id: str,
        make: Callable[[Station], Station],
        *,
        actor: str,
        if_version: int | None,
        check: Callable[[Station], None] | None,
    ) -> Revision:
        with self._write() as conn:
            before = self._revision(conn, station_id)
            _check_version(before, if_version)
            st = make(before.station)
            if st.id != station_id:
                raise StationValidationError(
                    [RowProblem(0, "id", "the id of a station cannot change")], what="station"
                )
            if check is not None:
                check(st)
            seq = _audit(
                conn,
                actor,
                "update",
                st.id,
                before.station.model_dump(mode="json"),
                st.model_dump(mode="json"),
            )
            _put(conn, st, version=seq)
        return Revision(st, seq, seq)

    def delete(self, station_id: str, *, actor: str, if_version: int | None = None) -> Revision:
        """Delete a station (audited); return what was deleted.

        Raises
        ------
        StationNotFoundError
            If the id is unknown.
        PreconditionFailedError
            ``if_version`` is given and is not the station's current version.
        """
        with self._write() as conn:
            before = self._revision(conn, station_id)
            _check_version(before, if_version)
            conn.execute("DELETE FROM stations WHERE id = ?", [station_id])
            seq = _audit(
                conn, actor, "delete", station_id, before.station.model_dump(mode="json"), None
            )
        return Revision(before.station, before.version, seq)

    # -- internals ------------------------------------------------------------------

    @staticmethod
    def _revision(conn: Conn, station_id: str) -> Revision:
        row = conn.execute(
            "SELECT record, version FROM stations WHERE id = ?", [station_id]
        ).fetchone()
        if row is None:
            raise StationNotFoundError(f"no station with id {station_id!r}", station_id=station_id)
        return Revision(Station.model_validate_json(row[0]), int(row[1]), _seq(conn))


# -- helpers (module level so the API and tests can reuse them) -------------------------


def _seq(conn: Conn) -> int:
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()[0])


def _ids(conn: Conn) -> set[str]:
    return {r[0] for r in conn.execute("SELECT id FROM stations").fetchall()}


def _check_version(current: Revision, if_version: int | None) -> None:
    if if_version is not None and if_version != current.version:
        raise PreconditionFailedError(
            f"station {current.station.id!r} is at version {current.version}, not "
            f"{if_version}: read it again and reapply the change",
            station_id=current.station.id,
            version=current.version,
        )


def _put(conn: Conn, st: Station, *, version: int) -> None:
    """Insert ``st`` or replace the row with its id (the row keeps its rid); ``version``
    is the ``seq`` of the write, so versions only grow and are never reused, even for an
    id deleted and added again."""
    values = {
        "id": st.id,
        "kind": st.kind.value,
        "port_id": st.port_id,
        "lon": st.lon,
        "lat": st.lat,
        "name_zh": st.name.zh,
        "name_en": st.name.en,
        "services": json.dumps([s.value for s in st.services]),
        "record": st.model_dump_json(),
        "version": version,
    }
    cur = conn.execute(
        """UPDATE stations SET kind=:kind, port_id=:port_id, lon=:lon, lat=:lat,
           name_zh=:name_zh, name_en=:name_en, services=:services, record=:record,
           version=:version
           WHERE id=:id""",
        values,
    )
    if cur.rowcount:
        return
    conn.execute(
        """INSERT INTO stations
               (id, kind, port_id, lon, lat, name_zh, name_en, services, record, version)
           VALUES (:id, :kind, :port_id, :lon, :lat, :name_zh, :name_en, :services, :record,
                   :version)""",
        values,
    )


def _put_all(
    conn: Conn, stations: Sequence[Station], *, actor: str, action: str, what: str
) -> None:
    """Write many stations as one audited write (one edit sequence number for all)."""
    summary = {"source": what, "count": len(stations), "ids": [s.id for s in stations]}
    seq = _audit(conn, actor, action, None, None, summary)
    for st in stations:
        _put(conn, st, version=seq)


def _audit(  # noqa: PLR0917 (private; one audit row's columns)
    conn: Conn,
    actor: str,
    action: str,
    station_id: str | None,
    before: Any,
    after: Any,
) -> int:
    """Append the audit row of the write in progress; its id is the write's ``seq``."""
    if not isinstance(actor, str) or not actor.strip():
        raise ValueError("actor must be a non-empty string")
    cur = conn.execute(
        "INSERT INTO audit_log (actor, at, action, station_id, before, after) "
        "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        [
            actor,
            datetime.now(UTC).isoformat(timespec="seconds"),
            action,
            station_id,
            None if before is None else json.dumps(before, ensure_ascii=False),
            None if after is None else json.dumps(after, ensure_ascii=False),
        ],
    )
    return int(cur.fetchone()[0])


def _inside(area: Area, stations: list[Station]) -> list[bool]:
    if isinstance(area, BaseGeometry):
        lon = [s.lon for s in stations]
        lat = [s.lat for s in stations]
        return [bool(v) for v in shapely.intersects_xy(area, lon, lat)]
    return [bool(area(s.lon, s.lat)) for s in stations]
