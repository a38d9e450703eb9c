"""Domain errors.

Every error raised on purpose by the locator derives from :class:`LocatorError` and
carries a stable machine-readable ``code`` that the API turns into an
``application/problem+json`` response. Each also inherits the closest builtin so callers
that do not know our hierarchy still catch it sensibly.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from typing import Any

#: What reading a damaged artifact file raises (numpy, json, zip): loaders turn these
#: into :class:`ArtifactError` with the file's name.
UNREADABLE: tuple[type[Exception], ...] = (
    OSError,
    ValueError,
    KeyError,
    EOFError,
    zipfile.BadZipFile,
)


class LocatorError(Exception):
    """Base class of all locator errors."""

    code: str = "locator_error"
    http_status: int = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidCoordinateError(LocatorError, ValueError):
    """A coordinate is NaN, infinite or outside the WGS 84 range."""

    code = "invalid_coordinate"
    http_status = 422


class OutsideServiceAreaError(LocatorError, ValueError):
    """A point lies outside the area covered by the loaded network."""

    code = "outside_service_area"
    http_status = 422


class SnapError(LocatorError, ValueError):
    """No road lies within the snap radius of a point."""

    code = "no_road_nearby"
    http_status = 422


class NoRouteError(LocatorError):
    """No path exists (disconnected components, one-way traps, filters too strict)."""

    code = "no_route"
    http_status = 404


class NoRestPlanError(NoRouteError):
    """No sequence of stops keeps every driving leg within the rule's limit.

    ``plan`` is the best partial plan (the legs up to the last legal stop, or none) and
    ``gap`` the stretch of the direct route without a usable station (times from the
    origin and that piece of the route); ``details`` repeats both as plain values.
    """

    code = "no_rest_plan"
    http_status = 422

    def __init__(self, message: str, *, plan: Any = None, gap: Any = None, **details: Any):
        super().__init__(message, **details)
        self.plan = plan
        self.gap = gap


class StationNotFoundError(LocatorError, LookupError):
    """An unknown station id."""

    code = "station_not_found"
    http_status = 404


class StationExistsError(LocatorError, ValueError):
    """A new station's id is already taken."""

    code = "station_exists"
    http_status = 409


class PreconditionFailedError(LocatorError):
    """A write named a station version (``If-Match``) that is no longer current."""

    code = "precondition_failed"
    http_status = 412


class StoreUnavailableError(LocatorError, OSError):
    """The station store cannot take writes now (read-only file, full disk, locked)."""

    code = "store_unavailable"
    http_status = 503


class PortNotFoundError(LocatorError, LookupError):
    """An unknown port id."""

    code = "port_not_found"
    http_status = 404


class RegionNotFoundError(LocatorError, LookupError):
    """An unknown administrative code."""

    code = "region_not_found"
    http_status = 404


class RequestTooLargeError(LocatorError, ValueError):
    """A request exceeds a configured service limit."""

    code = "request_too_large"
    http_status = 413


class ArtifactError(LocatorError, OSError):
    """An artifact directory is missing, incomplete, corrupt or of another version."""

    code = "artifact_error"
    http_status = 500


class OpeningHoursError(LocatorError, ValueError):
    """An opening-hours expression that cannot be parsed."""

    code = "invalid_opening_hours"
    http_status = 422


@dataclass(frozen=True)
class RowProblem:
    """One problem with one input row (CSV line or GeoJSON feature index)."""

    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.reason}"


class StationValidationError(LocatorError, ValueError):
    """One or more input rows are invalid; nothing was written."""

    code = "invalid_stations"
    http_status = 422

    def __init__(self, problems: list[RowProblem], *, what: str = "input") -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(
            f"{len(problems)} problem(s) in {what}; nothing was written:\n{lines}{more}",
            problems=[p.__dict__ for p in problems],
        )


class InvalidParameterError(LocatorError, ValueError):
    """A query parameter is outside what the service accepts (unknown mode, kind, ...)."""

    code = "invalid_parameter"
    http_status = 422
