"""The in-memory catalogue: one filter, immutable versions, a fingerprint of what
precomputed structures depend on."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import lats, lons, station_records

from locator.errors import StationNotFoundError
from locator.stations import (
    CHINA_STANDARD_TIME,
    Catalogue,
    Service,
    Station,
    StationFilter,
    StationKind,
)

filters = st.builds(
    StationFilter,
    kind=st.none() | st.sampled_from(list(StationKind)),
    services=st.lists(st.sampled_from(list(Service)), max_size=3, unique=True).map(tuple),
    open_at=st.none()
    | st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1)).map(
        lambda d: d.replace(tzinfo=CHINA_STANDARD_TIME)
    ),
    bbox=st.none()
    | st.tuples(lons, lats, lons, lats).map(
        lambda b: (min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3]))
    ),
    port=st.none() | st.sampled_from(["ceke", "erenhot"]),
)


@settings(max_examples=100, deadline=None)
@given(
    records=st.lists(station_records, max_size=12, unique_by=lambda r: r["id"]),
    where=filters,
)
def test_select_is_the_brute_force_filter(records, where) -> None:
    stations = [Station.model_validate(r) for r in records]
    cat = Catalogue(stations)
    expected = sorted(
        (
            s
            for s in stations
            if (where.kind is None or s.kind == where.kind)
            and set(where.services) <= set(s.services)
            and (where.port is None or s.port_id == where.port)
            and (
                where.bbox is None
                or (
                    where.bbox[0] <= s.lon <= where.bbox[2]
                    and where.bbox[1] <= s.lat <= where.bbox[3]
                )
            )
            and (where.open_at is None or s.hours.is_open(where.open_at))
        ),
        key=lambda s: s.id,
    )
    assert cat.select(where) == expected
    ids = [s.id for s in stations] + [None, "missing"]
    mask = cat.mask(ids, where)
    assert [i for i, m in zip(ids, mask, strict=True) if m] == [
        s.id for s in stations if s in expected
    ]
    assert where.by_kind_only == (
        not where.services and where.open_at is None and where.bbox is None and not where.port
    )


@settings(max_examples=40, deadline=None)
@given(records=st.lists(station_records, min_size=2, max_size=8, unique_by=lambda r: r["id"]))
def test_versions_are_immutable_and_fingerprinted(records) -> None:
    stations = [Station.model_validate(r) for r in records]
    cat = Catalogue(stations)
    assert [s.id for s in cat] == sorted(s.id for s in stations)
    first = stations[0]
    gone = cat.without(first.id)
    assert first.id in cat and first.id not in gone and len(gone) == len(cat) - 1
    with pytest.raises(StationNotFoundError):
        gone.get(first.id)
    noted = cat.with_station(first.model_copy(update={"notes": "changed"}))
    assert noted.get(first.id).notes == "changed" and cat.get(first.id).notes != "changed"
    # the fingerprint follows id, kind and position only
    assert noted.fingerprint == cat.fingerprint
    moved = cat.with_station(first.model_copy(update={"lat": first.lat + 0.001}))
    assert moved.fingerprint != cat.fingerprint
    assert gone.fingerprint != cat.fingerprint
    assert Catalogue(reversed(stations)).fingerprint == cat.fingerprint
