"""The SMART launch test bed: the FHIR test double over Synthea, the real SMART launcher in
front of it, and the app (public and confidential client), each on its own loopback port.
Started once per test session; skipped (with the reason) when node or the launcher is absent."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fhir_double import FhirStore, serve
from launcher import free_port, launcher_available, start_launcher

REPO = Path(__file__).resolve().parents[3]
SYNTHEA = REPO.parent / "shared" / "fhir" / "synthea"
CLIENT_ID = "ldn-derm-test"
SECRET = "test-secret-for-the-launcher"


@dataclass
class SmartBed:
    fhir: FhirStore
    launcher: str  # http://127.0.0.1:port
    app: str  # public client
    app_confidential: str
    iss: str  # the launcher's R4 FHIR base
    engine: Any  # the public app's database (its server-side SMART sessions)

    def patient_id(self, name: str) -> str:
        for pid, p in self.fhir.by_type["Patient"].items():
            given = (p.get("name") or [{}])[0].get("given") or [""]
            if given[0].startswith(name):
                return pid
        raise KeyError(name)


def _serve_app(port: int, tmp: Path, **overrides: Any) -> Any:
    import uvicorn

    from ldn_derm.web.app import create_app
    from ldn_derm.web.settings import load_settings

    settings = load_settings(
        data_dir=tmp,
        public_base_url=f"http://127.0.0.1:{port}",
        host="127.0.0.1",
        smart_client_id=CLIENT_ID,
        **overrides,
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


@pytest.fixture(scope="session")
def smart_bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmartBed]:
    why = launcher_available()
    if why:
        pytest.skip(f"SMART launch tests need the launcher: {why}")
    bundles = [p for p in sorted(SYNTHEA.glob("*_*.json")) if "Information" not in p.name]
    if not bundles:
        pytest.skip(f"no Synthea bundles in {SYNTHEA}")
    fhir_port, launcher_port = free_port(), free_port()
    with serve(bundles, fhir_port) as store:
        proc = start_launcher(launcher_port, f"http://127.0.0.1:{fhir_port}")
        launcher = f"http://127.0.0.1:{launcher_port}"
        issuers = (f"{launcher}/v/r4/",)
        servers = []
        try:
            public_port, conf_port = free_port(), free_port()
            servers.append(
                _serve_app(
                    public_port,
                    tmp_path_factory.mktemp("smart-public"),
                    smart_issuers=issuers,
                    smart_write_drafts=True,
                )
            )
            servers.append(
                _serve_app(
                    conf_port,
                    tmp_path_factory.mktemp("smart-confidential"),
                    smart_issuers=issuers,
                    smart_client_secret=SECRET,
                )
            )
            yield SmartBed(
                store,
                launcher,
                f"http://127.0.0.1:{public_port}",
                f"http://127.0.0.1:{conf_port}",
                f"{launcher}/v/r4/fhir",
                servers[0].config.app.state.engine,
            )
        finally:
            for server in servers:
                server.should_exit = True
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except Exception:
                proc.kill()
