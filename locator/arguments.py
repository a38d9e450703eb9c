"""Arguments of the public API: one parser and one check per kind of argument.

Everything a caller hands to :class:`~locator.Locator` (Python) or to the HTTP API and
the CLI (text) passes through here, so a bad value gets the same clear
:mod:`locator.errors` error, naming the argument, whichever door it came in by (enum
arguments such as a station kind go through :func:`check_enum` with their enum). The
module depends on nothing but the errors and the configuration, so every layer may use
it:

- ``check_*`` take Python values (the ``Locator`` methods call them);
- ``parse_*`` take text (query strings, CLI options) and hand the values to the checks.

Invalid values raise :class:`~locator.errors.InvalidParameterError` or
:class:`~locator.errors.InvalidCoordinateError` (HTTP 422); values that are valid but
above a configured service limit raise :class:`~locator.errors.RequestTooLargeError`
(HTTP 413).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from locator.config import CHINA_STANDARD_TIME
from locator.errors import InvalidCoordinateError, InvalidParameterError, RequestTooLargeError

E = TypeVar("E", bound=StrEnum)

BBox = tuple[float, float, float, float]


def _is_number(value: Any) -> bool:
    """A real number that is not a bool (``True`` is an ``int`` to Python)."""
    if type(value) is float:  # the common case first: the ABC check costs a microsecond
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def format_minutes(seconds: float) -> str:
    """A travel-time bound for messages: ``"240 min"``, ``"7.5 min"``."""
    return f"{seconds / 60.0:.4g} min"


# ---------------------------------------------------------------------- coordinates
def check_lonlat(lon: Any, lat: Any, *, name: str = "lon/lat") -> tuple[float, float]:
    """A WGS 84 ``(lon, lat)`` as floats.

    Raises
    ------
    InvalidCoordinateError
        Not numbers, not finite, or outside lon -180..180, lat -90..90.
    """
    if not (_is_number(lon) and _is_number(lat)):
        raise InvalidCoordinateError(
            f"{name} must be two numbers (lon, lat) in degrees, got ({lon!r}, {lat!r})",
            parameter=name,
        )
    x, y = float(lon), float(lat)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise InvalidCoordinateError(
            f"{name} ({x}, {y}) is not a finite number", parameter=name, lon=x, lat=y
        )
    if not (-180.0 <= x <= 180.0 and -90.0 <= y <= 90.0):
        raise InvalidCoordinateError(
            f"{name} ({x}, {y}) is outside the WGS 84 range "
            "(lon -180..180, lat -90..90; order is lon, lat)",
            parameter=name,
            lon=x,
            lat=y,
        )
    return x, y


def check_point(value: Any, *, name: str) -> tuple[float, float]:
    """A ``(lon, lat)`` pair given as one sequence of two numbers."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != 2:
        raise InvalidCoordinateError(
            f"{name} must be a (lon, lat) pair, got {value!r:.60}", parameter=name
        )
    return check_lonlat(value[0], value[1], name=name)


def parse_lonlat(text: str, *, name: str) -> tuple[float, float]:
    """``"lon,lat"`` in degrees -> floats (range-checked).

    Raises
    ------
    InvalidCoordinateError
        Not two numbers, not finite or out of range.
    """
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        lon, lat = float(parts[0]), float(parts[1])
    except ValueError:
        raise InvalidCoordinateError(
            f"{name} must be 'lon,lat' in degrees, got {text[:60]!r}", parameter=name
        ) from None
    return check_lonlat(lon, lat, name=name)


def check_bbox(value: Any, *, name: str = "bbox") -> BBox:
    """``(min_lon, min_lat, max_lon, max_lat)`` in WGS 84 with min < max.

    Raises
    ------
    InvalidCoordinateError
        Not four finite numbers in range, or a min not below its max.
    """
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != 4:
        raise InvalidCoordinateError(
            f"{name} must be (min_lon, min_lat, max_lon, max_lat), got {value!r:.80}",
            parameter=name,
        )
    a, b = check_lonlat(value[0], value[1], name=name)
    c, d = check_lonlat(value[2], value[3], name=name)
    if not (a < c and b < d):
        raise InvalidCoordinateError(
            f"{name} must be min_lon,min_lat,max_lon,max_lat with min < max", parameter=name
        )
    return a, b, c, d


