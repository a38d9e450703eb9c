"""Station rows in and out: CSV/GeoJSON row parsing and per-row validation problems.

Separated from :mod:`locator.stations.store` (the SQLite side). Every function here is pure: it
turns text or mappings into :class:`~locator.stations.Station` records or into
:class:`~locator.errors.RowProblem` entries naming the row, the field and the reason.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from locator.errors import RowProblem
from locator.stations.model import Service, Station, StationKind

CSV_COLUMNS = (
    "id",
    "kind",
    "name_zh",
    "name_en",
    "name_mn",
    "name_ru",
    "port_id",
    "lon",
    "lat",
    "services",
    "capacity_people",
    "area_m2",
    "opening_hours",
    "source",
    "location_accuracy_m",
    "location_approximate",
    "notes",
)
"""Documented CSV columns, in export order (``name_mn_mong`` may follow as an extra)."""
CSV_OPTIONAL_EXTRA = ("name_mn_mong",)
CSV_REQUIRED = ("id", "kind", "lon", "lat", "source", "location_accuracy_m")
_NAME_LANGS = ("zh", "en", "mn", "ru", "mn_mong")

_BAD_FIELD = "__bad_row__"
BAD_ROW: Mapping[str, Any] = {_BAD_FIELD: True}
"""Placeholder for a row that failed before validation (its problem is already listed)."""


def _field_name(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "record"


def _reason(err: Mapping[str, Any]) -> str:  # noqa: PLR0911 (one return per error type)
    kind = err.get("type", "")
    value = err.get("input")
    loc = err.get("loc", ())
    if kind == "missing":
        return "required field is missing"
    if kind == "finite_number":
        return f"{value!r} is not a finite number (NaN and infinity are rejected)"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        ctx = err.get("ctx", {})
        bound = next(iter(ctx.values())) if ctx else "?"
        op = {
            "greater_than_equal": ">=",
            "less_than_equal": "<=",
            "greater_than": ">",
            "less_than": "<",
        }[kind]
        return f"{value!r} is out of range (must be {op} {bound})"
    if kind == "enum" and loc and loc[0] == "kind":
        return f"unknown kind {value!r} (expected one of {', '.join(k.value for k in StationKind)})"
    if kind == "enum" and loc and loc[0] == "services":
        return f"unknown service {value!r} (expected one of {', '.join(s.value for s in Service)})"
    if kind in ("float_parsing", "float_type"):
        return f"{value!r} is not a number"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{value!r} is not a whole number"
    if kind in ("bool_parsing", "bool_type"):
        return f"{value!r} is not true/false"
    if kind == "string_pattern_mismatch":
        return f"{value!r} is not a valid id (lowercase letters, digits, '-' or '_', 1-64 chars)"
    if kind == "extra_forbidden":
        return "unknown field"
    msg = str(err.get("msg", "invalid value"))
    return msg.removeprefix("Value error, ")


def _normalise_names(raw: Mapping[str, Any]) -> dict[str, Any]:
    record = dict(raw)
    flat = {lang: record.pop(f"name_{lang}") for lang in _NAME_LANGS if f"name_{lang}" in record}
    if "name" not in record and flat:
        record["name"] = {k: v for k, v in flat.items() if v is not None}
    return record


def validate_one(number: int, raw: Any, problems: list[RowProblem]) -> Station | None:
    if not isinstance(raw, Mapping):
        problems.append(RowProblem(number, "record", "not an object"))
        return None
    if _BAD_FIELD in raw:
        return None
    record = _normalise_names(raw)
    try:
        return Station.model_validate(record)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = tuple(err.get("loc", ()))
            # enum errors inside lists report the index; keep it in the field name
            problems.append(RowProblem(number, _field_name(loc), _reason(err)))
        return None


def parse_csv_text(text: str) -> tuple[list[dict[str, Any]], list[int], list[RowProblem]]:
    """Parse station CSV text into record dicts, their line numbers and any problems.

    Header and row-shape problems are reported here; cell values are checked by
    :meth:`StationStore.validate_rows`.
    """
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        return [], [], [RowProblem(1, "header", "the file is empty; expected a header row")]
    except csv.Error as exc:
        return [], [], [RowProblem(1, "header", f"malformed CSV: {exc}")]
    header = [h.strip() for h in header]
    allowed = set(CSV_COLUMNS) | set(CSV_OPTIONAL_EXTRA)
    header_problems = []
    unknown = [h for h in header if h not in allowed]
    if unknown:
        header_problems.append(
            RowProblem(1, "header", f"unknown column(s) {unknown}; expected {list(CSV_COLUMNS)}")
        )
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        header_problems.append(RowProblem(1, "header", f"missing required column(s) {missing}"))
    if "name_zh" not in header and "name_en" not in header:
        header_problems.append(RowProblem(1, "header", "needs a name_zh or name_en column"))
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        header_problems.append(RowProblem(1, "header", f"duplicate column(s) {dupes}"))
    if header_problems:
        return [], [], header_problems
    records: list[dict[str, Any]] = []
    numbers: list[int] = []
    problems: list[RowProblem] = []
    start_line = 2
    try:
        for cells in reader:
            line = start_line
            start_line = reader.line_num + 1
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                problems.append(
                    RowProblem(line, "row", f"has {len(cells)} cells, header has {len(header)}")
                )
                records.append(dict(BAD_ROW))
                numbers.append(line)
                continue
            records.append(_csv_cells_to_record(dict(zip(header, cells, strict=True))))
            numbers.append(line)
    except csv.Error as exc:
        problems.append(RowProblem(reader.line_num, "row", f"malformed CSV: {exc}"))
    return records, numbers, problems


def _csv_cells_to_record(cells: Mapping[str, str]) -> dict[str, Any]:
    """Cells to a record dict; values stay strings for pydantic to parse and report."""
    record: dict[str, Any] = {}
    name: dict[str, str] = {}
    for key, raw in cells.items():
        value = raw.strip()
        if key.startswith("name_"):
            if value:
                name[key.removeprefix("name_")] = value
        elif value == "":
            continue  # missing: reported if required, default otherwise
        elif key == "services":
            record[key] = [s.strip() for s in value.split(";") if s.strip()]
        else:
            record[key] = value
    if name:
        record["name"] = name
    return record


def station_to_csv_row(st: Station) -> list[str]:
    """One CSV row in :data:`CSV_COLUMNS` order (+ ``name_mn_mong``)."""

    def fmt(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return repr(v)
        return str(v)

    values = {
        "id": st.id,
        "kind": st.kind.value,
        "name_zh": st.name.zh,
        "name_en": st.name.en,
        "name_mn": st.name.mn,
        "name_ru": st.name.ru,
        "port_id": st.port_id,
        "lon": st.lon,
        "lat": st.lat,
        "services": ";".join(s.value for s in st.services),
        "capacity_people": st.capacity_people,
        "area_m2": st.area_m2,
        "opening_hours": st.opening_hours,
        "source": st.source,
        "location_accuracy_m": st.location_accuracy_m,
        "location_approximate": st.location_approximate,
        "notes": st.notes,
        "name_mn_mong": st.name.mn_mong,
    }
    return [fmt(values[c]) for c in (*CSV_COLUMNS, *CSV_OPTIONAL_EXTRA)]
