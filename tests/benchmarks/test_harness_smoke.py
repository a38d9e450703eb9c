"""Smoke run of the peer benchmark harness (benchmarks/run_all.py) so it cannot rot.

A 12 x 12 synthetic grid, one repetition, only the in-process engines of the test extras
(ours, OSMnx + NetworkX, Pandana, spopt): no OSRM, Valhalla or PostgreSQL. Speed is not
asserted (tests assert correctness; the harness reports speed). What is asserted is what
the harness itself claims: identical weights give identical node times across engines,
every timed task produced samples, the greedy site objective lies between the greedy
guarantee and spopt's exact optimum, and the report files are written.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks import run_all

ENGINES = {"ours", "networkx", "pandana", "spopt"}


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("peers")
    result = run_all.run(["grid"], ENGINES, "smoke", out, seed=3, do_setup=False)
    result["_out"] = out
    return result


def test_every_engine_ran_every_task(summary: dict) -> None:
    rec = summary["networks"]["grid"]
    assert rec.get("errors", {}) == {}
    assert rec["unavailable"] == {}
    for task, engines in {
        "nearest_k1": {
            "ours",
            "osmnx+networkx",
            "networkx (kd-tree + multi-source)",
            "pandana nearest_pois",
            "pandana 1xS CH",
        },
        "nearest_k3": {"ours", "osmnx+networkx", "pandana nearest_pois"},
        "route": {"ours"},
        "circles": {"ours", "osmnx ego_graph+hull"},
        "coverage": {"ours", "networkx", "pandana"},
        "coverage_all": {"ours", "networkx", "pandana"},
    }.items():
        assert engines <= set(rec[task]), (task, set(rec[task]))
        for eng in engines:
            assert rec[task][eng]["n"] >= 1
            assert rec[task][eng]["median_ms"] > 0
    assert set(rec["build"]) >= {"ours", "networkx", "pandana"}


def test_identical_weights_give_identical_node_times(summary: dict) -> None:
    agreement = summary["networks"]["grid"]["agreement"]
    for kind in ("coverage_15min_node_times", "coverage_all_node_times"):
        nx_row = agreement[kind]["networkx"]
        pd_row = agreement[kind]["pandana"]
        assert nx_row["nodes_compared"] > 0
        assert nx_row["nodes_reached_by_one_only"] == 0
        assert nx_row["max_abs_diff_s"] == pytest.approx(0.0, abs=1e-6)
        assert pd_row["nodes_reached_by_one_only"] == 0
        assert pd_row["nodes_compared"] == nx_row["nodes_compared"]
        # pandana stores weights in single precision
        assert pd_row["max_abs_diff_s"] < 0.05


def test_site_objective_between_greedy_bound_and_optimum(summary: dict) -> None:
    siting = summary["networks"]["grid"]["siting"]
    ours = siting["ours"]["objective"]
    optimum = siting["spopt MCLP (CBC)"]["objective"]
    assert siting["spopt MCLP (CBC)"]["status"] == "Optimal"
    assert ours <= optimum * (1 + 1e-9) + 1e-6
    assert ours >= (1 - 1 / math.e) * optimum - 1e-6


def test_our_circles_nest_and_have_no_false_area(summary: dict) -> None:
    quality = summary["networks"]["grid"]["circle_quality"]["ours"]
    assert quality["nested_all"]
    assert all(v == pytest.approx(0.0, abs=1e-9) for v in quality["false_area_km2_median"].values())


def test_reports_written(summary: dict) -> None:
    out: Path = summary["_out"]
    data = json.loads((out / "peers_summary.json").read_text())
    assert data["networks"]["grid"]["network"]["nodes"] == 144
    table = (out / "peers_tables.md").read_text()
    assert "### grid" in table and "| ours |" in table
    assert (out / "peers_query_time.png").stat().st_size > 1000