def split_bbox(text: str, *, name: str = "bbox") -> tuple[float, float, float, float]:
    """``"a,b,c,d"`` -> four floats, unchecked (for callers that convert a datum first)."""
    parts = text.split(",")
    try:
        if len(parts) != 4:
            raise ValueError
        a, b, c, d = (float(p) for p in parts)
    except ValueError:
        raise InvalidCoordinateError(
            f"{name} must be minLon,minLat,maxLon,maxLat, got {text[:80]!r}", parameter=name
        ) from None
    return a, b, c, d


def parse_bbox(text: str, *, name: str = "bbox") -> BBox:
    """``"minLon,minLat,maxLon,maxLat"`` (WGS 84) -> a checked bbox."""
    return check_bbox(split_bbox(text, name=name), name=name)


# ---------------------------------------------------------------------- numbers
def check_positive(value: Any, name: str) -> float:
    """A finite number > 0."""
    if not _is_number(value) or not (math.isfinite(float(value)) and float(value) > 0):
        raise InvalidParameterError(
            f"{name} must be a positive finite number, got {value!r:.40}", parameter=name
        )
    return float(value)


def check_k(k: Any, max_k: int, *, name: str = "k") -> int:
    """How many results: a whole number from 1 to ``max_k``.

    Raises
    ------
    InvalidParameterError
        Not a whole number, or below 1.
    RequestTooLargeError
        Above the configured ``max_k``.
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise InvalidParameterError(f"{name} must be a whole number, got {k!r:.40}", parameter=name)
    value = int(k)
    if value < 1:
        raise InvalidParameterError(f"{name} must be at least 1, got {value}", parameter=name)
    if value > max_k:
        raise RequestTooLargeError(
            f"{name} must be at most {max_k} (service limit)", parameter=name, max_k=max_k
        )
    return value


def check_max_time(value: Any, *, name: str = "max_time_s") -> float | None:
    """An optional travel-time bound in seconds (``None``: no bound)."""
    if value is None:
        return None
    return check_positive(value, name)


def check_minutes(
    minutes: Any, *, max_minutes: float, max_contours: int, name: str = "minutes"
) -> list[float]:
    """Travel-time budgets in minutes: a non-empty sequence, sorted and unique on return.

    Raises
    ------
    InvalidParameterError
        Not a sequence of numbers, empty, or a value that is not a positive finite number.
    RequestTooLargeError
        More than ``max_contours`` budgets, or one above ``max_minutes``.
    """
    if isinstance(minutes, str | bytes) or not isinstance(minutes, Iterable):
        raise InvalidParameterError(
            f"{name} must be a list of numbers such as [5, 10, 15], got {minutes!r:.40}",
            parameter=name,
        )
    values = list(minutes)
    for m in values:
        if not _is_number(m) or not math.isfinite(float(m)) or float(m) <= 0:
            raise InvalidParameterError(
                f"{name} must be positive finite numbers, got {m!r:.40}", parameter=name
            )
    mins = sorted({float(m) for m in values})
    if not mins:
        raise InvalidParameterError(f"give at least one value in {name}", parameter=name)
    if len(mins) > max_contours:
        raise RequestTooLargeError(
            f"at most {max_contours} values in {name} (service limit)",
            parameter=name,
            max_contours=max_contours,
        )
    if mins[-1] > max_minutes:
        raise RequestTooLargeError(
            f"{name} must be at most {max_minutes:g} (service limit)",
            parameter=name,
            max_minutes=max_minutes,
        )
    return mins


def check_one_minutes(value: Any, *, max_minutes: float, name: str = "minutes") -> float:
    """One travel-time budget in minutes (see :func:`check_minutes`)."""
    if isinstance(value, str | bytes) or not _is_number(value):
        raise InvalidParameterError(f"{name} must be a number, got {value!r:.40}", parameter=name)
    (m,) = check_minutes([value], max_minutes=max_minutes, max_contours=1, name=name)
    return m


def parse_minutes(text: str, *, name: str = "minutes") -> list[float]:
    """``"5,10,15"`` -> floats (checked against the limits by :func:`check_minutes`).

    Raises
    ------
    InvalidParameterError
        A value that is not a number.
    """
    out: list[float] = []
    for raw in text.split(","):
        if not raw.strip():
            continue
        try:
            out.append(float(raw))
        except ValueError:
            raise InvalidParameterError(
                f"{name} must be comma-separated numbers, got {raw.strip()[:20]!r}",
                parameter=name,
            ) from None
    return out


#: Largest weight of one demand point (a day's trucks at the busiest crossing is ~1e4):
#: sums of at most ``max_points`` weights stay exact in a double.
MAX_DEMAND_WEIGHT = 1e9


def check_demand(
    points: Any, *, max_points: int, name: str = "demand"
) -> list[tuple[float, float, float]]:
    """Weighted demand points: a list of ``(lon, lat, weight)``, weight from 0 to
    :data:`MAX_DEMAND_WEIGHT`.

    Raises
    ------
    InvalidParameterError
        Not such a list, or a bad weight.
    InvalidCoordinateError
        A bad coordinate.
    RequestTooLargeError
        More than ``max_points`` points.
    """
    if isinstance(points, str | bytes) or not isinstance(points, Sequence):
        raise InvalidParameterError(f"{name} must be a list of (lon, lat, weight)", parameter=name)
    if len(points) > max_points:
        raise RequestTooLargeError(
            f"at most {max_points} {name} points per request (service limit)",
            parameter=name,
            max_points=max_points,
        )
    out = []
    for item in points:
        if isinstance(item, str | bytes) or not isinstance(item, Sequence) or len(item) != 3:
            raise InvalidParameterError(
                f"each {name} point must be (lon, lat, weight)", parameter=name
            )
        lon, lat = check_lonlat(item[0], item[1], name=name)
        weight = item[2]
        if not _is_number(weight) or not (0 <= float(weight) <= MAX_DEMAND_WEIGHT):
            raise InvalidParameterError(
                f"{name} weight must be a number from 0 to {MAX_DEMAND_WEIGHT:g}, "
                f"got {weight!r:.40}",
                parameter=name,
            )
        out.append((lon, lat, float(weight)))
    return out


# ---------------------------------------------------------------------- choices
def check_choice(value: Any, allowed: Sequence[str], *, name: str) -> str:
    """One of ``allowed`` (exact string)."""
    if not isinstance(value, str) or value not in allowed:
        raise InvalidParameterError(
            f"{name} must be one of {', '.join(allowed)}; got {value!r:.40}", parameter=name
        )
    return value


def check_enum(value: Any, enum: type[E], *, name: str) -> E:
    """A member of ``enum`` given as itself or by its value."""
    try:
        return enum(value)
    except (ValueError, TypeError):
        allowed = ", ".join(e.value for e in enum)
        raise InvalidParameterError(
            f"unknown {name} {value!r:.40}; use one of {allowed}", parameter=name
        ) from None


def check_enum_list(values: Any, enum: type[E], *, name: str) -> list[E]:
    """A sequence of ``enum`` members (unique, in the given order)."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidParameterError(
            f"{name} must be a list such as [{next(iter(enum)).value!r}], not {values!r:.40}",
            parameter=name,
        )
    out: list[E] = []
    for v in values:
        item = check_enum(v, enum, name=name)
        if item not in out:
            out.append(item)
    return out


