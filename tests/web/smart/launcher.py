"""Start the SMART Health IT launcher (smart-on-fhir/smart-launcher-v2, installed by
scripts/smart-launcher.sh into .tools/smart-launcher) and build its launch parameters.

`encode_launch` mirrors the launcher's own `src/isomorphic/codec.ts` `encode()`: a base64url
JSON array of the launch options, used as the `launch` parameter (EHR launch) or as the
`/sim/{…}` URL segment of the FHIR base (standalone launch).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
LAUNCHER_DIR = Path(os.environ.get("LDN_SMART_LAUNCHER_DIR", REPO / ".tools" / "smart-launcher"))
LAUNCH_TYPES = ["provider-ehr", "patient-portal", "provider-standalone", "patient-standalone"]
CLIENT_TYPES = ["public", "confidential-symmetric", "confidential-asymmetric"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def encode_launch(
    launch_type: str = "provider-ehr",
    *,
    patient: str = "",
    provider: str = "",
    encounter: str = "NONE",
    skip_login: bool = True,
    skip_auth: bool = True,
    scope: str = "",
    client_id: str = "",
    client_secret: str = "",
    auth_error: str = "",
    client_type: str = "public",
) -> str:
    arr: list[Any] = [
        LAUNCH_TYPES.index(launch_type), patient, provider, encounter,
        1 if skip_login else 0, 1 if skip_auth else 0, 0, scope, "", client_id,
        client_secret, auth_error, "", "", CLIENT_TYPES.index(client_type), 1, "",
    ]  # fmt: skip
    raw = json.dumps(arr, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def launcher_available() -> str | None:
    """Why the launcher cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (LAUNCHER_DIR / ".installed").is_file():
        return (
            f"the SMART launcher is not installed in {LAUNCHER_DIR} (run scripts/smart-launcher.sh)"
        )
    return None


def start_launcher(port: int, fhir_base: str, token_minutes: int = 60) -> subprocess.Popen[bytes]:
    import httpx

    env = {k: v for k, v in os.environ.items() if not k.startswith(("FHIR_SERVER", "LDN_"))}
    env.update(
        NODE_ENV="production", PORT=str(port), HOST="127.0.0.1", FHIR_SERVER_R4=fhir_base,
        FHIR_SERVER_R2="", FHIR_SERVER_R3="", ACCESS_TOKEN_LIFETIME=str(token_minutes),
        SECRET="ldn-derm test launcher",
    )  # fmt: skip
    proc = subprocess.Popen(
        [str(LAUNCHER_DIR / "node_modules" / ".bin" / "ts-node"), "--skipProject",
         "--transpile-only", "backend/index.ts"],
        cwd=LAUNCHER_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v/r4/fhir/.well-known/smart-configuration"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"the SMART launcher exited: {err[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the SMART launcher did not start within 90 s")
