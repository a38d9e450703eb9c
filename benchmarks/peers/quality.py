"""Service-circle polygon quality: area, nesting, false area, missed road."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely

FALSE_AREA_DISTANCE_M = 500.0


def truth_zone(lines: np.ndarray, distance_m: float = FALSE_AREA_DISTANCE_M) -> Any:
    """Area within ``distance_m`` of road actually reachable (projected lines)."""
    if len(lines) == 0:
        return shapely.Polygon()
    # one buffer per piece, then a cascaded union (buffering one MultiLineString is far
    # slower in GEOS when pieces overlap)
    return shapely.union_all(
        shapely.buffer(np.asarray(lines, dtype=object), distance_m, quad_segs=4)
    )


def polygon_quality(
    polys: list[Any],
    truths: list[Any],
    truth_lines: list[np.ndarray],
    *,
    delivered: list[Any] | None = None,
    project: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """Per budget: area km², false area km² (polygon outside the 500 m truth zone), share
    of reachable road length outside the polygon; and whether the contours nest.

    Nesting is checked where a client sees the polygons: in ``delivered`` (the engine's
    own output, e.g. WGS 84 GeoJSON) when given, the part of a smaller contour outside
    the larger one measured after ``project``; otherwise in ``polys`` (engines whose
    output is projected). Reprojecting two nested lon/lat polygons vertex by vertex need
    not keep them nested, so checking the reprojected copies would blame the check."""
    out: dict[str, Any] = {
        "area_km2": [],
        "false_area_km2": [],
        "false_share": [],
        "missed_road_share": [],
    }
    for poly, zone, lines in zip(polys, truths, truth_lines, strict=True):
        poly = shapely.make_valid(poly) if not poly.is_valid else poly  # noqa: PLW2901
        area = float(poly.area)
        false = float(shapely.difference(poly, zone).area) if area > 0 else 0.0
        out["area_km2"].append(area / 1e6)
        out["false_area_km2"].append(false / 1e6)
        out["false_share"].append(false / area if area > 0 else 0.0)
        total = float(sum(ln.length for ln in lines))
        if total > 0:
            ml = shapely.multilinestrings(list(lines))
            inside = float(shapely.intersection(ml, poly).length) if area > 0 else 0.0
            out["missed_road_share"].append(max(0.0, 1.0 - inside / total))
        else:
            out["missed_road_share"].append(0.0)
    nested = True
    worst = 0.0
    for k, (small, big) in enumerate(itertools.pairwise(polys)):
        if small.is_empty:
            continue
        if delivered is not None and project is not None:
            piece = shapely.difference(
                shapely.make_valid(delivered[k]), shapely.make_valid(delivered[k + 1])
            )
            outside = float(project(piece).area) if not piece.is_empty else 0.0
        else:
            outside = float(
                shapely.difference(shapely.make_valid(small), shapely.make_valid(big)).area
            )
        worst = max(worst, outside)
        if outside > 1e-6 * max(float(small.area), 1.0) + 1.0:  # > 1 m² beyond rounding
            nested = False
    out["nested"] = nested
    out["nesting_violation_km2"] = worst / 1e6
    return out
