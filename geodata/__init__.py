"""Reads the outside world (packaged datasets, OSM extracts, station files) and builds artifacts."""
