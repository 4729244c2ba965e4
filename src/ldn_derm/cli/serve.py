"""`ldn serve`: run the web app, REST API and CDS Hooks service with uvicorn."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from ldn_derm.cli.app import app, err_console
from ldn_derm.errors import InputError


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    dev: bool = typer.Option(
        False,
        "--dev",
        help="Development mode: debug logging; on a loopback address, CDS Hooks calls are "
        "accepted without a JWT.",
    ),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Worker processes."),
    config: Path | None = typer.Option(
        None, "--config", help="TOML settings file (default: $LDN_CONFIG or ./ldn.toml)."
    ),
) -> None:
    """Serve the clinician web app, the REST API (/api/v1) and CDS Hooks (/cds-services)."""
    import uvicorn

    from ldn_derm.web.server import LdnHttpProtocol
    from ldn_derm.web.settings import is_loopback, load_settings

    # Workers are separate processes that build their own app from the environment.
    os.environ["LDN_HOST"] = host
    os.environ["LDN_PORT"] = str(port)  # public_base_url follows it unless configured
    os.environ["LDN_DEV"] = "1" if dev else "0"
    if config is not None:
        if not config.is_file():
            raise InputError(f"config file {config} does not exist")
        os.environ["LDN_CONFIG"] = str(config.resolve())
    settings = load_settings()  # fail here, in one line, rather than in every worker
    shown = f"[{host}]" if ":" in host else host
    err_console.print(f"ldn-derm serving on http://{shown}:{port}/", highlight=False)
    err_console.print(f"public base URL (card links, JWT audience): {settings.public_base_url}")
    if dev and is_loopback(host):
        err_console.print("dev mode: CDS Hooks JWT verification is off (loopback only)")
    elif not settings.trusted_issuers:
        err_console.print(
            "note: no trusted CDS Hooks issuers are configured (LDN_TRUSTED_ISSUERS); "
            "every CDS call will be answered 401"
        )
    uvicorn.run(
        "ldn_derm.web.app:create_app",
        log_config=_log_config(),
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="debug" if dev else "info",
        # X-Forwarded-For is read by the app, only from `trusted_proxies`
        # (ldn_derm.web.client_address); uvicorn's own handling would trust it from 127.0.0.1
        proxy_headers=False,
        # request headers must arrive in time (slowloris) and stay under a size cap
        http=LdnHttpProtocol,
        server_header=False,
        access_log=dev,
    )


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, plus our own `ldn_derm` loggers at INFO on the same handler: without
    a handler their INFO lines (CDS refusal reasons, for one) reached no log at all."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["ldn_derm"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
