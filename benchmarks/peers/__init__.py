"""Side-by-side benchmark harness: our engine against OSRM, Valhalla, pgRouting, Pandana,
OSMnx + NetworkX and spopt (issue 5). Entry point: ``benchmarks/run_all.py``."""
