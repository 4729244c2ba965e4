"""`assess(profile)`: run every rule and decide candidacy."""

from __future__ import annotations

from ldn_derm.assess.comparators import comparator_results, ldn_result
from ldn_derm.assess.context import Context
from ldn_derm.assess.indications import indications, supported
from ldn_derm.assess.medications import medication_findings
from ldn_derm.assess.models import (
    Assessment,
    Candidacy,
    Finding,
    KnowledgeVersion,
    NotAssessed,
    PatientSummary,
    Severity,
)
from ldn_derm.assess.opioids import opioid_findings
from ldn_derm.assess.safety_rules import DECEASED, safety_findings
from ldn_derm.knowledge import KnowledgeBase, get_knowledge
from ldn_derm.patient.profile import PatientProfile
from ldn_derm.patient.terminology import matcher_for


def assess(
    profile: PatientProfile, kb: KnowledgeBase | None = None, *, comparators: bool = True
) -> Assessment:
    """The LDN assessment of one patient profile.

    `comparators=False` leaves out the comparator table (and the not-assessed notes only it
    raises): callers that never show it (CDS cards, on every order signature) skip its cost.
    Candidacy, indications and findings do not depend on it.

    Candidacy: 'contraindicated' if any finding is a contraindication (a patient recorded as
    deceased is one, and that finding is listed first); otherwise
    'no-indication' unless an active condition matches an LDN indication with at least one
    study reporting improvement at a dose that may be low (within or starting in the low-dose
    range, or not reported; improvement only at higher doses such as 50 mg is not LDN
    evidence); otherwise 'candidate-with-cautions' if any caution applies, else 'candidate'.
    """
    kb = kb or get_knowledge()
    ctx = Context(profile=profile, kb=kb, m=matcher_for(kb))
    found, indication_notes = indications(ctx)
    findings: list[Finding] = [
        *opioid_findings(ctx),
        *medication_findings(ctx),
        *safety_findings(ctx),
        *indication_notes,
    ]
    # a deceased patient comes first of all, then by severity; stable: rule order within one
    findings.sort(key=lambda f: (f.code != DECEASED, f.severity.rank))
    # the comparison always exists: LDN first, with its own baseline, then every other option
    compared = [ldn_result(kb, found, findings), *comparator_results(ctx)] if comparators else []

    severities = {f.severity for f in findings}
    if Severity.CONTRAINDICATED in severities:
        candidacy = Candidacy.CONTRAINDICATED
    elif not any(supported(i) for i in found):
        candidacy = Candidacy.NO_INDICATION
    elif any(f.code == "medication-unchecked" for f in findings):
        candidacy = Candidacy.NEEDS_REVIEW  # unknown is not safe: the screen is incomplete
    elif Severity.CAUTION in severities:
        candidacy = Candidacy.CANDIDATE_WITH_CAUTIONS
    else:
        candidacy = Candidacy.CANDIDATE

    not_assessed = [
        NotAssessed(kind=n.kind, text=n.text, reason=n.reason, ref=n.ref)
        for n in profile.not_assessed
    ]
    not_assessed += ctx.notes
    not_assessed = list(dict.fromkeys(not_assessed))  # two rules may note the same lab
    return Assessment(
        patient=PatientSummary(
            id=profile.id, age=profile.age, sex=profile.sex.value, deceased=profile.deceased
        ),
        as_of=profile.as_of,
        candidacy=candidacy,
        indications=found,
        findings=findings,
        comparators=compared,
        not_assessed=not_assessed,
        knowledge_base=KnowledgeVersion(version=kb.meta.version, reviewed=kb.meta.reviewed),
    )
