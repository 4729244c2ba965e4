"""LDN safety rules other than opioids: hypersensitivity, pregnancy, breastfeeding, liver,
kidney, thyroid, depression, immunosuppression; plus record-level findings (deceased, age)."""

from __future__ import annotations

from ldn_derm.assess.context import Context, describe_medication, listing
from ldn_derm.assess.labs import lab_evidence
from ldn_derm.assess.models import Finding, Severity
from ldn_derm.patient.profile import LabFact, MedStatus, PregnancyStatus, Sex

DECEASED = "patient-deceased"  # blocking, and shown before every other finding
RENAL_CONCEPTS = ("ckd", "dialysis")


def safety_findings(ctx: Context) -> list[Finding]:
    return [
        *_record(ctx),
        *_allergies(ctx),
        *_pregnancy(ctx),
        *_liver(ctx),
        *_renal(ctx),
        *_thyroid(ctx),
        *_depression(ctx),
        *_immunosuppression(ctx),
    ]


def _allergies(ctx: Context) -> list[Finding]:
    active = [a for a in ctx.profile.allergies if a.active]
    naltrexone = [a for a in active if "naltrexone" in a.ingredients]
    related = [
        a
        for a in active
        if a not in naltrexone and ("naloxone" in a.ingredients or "opioid" in a.classes)
    ]
    findings: list[Finding] = []
    if naltrexone:
        findings.append(
            ctx.finding(
                "naltrexone-hypersensitivity",
                Severity.CONTRAINDICATED,
                ["hypersensitivity"],
                "recorded allergy or intolerance: " + listing([a.text for a in naltrexone]),
                [a.ref for a in naltrexone],
            )
        )
    if related:
        findings.append(
            ctx.finding(
                "opioid-cross-sensitivity",
                Severity.CAUTION,
                ["hypersensitivity"],
                "allergy to naloxone or an opioid: " + listing([a.text for a in related]),
                [a.ref for a in related],
                note="Cross-sensitivity with naltrexone is unknown.",
            )
        )
    return findings


def childbearing_possible(ctx: Context) -> bool:
    """Pregnancy not recorded either way, in someone who could be pregnant."""
    profile = ctx.profile
    if profile.pregnancy is not PregnancyStatus.UNKNOWN or profile.sex is Sex.MALE:
        return False
    if profile.is_deceased:
        return False
    if profile.age is None:
        return profile.sex is Sex.FEMALE
    low = ctx.m.param("childbearing-age-min")
    high = ctx.m.param("childbearing-age-max")
    return low <= profile.age <= high


def _pregnancy(ctx: Context) -> list[Finding]:
    profile = ctx.profile
    findings: list[Finding] = []
    if profile.pregnancy is PregnancyStatus.PREGNANT:
        findings.append(
            ctx.finding(
                "pregnancy",
                Severity.CAUTION,
                ["pregnancy"],
                "the record shows a current pregnancy",
                profile.pregnancy_refs,
            )
        )
    elif childbearing_possible(ctx):
        age = f"aged {profile.age}" if profile.age is not None else "age not recorded"
        findings.append(
            ctx.finding(
                "pregnancy-not-excluded",
                Severity.INFO,
                ["pregnancy"],
                f"pregnancy status not recorded ({profile.sex.value}, {age})",
                [profile.patient_ref] if profile.patient_ref else [],
            )
        )
    if profile.lactating:
        findings.append(
            ctx.finding(
                "lactation",
                Severity.CAUTION,
                ["lactation"],
                "the record shows breastfeeding",
                profile.lactation_refs,
            )
        )
    return findings


def _liver(ctx: Context) -> list[Finding]:
    findings: list[Finding] = []
    disease = ctx.profile.conditions_with("liver-disease")
    if disease:
        findings.append(
            ctx.finding(
                "liver-disease",
                Severity.CAUTION,
                ["hepatic-impairment"],
                "active diagnosis: " + listing([c.text for c in disease]),
                [c.ref for c in disease],
            )
        )
    latest = latest_liver_tests(ctx)
    # flagged high: a caution; neither flag nor range: shown as not judged, never passed over
    for flag, code, severity, said in (
        (None, "liver-tests-not-judged", Severity.INFO,
         "latest liver enzymes without a flag or reference range, so not judged: "),
        ("high", "liver-tests-abnormal", Severity.CAUTION, "latest liver enzymes flagged high: "),
    ):  # fmt: skip
        labs = [x for x in latest if x.flag == flag]
        if labs:
            findings.append(
                ctx.finding(
                    code,
                    severity,
                    ["hepatic-impairment"],
                    said
                    + listing([_lab_label(x.text, x.value, x.unit, x.effective) for x in labs]),
                    [x.ref for x in labs],
                )
            )
    return findings


def latest_liver_tests(ctx: Context) -> list[LabFact]:
    """The latest recent ALT and AST results, whatever their flag."""
    return [recent[0] for recent in (ctx.recent_labs(lab) for lab in ("alt", "ast")) if recent]


def abnormal_liver_tests(ctx: Context) -> list[LabFact]:
    """Latest recent ALT/AST results flagged high by the lab (interpretation or range)."""
    return [lab for lab in latest_liver_tests(ctx) if lab.flag == "high"]


