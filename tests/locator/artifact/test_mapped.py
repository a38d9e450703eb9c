"""The served artifact is memory-mapped: graph and forest arrays are read-only views of the
artifact's files (shared by every process through the page cache), edits still work, and
an artifact of the previous format (read into private memory) is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from locator import Locator
from locator.artifact.manifest import ARTIFACT_FORMAT
from locator.config import Settings
from locator.errors import ArtifactError
from locator.network.graph import (
    ARRAY_FIELDS,
    NPZ_ALIGN,
    RoadGraph,
    is_mapped,
    map_npz,
    read_npz,
    save_npz,
)
from locator.stations import Station

FOREST_ARRAYS = ("node_station", "node_time_s", "node_next", "node_next_edge")


def _mapped_file(arr: npt.NDArray[Any]) -> Path | None:
    """The file ``arr`` is a view of, or ``None`` when it is in private memory."""
    base: object = arr
    while isinstance(base, np.ndarray):
        if isinstance(base, np.memmap):
            return Path(str(base.filename))
        base = base.base
    return None


@pytest.fixture
def copy(regional_artifact: Path, tmp_path: Path) -> Path:
    """A private copy of the regional artifact (the tests edit it)."""
    out = tmp_path / "regional"
    shutil.copytree(regional_artifact, out)
    return out


def test_save_npz_members_are_aligned_mapped_and_readable_by_numpy(tmp_path: Path) -> None:
    arrays: dict[str, npt.NDArray[Any]] = {
        "f8": np.arange(10.0),
        "i4": np.arange(7, dtype=np.int32),
        "flags": np.array([True, False, True]),
        "text": np.array("fingerprint"),
        "ids": np.array(["a", "bc"]),
        "empty": np.zeros(0, dtype=np.int64),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "car|driver_station|node_next": np.arange(5, dtype=np.int64),
    }
    path = tmp_path / "a.npz"
    save_npz(path, arrays)
    with np.load(path, allow_pickle=False) as plain:  # still an ordinary npz
        assert sorted(plain.files) == sorted(arrays)
        for name, arr in arrays.items():
            np.testing.assert_array_equal(plain[name], arr)
    mapped = map_npz(path)
    assert sorted(mapped) == sorted(arrays)
    for name, arr in mapped.items():
        np.testing.assert_array_equal(arr, arrays[name])
        assert arr.dtype == arrays[name].dtype
        assert not arr.flags.writeable
        assert type(arr) is np.ndarray  # a plain view, not the memmap subclass
        if arr.size:
            assert is_mapped(arr)
            assert _mapped_file(arr) == path.resolve()
            assert arr.flags.aligned
            assert arr.__array_interface__["data"][0] % NPZ_ALIGN == 0
    with pytest.raises(ValueError, match="read-only"):
        mapped["f8"][0] = 1.0


def test_members_that_cannot_be_mapped_are_read_read_only(tmp_path: Path) -> None:
    arrays = {"a": np.arange(1000.0), "b": np.arange(3, dtype=np.int32)}
    path = tmp_path / "compressed.npz"
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
    loaded = map_npz(path)
    for name, arr in loaded.items():
        np.testing.assert_array_equal(arr, arrays[name])
        assert not is_mapped(arr)
        assert not arr.flags.writeable


def test_loaded_artifact_arrays_are_mapped_read_only_views_of_its_files(copy: Path) -> None:
    loc = Locator.open(copy, Settings(artifact_dir=copy))
    graph = loc.network.graph
    graph_file = (copy / "graph.npz").resolve()
    arrays = [getattr(graph, name) for name in ARRAY_FIELDS]
    arrays += [*graph.edge_allowed.values(), *graph.edge_time_s.values()]
    for arr in arrays:
        assert _mapped_file(arr) == graph_file
        assert not arr.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        graph.geom_lon[0] = 0.0
    forests_file = (copy / "forests.npz").resolve()
    indexes = loc._state.indexes
    assert indexes
    for index in indexes.values():
        for name in FOREST_ARRAYS:
            arr = getattr(index.forest, name)
            assert _mapped_file(arr) == forests_file
            assert not arr.flags.writeable


def test_edits_work_on_a_mapped_artifact(copy: Path) -> None:
    loc = Locator.open(copy, Settings(artifact_dir=copy))
    loc.warm()
    graph = loc.network.graph
    lon, lat = float(graph.node_lon[100]), float(graph.node_lat[100])
    before = loc.nearest(lon, lat, kind="driver_station")[0]
    base = loc.stations()[0].model_dump()
    base.update(id="mapped-new", lon=lon, lat=lat, kind="driver_station", services=["rest"])
    loc.add_station(Station.model_validate(base), actor="test")
    after = loc.nearest(lon, lat, kind="driver_station")[0]
    assert after.station.id == "mapped-new"
    assert after.duration_s < before.duration_s
    assert loc.isochrones(station_id="mapped-new")[0].area_km2 > 0
    # the edited kind's forest is a new, private one; the graph stays mapped
    edited = loc._state.indexes[("truck", "driver_station")]
    assert _mapped_file(edited.forest.node_next) is None
    assert _mapped_file(graph.edge_u) == (copy / "graph.npz").resolve()
    loc.delete_station("mapped-new", actor="test")
    assert loc.nearest(lon, lat, kind="driver_station")[0].station.id == before.station.id
    loc.store.close()


def test_an_artifact_of_the_previous_format_is_refused(copy: Path) -> None:
    manifest_path = copy / "manifest.json"
    manifest = json.loads(manifest_path.read_text("utf-8"))
    assert manifest["artifact_format"] == ARTIFACT_FORMAT
    manifest["artifact_format"] = ARTIFACT_FORMAT - 1
    manifest_path.write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(ArtifactError, match="rebuild"):
        Locator.open(copy, Settings(artifact_dir=copy))


def test_a_graph_of_the_previous_format_is_refused(copy: Path, tmp_path: Path) -> None:
    # the previous format: np.savez (members not aligned, read into private memory)
    old = tmp_path / "old"
    old.mkdir()
    np.savez(old / "graph.npz", **read_npz(copy / "graph.npz"))  # type: ignore[arg-type]
    meta = json.loads((copy / "graph_meta.json").read_text("utf-8"))
    meta["format_version"] = 2
    (old / "graph_meta.json").write_text(json.dumps(meta), "utf-8")
    with pytest.raises(ArtifactError, match="rebuild the artifact"):
        RoadGraph.load(old)
    assert RoadGraph.load(copy).n_edges > 0
