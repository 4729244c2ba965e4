"""The handout says no more than the knowledge base: no invented time course, and the
expert-practice caveat on stopping travels with the 6-12 month advice."""

from __future__ import annotations

from datetime import date

from ldn_derm.knowledge import get_knowledge
from ldn_derm.knowledge.citations import reference_line
from ldn_derm.regimen import build_prescription, build_regimen
from ldn_derm.reports.handout import render_handout_html


def _html() -> str:
    reg = build_regimen(target_mg=4.5, days=90, time="bedtime")
    return render_handout_html(
        build_prescription("psoriasis", reg, "capsule", authored_on=date(2026, 12, 1))
    )


def test_handout_does_not_claim_a_time_course_the_evidence_lacks() -> None:
    html = _html()
    # Reports range from improvement within 1-2 weeks to months: "works slowly" is not cited.
    assert "works slowly" not in html
    assert "follow-up visit" in html


def test_stopping_advice_carries_the_knowledge_base_caveat() -> None:
    stopping = get_knowledge().safety["stopping"]
    assert stopping.caveat is not None and "expert practice" in stopping.caveat
    html = _html()
    assert "6 to 12 months" in html and "expert advice" in html
    assert "not been tested in trials" in html


def test_opening_lines_cite_the_approval_and_off_label_sources() -> None:
    import html as html_lib
    import re

    from ldn_derm.reports.handout import handout_context

    kb = get_knowledge()
    page = _html()
    opening = page.split("approved at much higher doses", 1)[1].split("</p>", 1)[0]
    marks = re.search(r"<sup> \[([\d, ]+)\]</sup>", opening)
    assert marks, "the opening sentence carries no citation mark"
    numbers = [int(n) for n in marks.group(1).split(", ")]
    reg = build_regimen(target_mg=4.5, days=90, time="bedtime")
    rx = build_prescription("psoriasis", reg, "capsule", authored_on=date(2026, 12, 1))
    listed = handout_context(rx)["references"]  # in citation order: number n is listed[n - 1]
    expected = {
        reference_line(kb.references[r])
        for i in ("approved-use", "off-label-use")
        for r in kb.drug.statement(i).refs
    }
    assert {listed[n - 1] for n in numbers} == expected
    for line in expected:  # and the page prints them
        assert html_lib.escape(line, quote=False)[:40] in page


def test_conflicting_evidence_travels_into_the_handout() -> None:
    kb = get_knowledge()
    page = _html()
    # the 37 % could not be traced and a pilot found dreams rare (safety.yaml caveat)
    assert (
        kb.safety["vivid-dreams"].caveat
        and "could not be traced" in kb.safety["vivid-dreams"].caveat
    )
    assert "one source gives about 37 in 100 people; a small study found it rare" in page
    # a registry study found no change in thyroid medicine (thyroid-disease text, raknes-2020)
    assert "raknes-2020" in kb.safety["thyroid-disease"].refs
    assert "a large study found no change" in page


def _marks_after(page: str, anchor: str) -> set[int]:
    import re

    tail = page.split(anchor, 1)[1].split("</li>", 1)[0]
    marks = re.search(r"<sup> \[([\d, ]+)\]</sup>", tail)
    assert marks, f"no citation mark after {anchor!r}"
    return {int(n) for n in marks.group(1).split(", ")}


def _cited(anchor: str) -> set[str]:
    """Reference ids cited by the handout line that starts with `anchor`."""
    from ldn_derm.reports.handout import handout_context

    kb = get_knowledge()
    reg = build_regimen(target_mg=4.5, days=90, time="bedtime")
    rx = build_prescription("psoriasis", reg, "capsule", authored_on=date(2026, 12, 1))
    listed = handout_context(rx)["references"]
    by_line = {reference_line(ref): ref_id for ref_id, ref in kb.references.items()}
    return {by_line[listed[n - 1]] for n in _marks_after(_html(), anchor)}


def test_handout_warns_of_withdrawal_and_overdose_from_the_label() -> None:
    html = _html()
    assert "opioid withdrawal" in html
    assert "Never take large or extra doses of an opioid to get past the block." in html
    assert "fatal overdose" in html
    assert "a dose you once took can be dangerous now" in html
    cited = _cited("get past the block")
    assert {"label-naltrexone-oral-warnings", "label-vivitrol-warnings"} <= cited


def test_handout_gives_the_standard_dose_surgery_hold_with_its_caveat() -> None:
    kb = get_knowledge()
    hold = next(p for p in kb.terminology.parameters if p.id == "perioperative-hold-days")
    html = _html()
    assert "There is no agreed rule" not in html  # the old line is gone
    line = f"{hold.value * 24:g} hours ({hold.value:g} days) before a planned operation"
    assert line in html
    assert "For standard naltrexone tablets (50 mg), anaesthetists advise" in html
    assert "This has not been studied for the low dose" in html
    assert {"burns-2022", "goel-2024"} <= _cited("anaesthetists advise")
    assert set(kb.safety["opioid-free-interval"].refs) <= _cited("Ask when to restart LDN")
