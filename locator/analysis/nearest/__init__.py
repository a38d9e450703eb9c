"""Nearest stations by travel time: one index, three exact answer paths.

``targets`` (how stations are reached, shared steps), ``forest`` (k = 1, no search),
``tables`` (any k and filter, no search), ``bounded`` (one bounded search) and ``index``
(:class:`StationIndex`, which picks the path).
"""

from locator.analysis.nearest.index import StationIndex
from locator.analysis.nearest.targets import NearestResult, StationTargets

__all__ = ["NearestResult", "StationIndex", "StationTargets"]
