"""The store's write guarantees: versions, If-Match, merges inside the transaction, no lost
update across threads or across store objects (processes) on one file, the edit sequence,
owner-only files, and writes refused cleanly when the file cannot take them."""

from __future__ import annotations

import gc
import itertools
import os
import stat
import threading
from pathlib import Path

import pytest
from test_store import rec

from locator.errors import (
    PreconditionFailedError,
    StationExistsError,
    StationNotFoundError,
    StoreUnavailableError,
)
from locator.stations.store import StationStore

FIELDS = ("notes", "opening_hours", "capacity_people", "area_m2", "source", "port_id")


def _value(field: str, i: int) -> object:
    return {
        "notes": f"note {i}",
        "opening_hours": f"Mo-Su 0{i % 10}:00-23:00",
        "capacity_people": i,
        "area_m2": float(i + 1),
        "source": f"survey {i}",
        "port_id": f"port-{i}",
    }[field]


@pytest.fixture
def path(store_target: str) -> str:
    """A store holding two stations, on each backend (a file path or a database URL)."""
    with StationStore(store_target) as s:
        s.import_rows([rec(1), rec(2)])
    return store_target


def test_versions_grow_and_if_match_guards_every_write(path: str) -> None:
    with StationStore(path) as s:
        first = s.get_revision("st-001")
        assert first.version == first.seq == s.seq() == 1  # the import was write 1
        patched = s.patch("st-001", {"notes": "a"}, actor="t", if_version=first.version)
        assert patched.version == patched.seq == 2 and patched.station.notes == "a"
        # the version read before the patch is stale now: every kind of write refuses it
        with pytest.raises(PreconditionFailedError) as err:
            s.patch("st-001", {"notes": "b"}, actor="t", if_version=first.version)
        assert err.value.details["version"] == 2
        with pytest.raises(PreconditionFailedError):
            s.update(rec(1, notes="c"), actor="t", if_version=first.version)
        with pytest.raises(PreconditionFailedError):
            s.delete("st-001", actor="t", if_version=first.version)
        assert s.get("st-001").notes == "a"  # nothing of the refused writes landed
        # a write to another station moves the sequence, not this station's version
        s.patch("st-002", {"notes": "x"}, actor="t")
        assert s.version("st-001") == 2 and s.seq() == 3
        gone = s.delete("st-001", actor="t", if_version=2)
        assert gone.version == 2 and gone.seq == 4
        # an id deleted and added again never gets an old version back
        again = s.add(rec(1), actor="t")
        assert again.version == 5
        with pytest.raises(StationExistsError):
            s.add(rec(1), actor="t")
        with pytest.raises(StationNotFoundError):
            s.patch("nope", {"notes": "x"}, actor="t")
        assert [c.action for c in s.changes_since(1)] == [
            "update",
            "update",
            "delete",
            "add",
        ]
        assert [c.seq for c in s.changes_since(3)] == [4, 5]


def test_merge_patch_rules(path: str) -> None:
    with StationStore(path) as s:
        out = s.patch("st-001", {"name": {"ru": "Станция", "en": None}}, actor="t").station
        assert out.name.ru == "Станция" and out.name.en is None and out.name.zh == "驿站1"
        assert s.patch("st-001", {"notes": "x"}, actor="t").station.notes == "x"
        assert s.patch("st-001", {"notes": None}, actor="t").station.notes is None
        with pytest.raises(Exception, match="cannot be removed"):
            s.patch("st-001", {"lon": None}, actor="t")
        with pytest.raises(Exception, match="id of a station cannot change"):
            s.patch("st-001", {"id": "st-009"}, actor="t")


