"""Two `Locator`s on one store (two workers, two processes): what one writes, the other
answers after `refresh()`, exactly as a Locator freshly opened on the store answers
(the reference: it computes every index from scratch)."""

from __future__ import annotations

import gc
import random
import shutil
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

import pytest

from locator import Locator
from locator.config import Settings
from locator.errors import LocatorError
from locator.stations import StationStore

MOVED = "erl-driver-home-01"


def _answers(loc: Locator, points: list[tuple[float, float]]) -> list[object]:
    out: list[object] = []
    for lon, lat in points:
        for k, kind in ((1, None), (3, "driver_station")):
            try:
                got = loc.nearest(lon, lat, k=k, kind=kind)
                out.append([(a.station.id, round(a.duration_s, 3)) for a in got])
            except LocatorError as exc:
                out.append(type(exc).__name__)
    return out


def _settings(art: Path, store_backend: str, new_store_target: Callable[[], str]) -> Settings:
    """The artifact's own SQLite store, or a new PostgreSQL database seeded from it."""
    if store_backend == "sqlite":
        return Settings(artifact_dir=art)
    return Settings(artifact_dir=art, store_url=new_store_target())


def test_refresh_applies_another_writers_edits_like_a_fresh_open(
    regional_artifact: Path,
    tmp_path: Path,
    store_backend: str,
    new_store_target: Callable[[], str],
) -> None:
    art = tmp_path / "art"
    shutil.copytree(regional_artifact, art)
    settings = _settings(art, store_backend, new_store_target)
    a = Locator.open(art, settings)
    b = Locator.open(art, settings)
    rng = random.Random(9)
    stations = a.stations()
    points = [
        (s.lon + rng.uniform(-0.3, 0.3), s.lat + rng.uniform(-0.3, 0.3))
        for s in rng.sample(stations, 12)
    ]
    seq_before = b.refresh()
    assert b.refresh() == seq_before  # nothing new: nothing happens

    # A writes: a patch, a move, a delete, an add; then a separate process imports
    a.patch_station(MOVED, {"notes": "patched by A"}, actor="a")
    a.patch_station(MOVED, {"lon": 111.98, "lat": 43.66}, actor="a")
    victim = next(s for s in stations if s.id != MOVED and s.kind.value == "worker_home")
    a.delete_station(victim.id, actor="a")
    clone = stations[5].model_copy(update={"id": "refresh-added", "lon": stations[5].lon + 0.01})
    a.add_station(clone, actor="a")
    other = next(s for s in stations if s.id not in (MOVED, victim.id, clone.id))
    with StationStore(settings.store_url or art / "stations.sqlite") as store:
        record = other.model_dump(mode="json", exclude_none=True)
        record["notes"] = "imported by another process"
        store.import_rows([record], mode="upsert", actor="cli")

    assert b.station(MOVED).notes != "patched by A"  # not yet
    seq = b.refresh()
    a.refresh()
    fresh = Locator.open(art, settings)
    assert seq == fresh.refresh() == a.refresh()
    for loc in (a, b):
        assert loc.station_versions() == fresh.station_versions()
        assert {s.id: s for s in loc.stations()} == {s.id: s for s in fresh.stations()}
        assert _answers(loc, points) == _answers(fresh, points)
    assert b.station(MOVED).notes == "patched by A"
    assert b.station(other.id).notes == "imported by another process"
    with pytest.raises(LocatorError):
        b.station(victim.id)
    for loc in (a, b, fresh):
        loc.close()


def test_replicas_opening_an_empty_database_at_once_seed_it_once(
    regional_artifact: Path, pg_database: Callable[[], str]
) -> None:
    url = pg_database()
    settings = Settings(artifact_dir=regional_artifact, store_url=url)
    barrier = threading.Barrier(4)
    opened: list[Locator] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            barrier.wait()
            opened.append(Locator.open(regional_artifact, settings))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    with StationStore(regional_artifact / "stations.sqlite", read_only=True) as own:
        expected = own.all()
    with StationStore(url) as store:
        assert store.all() == expected
        assert [e["action"] for e in store.audit_entries()] == ["import_seed"]
    for loc in opened:
        assert {s.id for s in loc.stations()} == {s.id for s in expected}
        assert not loc._art.recomputed  # same stations: the artifact's indexes are used
        loc.close()


def test_replaced_indexes_are_freed(regional_artifact: Path, tmp_path: Path) -> None:
    """A move replaces the nearest-station indexes of the station's kind; nothing may keep
    the old ones alive (the artifact held a second reference: +25 MiB after ten moves)."""
    art = tmp_path / "art"
    shutil.copytree(regional_artifact, art)
    loc = Locator.open(art, Settings(artifact_dir=art))
    before = {key: weakref.ref(index) for key, index in loc._state.indexes.items()}
    station = loc.station(MOVED)
    loc.patch_station(MOVED, {"lon": station.lon + 0.01}, actor="t")
    current = {id(index) for index in loc._state.indexes.values()}
    replaced = [key for key, ref in before.items() if id(ref()) not in current]
    assert replaced, "a move replaces some index"
    gc.collect()
    assert [key for key in replaced if before[key]() is not None] == []
    loc.close()
