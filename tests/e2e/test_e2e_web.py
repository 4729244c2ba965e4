"""Browser tests: Debian's Chromium driven by Playwright against a real `ldn serve` process.

Playwright never downloads a browser here: it launches /usr/bin/chromium. Screenshots go to
artifacts/screenshots/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from accessibility import assert_accessible

from ldn_derm.knowledge import get_knowledge

REPO = Path(__file__).resolve().parents[2]
SYNTHEA = REPO.parent / "shared" / "fhir" / "synthea"
SHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import httpx

    port = _free_port()
    data = tmp_path_factory.mktemp("e2e-data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDN_")}  # no outside config
    env.update(LDN_DATA_DIR=str(data), LDN_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ldn_derm",
            "serve",
            "--dev",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        cwd=data,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"ldn serve exited: {err[-2000:]}")
            try:
                if httpx.get(f"{base}/api/v1/ping", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("ldn serve did not answer within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module", autouse=True)
def _screenshots_to_docs() -> Iterator[None]:
    """With LDN_UPDATE_DOCS_SCREENSHOTS=1, copy this run's main screenshots to docs/img/ after
    the run (a plain test run leaves the tracked files alone)."""
    started = time.time()
    yield
    if not os.environ.get("LDN_UPDATE_DOCS_SCREENSHOTS"):
        return
    docs = REPO / "docs" / "img"
    for name in ("assess", "prescribe", "mechanism"):
        src = SHOTS / f"{name}.png"
        if src.exists() and src.stat().st_mtime >= started:
            docs.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, docs / f"{name}.png")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium); run make system-deps")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield pg
    context.close()
    assert not errors, f"browser errors: {errors}"


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_assess_synthea_upload_shows_opioid_finding(server: str, page: Any) -> None:
    bundle = next(iter(sorted(SYNTHEA.glob("Chet_Thompson*.json"))), None)
    if bundle is None:
        pytest.skip("Synthea bundle not found")
    page.goto(f"{server}/assess")
    page.get_by_label("FHIR R4 Bundle (.json)").set_input_files(str(bundle))
    page.get_by_role("button", name="Assess record").click()
    finding = page.locator("article.finding", has_text="opioid").first
    finding.wait_for(timeout=20_000)
    assert finding.get_attribute("data-severity") in {"critical", "contraindicated", "blocked"}
    assert "oxycodone" in page.locator("#result").inner_text().lower()
    shot(page, "assess")
    assert_accessible(page)  # the form and the whole assessment, findings and table included


def test_prescription_preview_and_pdf_download(server: str, page: Any) -> None:
    page.goto(f"{server}/prescribe")
    page.get_by_label("Condition").select_option("psoriasis")
    page.get_by_label("Start dose (mg)").fill("1.5")
    page.get_by_label("Target dose (mg)").fill("4.5")
    page.get_by_label("Step (mg)").fill("1.5")
    page.get_by_label("Days between steps").fill("7")
    page.get_by_role("button", name="Preview prescription").click()
    page.locator("#schedule").wait_for(timeout=20_000)
    rows = page.locator("#schedule tbody tr")
    assert rows.count() == 3
    assert "4.5 mg" in rows.nth(2).inner_text()
    shot(page, "prescribe")
    assert_accessible(page)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download handout (PDF)").click()
    download = info.value
    path = Path(download.path())
    assert path.read_bytes()[:5] == b"%PDF-"
    assert download.suggested_filename.endswith(".pdf")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download MedicationRequest (JSON)").click()
    import json

    resource = json.loads(Path(info.value.path()).read_text())
    assert resource["resourceType"] == "MedicationRequest"


def test_simulator_draws_the_plot(server: str, page: Any) -> None:
    page.goto(f"{server}/mechanism")
    page.get_by_label("Daily doses to compare (mg)").fill("1.5, 4.5")
    page.get_by_role("button", name="Draw the plot").click()
    img = page.locator("#occupancy-plot img")
    img.wait_for(timeout=60_000)
    width = page.evaluate("document.querySelector('#occupancy-plot img').naturalWidth")
    assert width > 100
    # the page says what was measured, in words for clinicians (no JSON field names)
    notes = page.locator("#result ul").inner_text()
    assert "after repeated doses" in notes and "measured_data" not in notes
    assert "extrapolations" in notes and "[" in notes  # cited like the statement above
    lede = page.locator("p.lede").inner_text()
    assert "No receptor occupancy has been measured below 2 mg" in lede
    assert "measured after 50 mg [1,2,3]" in lede  # the blockade the default model is fitted to
    kb = get_knowledge()
    sources = {*kb.pkpd.statement("blockade-outlasts-plasma").refs}
    sources |= {*kb.pkpd.statement("occupancy-measured").refs}
    assert page.locator("ol.refs li").count() == len(sources)
    shot(page, "mechanism")
    assert_accessible(page)


def test_evidence_pages_and_keyboard(server: str, page: Any) -> None:
    page.goto(f"{server}/evidence")
    page.keyboard.press("Tab")  # the skip link comes first
    focused = page.evaluate("document.activeElement.textContent")
    assert "Skip to content" in focused
    page.locator("table a").first.click()
    page.locator("h1").wait_for()
    assert page.locator("ol.refs li").count() >= 1
    shot(page, "evidence")
    assert_accessible(page)


def test_api_docs_render_offline(server: str, page: Any) -> None:
    """Swagger UI is vendored: /docs renders with no CDN and no CSP violation."""
    page.goto(f"{server}/docs")
    page.locator(".swagger-ui .info .title").wait_for(timeout=20_000)
    assert "ldn-derm" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock").count() > 5


@pytest.mark.parametrize("path", ["/", "/assess", "/prescribe", "/evidence", "/references"])
def test_pages_pass_axe(server: str, page: Any, path: str) -> None:
    page.goto(f"{server}{path}")
    assert_accessible(page)


def test_api_docs_have_no_critical_accessibility_problems(server: str, page: Any) -> None:
    """/docs is the vendored Swagger UI, for developers: its colours and nested buttons are the
    vendor's (axe: color-contrast, nested-interactive); we check what is ours to set."""
    page.goto(f"{server}/docs")
    page.locator(".swagger-ui .info").wait_for(timeout=20_000)
    assert page.locator("html").get_attribute("lang") == "en"
    assert_accessible(page, {"critical"})
