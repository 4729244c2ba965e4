"""The outcome registry's web pages (/registry) and JSON API (/api/v1/registry).

`mount_registry(app, settings)` is called by the app factory (ldn_derm.web.app.create_app). It
opens no database connection: the database is opened on the first request, and a database
without tables answers 503 with "run `ldn db upgrade`".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ldn_derm.web.settings import Settings

PAGE_PREFIX = "/registry"
API_PREFIX = "/api/v1/registry"


def mount_registry(app: FastAPI, settings: Settings) -> None:
    from fastapi.staticfiles import StaticFiles

    from ldn_derm.web.registry.api import router as api_router
    from ldn_derm.web.registry.pages import router as page_router
    from ldn_derm.web.registry.state import STATIC_DIR, RegistryWeb

    app.state.registry = RegistryWeb(settings, getattr(app.state, "database", None))
    _preload_analytics()
    app.include_router(page_router, prefix=PAGE_PREFIX)
    app.include_router(api_router, prefix=API_PREFIX)
    app.mount(f"{PAGE_PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="registry-static")


def _preload_analytics() -> None:
    """The dashboard's statistics libraries take seconds to import: load them in the
    background at start-up instead of during the first dashboard view."""
    import threading

    from ldn_derm.registry.analytics import preload

    threading.Thread(target=preload, name="registry-preload", daemon=True).start()


__all__ = ["API_PREFIX", "PAGE_PREFIX", "mount_registry"]
