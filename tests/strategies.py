"""Hypothesis strategies shared by the test files (one definition each)."""

from __future__ import annotations

from collections.abc import Sequence

from gridfactory import grid_pairs, make_grid
from hypothesis import strategies as st

from locator.network.graph import RoadGraph

#: How a grid road is drawn: two-way, one-way either way, or missing.
ROAD_FLAGS = ("two", "fwd", "back", "gone")


@st.composite
def flagged_grids(
    draw: st.DrawFn,
    *,
    max_side: int = 5,
    spacings_m: Sequence[float] = (1000.0,),
    flags: Sequence[str] = ROAD_FLAGS,
    walk: bool = True,
) -> RoadGraph:
    """A small grid whose every road is drawn two-way, one-way or missing (at least one
    road stays). ``flags`` weights the draw (repeat ``"two"`` for more two-way roads)."""
    rows = draw(st.integers(2, max_side))
    cols = draw(st.integers(2, max_side))
    pairs = grid_pairs(rows, cols)
    drawn = draw(st.lists(st.sampled_from(list(flags)), min_size=len(pairs), max_size=len(pairs)))
    oneway = [
        p if f == "fwd" else (p[1], p[0])
        for p, f in zip(pairs, drawn, strict=True)
        if f in ("fwd", "back")
    ]
    missing = [p for p, f in zip(pairs, drawn, strict=True) if f == "gone"]
    if len(missing) == len(pairs):
        missing = missing[1:]
    spacing = draw(st.sampled_from(list(spacings_m)))
    return make_grid(rows, cols, spacing_m=spacing, oneway=oneway, missing=missing, walk=walk)
