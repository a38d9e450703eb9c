"""Two `Locator`s on one store (two workers, two processes): what one writes, the other
answers after `refresh()`, exactly as a Locator freshly opened on the store answers
(the reference: it computes every index from scratch)."""

from __future__ import annotations

import random
import shutil
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


def test_refresh_applies_another_writers_edits_like_a_fresh_open(
    regional_artifact: Path, tmp_path: Path
) -> None:
    art = tmp_path / "art"
    shutil.copytree(regional_artifact, art)
    settings = Settings(artifact_dir=art)
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
    with StationStore(art / "stations.sqlite") as store:
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
