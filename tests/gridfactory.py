"""Synthetic grid graphs for exact test answers (test-only, never shipped as data).

``make_grid(rows, cols, ...)`` draws a small Manhattan grid near Erenhot's latitude with
exact, hand-checkable travel times: horizontal and vertical edges of ``spacing_m`` metres,
every edge two-way unless listed in ``oneway`` (pairs of (row, col) node coordinates that
may be travelled only from the first to the second).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from locator.network.graph import RoadGraph
from locator.network.projection import Projector, utm_crs_for

GRID_ORIGIN = (111.95, 43.65)  # lon, lat (near Erenhot); only to give the grid real coordinates


def make_grid(
    rows: int = 5,
    cols: int = 5,
    *,
    spacing_m: float = 1000.0,
    speeds_kph: dict[str, float] | None = None,
    oneway: Iterable[tuple[tuple[int, int], tuple[int, int]]] = (),
    missing: Iterable[tuple[tuple[int, int], tuple[int, int]]] = (),
    walk: bool = True,
) -> RoadGraph:
    """Build a ``rows`` x ``cols`` grid :class:`RoadGraph`; node id = r * cols + c."""
    speeds = speeds_kph or {"truck": 36.0, "car": 72.0, "walk": 3.6}
    if not walk:
        speeds = {m: s for m, s in speeds.items() if m != "walk"}
    crs = utm_crs_for(*GRID_ORIGIN)
    proj = Projector(crs)
    x0, y0 = proj.forward(GRID_ORIGIN[0], GRID_ORIGIN[1])
    rr, cc = np.divmod(np.arange(rows * cols), cols)
    xs = float(x0) + cc * spacing_m
    ys = float(y0) + rr * spacing_m
    lon, lat = proj.inverse(xs, ys)
    one = {(a, b) for a, b in oneway}
    gone = {frozenset(p) for p in missing}
    us: list[int] = []
    vs: list[int] = []
    onew: list[bool] = []
    for r in range(rows):
        for c in range(cols):
            for dr, dc in ((0, 1), (1, 0)):
                r2, c2 = r + dr, c + dc
                if r2 >= rows or c2 >= cols:
                    continue
                a, b = (r, c), (r2, c2)
                if frozenset((a, b)) in gone:
                    continue
                ia, ib = r * cols + c, r2 * cols + c2
                if (a, b) in one:
                    us.append(ia), vs.append(ib), onew.append(True)
                elif (b, a) in one:
                    us.append(ib), vs.append(ia), onew.append(True)
                else:
                    us += [ia, ib]
                    vs += [ib, ia]
                    onew += [False, False]
    u = np.array(us, dtype=np.int32)
    v = np.array(vs, dtype=np.int32)
    e = len(us)
    length = np.hypot(xs[v] - xs[u], ys[v] - ys[u]).astype(float)
    allowed = {m: np.ones(e, dtype=bool) for m in speeds}
    if "walk" in speeds:
        # pedestrians ignore one-way rules: add reverse twins allowed for walking only
        ow = np.array(onew, dtype=bool)
        if ow.any():
            u = np.concatenate([u, v[ow]])
            v = np.concatenate([v, np.array(us, dtype=np.int32)[ow]])
            length = np.concatenate([length, length[ow]])
            extra = int(ow.sum())
            for m in speeds:
                allowed[m] = np.concatenate([allowed[m], np.full(extra, m == "walk")])
            onew = [*onew, *([True] * extra)]
            e = len(u)
    times = {m: length / (s / 3.6) for m, s in speeds.items()}
    offsets = np.arange(0, 2 * e + 1, 2, dtype=np.int64)
    glon = np.column_stack((lon[u], lon[v])).ravel()
    glat = np.column_stack((lat[u], lat[v])).ravel()
    g = RoadGraph(
        node_lon=lon.astype(float),
        node_lat=lat.astype(float),
        node_x=xs.astype(float),
        node_y=ys.astype(float),
        edge_u=u,
        edge_v=v,
        edge_length_m=length,
        edge_highway=np.zeros(e, dtype=np.int32),
        edge_name=np.full(e, -1, dtype=np.int32),
        edge_oneway=np.array(onew, dtype=bool),
        geom_offsets=offsets,
        geom_lon=glon,
        geom_lat=glat,
        edge_allowed=allowed,
        edge_time_s=times,
        crs=crs,
        network_kind="street",
        highway_classes=["residential"],
        names=[],
        speeds_kph=dict(speeds),
        extra={"synthetic": True},
    )
    g.validate()
    return g


def grid_pairs(rows: int, cols: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Every road of a ``rows`` x ``cols`` grid as a pair of (row, col) nodes."""
    pairs = []
    for r in range(rows):
        for c in range(cols):
            if c + 1 < cols:
                pairs.append(((r, c), (r, c + 1)))
            if r + 1 < rows:
                pairs.append(((r, c), (r + 1, c)))
    return pairs


def random_grid(rows: int, cols: int, seed: int, *, spacing_m: float = 1000.0) -> RoadGraph:
    """A ``make_grid`` grid with random one-way and missing edges (may be disconnected)."""
    rng = np.random.default_rng(seed)
    pairs = grid_pairs(rows, cols)
    missing = []
    oneway = []
    for a, b in pairs:
        x = rng.random()
        if x < 0.15:
            missing.append((a, b))
        elif x < 0.45:
            oneway.append((a, b) if rng.random() < 0.5 else (b, a))
    if len(missing) == len(pairs):
        missing.pop()
    return make_grid(rows, cols, spacing_m=spacing_m, oneway=oneway, missing=missing)
