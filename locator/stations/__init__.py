"""Stations and ports: the records, their opening hours, files, the store, the catalogue.

``model`` (the records planners import and the API serves), ``hours`` (opening hours),
``io`` (CSV/GeoJSON rows and their validation), ``store`` (the SQLite store with its
audit log) and ``catalogue`` (the in-memory snapshot every query filters).
"""

from locator.config import CHINA_STANDARD_TIME
from locator.stations.catalogue import Catalogue, StationFilter, stations_fingerprint
from locator.stations.hours import OpeningHours
from locator.stations.io import CSV_COLUMNS
from locator.stations.model import (
    Latitude,
    LocalizedName,
    Longitude,
    Port,
    Service,
    Station,
    StationKind,
    port_json_schema,
    station_json_schema,
)
from locator.stations.store import Change, ImportMode, Revision, StationStore

__all__ = [
    "CHINA_STANDARD_TIME",
    "CSV_COLUMNS",
    "Catalogue",
    "Change",
    "ImportMode",
    "Latitude",
    "LocalizedName",
    "Longitude",
    "OpeningHours",
    "Port",
    "Revision",
    "Service",
    "Station",
    "StationFilter",
    "StationKind",
    "StationStore",
    "port_json_schema",
    "station_json_schema",
    "stations_fingerprint",
]
