"""`ldn serve`: run the web app, REST API and CDS Hooks service with uvicorn."""

from __future__ import annotations

import os
from pathlib import Path

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

    from ldn_derm.web.server import HeaderTimeoutProtocol
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
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="debug" if dev else "info",
        # X-Forwarded-For is read by the app, only from `trusted_proxies`
        # (ldn_derm.web.client_address); uvicorn's own handling would trust it from 127.0.0.1
        proxy_headers=False,
        http=HeaderTimeoutProtocol,  # request headers must arrive in time (slowloris)
        server_header=False,
        access_log=dev,
    )
