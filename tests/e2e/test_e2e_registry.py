"""Browser test of the outcome registry: Debian's Chromium, driven by Playwright, against a real
uvicorn server with the demo clinic loaded.

Log in (keyboard only), register a patient, start a course, enter two visits, see the trajectory
plot; then the researcher's cohort dashboard. Screenshots go to artifacts/screenshots/; with
LDN_UPDATE_DOCS_SCREENSHOTS=1 the dashboard is also saved as docs/img/registry-dashboard.png.
Playwright never downloads a browser here: it launches /usr/bin/chromium.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "registry"))
from accessibility import assert_accessible  # noqa: E402  (tests/e2e, beside this file)
from registry_testkit import LiveServer, start_server  # noqa: E402

SHOTS = REPO / "artifacts" / "screenshots"
DOCS_IMG = REPO / "docs" / "img"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from ldn_derm.registry import migrate
    from ldn_derm.registry.db import Database
    from ldn_derm.registry.demo import load_demo

    data = tmp_path_factory.mktemp("registry-e2e")
    url = f"sqlite:///{data / 'ldn.sqlite3'}"
    migrate.upgrade(url)
    db = Database(url)
    load_demo(db)
    db.dispose()
    live = start_server(url, data)
    try:
        yield live
    finally:
        live.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def login(page: Any, base: str, username: str) -> None:
    """Keyboard only: the login form must work without a mouse."""
    page.goto(f"{base}/registry/login")
    page.keyboard.press("Tab")  # skip link first
    page.keyboard.press("Tab")
    page.locator("#f-username").focus()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type("demo-password")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/registry/login" not in url)


def test_researcher_dashboard(browser: Any, server: LiveServer) -> None:
    """First, so the screenshot shows the demo clinic exactly as `ldn demo-data` loads it."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    login(page, server.base, "researcher")
    assert page.url.endswith("/registry/dashboard")
    assert page.get_by_role("heading", name="Response by condition and dose").is_visible()
    body = page.locator("main").inner_text()
    assert "Demo," not in body  # pseudonymised
    assert "operational definition" in body
    page.wait_for_function(
        "() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
    )
    shot = SHOTS / "registry-dashboard.png"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert_accessible(page)
    if os.environ.get("LDN_UPDATE_DOCS_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_IMG / "registry-dashboard.png")
    page.goto(f"{server.base}/registry/patients")
    assert "Demo, Avery" not in page.locator("main").inner_text()
    page.close()


def test_clinician_enters_two_visits_and_sees_the_trajectory(
    browser: Any, server: LiveServer
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, server.base, "demo")
    assert page.url.endswith("/registry/patients")
    assert page.get_by_role("link", name="Demo, Avery").is_visible()
    page.screenshot(path=str(SHOTS / "registry-patients.png"), full_page=True)
    assert_accessible(page)

    page.get_by_label("Given name").fill("Robin")
    page.get_by_label("Family name").fill("Browser-Test")
    page.get_by_label("Date of birth").fill("1977-07-07")
    page.get_by_role("button", name="Register").click()
    page.wait_for_url("**/registry/patients/P-*")
    assert "Browser-Test, Robin" in page.locator("h1").inner_text()

    start = date.today() - timedelta(days=60)
    page.get_by_label("Condition").select_option("psoriasis")
    page.get_by_label("Start date").fill(start.isoformat())
    page.get_by_role("button", name="Start course").click()
    page.wait_for_url("**/registry/courses/*")

    page.get_by_label("Visit date").fill(start.isoformat())
    page.get_by_label("Current dose (mg/day)").fill("1.5")
    page.locator("#f-pasi").fill("11.2")
    page.locator("#f-itch_nrs").fill("7")
    page.get_by_role("button", name="Save visit").click()
    page.wait_for_url("**saved=visit*")
    assert page.get_by_role("status").inner_text().strip() == "Visit saved."
    # the second visit starts from the first one's dose and time of day
    assert page.get_by_label("Current dose (mg/day)").input_value() == "1.5"
    assert page.locator("input[name=dose_time][value=bedtime]").is_checked()

    page.get_by_label("Visit date").fill((start + timedelta(days=42)).isoformat())
    page.get_by_label("Current dose (mg/day)").fill("4.5")
    page.locator("#f-pasi").fill("5.1")
    page.locator("#f-itch_nrs").fill("3")
    page.get_by_label("Vivid dreams / nightmares").select_option("mild")
    page.get_by_role("button", name="Save visit").click()
    page.wait_for_url("**saved=visit*")

    rows = page.locator("#visits table tbody tr")
    assert rows.count() == 2
    assert "Vivid dreams / nightmares (mild)" in rows.nth(1).inner_text()
    plot = page.locator("#trajectory-plot")
    plot.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const i = document.getElementById('trajectory-plot');"
        " return i && i.complete && i.naturalWidth > 300; }"
    )
    assert "responded" in page.locator("dl.facts").inner_text()  # PASI 11.2 -> 5.1
    page.screenshot(path=str(SHOTS / "registry-course.png"), full_page=True)
    assert_accessible(page)  # visit form, visit table, trajectory plot

    # a value out of range is refused in place, with the field marked
    page.locator("#f-pasi").fill("95")
    page.evaluate("document.getElementById('f-pasi').removeAttribute('max')")
    page.get_by_role("button", name="Save visit").click()
    assert "PASI: must be between 0 and 72 (got 95)" in page.get_by_role("alert").inner_text()
    assert page.locator("#f-pasi").get_attribute("aria-invalid") == "true"
    assert_accessible(page)  # the error state too
    page.close()
