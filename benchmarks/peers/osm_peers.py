"""OSRM 26.10 and Valhalla 3.9.1 from the PyPI wheels, driven from the harness.

Preprocessing runs the wheels' own binaries (``osrm-extract`` + ``osrm-contract`` with CH;
``valhalla_build_tiles``) as child processes, timed with their peak RSS from ``wait4``.
Queries run in :mod:`benchmarks.peers.osm_worker` inside the 3.12 venv, through the
in-process bindings (no HTTP).
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

from benchmarks.peers.common import PEERS_DIR, PEERS_PYTHON, PEERS_VENV, run_child

log = logging.getLogger(__name__)

SITE = PEERS_VENV / "lib" / "python3.12" / "site-packages"
OSRM_BIN = SITE / "osrm" / "bin"
OSRM_PROFILES = SITE / "osrm" / "share" / "profiles"
VALHALLA_BIN = SITE / "valhalla" / "bin"


def available(engine: str) -> str | None:
    """None when the engine can run, else the reason."""
    if not PEERS_PYTHON.exists():
        return (
            f"{PEERS_PYTHON} missing: /root/.pyenv/versions/3.12.1/bin/python -m venv "
            f"{PEERS_VENV} && {PEERS_VENV}/bin/pip install osrm-bindings pyvalhalla"
        )
    if engine == "osrm" and not (OSRM_BIN / "osrm-extract").exists():
        return f"{OSRM_BIN / 'osrm-extract'} missing: pip install osrm-bindings (3.12 venv)"
    if engine == "valhalla" and not (VALHALLA_BIN / "valhalla_build_tiles").exists():
        return f"{VALHALLA_BIN} missing: pip install pyvalhalla (3.12 venv)"
    return None


def build_osrm(
    pbf: Path, work: Path, uniform: bool, *, ch: bool = True
) -> tuple[dict[str, Path], dict[str, Any]]:
    """osrm-extract (car.lua, or our uniform-speed profile) then, in separate copies,
    osrm-contract (CH) and osrm-partition + osrm-customize (MLD)."""
    profile = PEERS_DIR / "uniform.lua" if uniform else OSRM_PROFILES / "car.lua"
    parts: dict[str, float] = {}
    peaks: list[float] = []
    bases: dict[str, Path] = {}
    for algo in ["CH", "MLD"] if ch else ["MLD"]:
        d = work / algo
        d.mkdir(parents=True, exist_ok=True)
        local = d / pbf.name
        shutil.copyfile(pbf, local)
        base = d / (pbf.name.split(".")[0] + ".osrm")
        steps = [("osrm-extract", ["-p", profile, "-t", "2", local])]
        if algo == "CH":
            steps.append(("osrm-contract", ["-t", "2", base]))
        else:
            steps += [("osrm-partition", ["-t", "2", base]), ("osrm-customize", ["-t", "2", base])]
        for name, args in steps:
            r = run_child(
                [OSRM_BIN / name, *args], cwd=d, log_path=d / f"{name}.log", timeout_s=900
            )
            key = name if name != "osrm-extract" or algo == "CH" else "osrm-extract (MLD copy)"
            parts[key] = r["wall_s"]
            if r["peak_rss_mb"] is not None:
                peaks.append(r["peak_rss_mb"])
        bases[algo] = base
    ext = parts.get("osrm-extract", parts.get("osrm-extract (MLD copy)", 0.0))
    out: dict[str, Any] = {
        "parts_s": parts,
        "peak_rss_mb": max(peaks) if peaks else None,
        "what": f"osrm-extract -p {profile.name}; CH = + osrm-contract (build_s), MLD = + "
        "osrm-partition + osrm-customize (build_mld_s); 2 threads",
    }
    if ch:
        out["build_s"] = ext + parts["osrm-contract"]
    out["build_mld_s"] = (
        parts.get("osrm-extract (MLD copy)", ext)
        + parts["osrm-partition"]
        + parts["osrm-customize"]
    )
    out.setdefault("build_s", out["build_mld_s"])
    return bases, out


def build_valhalla(pbf: Path, work: Path) -> tuple[Path, dict[str, Any]]:
    """valhalla_build_config + valhalla_build_tiles into a tile directory."""
    work.mkdir(parents=True, exist_ok=True)
    tiles = work / "tiles"
    shutil.rmtree(tiles, ignore_errors=True)
    tiles.mkdir()
    cfg_path = work / "valhalla.json"
    with open(cfg_path, "w") as fh:
        import subprocess

        subprocess.run(
            [
                PEERS_VENV / "bin" / "valhalla_build_config",
                "--mjolnir-tile-dir",
                tiles,
                "--mjolnir-tile-extract",
                work / "none.tar",
                "--mjolnir-concurrency",
                "2",
            ],
            check=True,
            stdout=fh,
            stderr=subprocess.DEVNULL,
        )
    b = run_child(
        [VALHALLA_BIN / "valhalla_build_tiles", "-c", cfg_path, pbf],
        cwd=work,
        log_path=work / "valhalla_build_tiles.log",
    )
    size = sum(p.stat().st_size for p in tiles.rglob("*") if p.is_file())
    return cfg_path, {
        "build_s": b["wall_s"],
        "peak_rss_mb": b["peak_rss_mb"],
        "tiles_mb": size / 1e6,
        "what": "valhalla_build_tiles (2 threads), no admins/timezones/elevation",
    }


def run_worker(job: dict[str, Any], work: Path) -> dict[str, Any]:
    """Run the query worker in the 3.12 venv; its peak RSS is the serving memory."""
    work.mkdir(parents=True, exist_ok=True)
    tag = f"{job['engine']}-{job.get('algorithm', '')}"
    jp = work / f"{tag}-job.json"
    op = work / f"{tag}-out.json"
    jp.write_text(json.dumps(job))
    info = run_child(
        [PEERS_PYTHON, PEERS_DIR / "osm_worker.py", jp, op],
        log_path=work / f"{tag}-worker.log",
        timeout_s=1200,
    )
    res: dict[str, Any] = json.loads(op.read_text())
    res["worker_peak_rss_mb"] = info["peak_rss_mb"]
    return res


if __name__ == "__main__":  # pragma: no cover
    sys.exit("import me from benchmarks/run_all.py")
