"""The station-dependent state: each edit makes a new version; old versions never change.

A query takes one version and reads it from start to end, so it can never mix the ids of
one version with the records of another (the race that gave KeyErrors under concurrent
reads and deletes).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from locator.artifact.loader import open_artifact
from locator.artifact.state import StationState
from locator.config import Settings
from locator.errors import StationNotFoundError
from locator.stations import StationKind


@pytest.fixture
def art(regional_artifact: Path, tmp_path: Path):
    copy = tmp_path / "copy"
    shutil.copytree(regional_artifact, copy)
    loaded = open_artifact(copy, Settings(artifact_dir=copy))
    yield loaded
    loaded.store.close()


def test_edits_make_new_versions_and_leave_the_old_ones_whole(art) -> None:
    s0 = StationState.initial(art)
    net = art.engines.net
    graph = net.graph
    node = 100
    lon, lat = float(graph.node_lon[node]), float(graph.node_lat[node])
    here = net.snapper.snap(lon, lat, max_snap_m=art.max_snap_m, mode="truck")
    key = ("truck", "driver_station")
    (before,) = s0.indexes[key].nearest(here)
    new = s0.catalogue.get(s0.indexes[key].ids[before.station]).model_copy(
        update={"id": "new-station", "lon": lon, "lat": lat}
    )
    s1 = s0.with_station(new, art.engines, art.max_snap_m)
    (after,) = s1.indexes[key].nearest(here)
    assert s1.indexes[key].ids[after.station] == "new-station"
    assert after.duration_s < before.duration_s
    # the old version: same objects, same answers
    assert "new-station" not in s0.catalogue
    assert "new-station" not in s0.indexes[key].ids
    (again,) = s0.indexes[key].nearest(here)
    assert again.duration_s == before.duration_s
    # a move keeps the station's index; a change of kind moves it between indexes
    moved = s1.with_station(new.model_copy(update={"lat": lat + 0.01}), art.engines, 2000.0)
    assert moved.indexes[key].ids.index("new-station") == s1.indexes[key].ids.index("new-station")
    home = moved.with_station(
        new.model_copy(update={"kind": StationKind.worker_home}), art.engines, 2000.0
    )
    assert "new-station" not in [i for i in home.indexes[key].ids if i]
    assert "new-station" in home.indexes[("truck", "worker_home")].ids
    # worker homes are demand: the standing demand follows the catalogue
    assert len(home.demand) == len(moved.demand) + 1
    gone = home.without("new-station", art.engines, 2000.0)
    assert "new-station" not in gone.catalogue
    assert "new-station" in home.catalogue
    with pytest.raises(StationNotFoundError):
        gone.without("new-station", art.engines, 2000.0)
    # circles of an edited station are dropped from the new version only
    first = next(iter(s0.catalogue))
    assert first.id in s0.circles["truck"]
    edited = s0.with_station(
        first.model_copy(update={"lat": first.lat + 0.001}), art.engines, 2000.0
    )
    assert first.id not in edited.circles["truck"]
    assert first.id in s0.circles["truck"]
    notes_only = s0.with_station(first.model_copy(update={"notes": "edited"}), art.engines, 2000.0)
    assert notes_only.circles is s0.circles  # nothing that circles depend on changed
