"""Patient handout: HTML and a real PDF (A4 or Letter) carrying the titration calendar."""

from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader

from ldn_derm.errors import InputError
from ldn_derm.regimen import Prescription, build_prescription, build_regimen
from ldn_derm.reports.handout import handout_context, render_handout_html, render_handout_pdf


@pytest.fixture(scope="module")
def rx() -> Prescription:
    reg = build_regimen(
        target_mg=4.5, start_mg=1.5, step_mg=1.5, interval_days=14, days=90, time="bedtime"
    )
    return build_prescription("psoriasis", reg, "capsule", authored_on=date(2026, 12, 1))


def test_html_has_the_calendar_and_the_safety_sections(rx: Prescription) -> None:
    html = render_handout_html(rx)
    assert "<table" in html and "1 Dec 2026 to 14 Dec 2026" in html
    for text in ("1 capsule of 1.5 mg", "1 capsule of 4.5 mg", "at bedtime", "Opioid", "Thyroid"):
        assert text in html
    assert "37 in 100" in html  # the vivid-dreams frequency comes from the knowledge base
    assert "size: A4" in html and "size: Letter" in render_handout_html(rx, paper="letter")


def test_pdf_is_real_and_carries_the_schedule(rx: Prescription) -> None:
    pdf = render_handout_pdf(rx, paper="a4")
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(page.extract_text() for page in reader.pages)
    for row in ("1 Dec 2026 to 14 Dec 2026", "15 Dec 2026 to 28 Dec 2026", "29 Dec 2026"):
        assert row in text
    for dose in ("1.5 mg", "3 mg", "4.5 mg"):
        assert dose in text
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points


def test_letter_paper(rx: Prescription) -> None:
    reader = PdfReader(io.BytesIO(render_handout_pdf(rx, paper="letter")))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)


def test_liquid_handout_shows_volumes() -> None:
    reg = build_regimen(target_mg=3, start_mg=1.5, step_mg=1.5, interval_days=7, days=28)
    rx = build_prescription("hailey-hailey-disease", reg, "liquid", authored_on=date(2026, 1, 5))
    html = render_handout_html(rx)
    assert "1.5 mL in the oral syringe" in html and "3 mL in the oral syringe" in html
    assert "1 mg in every mL" in html


def test_bad_paper_size(rx: Prescription) -> None:
    with pytest.raises(InputError, match="a4' or 'letter"):
        handout_context(rx, paper="legal")


def test_the_prescription_pdf_names_the_overrides_and_the_monitoring_plan() -> None:
    from ldn_derm.regimen.pipeline import PrescriptionRequest, prescribe
    from ldn_derm.reports.prescription import render_prescription_html, render_prescription_pdf

    reason = "partial response at 4.5 mg for six months; agreed with the patient"
    rx = prescribe(
        PrescriptionRequest("psoriasis", target_mg=6, overrides={"above-low-dose": reason})
    )
    html = render_prescription_html(rx)
    assert reason in html and "Monitoring plan" in html and "Thyroid" in html
    assert "No patient record was checked" in html
    assert html.count("<li>") > 5  # the references are listed
    assert render_prescription_pdf(rx, paper="letter").startswith(b"%PDF-")
