"""The warm-up compiles every kernel a request uses, for the arrays requests pass: no
request after ``Locator.warm()`` adds a compiled signature (a compile on a request path
costs seconds, and in each forked worker)."""

from __future__ import annotations

from pathlib import Path

from locator import Locator, Settings
from locator.analysis import routing
from locator.analysis.nearest import forest
from locator.analysis.nearest.bounded import bounded_search
from locator.network import multitarget, p2p, reach, snapping


def _signatures() -> dict[str, int]:
    kernels = {
        "snap": snapping._grid_nearest,
        "polyline": routing._polyline,
        "walk": forest.walk_to_root,
        "minus": reach._difference,
        "alt": p2p._alt_kernel,
        "bidirectional": p2p._bidirectional_kernel,
        "nearest_targets": multitarget._nearest_kernel,
    }
    return {name: len(k.signatures) for name, k in kernels.items()}


def test_requests_after_the_warm_up_compile_nothing(regional_artifact: Path) -> None:
    loc = Locator.open(regional_artifact, Settings(artifact_dir=regional_artifact))
    try:
        loc.warm()
        warmed = _signatures()
        assert all(warmed.values()), warmed
        st = loc.stations(kind="driver_station")[0]
        loc.nearest(st.lon + 0.01, st.lat + 0.01)  # forest walk, polyline, border sides
        loc.nearest(st.lon + 0.01, st.lat + 0.01, k=3)
        # the search that answers k-nearest where no table fits (the world graph)
        index = next(iter(loc._state.indexes.values()))
        assert bounded_search(index.targets, loc.snap(st.lon + 0.01, st.lat + 0.01), k=3)
        loc.route((st.lon + 0.01, st.lat + 0.01), st.id)  # ALT
        loc.isochrones(lon=st.lon + 0.01, lat=st.lat + 0.01, minutes=(5, 10))  # stepped
        assert _signatures() == warmed
    finally:
        loc.close()
