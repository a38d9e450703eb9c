"""Artifacts: the manifest, the prepared structures, the one loader, and the
station-dependent state that evolves with edits."""
