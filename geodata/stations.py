"""The bundled ports and sample stations (``geodata/data``; see DATA.md section 4).

The sample stations restate the report's facts at approximate positions on the regional
network (regenerate with ``scripts/make_sample_stations.py``); planners replace them with
surveyed data through the store's import (:mod:`locator.store`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from locator.stations import Port, Station

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
PORTS_FILE = DATA_DIR / "ports.json"
SAMPLE_STATIONS_FILE = DATA_DIR / "sample_stations.geojson"


def load_ports(path: Path = PORTS_FILE) -> list[Port]:
    """The curated ports (``ports.json``), validated, in file order."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    ports = [Port.model_validate(p) for p in doc["ports"]]
    ids = [p.id for p in ports]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate port ids in {path}")
    return ports


def load_sample_stations(path: Path = SAMPLE_STATIONS_FILE) -> list[Station]:
    """The sample stations (GeoJSON FeatureCollection), validated, in file order."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc.get("type") != "FeatureCollection":
        raise ValueError(f"{path} is not a GeoJSON FeatureCollection")
    stations = [Station.from_feature(f) for f in doc["features"]]
    log.debug("loaded %d sample stations from %s", len(stations), path)
    return stations
