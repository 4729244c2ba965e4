"""The whole SMART launch in Chromium: the EHR launch (the launcher's own entry point) and a
standalone launch, at desktop and phone sizes, with the verdict visible in the viewport."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from launcher import encode_launch

from conftest import SmartBed
from viewport import comes_into_view

REPO = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "artifacts" / "screenshots"
pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium); run make system-deps")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            yield b
        finally:
            b.close()


def _ehr_launch(bed: SmartBed, browser: Any, viewport: tuple[int, int], name: str) -> Any:
    """A page opened by the launcher's own EHR launch of the patient `name`, verdict loaded."""
    pid = bed.patient_id(name)
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    page.goto(
        f"{bed.launcher}/launcher?fhir_ver=4&patient={pid}&provider=p1"
        f"&launch_uri={quote(bed.app + '/smart/launch', safe='')}"
    )
    page.locator("#candidacy").wait_for(timeout=30_000)
    return page


@pytest.mark.parametrize("viewport", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_ehr_launch_opens_the_patient_with_the_verdict_in_view(
    smart_bed: SmartBed, browser: Any, viewport: tuple[int, int]
) -> None:
    page = _ehr_launch(smart_bed, browser, viewport, "Eliseo")
    assert "/smart/p/" in page.url
    assert "Eliseo" in page.locator("#patient-banner").inner_text()
    assert "Not a candidate now" in page.locator("#candidacy").inner_text()
    assert comes_into_view(page, "#patient-banner")
    assert comes_into_view(page, "#candidacy")  # the verdict, without scrolling
    wide = page.evaluate(
        """w => [...document.querySelectorAll('#patient-banner, #patient-banner *, #candidacy')]
        .filter(e => e.getBoundingClientRect().right > w + 1).map(e => e.outerHTML.slice(0, 80))""",
        viewport[0],
    )
    assert not wide  # the banner and the verdict never scroll sideways
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = f"smart-launch-{viewport[0]}"
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    if viewport[0] == 1280 and os.environ.get("LDN_UPDATE_DOCS_SCREENSHOTS"):
        page.screenshot(path=str(REPO / "docs" / "img" / "smart-launch.png"))
    # Prescribe carries the patient
    page.locator("#prescribe-for-patient").click()
    page.locator("#prescribe-form").wait_for(timeout=20_000)
    assert "Eliseo" in page.locator("#patient-banner").inner_text()
    page.context.close()


def test_standalone_launch_in_the_browser(smart_bed: SmartBed, browser: Any) -> None:
    pid = smart_bed.patient_id("Eliseo")
    sim = encode_launch("provider-standalone", patient=pid, provider="p1")
    iss = f"{smart_bed.launcher}/v/r4/sim/{sim}/fhir"
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{smart_bed.app}/smart/launch?iss={quote(iss, safe='')}")
    page.locator("#candidacy").wait_for(timeout=30_000)
    assert "Eliseo" in page.locator("#patient-banner").inner_text()
    assert comes_into_view(page, "#candidacy")
    context.close()


@pytest.mark.parametrize("viewport", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_a_deceased_patient_is_shown_why_nothing_can_be_prescribed(
    smart_bed: SmartBed, browser: Any, viewport: tuple[int, int]
) -> None:
    """Chet's record gives a date of death: the launch offers no Prescribe button, and the
    prescribe form, opened anyway, says in view why no prescription can be built."""
    page = _ehr_launch(smart_bed, browser, viewport, "Chet")
    assert page.locator("#prescribe-for-patient").count() == 0
    assert page.locator("#no-prescribe").is_visible()
    page.goto(page.url.split("?")[0].rstrip("/") + "/prescribe")
    page.locator("#patient-refused").wait_for(timeout=20_000)
    text = page.locator("#patient-refused").inner_text()
    assert "No prescription can be built for this record" in text and "died" in text
    assert comes_into_view(page, "#patient-refused")
    assert not page.locator("details.overrides").is_visible()  # nothing invites an override
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"smart-deceased-prescribe-{viewport[0]}.png"))
    page.context.close()
