"""FastAPI application factory.

``create_app(settings)`` builds the app; its lifespan loads the artifact once into
``app.state.locator``. Routes stay thin: validate, call :mod:`locator`, format.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

from api.problems import install_problem_handlers
from locator import __version__
from locator.config import Settings
from locator.service import Locator


class Health(BaseModel):
    """Service status and a summary of the loaded artifact's manifest."""

    status: str = Field(examples=["ok"])
    version: str = Field(examples=[__version__])
    artifact: dict[str, Any] = Field(
        description="Manifest summary of the artifact being served",
        examples=[{"network_kind": "regional", "nodes": 21585, "edges": 33707, "stations": 48}],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; the artifact is loaded when the app starts."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.locator = Locator.open(settings.artifact_dir, settings)
        yield

    app = FastAPI(
        title="Border-port station locator",
        version=__version__,
        summary="Nearest stations, 15-minute service circles and coverage for the border ports "
                "of Inner Mongolia.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_problem_handlers(app)

    @app.get("/health", response_model=Health, summary="Service health and artifact summary",
             tags=["meta"])
    def health(request: Request) -> Health:
        """Liveness plus the manifest summary of the loaded artifact."""
        loc: Locator = request.app.state.locator
        return Health(status="ok", version=__version__, artifact=loc.summary())

    return app
