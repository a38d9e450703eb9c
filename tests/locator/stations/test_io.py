"""Station rows in and out (pure functions, no store): CSV parsing, problems, round trips."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import station_records

from locator.errors import RowProblem
from locator.stations import Station
from locator.stations.io import (
    CSV_COLUMNS,
    CSV_OPTIONAL_EXTRA,
    parse_csv_text,
    station_to_csv_row,
    validate_one,
)


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue()


@settings(max_examples=60, deadline=None)
@given(records=st.lists(station_records, min_size=1, max_size=6, unique_by=lambda r: r["id"]))
def test_csv_rows_round_trip(records) -> None:
    stations = [Station.model_validate(r) for r in records]
    text = _csv([[*CSV_COLUMNS, *CSV_OPTIONAL_EXTRA], *(station_to_csv_row(s) for s in stations)])
    rows, numbers, problems = parse_csv_text(text)
    assert problems == []
    assert len(rows) == len(stations)
    assert numbers == sorted(numbers) and numbers[0] == 2  # line numbers, header = line 1
    found: list[RowProblem] = []
    back = [validate_one(n, r, found) for n, r in zip(numbers, rows, strict=True)]
    assert found == []
    assert back == stations


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ([], "empty"),
        (["id", "kind", "lon", "lat", "source", "location_accuracy_m"], "name_zh or name_en"),
        (["id", "kind", "name_en", "lat", "source", "location_accuracy_m"], "missing"),
        (["id", "kind", "name_en", "lon", "lat", "source", "location_accuracy_m", "x"], "unknown"),
        (["id", "id", "kind", "name_en", "lon", "lat", "source", "location_accuracy_m"], "dupl"),
    ],
)
def test_header_problems(header, fragment) -> None:
    rows, numbers, problems = parse_csv_text(_csv([header]) if header else "")
    assert rows == [] and numbers == []
    assert problems and all(p.row == 1 and p.field == "header" for p in problems)
    assert any(fragment in p.reason for p in problems)


def test_row_problems_name_the_line_and_the_field() -> None:
    header = ["id", "kind", "name_en", "lon", "lat", "services", "source", "location_accuracy_m"]
    text = _csv(
        [
            header,
            ["ok-1", "worker_home", "One", "111.9", "43.6", "rest;toilet", "s", "10"],
            ["short", "worker_home"],
            ["multi", "worker_home", "Two\nlines", "111.9", "43.6", "", "s", "10"],
            ["bad", "hotel", "Three", "nan", "43.6", "rest;sauna", "s", "-1"],
        ]
    )
    rows, numbers, problems = parse_csv_text(text)
    assert [p.row for p in problems] == [3]  # the short row, by its line number
    assert numbers == [2, 3, 4, 6]  # the quoted two-line cell takes lines 4 and 5
    found: list[RowProblem] = []
    out = [validate_one(n, r, found) for n, r in zip(numbers, rows, strict=True)]
    assert out[0] is not None and out[2] is not None and out[2].name.en == "Two\nlines"
    assert out[1] is None and out[3] is None
    fields = {(p.row, p.field) for p in found}
    assert {(6, "kind"), (6, "lon"), (6, "services[1]"), (6, "location_accuracy_m")} <= fields
    assert all(p.row == 6 for p in found)  # the short row was reported once, by the parser
    assert any("sauna" in p.reason for p in found)
    assert validate_one(9, "not a mapping", found) is None
    assert found[-1] == RowProblem(9, "record", "not an object")
