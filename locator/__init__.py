"""Station locator domain: loads a built artifact and answers questions.

The public surface is here (and in ``locator.errors``, ``locator.stations``,
``locator.config`` and ``locator.arguments``)::

    from locator import Locator
    loc = Locator.open("artifacts/regional")
    loc.nearest(111.98, 43.65, kind="driver_station")

Nothing here imports a web framework or reads raw OpenStreetMap data. Layers, lowest
first: ``network`` (the road graph), ``stations`` (records, store, catalogue),
``analysis`` (routing, nearest, circles, coverage, siting, regions), ``artifact``
(loading and the station-dependent state) and ``service`` (the :class:`Locator` facade).
"""

from locator import errors
from locator.analysis.coverage import CoverageReport, DemandResult, RegionCoverage
from locator.analysis.isochrones import Contour
from locator.analysis.nearest.offline import OfflineNearest
from locator.analysis.regions import AdminUnit, AdminUnits
from locator.analysis.routing import Route, Step
from locator.analysis.siting import SiteSuggestion, SitingResult
from locator.analysis.trips import RestGap, RestPlan, RestRule, RestStop, Trip, TripStation
from locator.config import COORD_DECIMALS, DEFAULT_MINUTES, Settings
from locator.network.projection import METRES_PER_DEGREE
from locator.network.snapping import Snap
from locator.service import DATUMS, Locator, NearestAnswer
from locator.stations import LocalizedName, Port, Service, Station, StationKind

__version__ = "0.2.0"

__all__ = [
    "COORD_DECIMALS",
    "DATUMS",
    "DEFAULT_MINUTES",
    "METRES_PER_DEGREE",
    "AdminUnit",
    "AdminUnits",
    "Contour",
    "CoverageReport",
    "DemandResult",
    "LocalizedName",
    "Locator",
    "NearestAnswer",
    "OfflineNearest",
    "Port",
    "RegionCoverage",
    "RestGap",
    "RestPlan",
    "RestRule",
    "RestStop",
    "Route",
    "Service",
    "Settings",
    "SiteSuggestion",
    "SitingResult",
    "Snap",
    "Station",
    "StationKind",
    "Step",
    "Trip",
    "TripStation",
    "__version__",
    "errors",
]
