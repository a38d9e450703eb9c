"""Where a :class:`~locator.stations.store.StationStore` keeps its rows: SQLite or
PostgreSQL/PostGIS, behind one small interface.

Both backends give the store the same three things, with the same guarantees:

* ``read()``: a connection whose every statement sees the last committed state;
* ``snapshot()``: a connection inside one read transaction (several statements, one
  consistent view);
* ``write()``: one write transaction, writers serialised (SQLite ``BEGIN IMMEDIATE``;
  PostgreSQL ``LOCK TABLE audit_log IN EXCLUSIVE MODE``, which readers do not wait for), so
  what a write reads is what it changes and audit ids, the store's edit sequence, are
  committed in increasing order; errors meaning "cannot take writes now" become
  :class:`~locator.errors.StoreUnavailableError`, a violated unique id
  :class:`~locator.errors.StationExistsError`.

SQL is written once, in SQLite's parameter style (``?`` and ``:name``); the PostgreSQL
connection translates it. Connections are per thread and never cross a ``fork``.
"""

from __future__ import annotations

import abc
import contextlib
import os
import re
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from locator.errors import StationExistsError, StoreUnavailableError

#: How long a write waits for another writer (another thread or process) to commit.
BUSY_TIMEOUT_S = 10.0

#: SQLite errors that mean "the store cannot take this write now", not "bad input".
_UNAVAILABLE = ("readonly", "read-only", "disk is full", "database is locked", "disk i/o")

SQLITE_SCHEMA = """
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
    record TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
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

#: The same tables in PostgreSQL: a PostGIS point (generated from lon/lat) with a GiST
#: index instead of the R-tree; records and audit bodies as JSON text, as in SQLite.
POSTGRES_SCHEMA = """
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE TABLE IF NOT EXISTS stations (
    rid BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    port_id TEXT,
    lon DOUBLE PRECISION NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    geom geometry(Point, 4326)
        GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED,
    name_zh TEXT,
    name_en TEXT,
    services TEXT NOT NULL,
    record TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS stations_kind ON stations(kind);
CREATE INDEX IF NOT EXISTS stations_port ON stations(port_id);
CREATE INDEX IF NOT EXISTS stations_geom ON stations USING gist (geom);
CREATE TABLE IF NOT EXISTS audit_log (
    id BIGSERIAL PRIMARY KEY,
    actor TEXT NOT NULL,
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    station_id TEXT,
    before TEXT,
    after TEXT
);
"""

_BBOX_SQLITE = """
    SELECT s.record FROM stations_rtree r JOIN stations s ON s.rid = r.rid
     WHERE r.max_lon >= :min_lon AND r.min_lon <= :max_lon
       AND r.max_lat >= :min_lat AND r.min_lat <= :max_lat
       AND s.lon BETWEEN :min_lon AND :max_lon
       AND s.lat BETWEEN :min_lat AND :max_lat
     ORDER BY s.id
"""
_BBOX_POSTGRES = """
    SELECT record FROM stations
     WHERE geom && ST_MakeEnvelope(:min_lon, :min_lat, :max_lon, :max_lat, 4326)
       AND lon BETWEEN :min_lon AND :max_lon
       AND lat BETWEEN :min_lat AND :max_lat
     ORDER BY id
"""


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Conn(Protocol):
    """What the store needs of a connection: ``execute`` in SQLite's parameter style."""

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ..., /) -> Cursor: ...


def is_postgres_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


class Backend(abc.ABC):
    """Per-thread connections that never cross ``fork``; subclasses open them."""

    kind = "?"
    bbox_sql = ""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # one writer per process at a time
        self._local = threading.local()
        self._conns: list[Any] = []
        self._inherited: list[Any] = []  # a forked child's copies of its parent's connections
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _call_if_alive(ref, Backend._forked))

    def _forked(self) -> None:
        """In a forked child (single-threaded here): forget the parent's connections.
        They stay referenced and are never closed: closing a copy could end the parent's
        session (libpq's PQfinish sends Terminate on the shared socket)."""
        self._inherited.extend(self._conns)
        self._local = threading.local()
        self._conns = []
        self._lock = threading.RLock()

    @abc.abstractmethod
    def _new(self) -> Any:
        """Open one connection."""

    def conn(self) -> Any:
        """This thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._new()
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def forget(self) -> None:
        """Drop this thread's connection (after it broke); the next use reconnects."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._lock, contextlib.suppress(ValueError):
                self._conns.remove(conn)
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()
        self._local = threading.local()

    @abc.abstractmethod
    def read(self) -> contextlib.AbstractContextManager[Conn]:
        """A connection whose every statement sees the last commit."""

    @abc.abstractmethod
    def snapshot(self) -> contextlib.AbstractContextManager[Conn]:
        """A connection inside one read transaction."""

    @abc.abstractmethod
    def write(self) -> contextlib.AbstractContextManager[Conn]:
        """One serialised write transaction."""

    @abc.abstractmethod
    def table_names(self) -> set[str]:
        """The database's tables."""


def _call_if_alive(ref: weakref.ReferenceType[Backend], method: Callable[[Backend], None]) -> None:
    backend = ref()
    if backend is not None:
        method(backend)


