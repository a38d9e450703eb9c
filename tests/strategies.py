"""Hypothesis strategies shared by the test files (one definition each)."""

from __future__ import annotations

from collections.abc import Sequence

from gridfactory import grid_pairs, make_grid
from hypothesis import strategies as st

from locator.network.graph import RoadGraph
from locator.stations import Service, StationKind

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


# ---------------------------------------------------------------------- stations
lons = st.floats(min_value=97.0, max_value=126.0, allow_nan=False)
lats = st.floats(min_value=37.0, max_value=53.0, allow_nan=False)

names_st = st.fixed_dictionaries(
    {
        "zh": st.text(
            st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=8
        ).map(lambda s: "名" + s.strip())
    },
    optional={
        "en": st.text(
            st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=12
        ).map(lambda s: "N" + s.strip()),
        "mn": st.just('Эрээн, "хот"'),
        "ru": st.just("Эрэн-Хото;\nстанция"),
    },
)
station_records = st.builds(
    lambda i, kind, name, lon, lat, services, cap, area, hours, acc, approx, notes: {
        "id": f"s-{i}",
        "kind": kind,
        "name": name,
        "port_id": None if i % 3 == 0 else "ceke",
        "lon": lon,
        "lat": lat,
        "services": services,
        "capacity_people": cap,
        "area_m2": area,
        "opening_hours": hours,
        "source": "round trip",
        "location_accuracy_m": acc,
        "location_approximate": approx,
        "notes": notes,
    },
    st.integers(0, 10_000),
    st.sampled_from([k.value for k in StationKind]),
    names_st,
    lons,
    lats,
    st.lists(st.sampled_from([s.value for s in Service]), unique=True),
    st.none() | st.integers(0, 5000),
    st.none() | st.floats(min_value=0.5, max_value=1e5),
    st.sampled_from(["24/7", "Mo-Fr 08:00-18:00; Sa,Su off", "Mo-Su 22:00-06:00"]),
    st.floats(min_value=0.1, max_value=1e5),
    st.booleans(),
    st.none() | st.just("line one\nline two, with comma"),
)
