"""The road network and everything that needs only the network.

``graph`` (the arrays and their persistence), ``projection`` and ``datum`` (coordinate
systems), ``geometry`` (edge polylines, twins, canonical roads, fractions along edges),
``modegraph`` (per-mode search graphs), ``search`` (Dijkstra and how points join the
network), ``snapping`` (the nearest road to a point) and ``reach`` (partially reached
roads within a time budget). Nothing here knows about stations.
"""