class SqliteBackend(Backend):
    """One SQLite file in WAL mode (or ``:memory:``: one shared, locked connection)."""

    kind = "sqlite"
    bbox_sql = _BBOX_SQLITE

    def __init__(self, path: str, *, read_only: bool) -> None:
        super().__init__()
        self.path = path
        self.read_only = read_only
        self.memory = path == ":memory:"
        self._shared: sqlite3.Connection | None = None
        if read_only and (self.memory or not Path(path).is_file()):
            raise StoreUnavailableError(f"no station store at {path} to open read-only")
        if not self.memory and not read_only:
            _owner_only(Path(path))
        conn = self.conn()
        if read_only:
            return
        try:
            if not self.memory:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SQLITE_SCHEMA)
            columns = {r[1] for r in conn.execute("PRAGMA table_info(stations)")}
            if "version" not in columns:  # a store written before versions existed
                conn.execute("ALTER TABLE stations ADD COLUMN version INTEGER NOT NULL DEFAULT 1")
        except sqlite3.DatabaseError:
            self.close()
            raise

    def conn(self) -> Any:
        if self.memory:
            if self._shared is None:
                self._shared = self._new()
            return self._shared
        return super().conn()

    def _new(self) -> sqlite3.Connection:
        target, uri = self.path, False
        if self.read_only:
            target, uri = Path(self.path).resolve().as_uri() + "?mode=ro", True
        conn = sqlite3.connect(
            target,
            isolation_level=None,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_S,
            uri=uri,
        )
        if self.memory:
            self._conns.append(conn)
        return conn

    def close(self) -> None:
        super().close()
        self._shared = None

    @contextlib.contextmanager
    def read(self) -> Iterator[Conn]:
        try:
            if self.memory:
                with self._lock:
                    yield self.conn()
            else:
                yield self.conn()
        except sqlite3.OperationalError as exc:  # locked, I/O error: not the caller's fault
            raise StoreUnavailableError(f"the station store cannot be read now: {exc}") from exc

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Conn]:
        with self.read() as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    @contextlib.contextmanager
    def write(self) -> Iterator[Conn]:
        with self._lock:
            conn = self.conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise _sqlite_unavailable(exc) from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc):
                    raise StationExistsError(f"a station id is already taken: {exc}") from exc
                if isinstance(exc, sqlite3.DatabaseError) and not isinstance(
                    exc, sqlite3.IntegrityError
                ):
                    raise _sqlite_unavailable(exc) from exc
                raise

    def journal_mode(self) -> str:
        with self.read() as conn:
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0])

    def table_names(self) -> set[str]:
        with self.read() as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            return {str(r[0]) for r in rows.fetchall()}


class PostgresBackend(Backend):
    """A PostgreSQL database with PostGIS (``postgresql://…``), through psycopg 3."""

    kind = "postgresql"
    bbox_sql = _BBOX_POSTGRES

    def __init__(self, url: str, *, read_only: bool) -> None:
        super().__init__()
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - psycopg is a dependency
            raise StoreUnavailableError("psycopg is not installed: pip install psycopg") from exc
        self._psycopg = psycopg
        self.url = url
        self.read_only = read_only
        if read_only:
            try:
                with self.read() as conn:
                    conn.execute("SELECT 1 FROM stations LIMIT 1")
            except psycopg.Error as exc:
                raise StoreUnavailableError(f"no station store at this database: {exc}") from exc
            return
        try:  # replicas may start at once: one creates the schema, the others wait
            with self._guarded() as conn, conn.raw.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(7310)")
                for statement in POSTGRES_SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
        except psycopg.Error as exc:
            raise StoreUnavailableError(f"cannot set up the station store: {exc}") from exc

    def _new(self) -> _PgConn:
        try:
            raw = self._psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except self._psycopg.Error as exc:
            raise StoreUnavailableError(f"cannot connect to the station store: {exc}") from exc
        if self.read_only:
            raw.execute("SET default_transaction_read_only = on")
        return _PgConn(raw)

    @contextlib.contextmanager
    def _guarded(self) -> Iterator[_PgConn]:
        conn: _PgConn = self.conn()
        try:
            yield conn
        except self._psycopg.OperationalError as exc:
            self.forget()
            raise StoreUnavailableError(f"the station store is unreachable: {exc}") from exc

    @contextlib.contextmanager
    def read(self) -> Iterator[Conn]:
        with self._guarded() as conn:
            yield conn

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Conn]:
        with self._guarded() as conn, conn.raw.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Conn]:
        errors = self._psycopg.errors
        unavailable = (
            self._psycopg.OperationalError,
            errors.ReadOnlySqlTransaction,
            errors.DiskFull,
            errors.InsufficientResources,
            errors.InsufficientPrivilege,
        )
        with self._lock:
            try:
                with self._guarded() as conn, conn.raw.transaction():
                    if not self.read_only:
                        conn.execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")
                    yield conn
            except errors.UniqueViolation as exc:
                raise StationExistsError(f"a station id is already taken: {exc}") from exc
            except unavailable as exc:
                raise StoreUnavailableError(f"the station store cannot take writes: {exc}") from exc

    def table_names(self) -> set[str]:
        with self.read() as conn:
            rows = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            ).fetchall()
            return {str(r[0]) for r in rows}


_NAMED = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


class _PgConn:
    """A psycopg connection that takes SQLite-style parameters (``?`` and ``:name``)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self._sql: dict[str, str] = {}

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = (), /) -> Any:
        translated = self._sql.get(sql)
        if translated is None:
            translated = _NAMED.sub(r"%(\1)s", sql.replace("%", "%%").replace("?", "%s"))
            self._sql[sql] = translated
        return self.raw.execute(translated, params or None)

    def close(self) -> None:
        self.raw.close()


def _owner_only(path: Path) -> None:
    """Create the database file readable by its owner only (it holds the audit log), and
    tighten an existing one; SQLite gives its -wal and -shm files the same mode."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    with contextlib.suppress(OSError):  # a read-only file system: leave it as it is
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)


def _sqlite_unavailable(exc: sqlite3.Error) -> Exception:
    text = str(exc).lower()
    if any(m in text for m in _UNAVAILABLE):
        return StoreUnavailableError(f"the station store cannot take writes: {exc}")
    return exc