def parse_enum_list(text: str | None, enum: type[E], *, name: str) -> list[E]:
    """Comma-separated enum values (empty or ``None`` -> ``[]``)."""
    if not text:
        return []
    return check_enum_list([v.strip() for v in text.split(",") if v.strip()], enum, name=name)


# ---------------------------------------------------------------------- instants
def check_instant(value: Any, *, name: str = "open_at") -> datetime | None:
    """An instant as China Standard Time (a naive datetime is taken as CST).

    Raises
    ------
    InvalidParameterError
        Not a ``datetime``, or one that cannot be represented after conversion.
    """
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidParameterError(
            f"{name} must be a datetime (naive = China Standard Time), got {value!r:.40}",
            parameter=name,
        )
    try:
        if value.tzinfo is None:
            return value.replace(tzinfo=CHINA_STANDARD_TIME)
        return value.astimezone(UTC).astimezone(CHINA_STANDARD_TIME)
    except (OverflowError, ValueError):
        raise InvalidParameterError(
            f"{name} is out of the supported range", parameter=name
        ) from None


def check_text(value: Any, *, name: str, max_length: int = 200) -> str:
    """A non-empty string of at most ``max_length`` characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise InvalidParameterError(
            f"{name} must be a non-empty string of at most {max_length} characters",
            parameter=name,
        )
    return value.strip()
