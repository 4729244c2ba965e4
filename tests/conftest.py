"""Shared fixtures: repository paths and the shared Synthea bundles (read from ../shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SYNTHEA = SHARED / "fhir" / "synthea"


@pytest.fixture(scope="session")
def synthea_bundles() -> list[Path]:
    bundles = sorted(SYNTHEA.glob("*.json"))
    if not bundles:
        pytest.skip(f"shared Synthea bundles not found in {SYNTHEA}")
    return bundles
