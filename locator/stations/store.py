"""SQLite station store (sqlite-utils, WAL mode, R-tree bbox index, audit log).

Tables::

    stations        rid INTEGER PRIMARY KEY, id TEXT UNIQUE, kind, port_id, lon, lat,
                    name_zh, name_en, services (JSON), record (full Station JSON)
    stations_rtree  SQLite's built-in rtree module over (lon, lat); kept in sync by
                    triggers on ``stations``
    audit_log       id, actor, at (UTC ISO 8601), action, station_id, before, after (JSON)

Row parsing and validation live in :mod:`locator.stations.io`. Imports (GeoJSON, CSV)
validate every row first and raise
:class:`~locator.errors.StationValidationError` listing *every* problem (row, field,
reason); nothing is written unless all rows are valid, and the write itself is one
transaction. Row numbers are CSV line numbers (header = line 1) or 0-based GeoJSON feature
indexes.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeAlias

import shapely
from shapely.geometry.base import BaseGeometry
from sqlite_utils import Database

from locator.errors import (
    InvalidCoordinateError,
    RowProblem,
    StationNotFoundError,
    StationValidationError,
)
from locator.stations.io import (
    BAD_ROW,
    CSV_COLUMNS,
    CSV_OPTIONAL_EXTRA,
    parse_csv_text,
    station_to_csv_row,
    validate_one,
)
from locator.stations.model import Station, feature_to_record

log = logging.getLogger(__name__)

Area: TypeAlias = BaseGeometry | Callable[[float, float], bool]
ImportMode: TypeAlias = Literal["insert", "upsert", "replace"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stations (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    port_id TEXT,
    lon REAL NOT NULL,
    lat REAL NOT NULL,
    name_zh TEXT,
    name_en TEXT,
    services TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS stations_kind ON stations(kind);
CREATE INDEX IF NOT EXISTS stations_port ON stations(port_id);
CREATE VIRTUAL TABLE IF NOT EXISTS stations_rtree USING rtree(
    rid, min_lon, max_lon, min_lat, max_lat
);
CREATE TRIGGER IF NOT EXISTS stations_rtree_insert AFTER INSERT ON stations BEGIN
    INSERT INTO stations_rtree VALUES (new.rid, new.lon, new.lon, new.lat, new.lat);
END;
CREATE TRIGGER IF NOT EXISTS stations_rtree_update AFTER UPDATE OF lon, lat ON stations BEGIN
    UPDATE stations_rtree
       SET min_lon = new.lon, max_lon = new.lon, min_lat = new.lat, max_lat = new.lat
     WHERE rid = new.rid;
END;
CREATE TRIGGER IF NOT EXISTS stations_rtree_delete AFTER DELETE ON stations BEGIN
    DELETE FROM stations_rtree WHERE rid = old.rid;
END;
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY,
    actor TEXT NOT NULL,
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    station_id TEXT,
    before TEXT,
    after TEXT
);
"""


