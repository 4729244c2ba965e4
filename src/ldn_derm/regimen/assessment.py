"""Run the patient assessment and keep what the prescription needs from it.

Contraindications become `Blocker`s (they stop the prescription unless an override reason is
recorded); cautions become notes on the prescription; thyroid disease feeds the monitoring plan;
recently stopped opioids set the earliest allowed start date (the opioid-free interval).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from ldn_derm.regimen.checks import RecentOpioid
from ldn_derm.regimen.prescription import Blocker, PatientContext

if TYPE_CHECKING:
    from ldn_derm.assess import Assessment
    from ldn_derm.knowledge import KnowledgeBase
    from ldn_derm.patient import PatientProfile

THYROID_FINDINGS = frozenset({"thyroid-disease", "tsh-out-of-range"})


def context_from_assessment(profile: PatientProfile, assessment: Assessment) -> PatientContext:
    """Map an assessment onto what the prescription needs."""
    from ldn_derm.assess import Candidacy, Severity

    blockers = tuple(
        Blocker(
            code=f.code,
            summary=f.summary,
            triggered_by=tuple(f.triggered_by),
            refs=tuple(f.references),
        )
        for f in assessment.findings
        if f.severity is Severity.CONTRAINDICATED
    )
    cautions = [
        f"Assessment caution: {f.summary}"
        for f in assessment.findings
        if f.severity is Severity.CAUTION
    ]
    if assessment.candidacy is Candidacy.NO_INDICATION:
        cautions.insert(
            0,
            "Assessment: no active condition in the record matches an LDN indication with "
            "reported benefit.",
        )
    unchecked = assessment.finding("medication-unchecked")
    refs = set(unchecked.triggered_by) if unchecked else set()
    names = tuple(m.text for m in profile.medications if m.ref in refs)
    return PatientContext(
        unchecked=names,
        reference=profile.patient_ref,
        display=profile.patient_ref or profile.id,
        blockers=blockers,
        cautions=tuple(cautions),
        thyroid_disease=any(f.code in THYROID_FINDINGS for f in assessment.findings),
        comparators=tuple(assessment.comparators),
        recent_opioids=recent_opioids(profile, assessment),
    )


def recent_opioids(profile: PatientProfile, assessment: Assessment) -> tuple[RecentOpioid, ...]:
    """The stopped opioids behind the assessment's `opioid-recent` finding, with their dates."""
    refs = {r for f in assessment.findings if f.code == "opioid-recent" for r in f.triggered_by}
    return tuple(
        RecentOpioid(text=m.text, ref=m.ref, last_date=m.last_date, end_known=m.end_known)
        for m in profile.medications
        if m.ref in refs
    )


def screening_day(start: date | None, today: date) -> date:
    """The day a patient record is screened for a prescription: today, or the start date when
    that is later. Never an earlier start date: the record is read as of that day, and a
    medicine recorded since (an opioid begun last month) would count as a future record and be
    left out of the screen."""
    return max(start, today) if start is not None else today


def patient_context(
    data: bytes,
    *,
    as_of: date | None = None,
    name: str = "patient record",
    kb: KnowledgeBase | None = None,
) -> PatientContext:
    """Read a FHIR R4 bundle or a manual profile (bytes), assess it, return the context."""
    from ldn_derm.assess import assess
    from ldn_derm.patient import load_patient

    profile = load_patient(data, as_of=as_of or date.today(), name=name, kb=kb)
    return context_from_assessment(profile, assess(profile, kb))
