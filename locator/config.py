"""Service configuration (pydantic-settings).

Build a :class:`Settings` where the application starts (``create_app``, the CLI) and pass
it down; nothing reads the environment at import time. Every field can be set through an
environment variable with the ``LOCATOR_`` prefix, e.g. ``LOCATOR_ARTIFACT_DIR``.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The service-circle intervals of the report (5/10/15 minutes): precomputed for every
#: station at build time and the default of every circle query.
DEFAULT_MINUTES: tuple[float, ...] = (5.0, 10.0, 15.0)

#: Default detour limit of trip queries (seconds) and how many stations they return.
DEFAULT_DETOUR_S = 15 * 60.0
DEFAULT_TRIP_STATIONS = 20

#: Decimals of a degree in WGS 84 output coordinates (6 decimals: about 0.1 m).
COORD_DECIMALS = 6

#: China Standard Time (UTC+8, no daylight saving): every border port of Inner Mongolia
#: keeps Beijing time; opening hours and naive instants are read in it.
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), name="CST")


class Settings(BaseSettings):
    """Runtime settings of the locator service and its query limits."""

    model_config = SettingsConfigDict(env_prefix="LOCATOR_", extra="ignore")

    artifact_dir: Path = Field(
        default=Path("artifacts/regional"), description="Artifact directory to serve."
    )
    host: str = Field(default="127.0.0.1", description="Address the server binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port of the server.")
    max_snap_m_regional: float = Field(
        default=2000.0, gt=0, description="Snap radius on the regional network (metres)."
    )
    max_snap_m_street: float = Field(
        default=200.0, gt=0, description="Snap radius on street-level networks (metres)."
    )
    max_k: int = Field(default=10, ge=1, description="Most stations one nearest query returns.")
    max_minutes: float = Field(default=60.0, gt=0, description="Largest isochrone interval.")
    max_contours: int = Field(default=4, ge=1, description="Most isochrone intervals per request.")
    max_points: int = Field(default=100, ge=1, description="Most points in one request.")
    max_search_s: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="Travel-time bound (seconds) of every nearest-station query, whichever "
        "path answers it; unset: the whole network (a caller's max_time_s still applies).",
    )
    max_detour_min: float = Field(
        default=60.0,
        gt=0,
        allow_inf_nan=False,
        description="Largest detour a trip query accepts (minutes; stations along the way "
        "and rest plans).",
    )
    max_trip_h: float = Field(
        default=48.0,
        gt=0,
        allow_inf_nan=False,
        description="Longest trip (driving hours of the direct route) a trip query accepts; "
        "also bounds its search.",
    )
    max_trip_stations: int = Field(
        default=100,
        ge=1,
        description="Most stations one trip query returns, and most rest-plan candidates.",
    )
    circle_buffer_m_regional: float = Field(
        default=500.0, gt=0, description="Half-width of road-hugging circles, regional network."
    )
    circle_buffer_m_street: float = Field(
        default=50.0, gt=0, description="Half-width of road-hugging circles, street networks."
    )

    api_keys_file: Path | None = Field(
        default=None,
        description="JSON file of hashed API keys for the write routes "
        "(default: api_keys.json in the artifact directory).",
    )
    rate_limit_enabled: bool = Field(
        default=True, description="Apply the per-client token-bucket rate limit."
    )
    rate_limit_per_s: float = Field(
        default=20.0,
        gt=0,
        allow_inf_nan=False,
        description="Sustained requests per second allowed per client address.",
    )
    rate_limit_burst: int = Field(
        default=60, ge=1, description="Requests a client may make at once (bucket size)."
    )
    cors_allow_origins: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Origins allowed to read the API from a browser (GET only).",
    )
    max_body_bytes: int = Field(
        default=2_000_000,
        ge=1024,
        description="Largest request body (bytes); larger ones answer 413 before being read.",
    )
    body_timeout_s: float = Field(
        default=15.0,
        gt=0,
        allow_inf_nan=False,
        description="Seconds a client may take to send a request body (then 408).",
    )
    store_url: str | None = Field(
        default=None,
        description="Station store shared by several servers: a postgresql:// URL "
        "(PostGIS; an empty database is seeded from the artifact's stations). Unset: the "
        "artifact's own stations.sqlite.",
    )
    workers: int = Field(
        default=1,
        ge=1,
        description="Worker processes of `locator serve` (forked from one loaded artifact).",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks (e.g. 127.0.0.1, 10.0.0.0/8) of reverse proxies "
        "whose X-Forwarded-For is believed; empty: the socket's peer is the client. JSON "
        "list in the environment: LOCATOR_TRUSTED_PROXIES='[\"127.0.0.1\"]'.",
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        allow_inf_nan=False,
        description="Seconds a client may take to send a request's headers (then the "
        "connection is closed).",
    )
    fast_lane: bool = Field(
        default=True,
        description="Answer plain GET /v1/nearest requests on a short path past the web "
        "framework (the same answers; see api/fastlane.py).",
    )
    fast_lane_threads: int = Field(
        default=8, ge=1, le=256, description="Threads of the fast lane's engine pool."
    )
    access_log: bool = Field(
        default=True,
        description="Log one line per request (uvicorn's access log, API keys redacted).",
    )
    keep_alive_s: float = Field(
        default=5.0,
        gt=0,
        allow_inf_nan=False,
        description="Seconds an idle kept-alive connection stays open.",
    )
    max_connections: int = Field(
        default=1000,
        ge=1,
        description="Open connections plus running requests per process beyond which new "
        "requests answer 503.",
    )
    max_heavy_requests: int = Field(
        default=2,
        ge=1,
        description="Heavy requests (coverage, site plans, live circles) run at once per "
        "process; more wait for a slot.",
    )
    heavy_wait_s: float = Field(
        default=10.0,
        ge=0,
        allow_inf_nan=False,
        description="Seconds a heavy request waits for a slot before answering 503 busy.",
    )

    def keys_path(self) -> Path:
        """Where API keys are stored (:attr:`api_keys_file` or the artifact default)."""
        return self.api_keys_file or self.artifact_dir / "api_keys.json"

    def max_snap_m(self, network_kind: str) -> float:
        """Snap radius for a network kind (``"regional"`` or ``"street"``)."""
        return self.max_snap_m_regional if network_kind == "regional" else self.max_snap_m_street

    def circle_buffer_m(self, network_kind: str) -> float:
        """Half-width of road-hugging circles for a network kind."""
        if network_kind == "regional":
            return self.circle_buffer_m_regional
        return self.circle_buffer_m_street