class StationStore:
    """Stations in one SQLite file.

    Parameters
    ----------
    path
        Database file (created if missing) or ``":memory:"``.
    area
        Default service area for validation: a shapely geometry in lon/lat or a callable
        ``(lon, lat) -> bool``; stations outside it are rejected. ``None`` disables the check.
    """

    def __init__(self, path: str | Path, *, area: Area | None = None) -> None:
        self.path = str(path)
        self.area = area
        conn = sqlite3.connect(self.path, check_same_thread=False)
        self.db = Database(conn)
        if self.path != ":memory:":
            self.db.enable_wal()
        self._lock = threading.RLock()
        self.db.executescript(_SCHEMA)

    # -- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> StationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def journal_mode(self) -> str:
        """SQLite journal mode (``"wal"`` for file databases)."""
        return str(self.db.journal_mode)

    # -- reads ----------------------------------------------------------------------

    def count(self) -> int:
        """Number of stations."""
        row = self.db.execute("SELECT count(*) FROM stations").fetchone()
        return int(row[0])

    def ids(self) -> set[str]:
        """All station ids."""
        return {r[0] for r in self.db.execute("SELECT id FROM stations")}

    def get(self, station_id: str) -> Station:
        """The station with ``station_id``.

        Raises
        ------
        StationNotFoundError
            If there is none.
        """
        row = self.db.execute("SELECT record FROM stations WHERE id = ?", [station_id]).fetchone()
        if row is None:
            raise StationNotFoundError(f"no station with id {station_id!r}", station_id=station_id)
        return Station.model_validate_json(row[0])

    def all(self) -> list[Station]:
        """Every station, ordered by id."""
        rows = self.db.execute("SELECT record FROM stations ORDER BY id")
        return [Station.model_validate_json(r[0]) for r in rows]

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
        sql = """
            SELECT s.record FROM stations_rtree r JOIN stations s ON s.rid = r.rid
             WHERE r.max_lon >= :min_lon AND r.min_lon <= :max_lon
               AND r.max_lat >= :min_lat AND r.min_lat <= :max_lat
               AND s.lon BETWEEN :min_lon AND :max_lon
               AND s.lat BETWEEN :min_lat AND :max_lat
             ORDER BY s.id
        """
        params = {"min_lon": min_lon, "min_lat": min_lat, "max_lon": max_lon, "max_lat": max_lat}
        return [Station.model_validate_json(r[0]) for r in self.db.execute(sql, params)]

    def audit_entries(self, station_id: str | None = None) -> list[dict[str, Any]]:
        """Audit log rows (oldest first), optionally for one station."""
        if station_id is None:
            rows = self.db.query("SELECT * FROM audit_log ORDER BY id")
        else:
            rows = self.db.query(
                "SELECT * FROM audit_log WHERE station_id = ? ORDER BY id", [station_id]
            )
        out = []
        for row in rows:
            row["before"] = json.loads(row["before"]) if row["before"] else None
            row["after"] = json.loads(row["after"]) if row["after"] else None
            out.append(row)
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
        with self._lock, self.db.atomic():
            if mode == "replace":
                self.db.execute("DELETE FROM stations")
            for st in stations:
                self._write(st, replace=mode != "insert")
            self._audit(
                actor,
                f"import_{mode}",
                None,
                None,
                {"source": what, "count": len(stations), "ids": [s.id for s in stations]},
            )
        log.info("imported %d station(s) from %s (mode=%s)", len(stations), what, mode)
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
    ) -> Station:
        """Insert one new station (audited).

        Raises
        ------
        StationValidationError
            If invalid, outside the area or the id exists.
        """
        record = station.model_dump() if isinstance(station, Station) else station
        (st,) = self.validate_rows([record], area=area, mode="insert", what="station")
        with self._lock, self.db.atomic():
            self._write(st, replace=False)
            self._audit(actor, "add", st.id, None, st.model_dump(mode="json"))
        return st

    def update(
        self, station: Station | Mapping[str, Any], *, actor: str, area: Area | None = None
    ) -> Station:
        """Replace an existing station by id (audited, before and after).

        Raises
        ------
        StationNotFoundError
            If the id is unknown.
        StationValidationError
            If the new record is invalid.
        """
        record = station.model_dump() if isinstance(station, Station) else station
        (st,) = self.validate_rows([record], area=area, mode="upsert", what="station")
        with self._lock, self.db.atomic():
            before = self.get(st.id)
            self._write(st, replace=True)
            self._audit(
                actor, "update", st.id, before.model_dump(mode="json"), st.model_dump(mode="json")
            )
        return st

    def delete(self, station_id: str, *, actor: str) -> Station:
        """Delete a station (audited); return what was deleted.

        Raises
        ------
        StationNotFoundError
            If the id is unknown.
        """
        with self._lock, self.db.atomic():
            before = self.get(station_id)
            self.db.execute("DELETE FROM stations WHERE id = ?", [station_id])
            self._audit(actor, "delete", station_id, before.model_dump(mode="json"), None)
        return before

    # -- internals ------------------------------------------------------------------

    def _write(self, st: Station, *, replace: bool) -> None:
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
        }
        if replace:
            cur = self.db.execute(
                """UPDATE stations SET kind=:kind, port_id=:port_id, lon=:lon, lat=:lat,
                   name_zh=:name_zh, name_en=:name_en, services=:services, record=:record
                   WHERE id=:id""",
                values,
            )
            if cur.rowcount:
                return
        self.db.execute(
            """INSERT INTO stations
                   (id, kind, port_id, lon, lat, name_zh, name_en, services, record)
               VALUES (:id, :kind, :port_id, :lon, :lat, :name_zh, :name_en, :services, :record)""",
            values,
        )

    def _audit(
        self,
        actor: str,
        action: str,
        station_id: str | None,
        before: Any,
        after: Any,
    ) -> None:
        if not isinstance(actor, str) or not actor.strip():
            raise ValueError("actor must be a non-empty string")
        self.db.execute(
            "INSERT INTO audit_log (actor, at, action, station_id, before, after) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                actor,
                datetime.now(UTC).isoformat(timespec="seconds"),
                action,
                station_id,
                None if before is None else json.dumps(before, ensure_ascii=False),
                None if after is None else json.dumps(after, ensure_ascii=False),
            ],
        )


# -- helpers (module level so the API and tests can reuse them) -------------------------


def _inside(area: Area, stations: list[Station]) -> list[bool]:
    if isinstance(area, BaseGeometry):
        lon = [s.lon for s in stations]
        lat = [s.lat for s in stations]
        return [bool(v) for v in shapely.intersects_xy(area, lon, lat)]
    return [bool(area(s.lon, s.lat)) for s in stations]
