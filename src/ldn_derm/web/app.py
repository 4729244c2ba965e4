"""The FastAPI application factory. Routers for each front door are mounted here."""

from __future__ import annotations

from fastapi import FastAPI

from ldn_derm import __version__
from ldn_derm.web.settings import Settings, load_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    app = FastAPI(
        title="ldn-derm",
        version=__version__,
        description="Decision support for low-dose naltrexone (LDN) in dermatology.",
    )
    app.state.settings = settings
    return app