@pytest.mark.parametrize("shared", [True, False], ids=["one-store", "store-per-writer"])
def test_concurrent_patches_of_different_fields_all_survive(path: str, shared: bool) -> None:
    """Six writers patch six different fields of ONE station 15 times each, at once; with
    a store object per writer they are as separate as processes (own connections, own
    locks). Every acknowledged change must be there at the end."""
    rounds = 15
    stores = [StationStore(path) for _ in FIELDS] if not shared else [StationStore(path)] * 6
    barrier = threading.Barrier(len(FIELDS))
    acked: dict[str, object] = {}
    errors: list[BaseException] = []

    def writer(k: int, field: str) -> None:
        try:
            barrier.wait()
            for i in range(rounds):
                rev = stores[k].patch("st-001", {field: _value(field, i)}, actor=f"w{k}")
                assert getattr(rev.station, field) == _value(field, i)
                acked[field] = _value(field, i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k, f)) for k, f in enumerate(FIELDS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with StationStore(path) as check:
        final = check.get("st-001")
        assert {f: getattr(final, f) for f in FIELDS} == acked
        updates = [e for e in check.audit_entries("st-001") if e["action"] == "update"]
        assert len(updates) == rounds * len(FIELDS)
        # the audit log is one chain: each write's "before" is the previous write's "after"
        for prev, nxt in itertools.pairwise(updates):
            assert nxt["before"] == prev["after"]
    for store in {id(x): x for x in stores}.values():
        store.close()


def test_concurrent_adds_of_one_id_one_wins_the_rest_conflict(path: str) -> None:
    stores = [StationStore(path) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    outcome: list[str] = []

    def add(s: StationStore) -> None:
        barrier.wait()
        try:
            s.add(rec(7), actor="t")
            outcome.append("added")
        except StationExistsError:
            outcome.append("exists")

    threads = [threading.Thread(target=add, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcome) == ["added"] + ["exists"] * 5
    for s in stores:
        s.close()


def test_store_file_is_owner_only(tmp_path: Path) -> None:
    fresh = tmp_path / "new.sqlite"
    with StationStore(fresh) as s:
        s.import_rows([rec(1)])
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    loose = tmp_path / "loose.sqlite"
    loose.touch(mode=0o644)
    os.chmod(loose, 0o644)
    StationStore(loose).close()
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600


def test_a_store_that_cannot_take_writes_refuses_them_cleanly(path: str) -> None:
    # opened read-only (a read-only mount): reads work, every write is a clear 503 error
    with StationStore(path, read_only=True) as s:
        assert s.get("st-001").id == "st-001"
        for write in (
            lambda: s.patch("st-001", {"notes": "x"}, actor="t"),
            lambda: s.add(rec(5), actor="t"),
            lambda: s.delete("st-001", actor="t"),
            lambda: s.import_rows([rec(6)]),
        ):
            with pytest.raises(StoreUnavailableError):
                write()
    if not path.endswith(".sqlite"):
        return
    # a full disk: SQLite may not grow the file (max_page_count = its size now)
    with StationStore(path) as s:
        conn = s._backend.conn()  # this thread's connection: the limit applies to it
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        big = [rec(100 + i, notes="x" * 900) for i in range(200)]
        with pytest.raises(StoreUnavailableError, match="full"):
            s.import_rows(big)
        assert s.count() == 2  # all-or-nothing
    with pytest.raises(StoreUnavailableError):
        StationStore(Path(path).parent / "missing.sqlite", read_only=True)


def test_a_forked_child_uses_its_own_connections_and_leaves_the_parents(path: str) -> None:
    """``locator serve --workers`` forks after opening the store: the child must open its
    own connections, and nothing it does (even collecting the copies of the parent's)
    may break the parent's session."""
    with StationStore(path) as s:
        assert s.get("st-001").id == "st-001"  # the parent's connection is open
        parent_conn = s._backend.conn()
        pid = os.fork()
        if pid == 0:  # the child
            code = 0
            try:
                if s._backend.conn() is parent_conn:
                    code = 2  # SQLite and libpq forbid using a connection across fork
                s.patch("st-001", {"notes": "from the child"}, actor="child")
                gc.collect()
            except BaseException:
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # the parent's own connection still works, and sees the child's write
        assert s.get("st-001").notes == "from the child"
        assert s.seq() == s.changes_since(0)[-1].seq
