"""Thin HTTP layer (FastAPI) over :mod:`locator`."""
