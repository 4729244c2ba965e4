"""Shared fixtures: repository paths and the shared Synthea bundles (read from ../shared)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest


def _tolerate_cpython_ast_depth_bug() -> None:
    """CPython 3.11.7 (this machine's interpreter) can raise "SystemError: AST constructor
    recursion depth mismatch" from `ast.parse` while Hypothesis has raised the recursion limit
    (fixed in later CPython releases). Hypothesis parses lambda sources only to *describe*
    them (reprs, notes), so a failed parse must not fail a test: fall back to a plain
    description. It struck the schemathesis test's collection in about one run in three."""
    from hypothesis.internal import lambda_sources

    original = lambda_sources.lambda_description

    def described(f: object) -> str:
        try:
            return original(f)  # type: ignore[no-any-return]
        except SystemError:
            return "lambda: <source not shown>"

    lambda_sources.lambda_description = described  # type: ignore[assignment]


_tolerate_cpython_ast_depth_bug()

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SYNTHEA = SHARED / "fhir" / "synthea"


@pytest.fixture(scope="session")
def synthea_bundles() -> list[Path]:
    bundles = sorted(SYNTHEA.glob("*.json"))
    if not bundles:
        pytest.skip(f"shared Synthea bundles not found in {SYNTHEA}")
    return bundles


# In CI (CI=true) a missing prerequisite must not hide behind a skip: the shared Synthea data,
# Debian's Chromium and the PostgreSQL server are all provided there, so their absence is a
# failure. Locally the same tests skip with the reason shown.
_PREREQUISITES = re.compile(r"synthea|chromium|postgres", re.IGNORECASE)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI", "").lower() != "true" or not report.skipped:
        return
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
    if _PREREQUISITES.search(reason):
        report.outcome = "failed"
        report.longrepr = f"prerequisite missing in CI: {reason}"
