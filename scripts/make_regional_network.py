"""Regenerate ``geodata/data/regional_network.npz`` from the PyPI package ``scgraph-data``.

The source is ``scgraph_data.world_highways``: an OpenStreetMap-derived world highway graph
(560k nodes, 826k undirected edges, coordinates rounded to 0.001°, weights in km, no road
classes). We keep the nodes inside the Inner Mongolia border window and the edges whose
both ends lie inside it, drop self-loops and nodes left without edges, and store
integers (millidegrees, metres).

Usage::

    pip install 'scgraph-data==2.0.0'
    python scripts/make_regional_network.py [--out geodata/data/regional_network.npz]

``scgraph_data`` 2.0.0 imports ``scgraph.core.GeoGraph``, which newer ``scgraph`` releases
no longer have; the data is plain Python literals, so we register a minimal stand-in class
before importing the module and never need ``scgraph`` itself.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np

WINDOW = (97.0, 37.0, 126.5, 53.6)  # min_lon, min_lat, max_lon, max_lat
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "geodata" / "data" / "regional_network.npz"


class _GeoGraphStandIn:
    def __init__(self, graph: list[dict[int, float]], nodes: list[list[float]]) -> None:
        self.graph = graph
        self.nodes = nodes


def load_world_highways() -> tuple[list[dict[int, float]], list[list[float]], Path]:
    if "scgraph.core" not in sys.modules:
        core = types.ModuleType("scgraph.core")
        core.GeoGraph = _GeoGraphStandIn  # type: ignore[attr-defined]
        sys.modules["scgraph.core"] = core
        if "scgraph" not in sys.modules:
            pkg = types.ModuleType("scgraph")
            pkg.core = core  # type: ignore[attr-defined]
            sys.modules["scgraph"] = pkg
    spec = importlib.util.find_spec("scgraph_data.world_highways")
    if spec is None or spec.origin is None:
        raise SystemExit("scgraph-data is not installed: pip install 'scgraph-data==2.0.0'")
    from scgraph_data.world_highways import world_highways_geograph as g

    return g.graph, g.nodes, Path(spec.origin)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    graph, nodes, origin = load_world_highways()
    lat = np.array([n[0] for n in nodes], dtype=float)
    lon = np.array([n[1] for n in nodes], dtype=float)
    min_lon, min_lat, max_lon, max_lat = WINDOW
    inside = (lon >= min_lon) & (lon <= max_lon) & (lat >= min_lat) & (lat <= max_lat)
    old_ids = np.nonzero(inside)[0]
    new_id = np.full(len(nodes), -1, dtype=np.int64)
    new_id[old_ids] = np.arange(len(old_ids))
    us, vs, ws = [], [], []
    self_loops = 0
    for i in old_ids.tolist():
        for j, w_km in graph[i].items():
            if j == i:
                self_loops += 1
                continue
            if j > i and new_id[j] >= 0:
                us.append(new_id[i])
                vs.append(new_id[j])
                ws.append(round(w_km * 1000.0))
    # nodes whose every edge leaves the window (or is a self-loop) cannot be routed to: drop
    u_arr = np.array(us, dtype=np.int64)
    v_arr = np.array(vs, dtype=np.int64)
    degree = np.bincount(np.concatenate([u_arr, v_arr]), minlength=len(old_ids))
    keep = degree > 0
    renumber = np.cumsum(keep) - 1
    us, vs = renumber[u_arr].tolist(), renumber[v_arr].tolist()
    isolated = int((~keep).sum())
    old_ids = old_ids[keep]
    lat_milli = np.round(lat[old_ids] * 1000).astype(np.int32)
    lon_milli = np.round(lon[old_ids] * 1000).astype(np.int32)
    source_sha = hashlib.sha256(origin.read_bytes()).hexdigest()
    meta = {
        "source_package": "scgraph-data",
        "source_version": importlib.metadata.version("scgraph-data"),
        "source_module": "scgraph_data.world_highways",
        "source_sha256": source_sha,
        "window": WINDOW,
        "world_nodes": len(nodes),
        "world_edges": sum(len(a) for a in graph) // 2,
        "self_loops_dropped": self_loops,
        "isolated_nodes_dropped": isolated,
        "licence": "data: OpenStreetMap contributors, ODbL 1.0; package: MIT",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        node_lon_milli=lon_milli,
        node_lat_milli=lat_milli,
        edge_u=np.array(us, dtype=np.int32),
        edge_v=np.array(vs, dtype=np.int32),
        edge_length_m=np.array(ws, dtype=np.int32),
        meta=np.array(json.dumps(meta)),
    )
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): "
        f"{len(old_ids)} nodes, {len(us)} edges",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