def _renal(ctx: Context) -> list[Finding]:
    """Coded chronic kidney disease or dialysis, or a recent eGFR below the cited cut-off."""
    facts: list[str] = []
    refs: list[str] = []
    for concept in RENAL_CONCEPTS:
        for cond in ctx.profile.conditions_with(concept):
            if cond.ref not in refs:
                facts.append(cond.text)
                refs.append(cond.ref)
    for threshold in ctx.m.thresholds.get("egfr", []):
        if threshold.concept not in RENAL_CONCEPTS:
            continue
        hit = lab_evidence(ctx, "egfr", threshold)
        if hit is not None:
            facts.append(hit[0])
            refs.extend(hit[1])
    if not facts:
        return []
    return [
        ctx.finding(
            "renal-impairment",
            Severity.CAUTION,
            ["renal-impairment"],
            "kidney disease or reduced kidney function: " + listing(facts),
            refs,
        )
    ]


def _depression(ctx: Context) -> list[Finding]:
    """Depression or suicidality coded in the record, current or past.

    Antidepressant use alone is not taken as a history of depression: no source was found
    that supports the inference (see the safety item's caveat).
    """
    found = ctx.profile.conditions_with("depression", include_history=True)
    if not found:
        return []
    facts = [c.text if c.active else f"{c.text} (history)" for c in found]
    return [
        ctx.finding(
            "depression-suicidality",
            Severity.CAUTION,
            ["depression-suicidality"],
            "depression or suicidality in the record: " + listing(facts),
            [c.ref for c in found],
        )
    ]


def _thyroid(ctx: Context) -> list[Finding]:
    findings: list[Finding] = []
    disease = ctx.profile.conditions_with("thyroid-disease")
    meds = [
        m
        for m in ctx.profile.medications
        if m.status is MedStatus.CURRENT and m.classes & {"thyroid-hormone", "antithyroid"}
    ]
    if disease or meds:
        facts = [c.text for c in disease] + [describe_medication(m, ctx.as_of) for m in meds]
        findings.append(
            ctx.finding(
                "thyroid-disease",
                Severity.CAUTION,
                ["thyroid-disease", "tsh-screening"],
                "thyroid disease or treatment: " + listing(facts),
                [c.ref for c in disease] + [m.ref for m in meds],
            )
        )
    tsh = ctx.recent_labs("tsh")
    if not tsh:
        older = ctx.profile.labs_of("tsh")
        fact = "no TSH result in the past year"
        if older and older[0].effective:
            fact += f" (last {older[0].effective.isoformat()})"
        findings.append(
            ctx.finding(
                "tsh-screening",
                Severity.INFO,
                ["tsh-screening"],
                fact,
                [older[0].ref] if older else [],
            )
        )
    elif tsh[0].flag in ("high", "low"):
        latest = tsh[0]
        findings.append(
            ctx.finding(
                "tsh-out-of-range",
                Severity.CAUTION,
                ["tsh-screening", "thyroid-disease"],
                f"latest TSH flagged {latest.flag}: "
                + _lab_label(latest.text, latest.value, latest.unit, latest.effective),
                [latest.ref],
            )
        )
    elif tsh[0].flag is None:
        latest = tsh[0]
        findings.append(
            ctx.finding(
                "tsh-screening",
                Severity.INFO,
                ["tsh-screening"],
                "latest TSH "
                + _lab_label(latest.text, latest.value, latest.unit, latest.effective)
                + ", reference range not recorded",
                [latest.ref],
            )
        )
    return findings


def _immunosuppression(ctx: Context) -> list[Finding]:
    meds = [
        m
        for m in ctx.profile.medications
        if m.status is MedStatus.CURRENT and "immunosuppressant" in m.classes
    ]
    states = ctx.profile.conditions_with("immunosuppressed")
    if not meds and not states:
        return []
    facts = [describe_medication(m, ctx.as_of) for m in meds] + [c.text for c in states]
    return [
        ctx.finding(
            "immunosuppression",
            Severity.CAUTION,
            ["immunosuppression"],
            "immunosuppressive treatment or state: " + listing(facts),
            [m.ref for m in meds] + [c.ref for c in states],
        )
    ]


def _record(ctx: Context) -> list[Finding]:
    profile = ctx.profile
    findings: list[Finding] = []
    if profile.is_deceased:
        died = (
            f"date of death {profile.deceased.isoformat()}"
            if profile.deceased is not None
            else "no date of death recorded"
        )
        age_note = (
            "Age is given at the date of death; the assessment describes the record as it "
            f"stood on {profile.as_of.isoformat()}."
            if profile.deceased is not None
            else "The record marks the patient as deceased without a date."
        )
        findings.append(
            Finding(
                code=DECEASED,
                severity=Severity.CONTRAINDICATED,
                summary=f"The record says this patient has died ({died})",
                detail=(
                    "No prescription should be written for a patient recorded as deceased. "
                    "Check that this is the right patient record and, if the record is wrong, "
                    "correct it before prescribing. " + age_note
                ),
                triggered_by=[profile.patient_ref] if profile.patient_ref else [],
            )
        )
    adult = ctx.m.param("adult-age")
    if profile.age is not None and profile.age < adult:
        findings.append(
            Finding(
                code="age-under-adult",
                severity=Severity.CAUTION,
                summary=f"Patient is under {adult:g} (age {profile.age})",
                detail=(
                    "The knowledge base holds no LDN evidence or safety data in children: the "
                    "evidence summarised here comes from adults."
                ),
                triggered_by=[profile.patient_ref] if profile.patient_ref else [],
            )
        )
    return findings


def _lab_label(text: str, value: float | None, unit: str | None, when: object) -> str:
    shown = f"{value:g}" if value is not None else "?"
    date_text = when.isoformat() if hasattr(when, "isoformat") else "undated"
    return f"{text} {shown} {unit or ''}".rstrip() + f" on {date_text}"
